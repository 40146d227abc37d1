//! Parsers for one complete command line (the framer found its end), its paths
//! ([`path`]) and, for the client, replies ([`reply`]).
//!
//! Grammar: RFC 5321 §4.1 (commands, paths, mailboxes), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
//! RFC 3030 (BDAT, BINARYMIME), RFC 3461 (DSN parameters), RFC 4954 (AUTH), RFC 6531 (UTF-8).

use std::borrow::Cow;

use thiserror::Error;

mod path;
mod reply;

pub use path::parse_mailbox;
use path::{parse_path, plain_path, split_path};
pub use reply::{ReplyParseError, parse_reply};

use crate::command::{
    Body, Command, MailParams, Notify, OriginalRecipient, RcptParams, Ret, is_xtext_octet,
};
use crate::types::{ForwardPath, Host, Reply, ReversePath, Secret};

// The parsers below are hand-written byte scanners rather than nom combinators: verbs are
// matched as case-folded integers and parameters without an allocation per keyword. Against
// nom and per-keyword `to_ascii_uppercase` this took `MAIL FROM:<..> SIZE= BODY= SMTPUTF8`
// from 219-228 ns to 175-178 ns and `DATA` from 25 to 12.5 ns (benches/parsers.sh,
// 2026-12-04; 18 to 12.5 of that by not passing the built `Command` through a closure).

/// Why a command line was refused. Each reason maps to the reply the session sends.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The line was empty.
    #[error("empty command")]
    Empty,
    /// The verb is not one we know.
    #[error("unrecognized command")]
    UnknownCommand,
    /// Octets that are not UTF-8.
    #[error("command is not valid UTF-8")]
    InvalidUtf8,
    /// The arguments do not follow the command's syntax.
    #[error("syntax error in {verb} arguments")]
    Syntax {
        /// The command.
        verb: &'static str,
        /// The expected syntax, shown to the client.
        usage: &'static str,
    },
    /// A sender or recipient address that is not a valid RFC 5321 path.
    #[error("bad {verb} address syntax")]
    Address {
        /// `MAIL` or `RCPT`.
        verb: &'static str,
    },
    /// A MAIL or RCPT parameter with a bad value.
    #[error("bad parameter {0}")]
    Parameter(&'static str),
}

impl ParseError {
    /// The reply RFC 5321 and RFC 3463 call for.
    pub fn reply(&self) -> Reply {
        match self {
            ParseError::Empty | ParseError::UnknownCommand => {
                Reply::fixed(500, 5, 5, 2, "Error: command not recognized")
            }
            ParseError::InvalidUtf8 => {
                Reply::fixed(500, 5, 5, 2, "Error: command contains invalid UTF-8")
            }
            ParseError::Syntax { usage, .. } => {
                Reply::fixed(501, 5, 5, 4, &format!("Syntax: {usage}"))
            }
            ParseError::Address { verb: "MAIL" } => {
                Reply::fixed(501, 5, 1, 7, "Bad sender address syntax")
            }
            ParseError::Address { .. } => {
                Reply::fixed(501, 5, 1, 3, "Bad recipient address syntax")
            }
            ParseError::Parameter(p) => {
                Reply::fixed(501, 5, 5, 4, &format!("Bad {p} parameter value"))
            }
        }
    }
}

/// A four-letter verb folded to lower case as one integer (letters only: `| 0x20` folds
/// exactly the ASCII letters onto themselves).
const fn verb4(v: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*v) | 0x2020_2020
}

const EHLO: u32 = verb4(b"ehlo");
const HELO: u32 = verb4(b"helo");
const MAIL: u32 = verb4(b"mail");
const RCPT: u32 = verb4(b"rcpt");
const DATA: u32 = verb4(b"data");
const RSET: u32 = verb4(b"rset");
const QUIT: u32 = verb4(b"quit");
const NOOP: u32 = verb4(b"noop");
const VRFY: u32 = verb4(b"vrfy");
const EXPN: u32 = verb4(b"expn");
const HELP: u32 = verb4(b"help");
const BDAT: u32 = verb4(b"bdat");
const AUTH: u32 = verb4(b"auth");

/// Parses one command line, without its CRLF.
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    // The verbs clients send alone: one comparison (through the general path below, DATA,
    // RSET and QUIT took 14.2-14.4 ns, as Stalwart's 14.1-21.0; this way 11.4 ns).
    if let Ok(four) = <&[u8; 4]>::try_from(line) {
        match verb4(four) {
            DATA => return Ok(Command::Data),
            RSET => return Ok(Command::Rset),
            QUIT => return Ok(Command::Quit),
            NOOP => return Ok(Command::Noop),
            _ => {}
        }
    }
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    // `EHLO name`, as every client writes it (one space, no blank at the end), goes straight
    // to the name's check, past the general path's three scans for blanks and its verb
    // dispatch: 43.7-47.8 ns became 39.4-40.9 (Stalwart 42.1-56.9 in the same run;
    // `FILTER=smtp_command/ehlo ROUNDS=4 benches/parsers.sh`).
    if let [v0, v1, v2, v3, b' ', first, .., last] = line
        && !blank(first)
        && !blank(last)
    {
        let v = verb4(&[*v0, *v1, *v2, *v3]);
        if v == EHLO || v == HELO {
            let name = std::str::from_utf8(&line[5..]).map_err(|_| ParseError::InvalidUtf8)?;
            return hello(v, name);
        }
    }
    // `AUTH mechanism response`, as clients send it, checked in one pass over each word; any
    // other shape (blanks around, a bad octet) takes the general path, which says what is wrong.
    if let [a, u, t, h, b' ', tail @ ..] = line
        && verb4(&[*a, *u, *t, *h]) == AUTH
        && let Some(auth) = auth_short_cut(tail)
    {
        return Ok(auth);
    }
    let end = line.iter().rposition(|c| !blank(c)).map_or(0, |i| i + 1);
    let line = &line[..end];
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    // The verb is a few octets: a plain loop finds its end sooner than a vector search.
    let (verb, rest) = match line.iter().position(blank) {
        Some(i) => {
            let rest = &line[i + 1..];
            (
                &line[..i],
                &rest[rest.iter().position(|c| !blank(c)).unwrap_or(0)..],
            )
        }
        None => (line, &[][..]),
    };
    let utf8 = |s| std::str::from_utf8(s).map_err(|_| ParseError::InvalidUtf8);
    let rest = utf8(rest)?;
    if !verb.is_ascii() {
        utf8(verb)?;
        return Err(ParseError::UnknownCommand);
    }
    // A command without arguments got some: its usage is its name. (Checked before the
    // command is built, so the common case moves no `Command` through a helper.)
    let extra = |verb: &'static str| ParseError::Syntax { verb, usage: verb };
    let Ok(four) = <[u8; 4]>::try_from(verb) else {
        return if verb.eq_ignore_ascii_case(b"STARTTLS") {
            if rest.is_empty() {
                Ok(Command::StartTls)
            } else {
                Err(extra("STARTTLS"))
            }
        } else {
            Err(ParseError::UnknownCommand)
        };
    };
    match verb4(&four) {
        v @ (EHLO | HELO) => hello(v, rest),
        MAIL => parse_mail(rest),
        RCPT => parse_rcpt(rest),
        DATA if rest.is_empty() => Ok(Command::Data),
        RSET if rest.is_empty() => Ok(Command::Rset),
        QUIT if rest.is_empty() => Ok(Command::Quit),
        DATA => Err(extra("DATA")),
        RSET => Err(extra("RSET")),
        QUIT => Err(extra("QUIT")),
        // NOOP's argument has no meaning (RFC 5321 §4.1.1.9).
        NOOP => Ok(Command::Noop),
        v @ (VRFY | EXPN) if rest.is_empty() => Err(ParseError::Syntax {
            verb: if v == VRFY { "VRFY" } else { "EXPN" },
            usage: "VRFY|EXPN string",
        }),
        VRFY => Ok(Command::Vrfy(rest.to_owned())),
        EXPN => Ok(Command::Expn(rest.to_owned())),
        HELP => Ok(Command::Help((!rest.is_empty()).then(|| rest.to_owned()))),
        BDAT => parse_bdat(rest),
        AUTH => parse_auth(rest),
        _ => Err(ParseError::UnknownCommand),
    }
}

/// `EHLO` or `HELO` (`verb`) with its argument, which has no blank at either end.
fn hello(verb: u32, name: &str) -> Result<Command, ParseError> {
    let host = Host::parse(name).map_err(|_| ParseError::Syntax {
        verb: if verb == EHLO { "EHLO" } else { "HELO" },
        usage: "EHLO hostname",
    })?;
    Ok(if verb == EHLO {
        Command::Ehlo(host)
    } else {
        Command::Helo(host)
    })
}

fn parse_bdat(rest: &str) -> Result<Command, ParseError> {
    const USAGE: ParseError = ParseError::Syntax {
        verb: "BDAT",
        usage: "BDAT chunk-size [LAST]",
    };
    let mut words = rest.split_ascii_whitespace();
    let size = words.next().ok_or(USAGE)?;
    if size.is_empty() || size.len() > 20 || !size.bytes().all(|c| c.is_ascii_digit()) {
        return Err(USAGE);
    }
    let size: u64 = size.parse().map_err(|_| USAGE)?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(USAGE),
    };
    if words.next().is_some() {
        return Err(USAGE);
    }
    Ok(Command::Bdat { size, last })
}

fn parse_auth(rest: &str) -> Result<Command, ParseError> {
    const USAGE: ParseError = ParseError::Syntax {
        verb: "AUTH",
        usage: "AUTH mechanism [initial-response]",
    };
    let rest = rest.trim_ascii_start();
    let (mechanism, initial) = match rest.bytes().position(|c| c.is_ascii_whitespace()) {
        Some(i) => (&rest[..i], rest[i..].trim_ascii()),
        None => (rest, ""),
    };
    auth_command(mechanism, (!initial.is_empty()).then_some(initial)).ok_or(USAGE)
}

/// `mechanism [SP response]` with no other blank, the mechanism a SASL name of 1 to 20
/// octets and the response base64 (or `=`); `None` for anything else.
fn auth_short_cut(tail: &[u8]) -> Option<Command> {
    // One UTF-8 check for both words (two were a fifth of an AUTH parse); the tables below
    // admit only ASCII, so it passes whenever the words do.
    let tail = std::str::from_utf8(tail).ok()?;
    let (mechanism, initial) = match tail.bytes().position(|c| c == b' ') {
        Some(i) => (&tail[..i], Some(&tail[i + 1..])),
        None => (tail, None),
    };
    auth_command(mechanism, initial)
}

/// `AUTH`'s words checked and made into the command: the mechanism a SASL name of 1 to 20
/// octets, the initial response base64 (or `=`; base64 holds no blank, so a second word
/// after it fails too). `None` when either is malformed.
fn auth_command(mechanism: &str, initial: Option<&str>) -> Option<Command> {
    let mech_ok = !mechanism.is_empty()
        && mechanism.len() <= 20
        && mechanism
            .bytes()
            .fold(true, |ok, c| ok & SASL_NAME[usize::from(c)]);
    if !mech_ok {
        return None;
    }
    let initial_response = match initial {
        None => None,
        Some(ir) if is_base64(ir.as_bytes()) => Some(Secret::new(ir.to_owned())),
        Some(_) => return None,
    };
    Some(Command::Auth {
        mechanism: mechanism_name(mechanism),
        initial_response,
    })
}

/// The octets of a SASL mechanism's name as we accept it: letters, digits, `-` and `_`.
static SASL_NAME: [bool; 256] =
    octet_table!(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');

/// A SASL mechanism's name in upper case: the registered ones a client is likely to send
/// without an allocation.
fn mechanism_name(name: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 11] = [
        "PLAIN",
        "LOGIN",
        "XOAUTH2",
        "OAUTHBEARER",
        "SCRAM-SHA-256",
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-1",
        "CRAM-MD5",
        "EXTERNAL",
        "ANONYMOUS",
        "GSSAPI",
    ];
    // PLAIN and LOGIN, nearly every AUTH, before the list (the search was a tenth of a parse).
    let known = match name.len() {
        5 if name.eq_ignore_ascii_case("PLAIN") => Some("PLAIN"),
        5 if name.eq_ignore_ascii_case("LOGIN") => Some("LOGIN"),
        _ => KNOWN.into_iter().find(|k| k.eq_ignore_ascii_case(name)),
    };
    known.map_or_else(|| Cow::Owned(name.to_ascii_uppercase()), Cow::Borrowed)
}

/// Base64 text, or `=` (an empty initial response, RFC 4954 §4).
fn is_base64(s: &[u8]) -> bool {
    // A table and no branch per octet: the four-way test per octet was half of an AUTH parse.
    !s.is_empty() && s.iter().fold(true, |ok, &c| ok & BASE64[usize::from(c)])
}

/// The octets of base64 text: letters, digits, `+`, `/` and the padding `=`.
static BASE64: [bool; 256] =
    octet_table!(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');

/// `FROM:` / `TO:` followed by the path, with the spaces real clients put after the colon.
fn strip_keyword<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let head = rest.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| rest[keyword.len()..].trim_start_matches(' '))
}

fn parse_mail(rest: &str) -> Result<Command, ParseError> {
    const USAGE: ParseError = ParseError::Syntax {
        verb: "MAIL",
        usage: "MAIL FROM:<address>",
    };
    let rest = strip_keyword(rest, "FROM:").ok_or(USAGE)?;
    let (from, params) = match plain_path(rest) {
        Some((mailbox, params)) => (ReversePath::Mailbox(mailbox), params),
        None => {
            let (path, params) = split_path(rest);
            let from = match path {
                "<>" => ReversePath::Null,
                _ => ReversePath::Mailbox(
                    parse_path(path).ok_or(ParseError::Address { verb: "MAIL" })?,
                ),
            };
            (from, params)
        }
    };
    let mut p = MailParams::default();
    each_param(params, |key, value| {
        let is = |k: &str| key.eq_ignore_ascii_case(k);
        match value {
            Some(v) if is("SIZE") => {
                if v.is_empty() || v.len() > 20 || !v.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(ParseError::Parameter("SIZE"));
                }
                p.size = Some(v.parse().map_err(|_| ParseError::Parameter("SIZE"))?);
            }
            Some(v) if is("BODY") => {
                p.body = Some(if v.eq_ignore_ascii_case("8BITMIME") {
                    Body::EightBitMime
                } else if v.eq_ignore_ascii_case("7BIT") {
                    Body::SevenBit
                } else if v.eq_ignore_ascii_case("BINARYMIME") {
                    Body::BinaryMime
                } else {
                    return Err(ParseError::Parameter("BODY"));
                })
            }
            None if is("SMTPUTF8") => p.smtputf8 = true,
            Some(v) if is("RET") => {
                p.ret = Some(if v.eq_ignore_ascii_case("FULL") {
                    Ret::Full
                } else if v.eq_ignore_ascii_case("HDRS") {
                    Ret::Hdrs
                } else {
                    return Err(ParseError::Parameter("RET"));
                })
            }
            Some(v) if is("ENVID") && v.len() <= 100 => p.envid = Some(v.into()),
            _ if is("ENVID") => return Err(ParseError::Parameter("ENVID")),
            Some(v) if is("AUTH") => p.auth = Some(v.into()),
            _ if is("AUTH") => return Err(ParseError::Parameter("AUTH")),
            _ => match static_keyword(key) {
                known @ ("SIZE" | "BODY" | "RET" | "SMTPUTF8") => {
                    return Err(ParseError::Parameter(known));
                }
                _ => p
                    .unknown
                    .push((key.to_ascii_uppercase(), value.map(str::to_owned))),
            },
        }
        Ok(())
    })?;
    Ok(Command::Mail { from, params: p })
}

/// A keyword of a parameter this crate knows (any case), upper case; else `"unknown"`.
fn static_keyword(key: &str) -> &'static str {
    ["SIZE", "BODY", "RET", "SMTPUTF8", "NOTIFY", "ORCPT"]
        .into_iter()
        .find(|k| key.eq_ignore_ascii_case(k))
        .unwrap_or("unknown")
}

fn parse_rcpt(rest: &str) -> Result<Command, ParseError> {
    const USAGE: ParseError = ParseError::Syntax {
        verb: "RCPT",
        usage: "RCPT TO:<address>",
    };
    let rest = strip_keyword(rest, "TO:").ok_or(USAGE)?;
    let (to, params) = match plain_path(rest) {
        Some((mailbox, params)) => (ForwardPath::Mailbox(mailbox), params),
        None => {
            let (path, params) = split_path(rest);
            let to = if path.eq_ignore_ascii_case("<postmaster>") {
                ForwardPath::Postmaster
            } else {
                ForwardPath::Mailbox(parse_path(path).ok_or(ParseError::Address { verb: "RCPT" })?)
            };
            (to, params)
        }
    };
    let mut p = RcptParams::default();
    each_param(params, |key, value| {
        let is = |k: &str| key.eq_ignore_ascii_case(k);
        match value {
            Some(v) if is("NOTIFY") => {
                p.notify = Some(Notify::parse(v).ok_or(ParseError::Parameter("NOTIFY"))?);
            }
            Some(v) if is("ORCPT") => {
                p.orcpt =
                    Some(OriginalRecipient::of_xtext(v).ok_or(ParseError::Parameter("ORCPT"))?);
            }
            _ => match static_keyword(key) {
                known @ ("NOTIFY" | "ORCPT") => return Err(ParseError::Parameter(known)),
                _ => p
                    .unknown
                    .push((key.to_ascii_uppercase(), value.map(str::to_owned))),
            },
        }
        Ok(())
    })?;
    Ok(Command::Rcpt { to, params: p })
}

/// `esmtp-param *(SP esmtp-param)`, read in one pass: each keyword and value as sent, handed
/// to `each` in order (a value is already known to be xtext). A malformed
/// parameter is reported whatever comes before it: `each`'s first refusal is returned only
/// when every parameter is well formed.
fn each_param<'a>(
    s: &'a str,
    mut each: impl FnMut(&'a str, Option<&'a str>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    const MALFORMED: ParseError = ParseError::Parameter("unknown");
    let b = s.as_bytes();
    let mut refused = None;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        let start = i;
        if !b[i].is_ascii_alphanumeric() {
            return Err(MALFORMED);
        }
        i += 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
            i += 1;
        }
        let key = &s[start..i];
        let value = match b.get(i) {
            Some(b'=') => {
                i += 1;
                let start = i;
                // One test per octet: a blank is not xtext, so the first octet that is not
                // ends the value, and must be a blank.
                i = b[i..]
                    .iter()
                    .position(|&c| !is_xtext_octet(c))
                    .map_or(b.len(), |k| i + k);
                if i == start || b.get(i).is_some_and(|&c| c != b' ') {
                    return Err(MALFORMED);
                }
                Some(&s[start..i])
            }
            None | Some(b' ') => None,
            Some(_) => return Err(MALFORMED),
        };
        if refused.is_none()
            && let Err(e) = each(key, value)
        {
            refused = Some(e);
        }
    }
    refused.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The short cut for `EHLO name` answers as the general path: a blank added at the
        /// end sends the same line through the general path.
        #[test]
        fn hello_short_cut_agrees_with_the_general_path(
            verb in "(EHLO|ehlo|HeLo|EHLX|EHL)",
            sep in "[ \t]{0,2}",
            name in r"[a-z0-9.\-\[\]:é \t\x{80}]{0,12}",
        ) {
            agrees_with_the_general_path(&format!("{verb}{sep}{name}"))?;
        }

        /// The short cut for `AUTH mechanism response` answers as the general path (RFC 4954
        /// §4: `AUTH mechanism [initial-response]`), errors included.
        #[test]
        fn auth_short_cut_agrees_with_the_general_path(
            verb in "(AUTH|auth|AuTh|AUTX)",
            mechanism in r"[A-Za-z0-9\-_=é \t]{0,24}",
            sep in "[ \t]{0,2}",
            response in r"[A-Za-z0-9+/=_é \t]{0,10}",
        ) {
            agrees_with_the_general_path(&format!("{verb} {mechanism}{sep}{response}"))?;
        }
    }

    /// A line a short cut takes answers as the same line with a tab added (which sends it
    /// through the general path).
    fn agrees_with_the_general_path(
        line: &str,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut general = line.as_bytes().to_vec();
        general.push(b'\t');
        proptest::prop_assert_eq!(parse_command(line.as_bytes()), parse_command(&general));
        Ok(())
    }

    #[test]
    fn a_malformed_parameter_is_reported_whatever_comes_before_it() {
        let unknown = Err(ParseError::Parameter("unknown"));
        for line in [
            "MAIL FROM:<a@b.example> SIZE=x B_D",
            "MAIL FROM:<a@b.example> SIZE=x BODY=",
            "MAIL FROM:<a@b.example> BODY=x -X",
            "MAIL FROM:<a@b.example> SIZE=1 X=a=b",
            "RCPT TO:<a@b.example> NOTIFY=x X=\u{1}",
        ] {
            assert_eq!(parse_command(line.as_bytes()), unknown, "{line}");
        }
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b.example>  SIZE=x  BODY=x "),
            Err(ParseError::Parameter("SIZE"))
        );
        let Ok(Command::Mail { params, .. }) =
            parse_command(b"MAIL FROM:<a@b.example>  size=7  X-Y  Z=1")
        else {
            panic!("not read");
        };
        assert_eq!(params.size, Some(7));
        assert_eq!(
            params.unknown,
            vec![("X-Y".into(), None), ("Z".into(), Some("1".into()))]
        );
    }

    #[test]
    fn verbs_case_insensitive() {
        assert_eq!(parse_command(b"noop"), Ok(Command::Noop));
        assert_eq!(parse_command(b"NoOp hello"), Ok(Command::Noop));
        assert_eq!(parse_command(b"QUIT"), Ok(Command::Quit));
        // Four octets take the one-comparison path; with a blank, the general one: the same.
        for line in [&b"data"[..], b"DATA ", b"Data\t"] {
            assert_eq!(parse_command(line), Ok(Command::Data));
        }
        for line in [&b"rset"[..], b"RSET  "] {
            assert_eq!(parse_command(line), Ok(Command::Rset));
        }
        // Folding with 0x20 maps only letters onto letters: near misses stay unknown.
        for line in [&b"RSE{"[..], b"DAT\x01", b"QUI\xd4"] {
            assert!(parse_command(line).is_err(), "{line:?}");
        }
        assert_eq!(
            parse_command(b"quit now").unwrap_err().reply().code().get(),
            501
        );
        assert_eq!(parse_command(b"FOO"), Err(ParseError::UnknownCommand));
        assert_eq!(parse_command(b""), Err(ParseError::Empty));
    }

    #[test]
    fn mail_from_forms() {
        let Command::Mail { from, params } =
            parse_command(b"MAIL FROM:<a@example.com> SIZE=1000 BODY=8BITMIME").unwrap()
        else {
            panic!()
        };
        assert_eq!(from.to_string(), "<a@example.com>");
        assert_eq!(params.size, Some(1000));
        assert_eq!(params.body, Some(Body::EightBitMime));
        assert!(matches!(
            parse_command(b"mail from: <>"),
            Ok(Command::Mail {
                from: ReversePath::Null,
                ..
            })
        ));
        assert!(parse_command(b"MAIL FROM:a@example.com").is_ok());
        assert!(parse_command(b"MAIL FROM:<@relay.example:a@example.com>").is_ok());
        assert_eq!(
            parse_command(b"MAIL FROM:<a@@example.com>"),
            Err(ParseError::Address { verb: "MAIL" })
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<a@example.com> SIZE=x"),
            Err(ParseError::Parameter("SIZE"))
        );
        assert!(matches!(
            parse_command(b"MAIL TO:<a@example.com>"),
            Err(ParseError::Syntax { .. })
        ));
    }

    #[test]
    fn quoted_local_part_with_bracket_and_space() {
        let Command::Mail { from, params } =
            parse_command(b"MAIL FROM:<\"a> b\"@example.com> SMTPUTF8").unwrap()
        else {
            panic!()
        };
        let ReversePath::Mailbox(m) = from else {
            panic!()
        };
        assert_eq!(m.local_part(), "a> b");
        assert!(params.smtputf8);
    }

    #[test]
    fn address_literal_may_contain_angle_bracket() {
        // Found by fuzzing: general-literal content may hold '>', so the path ends after ']'.
        let cmd = parse_command(b"RCPT TO:<a@[x-tag:b>c]> NOTIFY=NEVER").unwrap();
        let Command::Rcpt {
            to: ForwardPath::Mailbox(m),
            params,
        } = cmd
        else {
            panic!()
        };
        assert_eq!(m.host(), Host::Literal("x-tag:b>c".into()));
        assert!(params.notify.is_some());
    }

    #[test]
    fn rcpt_forms() {
        assert!(matches!(
            parse_command(b"RCPT TO:<postmaster>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster,
                ..
            })
        ));
        let Command::Rcpt { params, .. } = parse_command(
            b"RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            params.notify,
            Some(Notify {
                success: true,
                failure: true,
                delay: false
            })
        );
        assert_eq!(
            params.orcpt,
            OriginalRecipient::parse("rfc822;b@example.com")
        );
        assert_eq!(
            parse_command(b"RCPT TO:<b@example.com> NOTIFY=NEVER,DELAY"),
            Err(ParseError::Parameter("NOTIFY"))
        );
    }

    #[test]
    fn bdat_and_auth() {
        assert_eq!(
            parse_command(b"BDAT 100 LAST"),
            Ok(Command::Bdat {
                size: 100,
                last: true
            })
        );
        assert_eq!(
            parse_command(b"bdat 0"),
            Ok(Command::Bdat {
                size: 0,
                last: false
            })
        );
        assert!(parse_command(b"BDAT -1").is_err());
        assert!(parse_command(b"BDAT 99999999999999999999").is_err());
        assert_eq!(
            parse_command(b"AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some(Secret::new("AGEAYg==".into()))
            })
        );
        assert!(parse_command(b"AUTH PLAIN a b").is_err());
    }
}
