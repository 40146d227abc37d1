//! SMTP commands (RFC 5321 §4.1 and the extensions we speak) and their canonical encoding.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};

use crate::types::{ForwardPath, Host, ReversePath, Secret};

/// One SMTP command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` or `EHLO [address-literal]`.
    Ehlo(Host),
    /// `HELO domain`.
    Helo(Host),
    /// `MAIL FROM:<path> [params]`.
    Mail {
        /// The sender.
        from: ReversePath,
        /// ESMTP parameters.
        params: MailParams,
    },
    /// `RCPT TO:<path> [params]`.
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// ESMTP parameters.
        params: RcptParams,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        /// Octets in the chunk that follows the command line.
        size: u64,
        /// Whether this is the message's last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(String),
    /// `EXPN string`.
    Expn(String),
    /// `HELP [string]`.
    Help(Option<String>),
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism name, upper case (borrowed for the registered names clients
        /// send, so reading one allocates nothing).
        mechanism: Cow<'static, str>,
        /// The initial response as sent: base64 text, or `=` for an empty one.
        initial_response: Option<Secret<String>>,
    },
}

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME` (needs BDAT).
    BinaryMime,
}

/// `RET=` of DSN (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `FULL`.
    Full,
    /// `HDRS`.
    Hdrs,
}

/// Parameters of MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=` (RFC 1870).
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// `ENVID=`, still xtext-encoded (RFC 3461). (A `Box<str>`, as `auth` is: 8 octets fewer
    /// each than a `String` keep a whole `Command` small enough to move inline, without a
    /// memmove call, which was 19 % of an AUTH parse.)
    pub envid: Option<Box<str>>,
    /// `AUTH=`, still xtext-encoded (RFC 4954 §5).
    pub auth: Option<Box<str>>,
    /// Parameters this crate does not know, keyword upper case; the session refuses them.
    pub unknown: Vec<(String, Option<String>)>,
}

/// An octet of xtext (RFC 3461 §4) and, under SMTPUTF8, UTF-8 (RFC 6533's
/// utf-8-addr-xtext is a superset).
pub(crate) fn is_xtext_octet(c: u8) -> bool {
    XTEXT[usize::from(c)]
}

/// See [`is_xtext_octet`]: a table, as the branches per octet were a third of reading
/// `NOTIFY=` and `ORCPT=`.
static XTEXT: [bool; 256] = octet_table!(|b| (33 <= b && b <= 126) && b != b'=' || b >= 0x80);

/// `NOTIFY=` of DSN (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    /// `SUCCESS`.
    pub success: bool,
    /// `FAILURE`.
    pub failure: bool,
    /// `DELAY`.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub fn is_never(&self) -> bool {
        !self.success && !self.failure && !self.delay
    }

    /// The value of `NOTIFY=`: `NEVER`, or a comma list of `SUCCESS`, `FAILURE`, `DELAY`
    /// (any case).
    pub fn parse(value: &str) -> Option<Self> {
        let mut n = Notify::default();
        for item in value.as_bytes().split(|&c| c == b',') {
            let is = |k: &[u8]| item.eq_ignore_ascii_case(k);
            // By length first: one comparison per item, not up to four.
            match item.len() {
                7 if is(b"SUCCESS") => n.success = true,
                7 if is(b"FAILURE") => n.failure = true,
                5 if is(b"DELAY") => n.delay = true,
                5 if is(b"NEVER") && value.len() == 5 => {}
                _ => return None,
            }
        }
        Some(n)
    }
}

impl fmt::Display for Notify {
    /// The value of `NOTIFY=`, canonical.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str("NEVER");
        }
        let parts = [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ];
        let mut first = true;
        for (_, name) in parts.iter().filter(|(on, _)| *on) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            first = false;
        }
        Ok(())
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2): the recipient the message was first sent to, as
/// the client gave it (one buffer, so reading one costs one allocation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginalRecipient {
    /// `addr-type;xtext` as sent.
    text: String,
    /// Where the `;` is.
    semi: usize,
}

impl OriginalRecipient {
    /// Reads the value of `ORCPT=`: an address type (letters, digits, `-`; `rfc822` for an
    /// email address), `;`, and the address as non-empty xtext. `None` when malformed.
    pub fn parse(value: &str) -> Option<Self> {
        // The type's octets and the `;` are xtext too.
        value
            .bytes()
            .all(is_xtext_octet)
            .then(|| Self::of_xtext(value))?
    }

    /// [`OriginalRecipient::parse`] of a value already known to be xtext (the parameter
    /// reader checked it): the type and the address are not read twice.
    pub(crate) fn of_xtext(value: &str) -> Option<Self> {
        let semi = value.find(';')?;
        let kind = &value[..semi];
        let kind_ok =
            !kind.is_empty() && kind.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
        (kind_ok && semi + 1 < value.len()).then(|| Self {
            text: value.to_owned(),
            semi,
        })
    }

    /// The address type, as sent (compare case-insensitively: `rfc822`, `utf-8`).
    pub fn addr_type(&self) -> &str {
        &self.text[..self.semi]
    }

    /// The address as sent, still xtext-encoded ([`xtext_decode`] gives its value).
    pub fn address(&self) -> &str {
        &self.text[self.semi + 1..]
    }
}

impl fmt::Display for OriginalRecipient {
    /// The value of `ORCPT=`, as sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parameters of RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=addr-type;xtext` (RFC 3461).
    pub orcpt: Option<OriginalRecipient>,
    /// Parameters this crate does not know, keyword upper case; the session refuses them.
    pub unknown: Vec<(String, Option<String>)>,
}

impl Command {
    /// The verb, for logs and errors.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }

    /// Appends the canonical form of the command, CRLF included.
    pub fn encode(&self, out: &mut BytesMut) {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_line(&mut s);
        out.put_slice(s.as_bytes());
        out.put_slice(b"\r\n");
    }

    fn write_line(&self, s: &mut String) -> fmt::Result {
        match self {
            Command::Ehlo(h) => write!(s, "EHLO {h}"),
            Command::Helo(h) => write!(s, "HELO {h}"),
            Command::Mail { from, params } => {
                write!(s, "MAIL FROM:{from}")?;
                if let Some(size) = params.size {
                    write!(s, " SIZE={size}")?;
                }
                if let Some(body) = params.body {
                    let b = match body {
                        Body::SevenBit => "7BIT",
                        Body::EightBitMime => "8BITMIME",
                        Body::BinaryMime => "BINARYMIME",
                    };
                    write!(s, " BODY={b}")?;
                }
                if params.smtputf8 {
                    s.push_str(" SMTPUTF8");
                }
                if let Some(ret) = params.ret {
                    s.push_str(match ret {
                        Ret::Full => " RET=FULL",
                        Ret::Hdrs => " RET=HDRS",
                    });
                }
                if let Some(envid) = &params.envid {
                    write!(s, " ENVID={envid}")?;
                }
                if let Some(auth) = &params.auth {
                    write!(s, " AUTH={auth}")?;
                }
                write_unknown(s, &params.unknown)
            }
            Command::Rcpt { to, params } => {
                write!(s, "RCPT TO:{to}")?;
                if let Some(n) = params.notify {
                    write!(s, " NOTIFY={n}")?;
                }
                if let Some(orcpt) = &params.orcpt {
                    write!(s, " ORCPT={orcpt}")?;
                }
                write_unknown(s, &params.unknown)
            }
            Command::Data => write!(s, "DATA"),
            Command::Bdat { size, last } => {
                write!(s, "BDAT {size}{}", if *last { " LAST" } else { "" })
            }
            Command::Rset => write!(s, "RSET"),
            Command::Noop => write!(s, "NOOP"),
            Command::Quit => write!(s, "QUIT"),
            Command::Vrfy(a) => write!(s, "VRFY {a}"),
            Command::Expn(a) => write!(s, "EXPN {a}"),
            Command::Help(None) => write!(s, "HELP"),
            Command::Help(Some(a)) => write!(s, "HELP {a}"),
            Command::StartTls => write!(s, "STARTTLS"),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                write!(s, "AUTH {mechanism}")?;
                if let Some(ir) = initial_response {
                    write!(s, " {}", ir.expose())?;
                }
                Ok(())
            }
        }
    }
}

fn write_unknown(s: &mut String, unknown: &[(String, Option<String>)]) -> fmt::Result {
    for (k, v) in unknown {
        match v {
            Some(v) => write!(s, " {k}={v}")?,
            None => write!(s, " {k}")?,
        }
    }
    Ok(())
}

/// Decodes xtext (RFC 3461 §4): `+XX` hex escapes.
pub fn xtext_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
            {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}
