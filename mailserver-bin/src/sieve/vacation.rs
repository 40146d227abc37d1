//! Vacation replies as RFC 5230 and RFC 3834 want them: never to the null sender, a list,
//! an automaton or mail that does not name the user; at most once per sender and handle in a
//! period (recorded durably with the user's scripts); from the user, `Auto-Submitted:
//! auto-replied`, threaded with `In-Reply-To:` and `References:`.

use std::time::SystemTime;

use base64::Engine as _;
use mailwright_sieve::{Envelope, Message, Vacation};

/// Local parts of senders that are programs, never answered (RFC 5230 §4.6; Pigeonhole's
/// list).
const AUTOMATA: &[&str] = &[
    "mailer-daemon",
    "mailer",
    "listserv",
    "majordomo",
    "postmaster",
    "daemon",
    "root",
];

/// Why no reply goes out, when none does.
pub fn refusal(
    message: &dyn Message,
    envelope: &Envelope,
    user_addresses: &[String],
) -> Option<&'static str> {
    let sender = envelope.from.to_ascii_lowercase();
    if sender.is_empty() {
        return Some("the sender is <> (a bounce)");
    }
    let local = sender.rsplit_once('@').map_or(sender.as_str(), |(l, _)| l);
    if AUTOMATA.contains(&local)
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.ends_with("-bounces")
    {
        return Some("the sender is a program");
    }
    if user_addresses
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&sender))
    {
        return Some("the sender is the user");
    }
    if message
        .header("auto-submitted")
        .iter()
        .any(|v| !v.trim().eq_ignore_ascii_case("no"))
    {
        return Some("the message is auto-submitted");
    }
    if ["list-id", "list-post", "list-owner", "list-unsubscribe"]
        .iter()
        .any(|h| !message.header(h).is_empty())
    {
        return Some("the message is from a mailing list");
    }
    if message.header("precedence").iter().any(|p| {
        let p = p.trim().to_ascii_lowercase();
        p == "bulk" || p == "list" || p == "junk"
    }) {
        return Some("the message is bulk mail");
    }
    let named = ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"]
        .iter()
        .flat_map(|h| message.header(h))
        .any(|value| user_addresses.iter().any(|a| names(&value, a)));
    if !named {
        return Some("the message does not name the user in To or Cc");
    }
    None
}

/// Whether `field` holds `address` as a whole address (not inside a longer one).
fn names(field: &str, address: &str) -> bool {
    let field = field.to_ascii_lowercase();
    let address = address.to_ascii_lowercase();
    let boundary = |c: Option<char>| {
        c.is_none_or(|c| {
            c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | ':' | '"' | '(' | ')')
        })
    };
    field.match_indices(&address).any(|(at, _)| {
        boundary(field[..at].chars().next_back())
            && boundary(field[at + address.len()..].chars().next())
    })
}

/// The reply to the message, from `from` (the user's address unless the script named one)
/// to the envelope sender.
pub fn compose(
    message: &dyn Message,
    envelope: &Envelope,
    vacation: &Vacation,
    hostname: &str,
    now: SystemTime,
) -> Vec<u8> {
    let from = vacation.from.clone().unwrap_or_else(|| envelope.to.clone());
    let from = match from.contains('<') {
        true => from,
        false => format!("<{from}>"),
    };
    let subject = vacation.subject.clone().unwrap_or_else(|| {
        let original = message
            .header("subject")
            .into_iter()
            .next()
            .unwrap_or_default();
        format!("Auto: {original}")
    });
    let mut out = format!(
        "From: {from}\r\nTo: <{}>\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}.vacation@{hostname}>\r\nAuto-Submitted: auto-replied (vacation)\r\n",
        envelope.from,
        encode_word(&subject),
        crate::mail::rfc5322_date(now),
        crate::mail::queue_id(),
    );
    if let Some(id) = message.header("message-id").into_iter().next() {
        let id = id.trim();
        out.push_str(&format!("In-Reply-To: {id}\r\n"));
        let references = message
            .header("references")
            .into_iter()
            .next()
            .unwrap_or_default();
        let references = references.trim();
        match references.is_empty() {
            true => out.push_str(&format!("References: {id}\r\n")),
            false => out.push_str(&format!("References: {references} {id}\r\n")),
        }
    }
    out.push_str("MIME-Version: 1.0\r\n");
    if vacation.mime {
        // The reason is a MIME entity: its own header, then its body.
        out.push_str(&crlf(&vacation.reason));
    } else {
        out.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        out.push_str(&crlf(&vacation.reason));
        if !out.ends_with("\r\n") {
            out.push_str("\r\n");
        }
    }
    out.into_bytes()
}

/// `text` with bare line feeds made CRLF.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// `text` as an RFC 2047 encoded word when it is not ASCII.
pub fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailwright_sieve::ParsedMessage;

    fn envelope(from: &str) -> Envelope {
        Envelope {
            from: from.into(),
            to: "alice@example.com".into(),
            auth: None,
        }
    }

    #[test]
    fn who_is_never_answered() {
        let me = ["alice@example.com".to_owned()];
        let plain =
            ParsedMessage::parse(b"To: Alice <alice@example.com>\r\nSubject: hi\r\n\r\nx\r\n");
        assert_eq!(refusal(&plain, &envelope("bob@example.org"), &me), None);
        assert!(refusal(&plain, &envelope(""), &me).is_some());
        assert!(refusal(&plain, &envelope("MAILER-DAEMON@example.org"), &me).is_some());
        for field in [
            "List-Id: <x.example.org>",
            "Auto-Submitted: auto-replied",
            "Precedence: bulk",
        ] {
            let m = ParsedMessage::parse(
                format!("To: alice@example.com\r\n{field}\r\n\r\nx\r\n").as_bytes(),
            );
            assert!(
                refusal(&m, &envelope("bob@example.org"), &me).is_some(),
                "{field}"
            );
        }
        let other = ParsedMessage::parse(b"To: malice@example.com\r\n\r\nx\r\n");
        assert!(refusal(&other, &envelope("bob@example.org"), &me).is_some());
    }

    #[test]
    fn the_reply_is_threaded_and_marked() {
        let m = ParsedMessage::parse(b"Subject: Plans\r\nMessage-ID: <1@x>\r\n\r\nx\r\n");
        let v = Vacation {
            reason: "Away\nback soon".into(),
            subject: None,
            from: None,
            addresses: vec![],
            mime: false,
            handle: String::new(),
            period: None,
        };
        let text = String::from_utf8(compose(
            &m,
            &envelope("bob@example.org"),
            &v,
            "mx.example.com",
            SystemTime::now(),
        ))
        .unwrap();
        for part in [
            "From: <alice@example.com>\r\n",
            "To: <bob@example.org>\r\n",
            "Subject: Auto: Plans\r\n",
            "In-Reply-To: <1@x>\r\n",
            "References: <1@x>\r\n",
            "Auto-Submitted: auto-replied (vacation)\r\n",
            "\r\n\r\nAway\r\nback soon\r\n",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }
}
