//! Parsers for one complete command line (the framer found its end) and for status lines.
//!
//! RFC 1939 §3: a keyword of three or four characters, case-insensitive, then arguments
//! separated by a single space, each at most 40 characters. PASS takes the rest of the line
//! (RFC 1939 §7 lets a password contain spaces).

use nom::{
    IResult, Parser,
    bytes::complete::take_while1,
    character::complete::{char, digit1},
    combinator::{all_consuming, map_res, opt},
    sequence::preceded,
};
use thiserror::Error;

use crate::command::Command;
use crate::types::{RespCode, Response, Secret};

/// Why a command line was refused; every variant is answered with `-ERR`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// An empty line.
    #[error("empty command")]
    Empty,
    /// A keyword we do not know.
    #[error("unknown command")]
    UnknownCommand,
    /// Arguments that do not fit the command.
    #[error("syntax: {0}")]
    Syntax(&'static str),
}

impl ParseError {
    /// The response to send.
    pub fn response(&self) -> Response {
        match self {
            ParseError::Empty | ParseError::UnknownCommand => {
                Response::fixed(false, None, "Unknown command")
            }
            ParseError::Syntax(usage) => Response::fixed(false, None, &format!("Syntax: {usage}")),
        }
    }
}

type PResult<'a, T> = IResult<&'a str, T>;

/// A message number: 1 or more, without sign or leading `+` (RFC 1939 §3).
fn number(i: &str) -> PResult<'_, u32> {
    map_res(digit1, |d: &str| {
        if d.len() > 10 {
            Err(())
        } else {
            d.parse::<u32>().map_err(|_| ())
        }
    })
    .parse(i)
}

fn arg(i: &str) -> PResult<'_, &str> {
    take_while1(|c: char| c != ' ')(i)
}

/// Parses one command line, without its CRLF.
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    // Arguments are ASCII in RFC 1939, but user names and passwords are UTF-8 in practice.
    let line =
        std::str::from_utf8(line).map_err(|_| ParseError::Syntax("arguments must be UTF-8"))?;
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    let (keyword, rest) = match line.split_once(' ') {
        Some((k, r)) => (k, Some(r)),
        None => (line, None),
    };
    let keyword = keyword.to_ascii_uppercase();
    let args = |usage: &'static str| rest.ok_or(ParseError::Syntax(usage));
    let none = |cmd: Command, usage: &'static str| match rest {
        None => Ok(cmd),
        Some(_) => Err(ParseError::Syntax(usage)),
    };
    let one_number = |usage: &'static str| -> Result<u32, ParseError> {
        let r = args(usage)?;
        all_consuming(number)
            .parse(r)
            .map(|(_, n)| n)
            .map_err(|_| ParseError::Syntax(usage))
    };
    let optional_number = |usage: &'static str| -> Result<Option<u32>, ParseError> {
        match rest {
            None => Ok(None),
            Some(r) => all_consuming(number)
                .parse(r)
                .map(|(_, n)| Some(n))
                .map_err(|_| ParseError::Syntax(usage)),
        }
    };
    match keyword.as_str() {
        "USER" => {
            let usage = "USER name";
            let r = args(usage)?;
            all_consuming(arg)
                .parse(r)
                .map_err(|_| ParseError::Syntax(usage))?;
            Ok(Command::User(r.to_owned()))
        }
        "PASS" => {
            let r = args("PASS password")?;
            if r.is_empty() {
                return Err(ParseError::Syntax("PASS password"));
            }
            Ok(Command::Pass(Secret::new(r.to_owned())))
        }
        "APOP" => {
            let usage = "APOP name digest";
            let (_, (name, digest)) = all_consuming((arg, preceded(char(' '), arg)))
                .parse(args(usage)?)
                .map_err(|_| ParseError::Syntax(usage))?;
            Ok(Command::Apop {
                name: name.to_owned(),
                digest: digest.to_owned(),
            })
        }
        "AUTH" => {
            let usage = "AUTH mechanism [initial-response]";
            let Some(r) = rest else {
                return Ok(Command::Auth {
                    mechanism: None,
                    initial_response: None,
                });
            };
            let (_, (mechanism, ir)) = all_consuming((arg, opt(preceded(char(' '), arg))))
                .parse(r)
                .map_err(|_| ParseError::Syntax(usage))?;
            let mech_ok = mechanism.len() <= 20
                && mechanism
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
            let ir_ok = ir.is_none_or(|ir| {
                ir == "="
                    || ir
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c))
            });
            if !mech_ok || !ir_ok {
                return Err(ParseError::Syntax(usage));
            }
            Ok(Command::Auth {
                mechanism: Some(mechanism.to_ascii_uppercase()),
                initial_response: ir.map(|s| Secret::new(s.to_owned())),
            })
        }
        "STAT" => none(Command::Stat, "STAT"),
        "NOOP" => none(Command::Noop, "NOOP"),
        "RSET" => none(Command::Rset, "RSET"),
        "QUIT" => none(Command::Quit, "QUIT"),
        "CAPA" => none(Command::Capa, "CAPA"),
        "STLS" => none(Command::Stls, "STLS"),
        "LIST" => Ok(Command::List(optional_number("LIST [msg]")?)),
        "UIDL" => Ok(Command::Uidl(optional_number("UIDL [msg]")?)),
        "RETR" => Ok(Command::Retr(one_number("RETR msg")?)),
        "DELE" => Ok(Command::Dele(one_number("DELE msg")?)),
        "TOP" => {
            let usage = "TOP msg lines";
            let (_, (msg, lines)) = all_consuming((number, preceded(char(' '), number)))
                .parse(args(usage)?)
                .map_err(|_| ParseError::Syntax(usage))?;
            Ok(Command::Top { msg, lines })
        }
        _ => Err(ParseError::UnknownCommand),
    }
}

/// A status line that does not follow RFC 1939 §3 / RFC 2449 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("malformed POP3 status line")]
pub struct ResponseParseError;

/// Parses a status line (without CRLF): `+OK text` or `-ERR [CODE] text`.
pub fn parse_response(line: &[u8]) -> Result<Response, ResponseParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ResponseParseError)?;
    let (ok, rest) = if let Some(r) = line.strip_prefix("+OK") {
        (true, r)
    } else if let Some(r) = line.strip_prefix("-ERR") {
        (false, r)
    } else {
        return Err(ResponseParseError);
    };
    let rest = match rest.strip_prefix(' ') {
        Some(r) => r,
        None if rest.is_empty() => "",
        None => return Err(ResponseParseError),
    };
    let (code, text) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((code, text)) if !ok => match RespCode::parse(code) {
            Some(c) => (Some(c), text.strip_prefix(' ').unwrap_or(text)),
            None => (None, rest),
        },
        _ => (None, rest),
    };
    if ok {
        Response::ok(text).map_err(|_| ResponseParseError)
    } else {
        Response::err(code, text).map_err(|_| ResponseParseError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse_command(b"stat"), Ok(Command::Stat));
        assert_eq!(parse_command(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse_command(b"LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(
            parse_command(b"top 1 10"),
            Ok(Command::Top { msg: 1, lines: 10 })
        );
        assert_eq!(
            parse_command(b"PASS secret with spaces"),
            Ok(Command::Pass(Secret::new("secret with spaces".into())))
        );
        assert_eq!(
            parse_command(b"USER mrose"),
            Ok(Command::User("mrose".into()))
        );
        assert!(parse_command(b"USER a b").is_err());
        assert!(parse_command(b"RETR").is_err());
        assert!(parse_command(b"RETR -1").is_err());
        assert!(parse_command(b"RETR 1 2").is_err());
        assert!(parse_command(b"RETR 99999999999").is_err());
        assert!(parse_command(b"STAT x").is_err());
        assert_eq!(parse_command(b"XTND"), Err(ParseError::UnknownCommand));
        assert!(matches!(
            parse_command(b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q="),
            Ok(Command::Auth { .. })
        ));
        assert_eq!(
            parse_command(b"AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial_response: None
            })
        );
        assert!(parse_command(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb").is_ok());
    }

    #[test]
    fn responses() {
        let r = parse_response(b"-ERR [IN-USE] Do you have another POP session running?").unwrap();
        assert_eq!(r.code(), Some(RespCode::InUse));
        assert_eq!(r.text(), "Do you have another POP session running?");
        assert!(parse_response(b"+OK").unwrap().is_ok());
        assert!(parse_response(b"+OKAY").is_err());
        assert_eq!(parse_response(b"-ERR [XYZ] x").unwrap().text(), "[XYZ] x");
    }
}
