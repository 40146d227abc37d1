//! `dovecot-uidlist`, the file that gives each message of a Maildir folder its UID.
//!
//! Version 3 (Dovecot 1.1 and later): a header `3 V<uidvalidity> N<next uid> G<guid>`, then a
//! record per message, `<uid> [<key><value> ...] :<file name>`. Version 1 (older Dovecot,
//! Courier) is `1 <uidvalidity> <next uid>` and `<uid> <file name>`.
//!
//! Dovecot appends records for new files without rewriting the header, so the next UID is the
//! larger of `N` and one past the highest record. An appended record without its newline is
//! a write still in progress (or one a crash cut short) and is not read.

/// A record as stored, for rewriting the file.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub uid: u32,
    /// Extension fields as written (`P...`, `W...`, `G...`), kept on rewrite.
    pub fields: Vec<String>,
    pub name: String,
}

/// A whole uidlist, for rewriting it.
#[derive(Debug, Clone)]
pub(crate) struct Uidlist {
    pub uid_validity: u32,
    pub next_uid: u32,
    /// Header fields other than V and N (e.g. G), kept on rewrite.
    pub extra_header: Vec<String>,
    pub records: Vec<Record>,
}

/// A record read in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef<'t> {
    pub uid: u32,
    /// The extension fields, space-separated.
    pub fields: &'t str,
    /// The file name as recorded (Dovecot writes the base name; older writers the full name).
    pub name: &'t str,
}

impl<'t> RecordRef<'t> {
    /// The value of the extension field `key`.
    pub(crate) fn field(&self, key: char) -> Option<&'t str> {
        self.fields.split(' ').find_map(|f| f.strip_prefix(key))
    }
}

/// What a reading of the whole file tells besides its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    pub version: u8,
    pub uid_validity: u32,
    /// The larger of the header's `N` and one past the highest record.
    pub next_uid: u32,
    /// Records read.
    pub records: usize,
    /// Whether the file ends with a complete line.
    pub clean_end: bool,
}

/// The part of a file name that never changes: up to the `:` that starts its flags.
pub(crate) fn base_name(name: &str) -> &str {
    memchr::memchr(b':', name.as_bytes()).map_or(name, |i| &name[..i])
}

/// Reads `text`, handing each record to `each` and the header's other fields to `extra`;
/// `None` when it is not a uidlist this reader understands.
pub(crate) fn read<'t>(
    text: &'t str,
    mut extra: impl FnMut(&'t str),
    each: impl FnMut(RecordRef<'t>),
) -> Option<Totals> {
    let header = text.split('\n').next()?;
    let mut words = header.split(' ');
    let mut totals = Totals {
        version: 0,
        uid_validity: 0,
        next_uid: 1,
        records: 0,
        clean_end: text.ends_with('\n'),
    };
    match words.next()? {
        "1" => {
            totals.version = 1;
            totals.uid_validity = words.next()?.parse().ok()?;
            totals.next_uid = words.next()?.parse().ok()?;
        }
        "3" => {
            totals.version = 3;
            for w in words {
                match w.split_at_checked(1) {
                    Some(("V", v)) => totals.uid_validity = v.parse().ok()?,
                    Some(("N", n)) => totals.next_uid = n.parse().ok()?,
                    Some(_) => extra(w),
                    None => {}
                }
            }
        }
        _ => return None,
    }
    let rest = &text[header.len() + 1.min(text.len() - header.len())..];
    read_records(rest, &mut totals, each)?;
    Some(totals)
}

/// Reads the records in `text` (whole lines of a file of `totals.version`, the rest of one
/// whose start `totals` describes), handing each to `each` and counting it into `totals`;
/// `None` when one is not a record.
pub(crate) fn read_records<'t>(
    text: &'t str,
    totals: &mut Totals,
    mut each: impl FnMut(RecordRef<'t>),
) -> Option<()> {
    let mut rest = text;
    // A large folder's list is read on every change to it: lines and names are found with
    // memchr rather than a searcher per line.
    while let Some(end) = memchr::memchr(b'\n', rest.as_bytes()) {
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let uid: u32 = line[..digits].parse().ok()?;
        let after = &line[digits..];
        let (fields, name) = if totals.version == 1 {
            ("", after.strip_prefix(' ')?)
        } else {
            let i = name_start(after)?;
            (after[..i].trim_matches(' '), &after[i + 1..])
        };
        totals.records += 1;
        totals.next_uid = totals.next_uid.max(uid.saturating_add(1));
        each(RecordRef { uid, fields, name });
    }
    Some(())
}

/// Where the `:` before a version 3 record's file name is: the first one after a space (no
/// field starts with one), else the first one.
fn name_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut colons = memchr::memchr_iter(b':', bytes);
    let first = colons.next()?;
    if first > 0 && bytes[first - 1] == b' ' {
        return Some(first);
    }
    colons.find(|&i| bytes[i - 1] == b' ').or(Some(first))
}

/// Parses a whole uidlist.
pub(crate) fn parse(text: &str) -> Option<Uidlist> {
    let mut extra_header = Vec::new();
    let mut records = Vec::new();
    let totals = read(
        text,
        |w| extra_header.push(w.to_owned()),
        |r| {
            records.push(Record {
                uid: r.uid,
                fields: r
                    .fields
                    .split(' ')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect(),
                name: r.name.to_owned(),
            })
        },
    )?;
    Some(Uidlist {
        uid_validity: totals.uid_validity,
        next_uid: totals.next_uid,
        extra_header,
        records,
    })
}

/// The text of one record, as Dovecot writes it (the base name only).
pub(crate) fn encode_record(out: &mut String, uid: u32, fields: &[String], name: &str) {
    use std::fmt::Write as _;
    let _ = write!(out, "{uid}");
    for f in fields {
        out.push(' ');
        out.push_str(f);
    }
    out.push_str(" :");
    out.push_str(base_name(name));
    out.push('\n');
}

/// The uidlist's text (version 3), with the records `keep` keeps.
pub(crate) fn encode(list: &Uidlist, keep: impl Fn(&Record) -> bool) -> String {
    let mut out = format!("3 V{} N{}", list.uid_validity, list.next_uid);
    for h in &list.extra_header {
        out.push(' ');
        out.push_str(h);
    }
    out.push('\n');
    for r in list.records.iter().filter(|r| keep(r)) {
        encode_record(&mut out, r.uid, &r.fields, &r.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = Record> {
        (
            1u32..u32::MAX,
            prop::collection::vec("[PWG][0-9a-z]{1,12}", 0..3),
            "[0-9]{10}\\.M[0-9]{1,6}P[0-9]{1,5}\\.[a-z.]{1,12}(,S=[0-9]{1,6})?",
        )
            .prop_map(|(uid, fields, name)| Record { uid, fields, name })
    }

    proptest! {
        /// What is written reads back the same, with the next UID above every record.
        #[test]
        fn encode_then_parse(
            uid_validity in 1u32..,
            next_uid in 1u32..u32::MAX,
            records in prop::collection::vec(record(), 0..20),
        ) {
            let list = Uidlist {
                uid_validity,
                next_uid,
                extra_header: vec!["G0123456789abcdef0123456789abcdef".into()],
                records,
            };
            let parsed = parse(&encode(&list, |_| true)).unwrap();
            let highest = list.records.iter().map(|r| r.uid.saturating_add(1)).max();
            prop_assert_eq!(parsed.next_uid, highest.unwrap_or(1).max(next_uid));
            prop_assert_eq!(parsed.uid_validity, uid_validity);
            prop_assert_eq!(&parsed.extra_header, &list.extra_header);
            prop_assert_eq!(parsed.records.len(), list.records.len());
            for (a, b) in parsed.records.iter().zip(&list.records) {
                prop_assert_eq!((a.uid, &a.fields, &a.name), (b.uid, &b.fields, &b.name));
            }
        }

        /// Any bytes another program left in the file are read or refused, never a panic.
        #[test]
        fn any_text_is_read_or_refused(text in "(3 V1 N2\n|1 5 9\n)?[ -~\n:]{0,200}") {
            let _ = read(&text, |_| {}, |_| {});
        }
    }

    #[test]
    fn records_appended_after_the_header_raise_the_next_uid() {
        // Dovecot appends records for new mail and leaves N as it was.
        let text = "3 V1700000000 N5 G00112233445566778899aabbccddeeff\n\
                    3 :1700000001.M1P1.h\n\
                    4 W120 :1700000002.M1P1.h\n\
                    5 :1700000003.M1P1.h\n\
                    6 P0badc0de :1700000004.M1P1.h\n";
        let list = parse(text).unwrap();
        assert_eq!(list.next_uid, 7);
        assert_eq!(list.records.len(), 4);
        assert_eq!(list.records[3].fields, ["P0badc0de"]);
        assert_eq!(list.extra_header, ["G00112233445566778899aabbccddeeff"]);
        assert!(encode(&list, |_| true).starts_with("3 V1700000000 N7 G0011"));
    }

    #[test]
    fn a_torn_last_record_is_not_read() {
        let text = "3 V1 N3\n1 :a\n2 :b\n3 :c";
        let mut seen = Vec::new();
        let totals = read(text, |_| {}, |r| seen.push((r.uid, r.name))).unwrap();
        assert_eq!(seen, [(1, "a"), (2, "b")]);
        assert_eq!(totals.next_uid, 3);
        assert!(!totals.clean_end);
        // Even one cut inside its UID.
        assert_eq!(parse("3 V1 N3\n1 :a\n2").unwrap().records.len(), 1);
    }

    #[test]
    fn version_1_and_fields() {
        let list = parse("1 1491941700 20\n17 1491941793.M41850P8566.mx1:2,S\n").unwrap();
        assert_eq!((list.uid_validity, list.next_uid), (1491941700, 20));
        assert_eq!(list.records[0].name, "1491941793.M41850P8566.mx1:2,S");
        let mut out = String::new();
        encode_record(&mut out, 17, &["W6".into()], &list.records[0].name);
        assert_eq!(out, "17 W6 :1491941793.M41850P8566.mx1\n");
        let r = RecordRef {
            uid: 1,
            fields: "P000000a1legacy W6",
            name: "x",
        };
        assert_eq!(
            (r.field('P'), r.field('W')),
            (Some("000000a1legacy"), Some("6"))
        );
        assert!(parse("7 something from the future\n").is_none());
        assert!(parse("3 V1 N2\nnot a record\n").is_none());
    }
}
