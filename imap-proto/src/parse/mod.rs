//! The command parser. It runs on one complete command (the framer has already collected the
//! line and any literals inside it), so it never asks for more input.
//!
//! Written as a recursive-descent cursor rather than with nom combinators: IMAP interleaves
//! literals with the line, nests SEARCH keys arbitrarily deep (bounded here), and needs the tag
//! even from a command that fails to parse, all of which a cursor states directly.

use bytes::Bytes;
use thiserror::Error;

use crate::command::{
    Command, ListReturn, ListSelection, Mailbox, SearchKey, SortCriterion, SortKey, StoreMode,
};
use crate::types::{Atom, DateTime, Flag, Secret, Tag, is_tag_char};

mod args;
mod cursor;
mod fetch;
mod search;
#[cfg(test)]
mod tests;

use cursor::{Cursor, Fail, INVALID_NAME, NAME_MAX, R};
pub use search::MAX_SEARCH_NESTING;

/// Why a command was refused (answered `BAD`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct ParseError {
    /// The tag, when the command got that far.
    pub tag: Option<Tag>,
    /// What was wrong, shown to the client.
    pub reason: &'static str,
    /// The command is well formed but names what cannot exist (a mailbox name that is not
    /// valid modified UTF-7): answer `NO`, not `BAD` (RFC 3501 §5.1.3 leaves the name to the
    /// server; clients treat `BAD` as their own bug).
    pub refusal: bool,
}

/// The parts of an APPEND command before its message literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendHead {
    /// The tag.
    pub tag: Tag,
    /// The destination.
    pub mailbox: Mailbox,
    /// Flags to set.
    pub flags: Vec<Flag>,
    /// Internal date to record.
    pub date: Option<DateTime>,
    /// The literal's length.
    pub size: u64,
    /// Whether the literal is synchronising (the client waits for `+`).
    pub synchronizing: bool,
    /// `UTF8 (~{n})` (RFC 6855 §4): a message that may have UTF-8 header fields; a `)`
    /// follows the literal.
    pub utf8: bool,
}

/// How to read mailbox names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Mailbox names are UTF-8 (UTF8=ACCEPT enabled, RFC 6855 §3), not modified UTF-7.
    pub utf8_names: bool,
}

fn tag<'a>(c: &mut Cursor<'a>) -> Option<Tag> {
    Tag::from_tag_chars(c.take_while(is_tag_char))
}

/// Parses one complete command, literals included, ending with its CRLF (or bare LF), with
/// mailbox names in modified UTF-7.
pub fn parse_command(frame: &[u8]) -> Result<(Tag, Command), ParseError> {
    parse_command_with(frame, ParseOptions::default())
}

/// [`parse_command`], reading mailbox names as `options` say.
pub fn parse_command_with(
    frame: &[u8],
    options: ParseOptions,
) -> Result<(Tag, Command), ParseError> {
    let mut c = Cursor {
        input: frame,
        pos: 0,
        utf8_names: options.utf8_names,
    };
    let Some(tag) = tag(&mut c) else {
        return Err(ParseError {
            tag: None,
            reason: "Missing or invalid tag",
            refusal: false,
        });
    };
    match command(&mut c, &tag).and_then(|cmd| c.end().map(|()| cmd)) {
        Ok(cmd) => Ok((tag, cmd)),
        Err(Fail(reason)) => Err(ParseError {
            tag: Some(tag),
            reason,
            refusal: reason == INVALID_NAME,
        }),
    }
}

/// The tag of a frame, if it starts with one (used to answer a frame that cannot be parsed).
pub fn frame_tag(frame: &[u8]) -> Option<Tag> {
    let mut c = Cursor {
        input: frame,
        pos: 0,
        utf8_names: false,
    };
    let t = tag(&mut c)?;
    (c.peek() == Some(b' ')).then_some(t)
}

/// Parses the head of an APPEND up to and including its message literal's announcement
/// (`tag APPEND mailbox [flags] [date] {n}` and the line end). `None` if the frame is not an
/// APPEND; `Err` if it is one with bad syntax.
pub fn parse_append_head(
    frame: &[u8],
    options: ParseOptions,
) -> Option<Result<AppendHead, ParseError>> {
    let mut c = Cursor {
        input: frame,
        pos: 0,
        utf8_names: options.utf8_names,
    };
    let tag = tag(&mut c)?;
    if !(c.eat(b' ') && c.keyword("APPEND")) {
        return None;
    }
    let result = (|| -> R<AppendHead> {
        let (mailbox, flags, date) = c.append_args()?;
        // RFC 6855 §4: `UTF8 (~{n}...)`, only once the client enabled UTF8=ACCEPT.
        let utf8 = c.keyword("UTF8");
        if utf8 {
            if !options.utf8_names {
                return Err(Fail("APPEND UTF8 needs ENABLE UTF8=ACCEPT"));
            }
            c.sp()?;
            c.expect(b'(', "Expected (")?;
            c.expect(b'~', "Expected a literal8")?;
        } else {
            // RFC 3516 (IMAP4rev2): a literal8, which may hold NULs; stored as it comes.
            c.eat(b'~');
        }
        c.expect(b'{', "Expected the message literal")?;
        let size = c.number64()?;
        let synchronizing = !c.eat(b'+');
        c.expect(b'}', "Invalid literal")?;
        c.end()?;
        Ok(AppendHead {
            tag: tag.clone(),
            mailbox,
            flags,
            date,
            size,
            synchronizing,
            utf8,
        })
    })();
    Some(result.map_err(|Fail(reason)| ParseError {
        tag: Some(tag),
        reason,
        refusal: reason == INVALID_NAME,
    }))
}

/// The line ends here. (Takes no `Command`: one passed through by value was a copy of 128
/// octets, a sixth of a NOOP's parse.)
fn no_args(c: &Cursor<'_>) -> R<()> {
    if matches!(c.peek(), Some(b'\r' | b'\n')) {
        Ok(())
    } else {
        Err(Fail("This command takes no arguments"))
    }
}

fn command(c: &mut Cursor<'_>, _tag: &Tag) -> R<Command> {
    c.sp()?;
    let mut upper = [0; NAME_MAX];
    let name = c.upper_atom(&mut upper)?;
    match name {
        "CAPABILITY" => no_args(c).map(|()| Command::Capability),
        "NOOP" => no_args(c).map(|()| Command::Noop),
        "LOGOUT" => no_args(c).map(|()| Command::Logout),
        "STARTTLS" => no_args(c).map(|()| Command::StartTls),
        "NAMESPACE" => no_args(c).map(|()| Command::Namespace),
        "IDLE" => no_args(c).map(|()| Command::Idle),
        "CHECK" => no_args(c).map(|()| Command::Check),
        "CLOSE" => no_args(c).map(|()| Command::Close),
        "UNSELECT" => no_args(c).map(|()| Command::Unselect),
        "EXPUNGE" => no_args(c).map(|()| Command::Expunge),
        "AUTHENTICATE" => authenticate(c),
        "LOGIN" => {
            c.sp()?;
            let username = c.astring()?;
            c.sp()?;
            let password = Secret::new(c.astring()?);
            Ok(Command::Login { username, password })
        }
        "ENABLE" => enable(c),
        "ID" => id(c),
        "SELECT" | "EXAMINE" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            let params = c.select_params()?;
            Ok(if name == "SELECT" {
                Command::Select(mailbox, params)
            } else {
                Command::Examine(mailbox, params)
            })
        }
        "CREATE" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            let mut special_use = Vec::new();
            if c.eat(b' ') {
                c.expect(b'(', "Expected (")?;
                if !c.keyword("USE") {
                    return Err(Fail("Unknown CREATE parameter"));
                }
                c.sp()?;
                for flag in c.flag_list()? {
                    match flag {
                        Flag::Extension(a) => special_use.push(a),
                        _ => return Err(Fail("Invalid special-use attribute")),
                    }
                }
                c.expect(b')', "Expected )")?;
            }
            Ok(Command::Create {
                mailbox,
                special_use,
            })
        }
        "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            Ok(match name {
                "DELETE" => Command::Delete(mailbox),
                "SUBSCRIBE" => Command::Subscribe(mailbox),
                _ => Command::Unsubscribe(mailbox),
            })
        }
        "RENAME" => {
            c.sp()?;
            let from = c.mailbox()?;
            c.sp()?;
            let to = c.mailbox()?;
            Ok(Command::Rename { from, to })
        }
        "LSUB" => {
            c.sp()?;
            let reference = c.list_mailbox()?;
            c.sp()?;
            let pattern = c.list_mailbox()?;
            Ok(Command::List {
                reference,
                patterns: vec![pattern],
                selection: ListSelection {
                    subscribed: true,
                    ..ListSelection::default()
                },
                returns: ListReturn::default(),
                lsub: true,
            })
        }
        "LIST" => list(c),
        "STATUS" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            c.sp()?;
            let items = c.status_items()?;
            Ok(Command::Status { mailbox, items })
        }
        "APPEND" => {
            let (mailbox, flags, date) = c.append_args()?;
            let message = Bytes::copy_from_slice(c.literal()?);
            Ok(Command::Append {
                mailbox,
                flags,
                date,
                message,
            })
        }
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => sequence_command(c, name, false),
        "SORT" => sort(c, false),
        "THREAD" => thread(c, false),
        "GETQUOTA" => {
            c.sp()?;
            Ok(Command::GetQuota(c.astring()?))
        }
        "GETQUOTAROOT" => {
            c.sp()?;
            Ok(Command::GetQuotaRoot(c.mailbox()?))
        }
        "SETQUOTA" => set_quota(c),
        "UID" => {
            c.sp()?;
            let mut upper = [0; NAME_MAX];
            let sub = c.upper_atom(&mut upper)?;
            match sub {
                "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => sequence_command(c, sub, true),
                "SORT" => sort(c, true),
                "THREAD" => thread(c, true),
                "EXPUNGE" => {
                    c.sp()?;
                    Ok(Command::UidExpunge(c.sequence_set()?))
                }
                _ => Err(Fail("Unknown UID command")),
            }
        }
        _ => Err(Fail("Unknown command")),
    }
}

/// `AUTHENTICATE mechanism [initial-response]` (RFC 4959 SASL-IR).
fn authenticate(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let mechanism = c.atom()?.to_ascii_uppercase();
    let initial_response = if c.eat(b' ') {
        let ir = c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if ir.is_empty() {
            return Err(Fail("Invalid initial response"));
        }
        Some(Secret::new(String::from_utf8_lossy(ir).into_owned()))
    } else {
        None
    };
    Ok(Command::Authenticate {
        mechanism,
        initial_response,
    })
}

/// `ID ("key" "value" ...)` or `ID NIL` (RFC 2971).
fn id(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    if c.keyword("NIL") {
        return Ok(Command::Id(None));
    }
    c.expect(b'(', "Expected ( or NIL")?;
    let mut fields = Vec::new();
    if !c.eat(b')') {
        loop {
            let key = c.string()?;
            c.sp()?;
            let value = if c.keyword("NIL") {
                None
            } else {
                Some(c.string()?)
            };
            fields.push((key, value));
            if fields.len() > 30 {
                return Err(Fail("Too many ID fields"));
            }
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    }
    Ok(Command::Id(Some(fields)))
}

/// `SETQUOTA root (resource limit ...)` (RFC 9208).
fn set_quota(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let root = c.astring()?;
    c.sp()?;
    c.expect(b'(', "Expected (")?;
    let mut limits = Vec::new();
    if !c.eat(b')') {
        loop {
            let resource = Atom::new(c.atom()?.to_ascii_uppercase())
                .map_err(|_| Fail("Invalid resource name"))?;
            c.sp()?;
            limits.push((resource, c.number64()?));
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    }
    Ok(Command::SetQuota { root, limits })
}

/// `ENABLE capability...` (RFC 5161).
fn enable(c: &mut Cursor<'_>) -> R<Command> {
    let mut caps = Vec::new();
    while c.eat(b' ') {
        caps.push(
            Atom::new(c.atom()?.to_ascii_uppercase()).map_err(|_| Fail("Invalid capability"))?,
        );
    }
    if caps.is_empty() {
        return Err(Fail("ENABLE needs at least one capability"));
    }
    Ok(Command::Enable(caps))
}

fn sort(c: &mut Cursor<'_>, uid: bool) -> R<Command> {
    c.sp()?;
    c.expect(b'(', "Expected sort criteria")?;
    let mut criteria = Vec::new();
    loop {
        let mut word = c.atom()?.to_ascii_uppercase();
        let reverse = word == "REVERSE";
        if reverse {
            c.sp()?;
            word = c.atom()?.to_ascii_uppercase();
        }
        let key = match word.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            _ => return Err(Fail("Unknown sort criterion")),
        };
        criteria.push(SortCriterion { reverse, key });
        if c.eat(b')') {
            break;
        }
        c.sp()?;
    }
    c.sp()?;
    let charset = c.astring()?.to_ascii_uppercase();
    c.sp()?;
    Ok(Command::Sort {
        uid,
        criteria,
        charset,
        search: Box::new(search_program(c)?),
    })
}

fn thread(c: &mut Cursor<'_>, uid: bool) -> R<Command> {
    c.sp()?;
    let algorithm =
        Atom::new(c.atom()?.to_ascii_uppercase()).map_err(|_| Fail("Invalid algorithm"))?;
    c.sp()?;
    let charset = c.astring()?.to_ascii_uppercase();
    c.sp()?;
    Ok(Command::Thread {
        uid,
        algorithm,
        charset,
        search: Box::new(search_program(c)?),
    })
}

/// One or more search keys to the end of the command; several mean all of them.
fn search_program(c: &mut Cursor<'_>) -> R<SearchKey> {
    let mut keys = vec![c.search_key(1)?];
    while c.eat(b' ') {
        keys.push(c.search_key(1)?);
    }
    Ok(if keys.len() == 1 {
        keys.pop().unwrap_or(SearchKey::All)
    } else {
        SearchKey::And(keys)
    })
}

fn list(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let mut selection = ListSelection::default();
    if c.eat(b'(') {
        if !c.eat(b')') {
            loop {
                match c.upper_atom(&mut [0; NAME_MAX])? {
                    "SUBSCRIBED" => selection.subscribed = true,
                    "REMOTE" => selection.remote = true,
                    "RECURSIVEMATCH" => selection.recursive_match = true,
                    "SPECIAL-USE" => selection.special_use = true,
                    _ => return Err(Fail("Unknown LIST selection option")),
                }
                if c.eat(b')') {
                    break;
                }
                c.sp()?;
            }
        }
        // RFC 5258 §3.1: RECURSIVEMATCH only refines another selection option.
        if selection.recursive_match && !selection.filters() {
            return Err(Fail("RECURSIVEMATCH needs another selection option"));
        }
        c.sp()?;
    }
    let reference = c.list_mailbox()?;
    c.sp()?;
    let mut patterns = Vec::new();
    if c.eat(b'(') {
        loop {
            patterns.push(c.list_mailbox()?);
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    } else {
        patterns.push(c.list_mailbox()?);
    }
    let mut returns = ListReturn::default();
    if c.eat(b' ') {
        if !c.keyword("RETURN") {
            return Err(Fail("Expected RETURN"));
        }
        c.sp()?;
        c.expect(b'(', "Expected (")?;
        if !c.eat(b')') {
            loop {
                match c.upper_atom(&mut [0; NAME_MAX])? {
                    "SUBSCRIBED" => returns.subscribed = true,
                    "CHILDREN" => returns.children = true,
                    "SPECIAL-USE" => returns.special_use = true,
                    "STATUS" => {
                        c.sp()?;
                        returns.status = c.status_items()?;
                    }
                    _ => return Err(Fail("Unknown LIST return option")),
                }
                if c.eat(b')') {
                    break;
                }
                c.sp()?;
            }
        }
    }
    Ok(Command::List {
        reference,
        patterns,
        selection,
        returns,
        lsub: false,
    })
}

fn sequence_command(c: &mut Cursor<'_>, name: &str, uid: bool) -> R<Command> {
    c.sp()?;
    if name == "SEARCH" {
        let mut return_options = None;
        if c.keyword("RETURN") {
            c.sp()?;
            c.expect(b'(', "Expected (")?;
            let mut opts = Vec::new();
            if !c.eat(b')') {
                loop {
                    opts.push(
                        Atom::new(c.atom()?.to_ascii_uppercase())
                            .map_err(|_| Fail("Invalid option"))?,
                    );
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
            }
            return_options = Some(opts);
            c.sp()?;
        }
        let mut charset = None;
        if c.keyword("CHARSET") {
            c.sp()?;
            charset = Some(c.astring()?.to_ascii_uppercase());
            c.sp()?;
        }
        let mut keys = vec![c.search_key(1)?];
        while c.eat(b' ') {
            keys.push(c.search_key(1)?);
        }
        let criteria = if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        };
        return Ok(Command::Search {
            uid,
            charset,
            criteria: Box::new(criteria),
            return_options,
        });
    }
    let set = c.sequence_set()?;
    c.sp()?;
    match name {
        "FETCH" => {
            let mut attributes = Vec::new();
            if c.eat(b'(') {
                loop {
                    c.fetch_attr(&mut attributes)?;
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
            } else {
                c.fetch_attr(&mut attributes)?;
            }
            // RFC 7162 fetch modifiers.
            let (mut changed_since, mut vanished) = (None, false);
            if c.eat(b' ') {
                c.expect(b'(', "Expected (")?;
                loop {
                    match c.upper_atom(&mut [0; NAME_MAX])? {
                        "CHANGEDSINCE" if changed_since.is_none() => {
                            c.sp()?;
                            changed_since = Some(c.mod_sequence_value(false)?);
                        }
                        "VANISHED" if uid && !vanished => vanished = true,
                        _ => return Err(Fail("Unknown FETCH modifier")),
                    }
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
                // RFC 7162 §3.2.6: VANISHED only with CHANGEDSINCE.
                if vanished && changed_since.is_none() {
                    return Err(Fail("VANISHED needs CHANGEDSINCE"));
                }
            }
            Ok(Command::Fetch {
                uid,
                set,
                attributes,
                changed_since,
                vanished,
            })
        }
        "STORE" => {
            let mut unchanged_since = None;
            if c.eat(b'(') {
                if !c.keyword("UNCHANGEDSINCE") {
                    return Err(Fail("Unknown STORE modifier"));
                }
                c.sp()?;
                unchanged_since = Some(c.mod_sequence()?);
                c.expect(b')', "Expected )")?;
                c.sp()?;
            }
            let mode = if c.eat(b'+') {
                StoreMode::Add
            } else if c.eat(b'-') {
                StoreMode::Remove
            } else {
                StoreMode::Replace
            };
            let word = c
                .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
                .to_ascii_uppercase();
            let silent = match word.as_slice() {
                b"FLAGS" => false,
                b"FLAGS.SILENT" => true,
                _ => return Err(Fail("Expected FLAGS or FLAGS.SILENT")),
            };
            c.sp()?;
            let flags = if c.peek() == Some(b'(') {
                c.settable_flag_list()?
            } else {
                let mut flags = vec![c.settable_flag()?];
                while c.eat(b' ') {
                    flags.push(c.settable_flag()?);
                }
                flags
            };
            Ok(Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            })
        }
        "COPY" => Ok(Command::Copy {
            uid,
            set,
            mailbox: c.mailbox()?,
        }),
        _ => Ok(Command::Move {
            uid,
            set,
            mailbox: c.mailbox()?,
        }),
    }
}
