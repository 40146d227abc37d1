//! Framing and parsing of ManageSieve commands (RFC 5804 §4): a command name, then strings
//! (quoted, or literals `{n+}` / `{n}` followed by CRLF and n octets, which may hold line
//! ends) and numbers, up to the end of the line. A literal's length is checked against the
//! limit before any of it is awaited.

use thiserror::Error;

/// One argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word: the command name, or a number.
    Atom(String),
    /// A quoted string or a literal's octets.
    String(Vec<u8>),
}

/// Why a command could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// No line end within the line limit.
    #[error("line too long")]
    LineTooLong,
    /// A literal longer than the limit.
    #[error("literal too large")]
    LiteralTooLarge,
    /// Not the grammar: an unterminated string, a bad literal, a stray character.
    #[error("syntax error")]
    Syntax,
}

/// A complete command, or what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The tokens of one command, and how many input octets it took (line end included).
    Complete(Vec<Token>, usize),
    /// More input is needed.
    Incomplete,
}

/// Reads the first command in `input`. `max_line` bounds the octets outside literals;
/// `max_literal` each literal. An error leaves the input to the caller (it answers, then
/// skips to the next line end).
pub fn frame(input: &[u8], max_line: usize, max_literal: usize) -> Result<Frame, FrameError> {
    let mut tokens = Vec::new();
    let mut at = 0;
    let mut outside = 0usize;
    loop {
        while input.get(at) == Some(&b' ') {
            at += 1;
            outside += 1;
        }
        if outside > max_line {
            return Err(FrameError::LineTooLong);
        }
        let Some(&c) = input.get(at) else {
            return Ok(Frame::Incomplete);
        };
        match c {
            b'\r' | b'\n' => {
                let end = if c == b'\r' {
                    match input.get(at + 1) {
                        None => return Ok(Frame::Incomplete),
                        Some(b'\n') => at + 2,
                        Some(_) => return Err(FrameError::Syntax),
                    }
                } else {
                    at + 1
                };
                return Ok(Frame::Complete(tokens, end));
            }
            b'"' => {
                let mut value = Vec::new();
                let mut i = at + 1;
                loop {
                    match input.get(i) {
                        None => {
                            return if i - at + outside > max_line {
                                Err(FrameError::LineTooLong)
                            } else {
                                Ok(Frame::Incomplete)
                            };
                        }
                        Some(b'"') => break,
                        Some(b'\\') => match input.get(i + 1) {
                            None => return Ok(Frame::Incomplete),
                            Some(&q @ (b'"' | b'\\')) => {
                                value.push(q);
                                i += 2;
                            }
                            Some(_) => return Err(FrameError::Syntax),
                        },
                        Some(b'\r' | b'\n') => return Err(FrameError::Syntax),
                        Some(&b) => {
                            value.push(b);
                            i += 1;
                        }
                    }
                }
                outside += i + 1 - at;
                at = i + 1;
                tokens.push(Token::String(value));
            }
            b'{' => {
                let close = match memchr::memchr(b'}', &input[at..]) {
                    Some(i) => at + i,
                    None if input.len() - at > 24 => return Err(FrameError::Syntax),
                    None => return Ok(Frame::Incomplete),
                };
                let spec = &input[at + 1..close];
                let digits = spec.strip_suffix(b"+").unwrap_or(spec);
                if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit)
                {
                    return Err(FrameError::Syntax);
                }
                let len: usize = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or(FrameError::Syntax)?;
                if len > max_literal {
                    return Err(FrameError::LiteralTooLarge);
                }
                let start = match (input.get(close + 1), input.get(close + 2)) {
                    (Some(b'\r'), Some(b'\n')) => close + 3,
                    (Some(b'\n'), _) => close + 2,
                    (None, _) | (Some(b'\r'), None) => return Ok(Frame::Incomplete),
                    _ => return Err(FrameError::Syntax),
                };
                outside += start - at;
                if input.len() < start + len {
                    return Ok(Frame::Incomplete);
                }
                tokens.push(Token::String(input[start..start + len].to_vec()));
                at = start + len;
            }
            _ => {
                let end = input[at..]
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
                    .map_or(input.len(), |i| at + i);
                let word = &input[at..end];
                if !word
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
                {
                    return Err(FrameError::Syntax);
                }
                outside += end - at;
                if end == input.len() {
                    return if outside > max_line {
                        Err(FrameError::LineTooLong)
                    } else {
                        Ok(Frame::Incomplete)
                    };
                }
                tokens.push(Token::Atom(String::from_utf8_lossy(word).into_owned()));
                at = end;
            }
        }
    }
}

/// `text` as a quoted string (RFC 5804 §4), line ends made spaces.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Token {
        Token::String(v.as_bytes().to_vec())
    }

    #[test]
    fn commands_with_strings_and_literals() {
        let input = b"PUTSCRIPT \"my \\\"s\\\"\" {12+}\r\nkeep;\r\nstop;\r\nNOOP\r\n";
        let Ok(Frame::Complete(tokens, used)) = frame(input, 1024, 1024) else {
            panic!("{:?}", frame(input, 1024, 1024));
        };
        assert_eq!(
            tokens,
            [
                Token::Atom("PUTSCRIPT".into()),
                s("my \"s\""),
                s("keep;\r\nstop;")
            ]
        );
        assert_eq!(&input[used..], b"NOOP\r\n");
        for cut in 0..used {
            assert_eq!(
                frame(&input[..cut], 1024, 1024),
                Ok(Frame::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn limits_and_syntax() {
        assert_eq!(
            frame(b"PUTSCRIPT \"a\" {99999+}\r\n", 1024, 1000),
            Err(FrameError::LiteralTooLarge)
        );
        assert_eq!(
            frame(&[b'A'; 2000], 1024, 1000),
            Err(FrameError::LineTooLong)
        );
        assert_eq!(frame(b"X \"open\r\n", 1024, 1000), Err(FrameError::Syntax));
        assert_eq!(frame(b"X {1a}\r\n", 1024, 1000), Err(FrameError::Syntax));
        assert_eq!(frame(b"X (y)\r\n", 1024, 1000), Err(FrameError::Syntax));
    }
}
