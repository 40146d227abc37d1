//! The parser against RFC examples and the extensions' grammars.

use super::*;
use crate::command::*;
use crate::types::*;

fn cmd(s: &str) -> Command {
    parse_command(s.as_bytes())
        .map(|(_, c)| c)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn an_8bit_atom_is_refused_with_a_plain_reason_and_quoted_utf8_is_taken() {
    let e = parse_command("a LOGIN jürgen@example.com secret\r\n".as_bytes()).unwrap_err();
    assert_eq!(e.reason, "8-bit text must be a quoted string or a literal");
    assert_eq!(e.tag.as_ref().map(|t| t.as_str()), Some("a"));
    assert!(!e.refusal, "BAD: the client's mistake");
    assert_eq!(
        cmd("a LOGIN \"jürgen@example.com\" secret\r\n"),
        Command::Login {
            username: "jürgen@example.com".into(),
            password: Secret::new("secret".into())
        }
    );
    let e = parse_command(b"a LOGIN x\x01 y\r\n").unwrap_err();
    assert_eq!(e.reason, "Control character in command");
}

#[test]
fn rfc_examples() {
    assert_eq!(
        cmd("a001 LOGIN SMITH SESAME\r\n"),
        Command::Login {
            username: "SMITH".into(),
            password: Secret::new("SESAME".into())
        }
    );
    assert!(matches!(cmd("A142 SELECT INBOX\r\n"), Command::Select(m, _) if m.is_inbox()));
    assert!(matches!(cmd("A142 select inbox\r\n"), Command::Select(m, _) if m.is_inbox()));
    let Command::Fetch { attributes, .. } =
        cmd("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n")
    else {
        panic!()
    };
    assert_eq!(
        attributes[1],
        FetchAttr::BodySection {
            peek: false,
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(vec![
                    "DATE".into(),
                    "FROM".into()
                ]))
            },
            partial: None
        }
    );
    let Command::Fetch { attributes, .. } =
        cmd("a UID FETCH 1:* BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.1024>\r\n")
    else {
        panic!()
    };
    assert_eq!(
        attributes[0],
        FetchAttr::BodySection {
            peek: true,
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::HeaderFields(vec!["From".into(), "To".into()]))
            },
            partial: Some((0, 1024))
        }
    );
    assert!(matches!(
        cmd("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n"),
        Command::Store {
            mode: StoreMode::Add,
            silent: false,
            ..
        }
    ));
    let Command::Search {
        criteria, charset, ..
    } = cmd("A282 SEARCH CHARSET UTF-8 FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n")
    else {
        panic!()
    };
    assert_eq!(charset.as_deref(), Some("UTF-8"));
    assert_eq!(
        *criteria,
        SearchKey::And(vec![
            SearchKey::Flagged,
            SearchKey::Since(Date {
                year: 1994,
                month: 2,
                day: 1
            }),
            SearchKey::Not(Box::new(SearchKey::From("Smith".into())))
        ])
    );
    assert!(matches!(
        cmd("A004 LIST \"\" \"%\"\r\n"),
        Command::List { .. }
    ));
    let Command::Append {
        message,
        date,
        flags,
        ..
    } = cmd("A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n")
    else {
        panic!()
    };
    assert_eq!(&message[..], b"hello");
    assert_eq!(flags, [Flag::Seen]);
    assert_eq!(date.map(|d| d.zone_minutes), Some(-480));
    assert!(
        matches!(cmd("a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"), Command::Login { username, .. } if username == "alice")
    );
    assert!(
        matches!(cmd("a CREATE &U,BTFw-\r\n"), Command::Create { mailbox, .. } if mailbox.as_str() == "台北")
    );
}

/// RFC 5258 §5 and RFC 5819 §3 command examples.
#[test]
fn list_extended() {
    let Command::List {
        patterns,
        selection,
        returns,
        ..
    } = cmd("A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n")
    else {
        panic!()
    };
    assert_eq!(patterns, ["%"]);
    assert!(selection.subscribed && selection.recursive_match && !selection.special_use);
    assert!(returns.children && returns.marks_subscribed(&selection));
    let Command::List {
        patterns, returns, ..
    } = cmd("A02 LIST \"\" (\"INBOX\" \"Drafts\") RETURN (STATUS (MESSAGES UNSEEN))\r\n")
    else {
        panic!()
    };
    assert_eq!(patterns, ["INBOX", "Drafts"]);
    assert_eq!(returns.status, [StatusItem::Messages, StatusItem::Unseen]);
    let Command::List { selection, .. } = cmd("t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n") else {
        panic!()
    };
    assert!(selection.special_use && selection.filters());
    // RECURSIVEMATCH alone, or with REMOTE only, is BAD (RFC 5258 §3.1).
    assert!(parse_command(b"A01 LIST (RECURSIVEMATCH) \"\" \"%\"\r\n").is_err());
    assert!(parse_command(b"A01 LIST (REMOTE RECURSIVEMATCH) \"\" \"%\"\r\n").is_err());
    assert!(parse_command(b"A01 LIST (BOGUS) \"\" \"%\"\r\n").is_err());
    assert!(parse_command(b"A01 LIST \"\" \"%\" RETURN (BOGUS)\r\n").is_err());
}

/// RFC 7162 command examples.
#[test]
fn condstore_and_qresync() {
    let Command::Select(_, params) = cmd("A142 SELECT INBOX (CONDSTORE)\r\n") else {
        panic!()
    };
    assert!(params.condstore && params.qresync.is_none());
    let Command::Select(_, params) =
        cmd("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n")
    else {
        panic!()
    };
    let q = params.qresync.unwrap();
    assert_eq!((q.uid_validity, q.modseq), (67890007, 20050715194045000));
    assert_eq!(q.known_uids.unwrap().to_string(), "41,43:211,214:541");
    let Command::Examine(_, params) = cmd(
        "B02 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
    ) else {
        panic!()
    };
    let (seqs, uids) = params.qresync.unwrap().seq_match.unwrap();
    assert_eq!(seqs.to_string(), "5000,7500,9000,9990:9999");
    assert!(uids.to_string().starts_with("15000,22500"));
    let Command::Store {
        unchanged_since,
        silent,
        ..
    } = cmd("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n")
    else {
        panic!()
    };
    assert_eq!((unchanged_since, silent), (Some(12121230045), true));
    let Command::Fetch {
        changed_since,
        vanished,
        ..
    } = cmd("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n")
    else {
        panic!()
    };
    assert_eq!((changed_since, vanished), (Some(12345), true));
    let Command::Search { criteria, .. } =
        cmd("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n")
    else {
        panic!()
    };
    assert_eq!(
        *criteria,
        SearchKey::ModSeq {
            modseq: 620162338,
            entry: Some(("/flags/\\draft".into(), Atom::new("all").unwrap()))
        }
    );
    let Command::Status { items, .. } =
        cmd("A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n")
    else {
        panic!()
    };
    assert_eq!(items[2], StatusItem::HighestModSeq);
    for bad in [
        "a FETCH 1 (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n",
        "a UID FETCH 1 (FLAGS) (VANISHED)\r\n",
        "a UID FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n",
        "a SELECT INBOX (QRESYNC (1 0))\r\n",
        "a SELECT INBOX (BOGUS)\r\n",
        "a SEARCH MODSEQ \"/flags/x\" other 5\r\n",
        "a SEARCH MODSEQ 9223372036854775808\r\n",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn errors_keep_the_tag() {
    let e = parse_command(b"x1 FETCH 0 FLAGS\r\n").unwrap_err();
    assert_eq!(e.tag.as_ref().map(Tag::as_str), Some("x1"));
    assert_eq!(parse_command(b"+ NOOP\r\n").unwrap_err().tag, None);
    assert!(parse_command(b"a NOOP extra\r\n").is_err());
    let deep = format!("a SEARCH {}ALL{}\r\n", "(".repeat(20), ")".repeat(20));
    assert!(parse_command(deep.as_bytes()).is_err());
}

#[test]
fn append_head() {
    let h = parse_append_head(
        b"A1 APPEND INBOX (\\Seen $Junk) {310}\r\n",
        ParseOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!((h.size, h.synchronizing, h.flags.len()), (310, true, 2));
    let h = parse_append_head(
        b"A1 append \"Sent Items\" {3+}\r\n",
        ParseOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!((h.mailbox.as_str(), h.synchronizing), ("Sent Items", false));
    assert!(parse_append_head(b"A1 LOGIN {3}\r\n", ParseOptions::default()).is_none());
    assert!(
        parse_append_head(b"A1 APPEND INBOX (\\Seen {3}\r\n", ParseOptions::default())
            .unwrap()
            .is_err()
    );
    // RFC 3516: a literal8 message.
    let h = parse_append_head(b"A1 APPEND INBOX ~{5}\r\n", ParseOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!((h.size, h.utf8), (5, false));
    // RFC 6855 §4: UTF8 (~{n}) once UTF8=ACCEPT is on, and UTF-8 names as they are.
    let utf8 = ParseOptions { utf8_names: true };
    let h = parse_append_head("A1 APPEND \"Entwürfe&\" UTF8 (~{12}\r\n".as_bytes(), utf8)
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.mailbox.as_str(), h.size, h.utf8),
        ("Entwürfe&", 12, true)
    );
    assert!(
        parse_append_head(b"A1 APPEND INBOX UTF8 (~{12}\r\n", ParseOptions::default())
            .unwrap()
            .is_err()
    );
    let (_, cmd) = parse_command_with("a SELECT \"Entwürfe&\"\r\n".as_bytes(), utf8).unwrap();
    assert_eq!(
        cmd,
        Command::Select(Mailbox::new("Entwürfe&"), SelectParams::default())
    );
    let (_, cmd) = parse_command(b"a SELECT Entw&APw-rfe&-\r\n").unwrap();
    assert_eq!(
        cmd,
        Command::Select(Mailbox::new("Entwürfe&"), SelectParams::default())
    );
}

#[test]
fn a_client_cannot_set_recent_or_unknown_system_flags() {
    // RFC 3501 §6.4.6 / §2.3.2: \Recent is the server's; an unknown \-flag is refused (BAD,
    // as Dovecot answers) rather than passed to the embedder.
    for line in [
        "a STORE 1 +FLAGS (\\Recent)\r\n",
        "a STORE 1 FLAGS \\Seen \\Recent\r\n",
        "a UID STORE 1:* -FLAGS.SILENT (\\Bogus)\r\n",
    ] {
        let e = parse_command(line.as_bytes()).unwrap_err();
        assert!(!e.refusal, "{line:?} is the client's mistake: BAD");
    }
    let head = parse_append_head(
        b"a APPEND INBOX (\\Recent) {3}\r\n",
        ParseOptions::default(),
    );
    assert!(head.unwrap().is_err());
    let head = parse_append_head(b"a APPEND INBOX (\\Bogus) {3}\r\n", ParseOptions::default());
    assert!(head.unwrap().is_err());
    // Keywords and the settable system flags still pass.
    assert!(matches!(
        cmd("a STORE 1 +FLAGS ($Junk \\Answered)\r\n"),
        Command::Store { ref flags, .. } if flags.len() == 2
    ));
}
