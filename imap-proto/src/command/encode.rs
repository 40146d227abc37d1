//! The client side of commands: the bytes a client sends for a [`Command`].

use super::*;

/// Client-side encoding, for embedders that test a server, proxy commands, or fuzz: the bytes
/// a client sends for a command, literals included (as LITERAL+ non-synchronising literals,
/// so the command is one contiguous frame that [`crate::parse_command`] reads back as is).
impl Command {
    /// The command line(s) for `tag`, ending with CRLF.
    pub fn encode(&self, tag: &Tag) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(tag.as_str().as_bytes());
        out.push(b' ');
        let w = &mut out;
        match self {
            Command::Capability
            | Command::Noop
            | Command::Logout
            | Command::StartTls
            | Command::Namespace
            | Command::Idle
            | Command::Check
            | Command::Close
            | Command::Unselect
            | Command::Expunge => put(w, self.name()),
            Command::Authenticate {
                mechanism,
                initial_response,
            } => {
                put(w, "AUTHENTICATE ");
                put(w, mechanism);
                if let Some(ir) = initial_response {
                    put(w, " ");
                    put(w, ir.expose());
                }
            }
            Command::Login { username, password } => {
                put(w, "LOGIN ");
                astring(w, username.as_bytes());
                put(w, " ");
                astring(w, password.expose().as_bytes());
            }
            Command::Enable(caps) => {
                put(w, "ENABLE");
                for c in caps {
                    put(w, " ");
                    put(w, c.as_str());
                }
            }
            Command::Id(None) => put(w, "ID NIL"),
            Command::Id(Some(fields)) => {
                put(w, "ID (");
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        put(w, " ");
                    }
                    string(w, k.as_bytes());
                    put(w, " ");
                    match v {
                        Some(v) => string(w, v.as_bytes()),
                        None => put(w, "NIL"),
                    }
                }
                put(w, ")");
            }
            Command::Select { .. }
            | Command::Examine { .. }
            | Command::Delete { .. }
            | Command::Subscribe { .. }
            | Command::Unsubscribe { .. }
            | Command::Create { .. }
            | Command::Rename { .. }
            | Command::List { .. }
            | Command::Status { .. }
            | Command::Append { .. } => self.encode_mailbox_args(w),
            Command::UidExpunge(set) => put(w, &format!("UID EXPUNGE {set}")),
            Command::Search { .. }
            | Command::Fetch { .. }
            | Command::Store { .. }
            | Command::Copy { .. }
            | Command::Move { .. }
            | Command::Sort { .. }
            | Command::Thread { .. } => self.encode_message_args(w),
            Command::GetQuota(root) => {
                put(w, "GETQUOTA ");
                astring(w, root.as_bytes());
            }
            Command::GetQuotaRoot(m) => {
                put(w, "GETQUOTAROOT ");
                mailbox(w, m);
            }
            Command::SetQuota { root, limits } => {
                put(w, "SETQUOTA ");
                astring(w, root.as_bytes());
                put(w, " (");
                for (i, (resource, limit)) in limits.iter().enumerate() {
                    if i > 0 {
                        put(w, " ");
                    }
                    put(w, &format!("{resource} {limit}"));
                }
                put(w, ")");
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The arguments of the commands on mailboxes (SELECT to APPEND).
    fn encode_mailbox_args(&self, w: &mut Vec<u8>) {
        match self {
            Command::Select(m, params) | Command::Examine(m, params) => {
                put(w, self.name());
                put(w, " ");
                mailbox(w, m);
                select_params(w, params);
            }
            Command::Delete(m) | Command::Subscribe(m) | Command::Unsubscribe(m) => {
                put(w, self.name());
                put(w, " ");
                mailbox(w, m);
            }
            Command::Create {
                mailbox: m,
                special_use,
            } => {
                put(w, "CREATE ");
                mailbox(w, m);
                if !special_use.is_empty() {
                    put(w, " (USE (");
                    for (i, a) in special_use.iter().enumerate() {
                        put(w, if i == 0 { "\\" } else { " \\" });
                        put(w, a.as_str());
                    }
                    put(w, "))");
                }
            }
            Command::Rename { from, to } => {
                put(w, "RENAME ");
                mailbox(w, from);
                put(w, " ");
                mailbox(w, to);
            }
            Command::List {
                reference,
                patterns,
                selection,
                returns,
                lsub,
            } => {
                put(w, if *lsub { "LSUB " } else { "LIST " });
                if !*lsub {
                    let options = [
                        (selection.subscribed, "SUBSCRIBED"),
                        (selection.remote, "REMOTE"),
                        (selection.recursive_match, "RECURSIVEMATCH"),
                        (selection.special_use, "SPECIAL-USE"),
                    ];
                    if options.iter().any(|(on, _)| *on) {
                        put(w, "(");
                        let names: Vec<&str> = options
                            .iter()
                            .filter(|(on, _)| *on)
                            .map(|(_, n)| *n)
                            .collect();
                        put(w, &names.join(" "));
                        put(w, ") ");
                    }
                }
                list_mailbox(w, reference);
                put(w, " ");
                if let [one] = patterns.as_slice() {
                    list_mailbox(w, one);
                } else {
                    put(w, "(");
                    for (i, p) in patterns.iter().enumerate() {
                        if i > 0 {
                            put(w, " ");
                        }
                        list_mailbox(w, p);
                    }
                    put(w, ")");
                }
                if !*lsub && !returns.is_empty() {
                    let mut options: Vec<&str> = Vec::new();
                    for (on, name) in [
                        (returns.subscribed, "SUBSCRIBED"),
                        (returns.children, "CHILDREN"),
                        (returns.special_use, "SPECIAL-USE"),
                    ] {
                        if on {
                            options.push(name);
                        }
                    }
                    put(w, " RETURN (");
                    put(w, &options.join(" "));
                    if !returns.status.is_empty() {
                        put(
                            w,
                            if options.is_empty() {
                                "STATUS "
                            } else {
                                " STATUS "
                            },
                        );
                        status_items(w, &returns.status);
                    }
                    put(w, ")");
                }
            }
            Command::Status { mailbox: m, items } => {
                put(w, "STATUS ");
                mailbox(w, m);
                put(w, " ");
                status_items(w, items);
            }
            Command::Append {
                mailbox: m,
                flags,
                date,
                message,
            } => {
                put(w, "APPEND ");
                mailbox(w, m);
                if !flags.is_empty() {
                    put(w, " ");
                    flag_list(w, flags);
                }
                if let Some(d) = date {
                    put(w, &format!(" \"{d}\""));
                }
                put(w, " ");
                literal(w, message);
            }
            // The others are encoded by `encode`.
            _ => {}
        }
    }

    /// The arguments of the commands on messages (SEARCH to THREAD).
    fn encode_message_args(&self, w: &mut Vec<u8>) {
        match self {
            Command::Search {
                uid,
                charset,
                criteria,
                return_options,
            } => {
                put(w, if *uid { "UID SEARCH " } else { "SEARCH " });
                if let Some(opts) = return_options {
                    put(w, "RETURN (");
                    for (i, o) in opts.iter().enumerate() {
                        if i > 0 {
                            put(w, " ");
                        }
                        put(w, o.as_str());
                    }
                    put(w, ") ");
                }
                if let Some(cs) = charset {
                    put(w, "CHARSET ");
                    astring(w, cs.as_bytes());
                    put(w, " ");
                }
                search_keys(w, criteria);
            }
            Command::Fetch {
                uid,
                set,
                attributes,
                changed_since,
                vanished,
            } => {
                put(
                    w,
                    &format!("{}FETCH {set} ", if *uid { "UID " } else { "" }),
                );
                if let [one] = attributes.as_slice() {
                    fetch_attr(w, one);
                } else {
                    put(w, "(");
                    for (i, a) in attributes.iter().enumerate() {
                        if i > 0 {
                            put(w, " ");
                        }
                        fetch_attr(w, a);
                    }
                    put(w, ")");
                }
                match (changed_since, vanished) {
                    (Some(n), true) => put(w, &format!(" (CHANGEDSINCE {n} VANISHED)")),
                    (Some(n), false) => put(w, &format!(" (CHANGEDSINCE {n})")),
                    (None, true) => put(w, " (VANISHED)"),
                    (None, false) => {}
                }
            }
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => {
                let sign = match mode {
                    StoreMode::Replace => "",
                    StoreMode::Add => "+",
                    StoreMode::Remove => "-",
                };
                let silent = if *silent { ".SILENT" } else { "" };
                let uid = if *uid { "UID " } else { "" };
                put(w, &format!("{uid}STORE {set} "));
                if let Some(n) = unchanged_since {
                    put(w, &format!("(UNCHANGEDSINCE {n}) "));
                }
                put(w, &format!("{sign}FLAGS{silent} "));
                flag_list(w, flags);
            }
            Command::Copy {
                uid,
                set,
                mailbox: m,
            }
            | Command::Move {
                uid,
                set,
                mailbox: m,
            } => {
                let uid = if *uid { "UID " } else { "" };
                put(w, &format!("{uid}{} {set} ", self.name()));
                mailbox(w, m);
            }
            Command::Sort {
                uid,
                criteria,
                charset,
                search,
            } => {
                put(w, if *uid { "UID SORT (" } else { "SORT (" });
                for (i, c) in criteria.iter().enumerate() {
                    if i > 0 {
                        put(w, " ");
                    }
                    if c.reverse {
                        put(w, "REVERSE ");
                    }
                    put(w, c.key.name());
                }
                put(w, ") ");
                astring(w, charset.as_bytes());
                put(w, " ");
                search_keys(w, search);
            }
            Command::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => {
                put(w, if *uid { "UID THREAD " } else { "THREAD " });
                put(w, algorithm.as_str());
                put(w, " ");
                astring(w, charset.as_bytes());
                put(w, " ");
                search_keys(w, search);
            }
            // The others are encoded by `encode`.
            _ => {}
        }
    }
}

fn put(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn literal(out: &mut Vec<u8>, s: &[u8]) {
    put(out, &format!("{{{}+}}\r\n", s.len()));
    out.extend_from_slice(s);
}

/// A quoted string when the value allows one (7-bit, no CR, LF or NUL), else a literal.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter()
        .all(|&b| b.is_ascii() && !matches!(b, b'\r' | b'\n' | 0))
    {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

fn mailbox(out: &mut Vec<u8>, m: &Mailbox) {
    astring(out, encode_mutf7(m.as_str()).as_bytes());
}

fn list_mailbox(out: &mut Vec<u8>, pattern: &str) {
    let encoded = encode_mutf7(pattern);
    let b = encoded.as_bytes();
    if !b.is_empty()
        && b.iter()
            .all(|&c| is_astring_char(c) || c == b'%' || c == b'*')
    {
        out.extend_from_slice(b);
    } else {
        string(out, b);
    }
}

fn flag_list(out: &mut Vec<u8>, flags: &[Flag]) {
    put(out, "(");
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            put(out, " ");
        }
        put(out, &f.to_string());
    }
    put(out, ")");
}

fn select_params(out: &mut Vec<u8>, params: &SelectParams) {
    let mut parts: Vec<String> = Vec::new();
    if params.condstore {
        parts.push("CONDSTORE".into());
    }
    if let Some(q) = &params.qresync {
        let mut p = format!("QRESYNC ({} {}", q.uid_validity, q.modseq);
        if let Some(known) = &q.known_uids {
            p.push_str(&format!(" {known}"));
        }
        if let Some((seqs, uids)) = &q.seq_match {
            p.push_str(&format!(" ({seqs} {uids})"));
        }
        p.push(')');
        parts.push(p);
    }
    if !parts.is_empty() {
        put(out, &format!(" ({})", parts.join(" ")));
    }
}

fn status_items(out: &mut Vec<u8>, items: &[StatusItem]) {
    put(out, "(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            put(out, " ");
        }
        put(out, item.name());
    }
    put(out, ")");
}

fn date(out: &mut Vec<u8>, d: &Date) {
    let month = MONTH_NAMES[usize::from(d.month.clamp(1, 12) - 1)];
    put(out, &format!("{}-{month}-{}", d.day, d.year));
}

/// The keys of SEARCH, SORT and THREAD: an AND of several is written as a list of keys.
fn search_keys(out: &mut Vec<u8>, key: &SearchKey) {
    match key {
        SearchKey::And(keys) if keys.len() > 1 => {
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    put(out, " ");
                }
                search_key(out, k);
            }
        }
        key => search_key(out, key),
    }
}

fn search_key(out: &mut Vec<u8>, key: &SearchKey) {
    let word_arg = |out: &mut Vec<u8>, word: &str, arg: &str| {
        put(out, word);
        put(out, " ");
        astring(out, arg.as_bytes());
    };
    let word_date = |out: &mut Vec<u8>, word: &str, d: &Date| {
        put(out, word);
        put(out, " ");
        date(out, d);
    };
    match key {
        SearchKey::And(keys) => {
            put(out, "(");
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    put(out, " ");
                }
                search_key(out, k);
            }
            put(out, ")");
        }
        SearchKey::All => put(out, "ALL"),
        SearchKey::Answered => put(out, "ANSWERED"),
        SearchKey::Deleted => put(out, "DELETED"),
        SearchKey::Draft => put(out, "DRAFT"),
        SearchKey::Flagged => put(out, "FLAGGED"),
        SearchKey::New => put(out, "NEW"),
        SearchKey::Old => put(out, "OLD"),
        SearchKey::Recent => put(out, "RECENT"),
        SearchKey::Seen => put(out, "SEEN"),
        SearchKey::Unanswered => put(out, "UNANSWERED"),
        SearchKey::Undeleted => put(out, "UNDELETED"),
        SearchKey::Undraft => put(out, "UNDRAFT"),
        SearchKey::Unflagged => put(out, "UNFLAGGED"),
        SearchKey::Unseen => put(out, "UNSEEN"),
        SearchKey::Bcc(s) => word_arg(out, "BCC", s),
        SearchKey::Body(s) => word_arg(out, "BODY", s),
        SearchKey::Cc(s) => word_arg(out, "CC", s),
        SearchKey::From(s) => word_arg(out, "FROM", s),
        SearchKey::Subject(s) => word_arg(out, "SUBJECT", s),
        SearchKey::Text(s) => word_arg(out, "TEXT", s),
        SearchKey::To(s) => word_arg(out, "TO", s),
        SearchKey::Header(name, value) => {
            word_arg(out, "HEADER", name);
            put(out, " ");
            astring(out, value.as_bytes());
        }
        SearchKey::Keyword(k) => put(out, &format!("KEYWORD {k}")),
        SearchKey::Unkeyword(k) => put(out, &format!("UNKEYWORD {k}")),
        SearchKey::Larger(n) => put(out, &format!("LARGER {n}")),
        SearchKey::Smaller(n) => put(out, &format!("SMALLER {n}")),
        SearchKey::Before(d) => word_date(out, "BEFORE", d),
        SearchKey::On(d) => word_date(out, "ON", d),
        SearchKey::Since(d) => word_date(out, "SINCE", d),
        SearchKey::SentBefore(d) => word_date(out, "SENTBEFORE", d),
        SearchKey::SentOn(d) => word_date(out, "SENTON", d),
        SearchKey::SentSince(d) => word_date(out, "SENTSINCE", d),
        SearchKey::Not(k) => {
            put(out, "NOT ");
            search_key(out, k);
        }
        SearchKey::Or(a, b) => {
            put(out, "OR ");
            search_key(out, a);
            put(out, " ");
            search_key(out, b);
        }
        SearchKey::Uid(set) => put(out, &format!("UID {set}")),
        SearchKey::ModSeq { modseq, entry } => {
            put(out, "MODSEQ ");
            if let Some((name, kind)) = entry {
                string(out, name.as_bytes());
                put(out, &format!(" {} ", kind.as_str()));
            }
            put(out, &modseq.to_string());
        }
        SearchKey::SequenceSet(set) => put(out, &set.to_string()),
    }
}

/// `1.2.3`
pub(crate) fn part_numbers(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn fetch_attr(out: &mut Vec<u8>, attr: &FetchAttr) {
    let word = match attr {
        FetchAttr::Envelope => "ENVELOPE",
        FetchAttr::Flags => "FLAGS",
        FetchAttr::InternalDate => "INTERNALDATE",
        FetchAttr::Rfc822 => "RFC822",
        FetchAttr::Rfc822Header => "RFC822.HEADER",
        FetchAttr::Rfc822Size => "RFC822.SIZE",
        FetchAttr::Rfc822Text => "RFC822.TEXT",
        FetchAttr::Uid => "UID",
        FetchAttr::Body => "BODY",
        FetchAttr::BodyStructure => "BODYSTRUCTURE",
        FetchAttr::ModSeq => "MODSEQ",
        FetchAttr::Binary {
            peek,
            part,
            partial,
        } => {
            put(out, if *peek { "BINARY.PEEK[" } else { "BINARY[" });
            put(out, &part_numbers(part));
            put(out, "]");
            if let Some((offset, len)) = partial {
                put(out, &format!("<{offset}.{len}>"));
            }
            return;
        }
        FetchAttr::BinarySize { part } => {
            put(out, &format!("BINARY.SIZE[{}]", part_numbers(part)));
            return;
        }
        FetchAttr::BodySection {
            peek,
            section,
            partial,
        } => {
            put(out, if *peek { "BODY.PEEK[" } else { "BODY[" });
            for (i, p) in section.part.iter().enumerate() {
                if i > 0 {
                    put(out, ".");
                }
                put(out, &p.to_string());
            }
            if let Some(text) = &section.text {
                if !section.part.is_empty() {
                    put(out, ".");
                }
                let names = |out: &mut Vec<u8>, word: &str, names: &[String]| {
                    put(out, word);
                    put(out, " (");
                    for (i, n) in names.iter().enumerate() {
                        if i > 0 {
                            put(out, " ");
                        }
                        astring(out, n.as_bytes());
                    }
                    put(out, ")");
                };
                match text {
                    SectionText::Header => put(out, "HEADER"),
                    SectionText::Text => put(out, "TEXT"),
                    SectionText::Mime => put(out, "MIME"),
                    SectionText::HeaderFields(n) => names(out, "HEADER.FIELDS", n),
                    SectionText::HeaderFieldsNot(n) => names(out, "HEADER.FIELDS.NOT", n),
                }
            }
            put(out, "]");
            if let Some((offset, len)) = partial {
                put(out, &format!("<{offset}.{len}>"));
            }
            return;
        }
    };
    put(out, word);
}
