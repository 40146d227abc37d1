//! What a script reads: the message (through [`Message`], which the caller implements over
//! its own MIME parser, or [`ParsedMessage`]), its envelope, and the few facts only the
//! caller knows ([`Host`]: which mailboxes exist, the environment).

use crate::program::{AddressPart, BodyTransform};

/// The message a script tests.
pub trait Message {
    /// The values of the header fields named `name` (any case), in order, unfolded and with
    /// RFC 2047 encoded words decoded; empty when there is none.
    fn header(&self, name: &str) -> Vec<String>;
    /// The size in octets (RFC 5228 §5.9).
    fn size(&self) -> u64;
    /// The texts the `body` test searches (RFC 5173): the raw body, or the decoded text of
    /// the parts `transform` selects.
    fn body(&self, transform: &BodyTransform) -> Vec<String>;
}

/// The SMTP envelope (RFC 5228 §5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path, without brackets; empty for `<>`.
    pub from: String,
    /// The recipient being delivered to.
    pub to: String,
    /// The authenticated sender, if the message was submitted with a login.
    pub auth: Option<String>,
}

/// What only the caller can answer during a run.
pub trait Host {
    /// Whether the user has the mailbox `name` (`mailboxexists`, RFC 5490).
    fn mailbox_exists(&self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// An item of the `environment` test (RFC 5183): `domain`, `host`, `location`, `name`,
    /// `phase`, `remote-host`, `remote-ip`, `version`, …
    fn environment(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    /// The spam verdict of the filters for `spamtest` (RFC 5235): 1 (certainly not spam) to
    /// 10 (certainly spam), or with `percent` 0 to 100; `None` when the message was not
    /// tested (the test then sees 0).
    fn spamtest(&self, percent: bool) -> Option<u8> {
        let _ = percent;
        None
    }

    /// The virus verdict for `virustest` (RFC 5235): 1 (clean) to 5 (infected); `None` when
    /// the message was not scanned.
    fn virustest(&self) -> Option<u8> {
        None
    }

    /// Whether the `duplicate` test's `key` (its handle and the message's unique id) was
    /// recorded by an earlier delivery still within its period (RFC 7352). Recording is the
    /// caller's, after a successful delivery ([`crate::Outcome::duplicates`]).
    fn duplicate_seen(&self, key: &str) -> bool {
        let _ = key;
        false
    }

    /// The script `include` names (RFC 6609): the user's own (`global` false), or one of
    /// the server's global scripts. `Ok(None)`: there is none; `Err`: it does not compile
    /// (the run stops with that error). Compiling and caching are the caller's.
    fn include(
        &self,
        global: bool,
        name: &str,
    ) -> Result<Option<std::sync::Arc<crate::Script>>, String> {
        let _ = (global, name);
        Ok(None)
    }

    /// The current time, in the server's zone (the `currentdate` test, RFC 5260 §5, and the
    /// zone `date` shows dates in); without it `currentdate` is false and `date` uses UTC.
    fn now(&self) -> Option<crate::date::DateTime> {
        None
    }
}

/// A [`Host`] that knows nothing: no mailbox exists, no environment item is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl Host for NoHost {}

/// A message read by this crate itself: header fields unfolded, their RFC 2047 encoded words
/// decoded (UTF-8, ASCII and Latin-1); for the `body` test, multipart bodies are walked to their leaf
/// parts (enclosed messages included), decoded from base64 or quoted-printable, and read as
/// UTF-8 or Latin-1. Enough for most mail and for tests; a server with a full MIME parser
/// implements [`Message`] over it instead.
#[derive(Debug, Clone, Default)]
pub struct ParsedMessage {
    fields: Vec<(String, String)>,
    /// None when the header is not followed by an empty line.
    body: Option<String>,
    size: u64,
}

impl ParsedMessage {
    /// Reads `raw` (CRLF or LF line ends).
    pub fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let (fields, body) = crate::mime::split(&text);
        Self {
            fields,
            body: body.map(str::to_owned),
            size: raw.len() as u64,
        }
    }
}

impl Message for ParsedMessage {
    fn header(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| crate::mime::decode_words(v))
            .collect()
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn body(&self, transform: &BodyTransform) -> Vec<String> {
        let Some(body) = &self.body else {
            return Vec::new();
        };
        if *transform == BodyTransform::Raw {
            return vec![body.clone()];
        }
        crate::mime::leaves(&self.fields, body)
            .into_iter()
            .filter(|p| transform.selects(&p.kind, &p.subtype))
            .map(|p| p.text)
            .collect()
    }
}

/// The message, envelope, mailboxes and variables the scripts of one `.svtest` file see
/// (Pigeonhole's test suite, see `testsuite`).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct SuiteState {
    pub(crate) message: std::cell::RefCell<ParsedMessage>,
    /// The message as given, for `test_result_execute` to store.
    pub(crate) raw: std::cell::RefCell<Vec<u8>>,
    /// What `test_result_execute` stored, by folder, and sent.
    pub(crate) folders: std::cell::RefCell<std::collections::HashMap<String, Vec<Vec<u8>>>>,
    pub(crate) sent: std::cell::RefCell<Vec<(Envelope, Vec<u8>)>>,
    pub(crate) envelope: std::cell::RefCell<Envelope>,
    /// Whether the suite set the envelope's sender and recipient.
    pub(crate) envelope_set: std::cell::RefCell<(bool, bool)>,
    pub(crate) mailboxes: std::cell::RefCell<Vec<String>>,
    /// The variables, which live from one test of a file to the next (Pigeonhole runs a
    /// file as one script).
    pub(crate) variables: std::cell::RefCell<std::collections::HashMap<String, String>>,
    pub(crate) globals: std::cell::RefCell<std::collections::HashMap<String, String>>,
    pub(crate) global_names: std::cell::RefCell<std::collections::HashSet<String>>,
    /// Where the file's `included/` and `included-global/` scripts are.
    pub(crate) dir: std::path::PathBuf,
}

#[cfg(test)]
impl SuiteState {
    /// The envelope the suite set; what it did not set comes from the message, as
    /// Pigeonhole's testsuite takes it: the sender from Return-Path, Sender or From, the
    /// recipient from Envelope-To, Delivered-To or To.
    pub(crate) fn envelope(&self) -> Envelope {
        let mut envelope = self.envelope.borrow().clone();
        let (from_set, to_set) = *self.envelope_set.borrow();
        let first = |fields: &[&str]| {
            fields
                .iter()
                .flat_map(|f| self.message.borrow().header(f))
                .find_map(|v| addresses(&v).into_iter().next())
                .unwrap_or_default()
        };
        if !from_set {
            envelope.from = first(&["return-path", "sender", "from"]);
        }
        if !to_set {
            envelope.to = first(&["envelope-to", "delivered-to", "to"]);
        }
        envelope
    }
}

#[cfg(test)]
impl Message for SuiteState {
    fn header(&self, name: &str) -> Vec<String> {
        self.message.borrow().header(name)
    }

    fn size(&self) -> u64 {
        self.message.borrow().size()
    }

    fn body(&self, transform: &BodyTransform) -> Vec<String> {
        self.message.borrow().body(transform)
    }
}

#[cfg(test)]
impl Host for SuiteState {
    fn include(
        &self,
        global: bool,
        name: &str,
    ) -> Result<Option<std::sync::Arc<crate::Script>>, String> {
        let sub = if global {
            "included-global"
        } else {
            "included"
        };
        let path = self.dir.join(sub).join(format!("{name}.sieve"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        crate::Script::compile(&text, &crate::Limits::default())
            .map(|s| Some(std::sync::Arc::new(s)))
            .map_err(|e| e.to_string())
    }

    fn now(&self) -> Option<crate::date::DateTime> {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(crate::date::DateTime {
            unix: i64::try_from(unix).ok()?,
            offset_minutes: 0,
        })
    }

    fn mailbox_exists(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case("INBOX") || self.mailboxes.borrow().iter().any(|m| m == name)
    }
}

/// The addresses in a header field's value (`"A, B" <a@b>, c@d (C), group: e@f;`), as
/// `local@domain` strings.
pub(crate) fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut item = String::new();
    let (mut quoted, mut comment, mut angle) = (false, 0usize, false);
    let mut chars = value.chars();
    let push = |item: &mut String, out: &mut Vec<String>| {
        let mut a = std::mem::take(item);
        // A group's name ("undisclosed-recipients:") is not an address.
        if let Some((name, rest)) = a.split_once(':')
            && !name.contains('@')
        {
            a = rest.to_owned();
        }
        let a = a.trim().trim_end_matches(';').trim();
        if !a.is_empty() {
            out.push(a.to_owned());
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                chars.next();
            }
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            _ if quoted || comment > 0 => {}
            '<' => {
                angle = true;
                item.clear();
            }
            '>' => angle = false,
            ',' | ';' if !angle => push(&mut item, &mut out),
            c if c.is_whitespace() && !angle => {}
            c => item.push(c),
        }
    }
    push(&mut item, &mut out);
    out
}

/// `part` of `address` (`local@domain`); `None` when it has none (`:detail` of an address
/// without a `+`, RFC 5233 §4).
pub(crate) fn address_part(address: &str, part: AddressPart) -> Option<String> {
    let (local, domain) = match address.rsplit_once('@') {
        Some((l, d)) => (l, d),
        None => (address, ""),
    };
    Some(match part {
        AddressPart::All => address.to_owned(),
        AddressPart::LocalPart => local.to_owned(),
        AddressPart::Domain => domain.to_owned(),
        AddressPart::User => local.split_once('+').map_or(local, |(u, _)| u).to_owned(),
        AddressPart::Detail => local.split_once('+')?.1.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_fields() {
        assert_eq!(
            addresses(
                "\"Doe, John\" <john@example.com>, jane@example.org (Jane), undisclosed-recipients:;"
            ),
            ["john@example.com", "jane@example.org"]
        );
        assert_eq!(addresses("team: a@x, b@y;"), ["a@x", "b@y"]);
        assert_eq!(
            address_part("ken+sieve@example.com", AddressPart::Detail).as_deref(),
            Some("sieve")
        );
        assert_eq!(address_part("ken@example.com", AddressPart::Detail), None);
        assert_eq!(
            address_part("ken+x@example.com", AddressPart::User).as_deref(),
            Some("ken")
        );
    }

    #[test]
    fn a_parsed_message_unfolds_its_fields() {
        let m = ParsedMessage::parse(b"Subject: one\r\n two\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody\r\n");
        assert_eq!(m.header("subject"), ["one two"]);
        assert_eq!(m.header("X-A"), ["1", "2"]);
        assert_eq!(m.body(&BodyTransform::Text), ["body\r\n"]);
    }
}
