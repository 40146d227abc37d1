//! Validated values of the SMTP grammar: addresses, reply codes, enhanced status codes, replies.

use std::fmt;

use thiserror::Error;

pub use mailwright_sasl::Secret;

/// Why a value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// Reply codes are three digits, 2xx to 5xx, second digit 0 to 5 (RFC 5321 §4.2).
    #[error("reply code {0} is not a valid SMTP reply code")]
    ReplyCode(u16),
    /// Enhanced status codes are `class.subject.detail` (RFC 3463 §2).
    #[error("enhanced status code is out of range")]
    EnhancedStatus,
    /// The enhanced status class must match the reply code's first digit.
    #[error("enhanced status class {class} does not match reply code {code}")]
    ClassMismatch {
        /// The reply code.
        code: u16,
        /// The enhanced status class.
        class: u8,
    },
    /// Reply text may not contain CR or LF, and each line is at most 512 octets (RFC 5321 §4.5.3.1.5).
    #[error("reply text contains CR/LF or is too long")]
    ReplyText,
    /// Not a domain name as RFC 5321 §4.1.2 (and RFC 6531 for U-labels) defines it.
    #[error("invalid domain name")]
    Domain,
    /// Not an address literal as RFC 5321 §4.1.3 defines it.
    #[error("invalid address literal")]
    AddressLiteral,
    /// Not a local part as RFC 5321 §4.1.2 defines it.
    #[error("invalid local part")]
    LocalPart,
}

/// A three-digit reply code (RFC 5321 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// Validates a reply code.
    pub fn new(code: u16) -> Result<Self, ValidationError> {
        if (200..600).contains(&code) && (code / 10) % 10 <= 5 {
            Ok(Self(code))
        } else {
            Err(ValidationError::ReplyCode(code))
        }
    }

    /// The code as a number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// First digit: 2 positive completion, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// A 2xx code.
    pub fn is_positive(self) -> bool {
        self.class() == 2
    }

    /// A 4xx or 5xx code.
    pub fn is_negative(self) -> bool {
        self.class() >= 4
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced mail system status code, `class.subject.detail` (RFC 3463).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedStatus {
    /// Validates an enhanced status code: class 2, 4 or 5; subject and detail 0-999.
    pub fn new(class: u8, subject: u16, detail: u16) -> Result<Self, ValidationError> {
        if matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000 {
            Ok(Self {
                class,
                subject,
                detail,
            })
        } else {
            Err(ValidationError::EnhancedStatus)
        }
    }

    /// The class digit (2, 4 or 5).
    pub fn class(self) -> u8 {
        self.class
    }

    /// The subject number.
    pub fn subject(self) -> u16 {
        self.subject
    }

    /// The detail number.
    pub fn detail(self) -> u16 {
        self.detail
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The longest reply line RFC 5321 §4.5.3.1.5 allows, code and CRLF included.
pub const MAX_REPLY_LINE: usize = 512;

/// A server reply: code, optional enhanced status, one or more lines of text.
///
/// Only valid replies can be built: the text has no CR or LF, and every encoded line fits in 512
/// octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedStatus>,
    lines: Vec<String>,
}

impl Reply {
    /// Builds a one-line reply.
    pub fn new(
        code: u16,
        enhanced: Option<EnhancedStatus>,
        text: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        Self::multiline(code, enhanced, vec![text.into()])
    }

    /// Builds a reply from its lines; an empty list becomes one empty line.
    pub fn multiline(
        code: u16,
        enhanced: Option<EnhancedStatus>,
        mut lines: Vec<String>,
    ) -> Result<Self, ValidationError> {
        let code = ReplyCode::new(code)?;
        if let Some(e) = enhanced
            && e.class != code.class()
        {
            return Err(ValidationError::ClassMismatch {
                code: code.get(),
                class: e.class,
            });
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        // "250-" + "5.1.1 " + text + CRLF
        let overhead = 4 + enhanced.map_or(0, |e| e.to_string().len() + 1) + 2;
        for line in &lines {
            if line.bytes().any(|b| b == b'\r' || b == b'\n')
                || line.len() + overhead > MAX_REPLY_LINE
            {
                return Err(ValidationError::ReplyText);
            }
        }
        Ok(Self {
            code,
            enhanced,
            lines,
        })
    }

    /// Builds one of the session's own replies, whose texts are constants known to be valid.
    pub(crate) fn fixed(code: u16, class: u8, subject: u16, detail: u16, text: &str) -> Self {
        Self {
            code: ReplyCode(code),
            enhanced: Some(EnhancedStatus {
                class,
                subject,
                detail,
            }),
            lines: vec![text.to_owned()],
        }
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, if any.
    pub fn enhanced(&self) -> Option<EnhancedStatus> {
        self.enhanced
    }

    /// The lines of text.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Appends the encoded reply (`250-first` continuation lines, `250 last`), CRLF included.
    pub fn encode(&self, out: &mut bytes::BytesMut) {
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let encoded = match self.enhanced {
                Some(e) if line.is_empty() => format!("{}{sep}{e}\r\n", self.code),
                Some(e) => format!("{}{sep}{e} {line}\r\n", self.code),
                None => format!("{}{sep}{line}\r\n", self.code),
            };
            out.extend_from_slice(encoded.as_bytes());
        }
    }

    /// A copy of this reply without its enhanced status code, for clients that did not send EHLO.
    pub fn without_enhanced(&self) -> Self {
        Self {
            code: self.code,
            enhanced: None,
            lines: self.lines.clone(),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        write!(f, " {}", self.lines.join(" / "))
    }
}

/// The host part of a mailbox, or the argument of EHLO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, as written (compare case-insensitively).
    Domain(String),
    /// An address literal without its brackets: `192.0.2.1`, `IPv6:2001:db8::1`, or `tag:content`.
    Literal(String),
}

impl Host {
    /// Parses a domain or a bracketed address literal.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            validate_address_literal(inner)?;
            Ok(Host::Literal(inner.to_owned()))
        } else {
            validate_domain(s)?;
            Ok(Host::Domain(s.to_owned()))
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Literal(l) => write!(f, "[{l}]"),
        }
    }
}

/// Checks a domain name: dot-separated labels of letters, digits and inner hyphens, each at most
/// 63 octets, 255 in all. Non-ASCII UTF-8 is allowed in labels (RFC 6531 U-labels).
#[inline]
pub(crate) fn validate_domain(s: &str) -> Result<(), ValidationError> {
    let b = s.as_bytes();
    let ok = match b.len() {
        0 => false,
        // No label of a name this short can pass 63 octets, so eight octets are checked at
        // once. (EHLO with a 28-octet name: the octet-by-octet loop was 31 % of the parse in
        // `perf record` of `cargo bench --bench peers -- smtp_command/ehlo`; the whole parse
        // went from 47.9-50.5 ns to 45.3-46.7, `FILTER=smtp_command ROUNDS=5 parsers.sh`.)
        1..=63 => domain_words(b).unwrap_or_else(|| domain_octets(b)),
        64..=255 => domain_octets(b),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Domain)
    }
}

/// [`validate_domain`] for an ASCII name of 1 to 63 octets, eight octets at a time; `None` when
/// the name is not ASCII.
#[inline]
fn domain_words(b: &[u8]) -> Option<bool> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // For ASCII octets, `x + (0x80 - lo)` sets an octet's high bit exactly when x >= lo, and
    // no sum carries into the next octet: ranges are tested on all eight at once.
    let at_least = |x: u64, lo: u8| x.wrapping_add(ONES * u64::from(0x80 - lo));
    let within = |x: u64, lo: u8, hi: u8| at_least(x, lo) & !at_least(x, hi + 1) & HIGH;
    // One bit per octet, from the octets' high bits.
    let gather = |m: u64| (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    let (mut dots, mut hyphens, mut other) = (0u64, 0u64, 0u64);
    let n = b.len();
    let word = |at: usize| b.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok());
    for k in 0..n.div_ceil(8) {
        // The last word is padded with letters, which change no verdict below. It is read
        // as a whole word (copied octets stall the load that follows: 29 % of the check).
        let pad = ONES * u64::from(b'a');
        let x = match word(8 * k) {
            Some(w) => u64::from_le_bytes(w),
            None => match n.checked_sub(8).and_then(word) {
                Some(last) => {
                    u64::from_le_bytes(last) >> (8 * (8 * k + 8 - n)) | pad << (8 * (n % 8))
                }
                None => b.iter().rev().fold(pad, |x, &c| x << 8 | u64::from(c)),
            },
        };
        if x & HIGH != 0 {
            return None;
        }
        let dot = within(x, b'.', b'.');
        let hyphen = within(x, b'-', b'-');
        let alnum = within(x, b'0', b'9') | within(x | (ONES * 0x20), b'a', b'z');
        other |= !(dot | hyphen | alnum) & HIGH;
        dots |= gather(dot) << (8 * k);
        hyphens |= gather(hyphen) << (8 * k);
    }
    // Labels are not empty and neither begin nor end with a hyphen: the name's ends are
    // letters or digits, and so are both neighbours of every dot.
    let not_alnum = dots | hyphens;
    let ends = 1 | 1 << (b.len() - 1);
    let misplaced = not_alnum & ends | dots & (not_alnum << 1 | not_alnum >> 1);
    Some(other == 0 && misplaced == 0)
}

/// [`validate_domain`] octet by octet, for any name of 1 to 255 octets.
fn domain_octets(b: &[u8]) -> bool {
    // One pass: a table says whether each octet is allowed, and each label's ends and length
    // are checked at the dots, which are few.
    let let_dig = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
    if !(let_dig(b[0]) && let_dig(b[b.len() - 1])) {
        return false;
    }
    let mut ok = true;
    let mut label_start = 0;
    for (i, &c) in b.iter().enumerate() {
        ok &= DOMAIN_OCTET[usize::from(c)];
        if c == b'.' {
            // Neither the first octet nor the last is a dot: b[i - 1] and b[i + 1] exist.
            ok &= (i - label_start <= 63) & let_dig(b[i - 1]) & let_dig(b[i + 1]);
            label_start = i + 1;
        }
    }
    ok & (b.len() - label_start <= 63)
}

/// The octets of a domain: letters, digits, UTF-8 (U-labels), `-` and `.`.
static DOMAIN_OCTET: [bool; 256] =
    octet_table!(|b| b.is_ascii_alphanumeric() || b >= 0x80 || b == b'-' || b == b'.');

/// Checks the inside of an address literal (RFC 5321 §4.1.3).
pub(crate) fn validate_address_literal(s: &str) -> Result<(), ValidationError> {
    if let Some(v6) = s.strip_prefix("IPv6:").or_else(|| s.strip_prefix("ipv6:")) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| ValidationError::AddressLiteral);
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent
    let (tag, content) = s.split_once(':').ok_or(ValidationError::AddressLiteral)?;
    let tag_ok = !tag.is_empty()
        && tag.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !tag.ends_with('-');
    let content_ok = !content.is_empty()
        && content
            .bytes()
            .all(|c| (33..=90).contains(&c) || (94..=126).contains(&c));
    if tag_ok && content_ok {
        Ok(())
    } else {
        Err(ValidationError::AddressLiteral)
    }
}

/// `atext` of RFC 5322, plus UTF-8 for RFC 6531.
pub(crate) fn is_atext(c: u8) -> bool {
    ATEXT[usize::from(c)]
}

/// [`is_atext`] as a table: one load per octet instead of a search of the specials.
static ATEXT: [bool; 256] = {
    let mut t = octet_table!(|b| b.is_ascii_alphanumeric() || b >= 0x80);
    let specials = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] = true;
        i += 1;
    }
    t
};

/// A mailbox, `local-part@host`. The local part is stored unquoted (its value), so
/// `"john.doe"@example.com` and `john.doe@example.com` are the same mailbox.
///
/// It is one buffer, `local-part@host` with an address literal in its brackets, and where the
/// `@` is: a parsed `MAIL FROM` or `RCPT TO` costs one allocation (Stalwart's `smtp-proto`,
/// which keeps the address as one string, made two owned strings 1.6-1.9x slower per command).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part's value, `@`, then the domain or `[literal]`.
    text: String,
    /// Where the `@` that ends the local part is (the value may contain one).
    at: usize,
}

impl Mailbox {
    /// Builds a mailbox; the local part is any text a quoted string can carry (at most 64 octets).
    pub fn new(local_part: impl Into<String>, host: Host) -> Result<Self, ValidationError> {
        let mut text = local_part.into();
        if text.is_empty() || text.len() > 64 || text.bytes().any(|c| c < 0x20 || c == 0x7f) {
            return Err(ValidationError::LocalPart);
        }
        let at = text.len();
        match &host {
            Host::Domain(d) => {
                text.reserve(1 + d.len());
                text.push('@');
                text.push_str(d);
            }
            Host::Literal(l) => {
                text.reserve(3 + l.len());
                text.push_str("@[");
                text.push_str(l);
                text.push(']');
            }
        }
        Ok(Self { text, at })
    }

    /// A mailbox from `local@host` text already checked (the local part a value, the host a
    /// domain or a bracketed literal), `at` being where its `@` is.
    pub(crate) fn from_checked(text: String, at: usize) -> Self {
        debug_assert_eq!(text.as_bytes().get(at), Some(&b'@'));
        Self { text, at }
    }

    /// The local part's value (unquoted).
    pub fn local_part(&self) -> &str {
        &self.text[..self.at]
    }

    /// The host part (built on each call: [`Mailbox::domain`] and
    /// [`Mailbox::address_literal`] borrow instead).
    pub fn host(&self) -> Host {
        match self.address_literal() {
            Some(l) => Host::Literal(l.to_owned()),
            None => Host::Domain(self.host_text().to_owned()),
        }
    }

    /// The domain, if the host is not an address literal.
    pub fn domain(&self) -> Option<&str> {
        let host = self.host_text();
        (!host.starts_with('[')).then_some(host)
    }

    /// The address literal without its brackets (`192.0.2.1`, `IPv6:2001:db8::1`), if the
    /// host is one.
    pub fn address_literal(&self) -> Option<&str> {
        self.host_text()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
    }

    /// The host as written in an address: a domain, or a literal in brackets.
    fn host_text(&self) -> &str {
        &self.text[self.at + 1..]
    }

    /// Whether any part needs SMTPUTF8 (RFC 6531).
    pub fn is_utf8(&self) -> bool {
        !self.text.is_ascii()
    }

    /// Whether the local part is a `Dot-string` and can be written without quotes.
    fn local_part_is_dot_string(&self) -> bool {
        self.local_part()
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.local_part_is_dot_string() {
            return f.write_str(&self.text);
        }
        f.write_str("\"")?;
        for c in self.local_part().chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        write!(f, "\"@{}", self.host_text())
    }
}

/// The argument of MAIL FROM: a mailbox, or `<>` for bounces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`, the null reverse path of delivery status notifications.
    Null,
    /// A sender mailbox.
    Mailbox(Mailbox),
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// The argument of RCPT TO: a mailbox, or the bare `<Postmaster>` every server must accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (RFC 5321 §4.5.1).
    Postmaster,
    /// A recipient mailbox.
    Mailbox(Mailbox),
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes() {
        assert!(ReplyCode::new(250).is_ok());
        assert!(ReplyCode::new(199).is_err());
        assert!(ReplyCode::new(600).is_err());
        assert!(ReplyCode::new(260).is_err());
    }

    #[test]
    fn reply_validation() {
        assert!(Reply::new(250, None, "ok\r\n").is_err());
        assert!(Reply::new(250, EnhancedStatus::new(5, 1, 1).ok(), "x").is_err());
        assert!(Reply::new(250, None, "x".repeat(506)).is_ok());
        assert!(Reply::new(250, None, "x".repeat(507)).is_err());
    }

    #[test]
    fn mailbox_display_quotes_when_needed() {
        let h = Host::parse("example.com").unwrap();
        assert_eq!(
            Mailbox::new("a.b", h.clone()).unwrap().to_string(),
            "a.b@example.com"
        );
        assert_eq!(
            Mailbox::new("a b\"c", h.clone()).unwrap().to_string(),
            "\"a b\\\"c\"@example.com"
        );
        assert_eq!(
            Mailbox::new(".a", h).unwrap().to_string(),
            "\".a\"@example.com"
        );
    }

    #[test]
    fn hosts() {
        assert!(Host::parse("[192.0.2.1]").is_ok());
        assert!(Host::parse("[IPv6:2001:db8::1]").is_ok());
        assert!(Host::parse("[300.1.1.1]").is_err());
        assert!(Host::parse("-a.example").is_err());
        assert!(Host::parse("bücher.example").is_ok());
        assert!(Host::parse("a..b").is_err());
    }

    /// Domain validity stated label by label, the plain way.
    fn domain_by_labels(s: &str) -> bool {
        let let_dig = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
        !s.is_empty()
            && s.len() <= 255
            && s.split('.').all(|label| {
                let b = label.as_bytes();
                (1..=63).contains(&b.len())
                    && let_dig(b[0])
                    && let_dig(b[b.len() - 1])
                    && b.iter().all(|&c| let_dig(c) || c == b'-')
            })
    }

    proptest::proptest! {
        #[test]
        fn validate_domain_agrees_with_labels(s in "[a-c0-9.\\-_é]{0,12}") {
            proptest::prop_assert_eq!(validate_domain(&s).is_ok(), domain_by_labels(&s));
        }

        // Every ASCII octet, at every place of the eight-octet words, short names and long.
        #[test]
        fn validate_domain_words_agree_with_labels(
            s in "[a-z0-9.\\-]{0,30}[\\x00-\\x7f]?[a-zA-Z0-9.\\-]{0,40}"
        ) {
            proptest::prop_assert_eq!(validate_domain(&s).is_ok(), domain_by_labels(&s));
        }
    }

    #[test]
    fn domain_every_ascii_octet_everywhere() {
        let base = "mail.client-1.example.org";
        for at in 0..base.len() {
            for c in 0..0x80u8 {
                let mut name = base.as_bytes().to_vec();
                name[at] = c;
                let name = String::from_utf8(name).unwrap();
                assert_eq!(
                    validate_domain(&name).is_ok(),
                    domain_by_labels(&name),
                    "{name:?}"
                );
            }
        }
    }

    #[test]
    fn domain_lengths() {
        let label = "a".repeat(63);
        assert!(validate_domain(&format!("{label}.{label}")).is_ok());
        assert!(validate_domain(&format!("b{label}.example")).is_err());
        assert!(validate_domain(&format!("example.b{label}")).is_err());
        let long = [label.as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(validate_domain(&long).is_ok());
        assert!(validate_domain(&format!("{long}a")).is_err());
    }

    #[test]
    fn secret_redacts() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "/* REDACTED */");
    }
}
