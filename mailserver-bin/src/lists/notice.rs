//! The messages a list writes itself (confirmations, notices, answers to commands): their
//! shape, and the addresses of its commands.

use crate::accounts::MailingList;

/// A message the list sends in answer: to whom, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub to: String,
    pub message: Vec<u8>,
}

/// `compose`'s message as an answer to `to`.
pub fn reply(
    list: &MailingList,
    to: &str,
    subject: &str,
    reply_to: Option<&str>,
    body: &str,
    now: i64,
) -> Answer {
    Answer {
        to: to.to_owned(),
        message: compose(list, to, subject, reply_to, body, now),
    }
}

/// A message from the list to `to` (automatic: `Auto-Submitted`, so no vacation answers it).
pub fn compose(
    list: &MailingList,
    to: &str,
    subject: &str,
    reply_to: Option<&str>,
    body: &str,
    now: i64,
) -> Vec<u8> {
    let address = &list.address;
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64);
    let mut out = format!(
        "From: <{}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {}\r\nMessage-ID: <{}.list@{domain}>\r\n\
         Auto-Submitted: auto-replied\r\nList-Id: <{}>\r\n",
        command_address(address, "help"),
        crate::mail::rfc5322_date(time),
        crate::mail::queue_id(),
        address.replacen('@', ".", 1),
    );
    if let Some(r) = reply_to {
        out.push_str(&format!("Reply-To: <{r}>\r\n"));
    }
    out.push_str(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
    );
    out.push_str(body);
    out.into_bytes()
}

/// `message` (made by `compose`, with an empty body) as a multipart/mixed: `text`, then
/// `post` as a message/rfc822 part.
pub fn attached(message: Vec<u8>, text: &str, post: &[u8]) -> Vec<u8> {
    let boundary = format!("=_held_{}", crate::mail::queue_id());
    let text_header =
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
    let at = memchr::memmem::find(&message, text_header).unwrap_or(message.len());
    let mut out = message[..at].to_vec();
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             {text}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(post);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The first `name` field of `message`, decoded (RFC 2047) and unfolded, for a subject
/// line; empty when there is none.
pub fn header_value(message: &[u8], name: &str) -> String {
    let header = &message[..crate::message::header_len(message)];
    crate::message::fields(header)
        .into_iter()
        .find(|f| crate::message::name(f).eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| {
            let colon = f.iter().position(|&b| b == b':').unwrap_or(0);
            let value = crate::message::decode_words(&f[colon + 1..]);
            value.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .unwrap_or_default()
}

/// `local+command@domain` of the list `local@domain`.
pub fn command_address(list: &str, command: &str) -> String {
    match list.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{command}@{domain}"),
        None => format!("{list}+{command}"),
    }
}
