//! Validated values: responses with RFC 2449/3206 response codes, UIDLs, secrets.

use std::fmt;

use thiserror::Error;

pub use mailwright_sasl::Secret;

/// Why a value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// Response text may not contain CR or LF, and a response line is at most 512 octets
    /// (RFC 2449 §4).
    #[error("response text contains CR/LF or is too long")]
    Text,
    /// A unique-id is 1 to 70 characters in 0x21-0x7E (RFC 1939 §7).
    #[error("invalid unique-id")]
    Uid,
}

/// The longest response line RFC 2449 §4 allows, CRLF included.
pub const MAX_RESPONSE_LINE: usize = 512;

/// Extended response codes (RFC 2449 §8, RFC 3206).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RespCode {
    /// `IN-USE`: the maildrop is locked by another session.
    InUse,
    /// `LOGIN-DELAY`: logging in too soon after the last login.
    LoginDelay,
    /// `SYS/TEMP`: a temporary system problem.
    SysTemp,
    /// `SYS/PERM`: a permanent system problem.
    SysPerm,
    /// `AUTH`: the credentials (or the way they were sent) are the problem.
    Auth,
}

impl RespCode {
    /// The code as written between brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
        }
    }

    /// Parses a code; unknown codes are `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "IN-USE" => RespCode::InUse,
            "LOGIN-DELAY" => RespCode::LoginDelay,
            "SYS/TEMP" => RespCode::SysTemp,
            "SYS/PERM" => RespCode::SysPerm,
            "AUTH" => RespCode::Auth,
            _ => return None,
        })
    }
}

/// A single-line response: `+OK text` or `-ERR [CODE] text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    ok: bool,
    code: Option<RespCode>,
    text: String,
}

impl Response {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Result<Self, ValidationError> {
        Self::build(true, None, text.into())
    }

    /// `-ERR [code] text`.
    pub fn err(code: Option<RespCode>, text: impl Into<String>) -> Result<Self, ValidationError> {
        Self::build(false, code, text.into())
    }

    fn build(ok: bool, code: Option<RespCode>, text: String) -> Result<Self, ValidationError> {
        let overhead = if ok { 4 } else { 5 } + code.map_or(0, |c| c.as_str().len() + 3) + 2;
        if text.bytes().any(|b| b == b'\r' || b == b'\n')
            || text.len() + overhead > MAX_RESPONSE_LINE
        {
            return Err(ValidationError::Text);
        }
        Ok(Self { ok, code, text })
    }

    /// One of the session's own responses, whose texts are known to be valid.
    pub(crate) fn fixed(ok: bool, code: Option<RespCode>, text: &str) -> Self {
        Self::build(ok, code, text.to_owned()).unwrap_or_else(|_| Self {
            ok,
            code,
            text: String::new(),
        })
    }

    /// `+OK` rather than `-ERR`.
    pub fn is_ok(&self) -> bool {
        self.ok
    }

    /// The response code, if any.
    pub fn code(&self) -> Option<RespCode> {
        self.code
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends the encoded line, CRLF included.
    pub fn encode(&self, out: &mut bytes::BytesMut) {
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.extend_from_slice(b"]");
        }
        if !self.text.is_empty() {
            out.extend_from_slice(b" ");
            out.extend_from_slice(self.text.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.ok { "+OK" } else { "-ERR" })?;
        if let Some(code) = self.code {
            write!(f, " [{}]", code.as_str())?;
        }
        write!(f, " {}", self.text)
    }
}

/// Checks a unique-id for UIDL: 1 to 70 characters in 0x21-0x7E.
pub(crate) fn validate_uid(uid: &str) -> Result<(), ValidationError> {
    if (1..=70).contains(&uid.len()) && uid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        Err(ValidationError::Uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn encode() {
        let mut out = BytesMut::new();
        Response::err(Some(RespCode::InUse), "locked")
            .unwrap()
            .encode(&mut out);
        Response::ok("").unwrap().encode(&mut out);
        assert_eq!(&out[..], b"-ERR [IN-USE] locked\r\n+OK\r\n");
        assert!(Response::ok("a\r\nb").is_err());
        assert!(Response::ok("x".repeat(506)).is_ok());
        assert!(Response::ok("x".repeat(507)).is_err());
    }

    #[test]
    fn uids() {
        assert!(validate_uid("00000001abcd").is_ok());
        assert!(validate_uid("").is_err());
        assert!(validate_uid("a b").is_err());
        assert!(validate_uid(&"x".repeat(71)).is_err());
    }
}
