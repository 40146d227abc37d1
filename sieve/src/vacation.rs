//! Vacation replies (RFC 5230) as RFC 3834 wants them: when to answer, and the reply itself,
//! for the caller to send (and to record, so that each sender is answered once a period).

use crate::Vacation;
use crate::message::{Envelope, Message};
use crate::mime::encode_word;

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

/// Why no reply may go out (RFC 5230 §4.6, RFC 3834 §2), when none may: the sender is `<>`,
/// a program, or the user; the message is automatic, from a list or bulk; or it does not
/// name one of `user_addresses` in its recipient fields.
fn refusal(
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
    // Outlook's way of asking for no out-of-office reply.
    if message.header("x-auto-response-suppress").iter().any(|v| {
        v.split(',')
            .any(|w| matches!(w.trim().to_ascii_lowercase().as_str(), "all" | "oof"))
    }) {
        return Some("the message asks for no automatic reply");
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

impl Vacation {
    /// Why this reply must not go out to the sender of `message`, delivered to
    /// `envelope.to`, when it must not: the sender is `<>`, a program (`MAILER-DAEMON`,
    /// `owner-*`, `*-request`, …) or the user; the message is auto-submitted, from a list
    /// (`List-Id` …) or bulk (`Precedence`); or its recipient fields name neither
    /// `envelope.to` nor one of `:addresses`. Whether this sender was answered within the
    /// period is the caller's record to check.
    pub fn refusal(&self, message: &dyn Message, envelope: &Envelope) -> Option<&'static str> {
        let mut mine = vec![envelope.to.clone()];
        mine.extend(self.addresses.iter().cloned());
        refusal(message, envelope, &mine)
    }

    /// The reply to `message` (RFC 5230 §5): from `:from` or the recipient, to the envelope
    /// sender, with `:subject` or "Auto: " and the original subject, `Auto-Submitted:
    /// auto-replied`, threaded by `In-Reply-To:` and `References:`; the reason as UTF-8
    /// text or, with `:mime`, as the MIME entity it is. `date` (RFC 5322) and `message_id`
    /// (with its brackets) are the caller's.
    pub fn reply(
        &self,
        message: &dyn Message,
        envelope: &Envelope,
        date: &str,
        message_id: &str,
    ) -> Vec<u8> {
        // Without :from, the user's address the message was sent to: the recipient's, or
        // the one of :addresses its To/Cc names.
        let from = self.from.clone().unwrap_or_else(|| {
            let named = |a: &String| {
                ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"]
                    .iter()
                    .flat_map(|h| message.header(h))
                    .any(|value| names(&value, a))
            };
            std::iter::once(&envelope.to)
                .chain(&self.addresses)
                .find(|a| named(a))
                .unwrap_or(&envelope.to)
                .clone()
        });
        let from = match from.contains('<') {
            true => from,
            false => format!("<{from}>"),
        };
        let subject = self.subject.clone().unwrap_or_else(|| {
            let original = message
                .header("subject")
                .into_iter()
                .next()
                .unwrap_or_default();
            format!("Auto: {original}")
        });
        let subject = shortened(&subject.replace(['\r', '\n'], " "));
        let mut out = format!(
            "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\n\
             Auto-Submitted: auto-replied (vacation)\r\n",
            recipient(message, &envelope.from),
            encode_word(&subject),
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
        if self.mime {
            // The reason is a MIME entity: its own header, then its body.
            out.push_str(&crlf(&self.reason));
        } else {
            out.push_str(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            );
            out.push_str(&crlf(&self.reason));
            if !out.ends_with("\r\n") {
                out.push_str("\r\n");
            }
        }
        out.into_bytes()
    }
}

/// The longest subject a reply gets, in characters (Pigeonhole's
/// `sieve_vacation_max_subject_codepoints`); a longer one is cut and ends in "…".
const MAX_SUBJECT_CHARS: usize = 256;

fn shortened(subject: &str) -> String {
    match subject.char_indices().nth(MAX_SUBJECT_CHARS - 1) {
        Some((cut, _)) if subject.chars().count() > MAX_SUBJECT_CHARS => {
            format!("{}\u{2026}", subject[..cut].trim_end())
        }
        _ => subject.to_owned(),
    }
}

/// The reply's `To:`: the sender's mailbox as the message's From, Sender or Resent-
/// fields write it (with the name), else the envelope sender alone.
fn recipient(message: &dyn Message, sender: &str) -> String {
    for field in ["from", "sender", "resent-from", "resent-sender"] {
        for value in message.header(field) {
            for mailbox in value.split(',') {
                if crate::message::addresses(mailbox)
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(sender))
                    && !mailbox.contains(['\r', '\n'])
                {
                    return mailbox.trim().to_owned();
                }
            }
        }
    }
    format!("<{sender}>")
}

/// `text` with bare line feeds made CRLF.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParsedMessage;

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
    fn the_reply_goes_to_the_sender_by_name_from_the_address_named() {
        let m = ParsedMessage::parse(
            b"From: \"Stephan Bosch\" <stephan@example.org>\r\nTo: tss@example.net\r\n\r\nx\r\n",
        );
        let v = Vacation {
            reason: "Away".into(),
            subject: None,
            from: None,
            addresses: vec!["tss@example.net".into()],
            mime: false,
            handle: String::new(),
            period: None,
        };
        let env = Envelope {
            from: "stephan@example.org".into(),
            to: "timo@example.net".into(),
            auth: None,
        };
        let text = String::from_utf8(v.reply(&m, &env, "d", "<i>")).unwrap();
        assert!(
            text.contains("To: \"Stephan Bosch\" <stephan@example.org>\r\n"),
            "{text}"
        );
        assert!(text.contains("From: <tss@example.net>\r\n"), "{text}");
        let long = Vacation {
            subject: Some("x".repeat(300)),
            ..v
        };
        let text = String::from_utf8(long.reply(&m, &env, "d", "<i>")).unwrap();
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap();
        let subject = crate::mime::decode_words(subject);
        assert!(
            subject.ends_with('…') && subject.chars().count() == 256,
            "{subject}"
        );
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
        let text = String::from_utf8(v.reply(
            &m,
            &envelope("bob@example.org"),
            "Sat, 5 Dec 2026 11:00:00 +0000",
            "<1.vacation@mx.example.com>",
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
