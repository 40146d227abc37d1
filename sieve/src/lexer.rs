//! Tokens of RFC 5228 §8.1: identifiers, tags, numbers with their K/M/G quantifier, quoted
//! and multi-line strings, and the punctuation, with comments and white space skipped. Each
//! token carries the line and column it starts at, for error messages.

use crate::error::{CompileError, Position};

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An identifier, as written (commands and tests are matched case-insensitively).
    Identifier(String),
    /// `:name`, without the colon.
    Tag(String),
    Number(u64),
    /// A quoted or multi-line string, unescaped.
    String(String),
    LeftBracket,
    RightBracket,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Semicolon,
}

/// Splits `script` into tokens with their positions.
pub(crate) fn tokenize(script: &str) -> Result<Vec<(Token, Position)>, CompileError> {
    let mut lexer = Lexer {
        text: script.as_bytes(),
        at: 0,
        line: 1,
        line_start: 0,
    };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

struct Lexer<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    line_start: usize,
}

impl Lexer<'_> {
    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.at - self.line_start + 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// Moves past one octet, counting lines.
    fn bump(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line += 1;
            self.line_start = self.at + 1;
        }
        self.at += 1;
    }

    fn error(&self, at: Position, message: impl Into<String>) -> CompileError {
        CompileError::new(at, message)
    }

    /// Skips white space and comments.
    fn skip_blank(&mut self) -> Result<(), CompileError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.bump(),
                Some(b'#') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.bump();
                    }
                }
                Some(b'/') if self.text.get(self.at + 1) == Some(&b'*') => {
                    let start = self.position();
                    self.bump();
                    self.bump();
                    loop {
                        match self.peek() {
                            None => return Err(self.error(start, "unterminated comment")),
                            Some(b'*') if self.text.get(self.at + 1) == Some(&b'/') => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            Some(_) => self.bump(),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<Option<(Token, Position)>, CompileError> {
        self.skip_blank()?;
        let start = self.position();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let punctuation = match c {
            b'[' => Some(Token::LeftBracket),
            b']' => Some(Token::RightBracket),
            b'(' => Some(Token::LeftParen),
            b')' => Some(Token::RightParen),
            b'{' => Some(Token::LeftBrace),
            b'}' => Some(Token::RightBrace),
            b',' => Some(Token::Comma),
            b';' => Some(Token::Semicolon),
            _ => None,
        };
        if let Some(token) = punctuation {
            self.bump();
            return Ok(Some((token, start)));
        }
        let token = match c {
            b'"' => Token::String(self.quoted(start)?),
            b':' => {
                self.bump();
                if !self.peek().is_some_and(is_identifier_start) {
                    return Err(self.error(start, "a tag needs a name after ':'"));
                }
                Token::Tag(self.identifier())
            }
            b'0'..=b'9' => Token::Number(self.number(start)?),
            c if is_identifier_start(c) => {
                let name = self.identifier();
                if name.eq_ignore_ascii_case("text") && self.peek() == Some(b':') {
                    self.bump();
                    Token::String(self.multiline(start)?)
                } else {
                    Token::Identifier(name)
                }
            }
            c => {
                return Err(self.error(
                    start,
                    format!("unexpected character {:?}", char::from(c).escape_default()),
                ));
            }
        };
        Ok(Some((token, start)))
    }

    fn identifier(&mut self) -> String {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.bump();
        }
        String::from_utf8_lossy(&self.text[start..self.at]).into_owned()
    }

    /// A number with its quantifier (K, M, G: powers of 1024).
    fn number(&mut self, start: Position) -> Result<u64, CompileError> {
        let mut value: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| self.error(start, "number too large"))?;
            self.bump();
        }
        let shift = match self.peek() {
            Some(b'K' | b'k') => 10,
            Some(b'M' | b'm') => 20,
            Some(b'G' | b'g') => 30,
            _ => 0,
        };
        if shift > 0 {
            self.bump();
            value = value
                .checked_mul(1 << shift)
                .ok_or_else(|| self.error(start, "number too large"))?;
        }
        if self.peek().is_some_and(is_identifier_start) {
            return Err(self.error(start, "a number is followed by letters"));
        }
        Ok(value)
    }

    /// `"…"`: `\"` and `\\` stand for themselves, and so does any other escaped character
    /// (RFC 5228 §2.4.2). Line ends become CRLF, as Pigeonhole makes them.
    fn quoted(&mut self, start: Position) -> Result<String, CompileError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error(start, "unterminated string")),
                Some(b'"') => {
                    self.bump();
                    break;
                }
                Some(b'\r') if self.text.get(self.at + 1) == Some(&b'\n') => self.bump(),
                Some(b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    self.bump();
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        None => return Err(self.error(start, "unterminated string")),
                        Some(c) => {
                            out.push(c);
                            self.bump();
                        }
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
        into_text(out, start)
    }

    /// `text:` up to a line holding only `.`; a line starting with `..` loses one dot
    /// (RFC 5228 §2.4.2). Line ends are kept as CRLF.
    fn multiline(&mut self, start: Position) -> Result<String, CompileError> {
        // White space, then a comment or the end of the line.
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
        if self.peek() == Some(b'#') {
            while !matches!(self.peek(), None | Some(b'\n')) {
                self.bump();
            }
        }
        if self.peek() == Some(b'\r') {
            self.bump();
        }
        if self.peek() != Some(b'\n') {
            return Err(self.error(start, "text: must be followed by the end of the line"));
        }
        self.bump();
        let mut out = Vec::new();
        loop {
            let line_start = self.at;
            while !matches!(self.peek(), None | Some(b'\n')) {
                self.bump();
            }
            if self.peek().is_none() {
                return Err(self.error(start, "multi-line string without its closing '.'"));
            }
            let mut line = &self.text[line_start..self.at];
            self.bump();
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if line == b"." {
                break;
            }
            out.extend_from_slice(
                line.strip_prefix(b".")
                    .filter(|l| l.starts_with(b"."))
                    .unwrap_or(line),
            );
            out.extend_from_slice(b"\r\n");
        }
        into_text(out, start)
    }
}

fn is_identifier_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn into_text(octets: Vec<u8>, at: Position) -> Result<String, CompileError> {
    String::from_utf8(octets).map_err(|_| CompileError::new(at, "a string is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<Token> {
        tokenize(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn tokens_of_every_kind() {
        assert_eq!(
            tokens("if size :over 100K { fileinto \"a\\\"b\"; } # comment\n/* x */ [\"c\", \"d\"]"),
            [
                Token::Identifier("if".into()),
                Token::Identifier("size".into()),
                Token::Tag("over".into()),
                Token::Number(100 * 1024),
                Token::LeftBrace,
                Token::Identifier("fileinto".into()),
                Token::String("a\"b".into()),
                Token::Semicolon,
                Token::RightBrace,
                Token::LeftBracket,
                Token::String("c".into()),
                Token::Comma,
                Token::String("d".into()),
                Token::RightBracket,
            ]
        );
    }

    #[test]
    fn multi_line_strings_are_dot_unstuffed() {
        assert_eq!(
            tokens("text: # why\r\nline one\n..dot\n.\n;"),
            [
                Token::String("line one\r\n.dot\r\n".into()),
                Token::Semicolon
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        let e = tokenize("keep;\n  \"open").unwrap_err();
        assert_eq!((e.position.line, e.position.column), (2, 3));
        assert!(tokenize("/* never closed").is_err());
        assert!(tokenize("99999999999999999999").is_err());
        assert!(tokenize("10X").is_err());
    }
}
