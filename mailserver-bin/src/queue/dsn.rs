//! Delivery status notifications (RFC 3464): the bounce that tells a sender which recipients
//! could not be reached, with the original message (or its header, for RET=HDRS) attached.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::spool::{Incoming, QueuedMessage, Recipient, Route, SpoolError};
use crate::mail::rfc5322_date;

/// Who writes a report, and about what.
#[derive(Debug)]
pub struct Reporter {
    /// Our host name (Reporting-MTA).
    pub hostname: String,
    /// The next hop remote recipients went to.
    pub relay: Option<String>,
    /// The report's own queue id.
    pub id: String,
    /// Until when a delayed message will be tried.
    pub retry_until: Option<SystemTime>,
}

/// What happened to one recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    /// Still queued, still being tried.
    Delayed,
    /// Into a mailbox here.
    Delivered,
    /// Handed to a server that does not speak DSN, so no further notice will come.
    Relayed,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
        }
    }
}

/// Writes the report on `recipients` of `original` (whose text is at `message`): a bounce
/// when one failed, a delay notice when they are still being tried, a success notice
/// otherwise.
pub fn write_report(
    incoming: &mut Incoming,
    original: &QueuedMessage,
    recipients: &[(Recipient, Action)],
    message: &Path,
    reporter: &Reporter,
) -> Result<(), SpoolError> {
    let Reporter {
        hostname,
        relay,
        id,
        retry_until,
    } = reporter;
    let relay = relay.as_deref();
    let failure = recipients.iter().any(|(_, a)| *a == Action::Failed);
    let delay = recipients.iter().any(|(_, a)| *a == Action::Delayed);
    let boundary = format!("{id}/{hostname}");
    let now = SystemTime::now();
    let arrival = UNIX_EPOCH + Duration::from_secs(original.created);
    let (subject, explanation) = if failure {
        (
            "Undelivered Mail Returned to Sender",
            "I'm sorry to have to inform you that your message could not\r\n\
             be delivered to one or more recipients. It's attached below.",
        )
    } else if delay {
        (
            "Delayed Mail (still being retried)",
            "Your message could not be delivered yet to the recipients\r\n\
             listed below. It will be tried again until it is delivered or\r\n\
             the time given below; you need not send it again.",
        )
    } else {
        (
            "Successful Mail Delivery Report",
            "Your message was successfully delivered to the destination(s)\r\n\
             listed below. If the message was delivered to a mailbox you will\r\n\
             receive no further notifications.",
        )
    };
    let mut text = String::with_capacity(2048);
    text.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{id}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Description: Notification\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This is the mail system at host {hostname}.\r\n\
         \r\n\
         {explanation}\r\n\
         \r\n",
        to = original.from,
        date = rfc5322_date(now),
    ));
    for (r, _) in recipients {
        text.push_str(&format!("<{}>: {}\r\n", r.address, r.last_reply));
    }
    text.push_str(&format!(
        "\r\n--{boundary}\r\n\
         Content-Description: Delivery report\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; {hostname}\r\n\
         X-Mailserver-Queue-ID: {queue_id}\r\n",
        queue_id = original.id
    ));
    if let Some(envid) = &original.envid {
        text.push_str(&format!("Original-Envelope-Id: {}\r\n", xtext(envid)));
    }
    text.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(arrival)));
    for (r, action) in recipients {
        text.push_str(&format!("\r\nFinal-Recipient: rfc822; {}\r\n", r.address));
        if let Some(orcpt) = &r.orcpt {
            let (kind, address) = (orcpt.addr_type(), xtext(orcpt.address()));
            text.push_str(&format!("Original-Recipient: {kind}; {address}\r\n"));
        }
        let status = match action {
            Action::Failed => status_of(&r.last_reply),
            Action::Delayed => temporary_status_of(&r.last_reply),
            _ => "2.0.0".to_owned(),
        };
        text.push_str(&format!(
            "Action: {}\r\nStatus: {status}\r\n",
            action.name()
        ));
        if let (Action::Delayed, Some(until)) = (action, retry_until) {
            text.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(*until)));
        }
        if let (Route::Remote, Some(relay)) = (&r.route, relay) {
            text.push_str(&format!("Remote-MTA: dns; {relay}\r\n"));
        }
        if r.last_reply.starts_with(|c: char| c.is_ascii_digit()) {
            text.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", r.last_reply));
        } else {
            text.push_str(&format!(
                "Diagnostic-Code: x-mailserver; {}\r\n",
                r.last_reply
            ));
        }
    }
    // Success and delay notices carry the header only (RFC 3461 §4.3 leaves it to us).
    let headers_only = original.ret_headers || !failure;
    let part_type = if headers_only {
        "text/rfc822-headers"
    } else {
        "message/rfc822"
    };
    text.push_str(&format!(
        "\r\n--{boundary}\r\n\
         Content-Description: Undelivered Message\r\n\
         Content-Type: {part_type}\r\n\
         \r\n"
    ));
    incoming.write(text.as_bytes())?;
    let io_err = |source| SpoolError::Io {
        action: "reading",
        path: message.to_owned(),
        source,
    };
    let file = File::open(message).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    if headers_only {
        // Up to and including the empty line that ends the header.
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io_err)?;
            if n == 0 || line == b"\r\n" || line == b"\n" {
                break;
            }
            incoming.write(&line)?;
        }
    } else {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut last = b'\n';
        loop {
            let n = reader.read(&mut chunk).map_err(io_err)?;
            if n == 0 {
                break;
            }
            last = chunk[n - 1];
            incoming.write(&chunk[..n])?;
        }
        if last != b'\n' {
            incoming.write(b"\r\n")?;
        }
    }
    incoming.write(format!("\r\n--{boundary}--\r\n").as_bytes())
}

/// ENVID and ORCPT arrive as xtext (RFC 3461 §4); a report carries them decoded.
fn xtext(value: &str) -> String {
    mailwright_smtp::xtext_decode(value).map_or_else(
        || value.to_owned(),
        |d| String::from_utf8_lossy(&d).into_owned(),
    )
}

/// A still-queued recipient's status: its last reply's, when that was temporary.
fn temporary_status_of(reply: &str) -> String {
    let status = status_of(reply);
    if status.starts_with('4') {
        status
    } else {
        "4.0.0".into()
    }
}

/// The enhanced status code in a reply, or a generic one for its class (RFC 3463).
pub fn status_of(reply: &str) -> String {
    let mut words = reply.split_ascii_whitespace();
    let code = words.next().unwrap_or("");
    if let Some(enhanced) = words.next() {
        let parts: Vec<&str> = enhanced.split('.').collect();
        if parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && code.starts_with(parts[0])
        {
            return enhanced.to_owned();
        }
    }
    match code.as_bytes().first() {
        Some(b'4') => "4.0.0".into(),
        _ => "5.0.0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(status_of("550 5.1.1 <x>: unknown"), "5.1.1");
        assert_eq!(status_of("554 Transaction failed"), "5.0.0");
        assert_eq!(status_of("451 4.4.2 timeout"), "4.4.2");
        assert_eq!(status_of("delivery time expired"), "5.0.0");
    }
}
