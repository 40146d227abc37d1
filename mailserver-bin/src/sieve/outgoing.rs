//! What a plan sends out once the copy is stored: the redirected copies, a vacation reply
//! (when RFC 5230 and the record of who was answered allow), and the notice to the sender of
//! a copy a script refused. The callers (SMTP, the queue) put each into the outbound queue.

use std::path::Path;
use std::time::SystemTime;

use mailwright_maildir::SieveScripts;
use mailwright_sieve::Envelope;
use tracing::{info, warn};

use super::Plan;

/// One message to queue.
pub struct Outgoing {
    /// The envelope sender (empty: `<>`).
    pub from: String,
    pub to: String,
    pub message: Vec<u8>,
    /// `redirect`, `vacation` or `reject`, for the log.
    pub what: &'static str,
}

/// What `plan` sends out for the copy of `message` (from `sender`) that `address` (whose
/// Maildir is `home`) received. Blocking: the vacation record is read and written.
pub fn outgoing(
    plan: &Plan,
    sender: &str,
    address: &str,
    home: &Path,
    message: &[u8],
    hostname: &str,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    // As the scripts edited it (editheader).
    let message = plan.message(message);
    let message = &*message;
    for to in &plan.redirects {
        // Delivered-To: of this mailbox, so a redirect that comes back is seen as a loop.
        let mut copy = format!("Delivered-To: {address}\r\n").into_bytes();
        copy.extend_from_slice(message);
        out.push(Outgoing {
            from: sender.to_owned(),
            to: to.clone(),
            message: copy,
            what: "redirect",
        });
    }
    if let Some(reason) = &plan.reject
        && !sender.is_empty()
    {
        out.push(Outgoing {
            from: String::new(),
            to: sender.to_owned(),
            message: rejection(hostname, sender, address, reason),
            what: "reject",
        });
    }
    if let Some(v) = &plan.vacation
        && let Some(reply) = vacation_reply(v, sender, address, home, message, hostname)
    {
        out.push(reply);
    }
    let view = super::view::View::new(message);
    let automatic = mailwright_sieve::Message::header(&view, "auto-submitted")
        .iter()
        .any(|v| !v.trim().eq_ignore_ascii_case("no"));
    for (uri, from, text) in &plan.notifications {
        // RFC 5436 §2.7: never a notification of a notification (or any automatic mail).
        if automatic {
            info!(user = %address, "sieve: no notification of automatic mail");
            continue;
        }
        let Some(mailto) = mailwright_sieve::mailto(uri) else {
            continue;
        };
        for to in &mailto.to {
            out.push(Outgoing {
                from: String::new(),
                to: to.clone(),
                message: notification(
                    &view,
                    address,
                    from.as_deref(),
                    text.as_deref(),
                    &mailto,
                    hostname,
                ),
                what: "notify",
            });
        }
    }
    remember_duplicates(plan, address, home);
    out
}

/// The notification of RFC 5436 §2.7: from the user (or `:from`), its subject `:message`
/// (or the URI's, or one naming the message), `Auto-Submitted: auto-notified`.
fn notification(
    view: &super::view::View<'_>,
    address: &str,
    from: Option<&str>,
    text: Option<&str>,
    mailto: &mailwright_sieve::Mailto,
    hostname: &str,
) -> Vec<u8> {
    let field = |name: &str| {
        mailto
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let original = mailwright_sieve::Message::header(view, "subject")
        .into_iter()
        .next()
        .unwrap_or_default();
    let sender = mailwright_sieve::Message::header(view, "from")
        .into_iter()
        .next()
        .unwrap_or_default();
    let subject = text
        .map(str::to_owned)
        .or_else(|| field("subject"))
        .unwrap_or_else(|| format!("Notification: {original}"));
    let body = field("body").unwrap_or_else(|| {
        format!("A message arrived for {address}.\r\nFrom: {sender}\r\nSubject: {original}\r\n")
    });
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    format!(
        "From: <{}>\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}.notify@{hostname}>\r\n\
         Auto-Submitted: auto-notified\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        one_line(from.unwrap_or(address)).trim_matches(['<', '>']),
        mailto
            .to
            .iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(", "),
        mailwright_sieve::encode_word(&one_line(&subject)),
        crate::mail::rfc5322_date(SystemTime::now()),
        crate::mail::queue_id(),
        body.replace("\r\n", "\n").replace('\n', "\r\n").trim_end(),
    )
    .into_bytes()
}

/// Records the ids the `duplicate` tests asked to remember, now that the copy is stored
/// (RFC 7352 §3: 14 days when the script gives no period, as Pigeonhole's default).
fn remember_duplicates(plan: &Plan, address: &str, home: &Path) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let scripts = SieveScripts::new(home);
    for (key, seconds, _) in &plan.duplicates {
        if let Err(e) = scripts.answered(key, now, seconds.unwrap_or(14 * 86_400)) {
            warn!(user = %address, error = %e, "sieve: cannot record a duplicate id");
        }
    }
}

fn vacation_reply(
    v: &mailwright_sieve::Vacation,
    sender: &str,
    address: &str,
    home: &Path,
    message: &[u8],
    hostname: &str,
) -> Option<Outgoing> {
    let view = super::view::View::new(message);
    let envelope = Envelope {
        from: sender.to_owned(),
        to: address.to_owned(),
        auth: None,
    };
    if let Some(why) = v.refusal(&view, &envelope) {
        info!(user = %address, %sender, reason = why, "sieve: no vacation reply");
        return None;
    }
    let key = format!("{}\t{}", sender.to_ascii_lowercase(), v.handle);
    let now = SystemTime::now();
    let unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match SieveScripts::new(home).answered(&key, unix, v.period.unwrap_or(7 * 86_400)) {
        Ok(false) => {}
        Ok(true) => {
            info!(user = %address, %sender, "sieve: vacation reply sent to this sender already");
            return None;
        }
        Err(e) => {
            warn!(user = %address, error = %e, "sieve: cannot read the vacation record; no reply");
            return None;
        }
    }
    Some(Outgoing {
        from: String::new(),
        to: sender.to_owned(),
        message: v.reply(
            &view,
            &envelope,
            &crate::mail::rfc5322_date(now),
            &format!("<{}.vacation@{hostname}>", crate::mail::queue_id()),
        ),
        what: "vacation",
    })
}

/// The notice to `sender` that `address`'s filter refused their message (RFC 5429 allows a
/// plain notice where no MDN is sent).
pub fn rejection(hostname: &str, sender: &str, address: &str, reason: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\nTo: <{sender}>\r\n\
         Subject: Rejected: your message to {address}\r\nDate: {}\r\n\
         Message-ID: <{}.reject@{hostname}>\r\nAuto-Submitted: auto-replied (rejected)\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your message to <{address}> was rejected by the recipient's mail filter:\r\n\r\n{}\r\n",
        crate::mail::rfc5322_date(SystemTime::now()),
        crate::mail::queue_id(),
        reason.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}
