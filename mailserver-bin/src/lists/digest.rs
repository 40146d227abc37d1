//! A list's digest (RFC 2046 §5.1.5, as mlmmj and Mailman send it): one message holding the
//! posts since the last one, for the members who asked for it instead of each post. It is
//! `multipart/mixed`: a table of contents in plain text, then a `multipart/digest` whose
//! parts are the posts as the list sent them.

use super::notice::header_value;
use crate::accounts::MailingList;

/// The digest of `posts` (the list's copies, oldest first) for `list` at `now` (seconds
/// since the epoch), with the list's own fields on it.
pub fn compose(list: &MailingList, posts: &[&[u8]], now: i64) -> Vec<u8> {
    let address = &list.address;
    let label = match list.name.is_empty() {
        true => address.clone(),
        false => list.name.clone(),
    };
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64);
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    let boundary = boundary(posts, now);
    let mut contents = format!("{label}: {} posts\r\n\r\n", posts.len());
    for (i, post) in posts.iter().enumerate() {
        let from = header_value(post, "from");
        contents.push_str(&format!(
            "{:>3}. {} ({})\r\n",
            i + 1,
            header_value(post, "subject"),
            from
        ));
    }
    let mut out = format!(
        "From: {} <{address}>\r\nTo: <{address}>\r\nSubject: {label} digest, {} posts\r\n\
         Date: {}\r\nMessage-ID: <{}.digest@{domain}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}-m\"\r\n\r\n\
         --{boundary}-m\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{contents}\r\n\
         --{boundary}-m\r\nContent-Type: multipart/digest; boundary=\"{boundary}-d\"\r\n\r\n",
        super::phrase(&label),
        posts.len(),
        crate::mail::rfc5322_date(time),
        crate::mail::queue_id(),
    )
    .into_bytes();
    for post in posts {
        // Each part's type is message/rfc822, the default within a digest.
        out.extend_from_slice(format!("--{boundary}-d\r\n\r\n").as_bytes());
        out.extend_from_slice(post);
        if !post.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(format!("--{boundary}-d--\r\n\r\n--{boundary}-m--\r\n").as_bytes());
    super::rewrite(list, &out, false)
}

/// A boundary no post holds.
fn boundary(posts: &[&[u8]], now: i64) -> String {
    let mut n = 0u32;
    loop {
        let candidate = format!("=_digest_{now}_{n}");
        if !posts
            .iter()
            .any(|p| memchr::memmem::find(p, candidate.as_bytes()).is_some())
        {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Posting, ReplyTo, Subscription};

    #[test]
    fn a_digest_holds_each_post_whole_and_a_table_of_contents() {
        let list = MailingList {
            address: "team@example.com".into(),
            name: "Team".into(),
            description: String::new(),
            posting: Posting::Members,
            subscription: Subscription::Confirm,
            subject_prefix: String::new(),
            reply_to: ReplyTo::List,
            max_size: 0,
            archive: crate::accounts::Archive::Kept,
            active: true,
        };
        let one: &[u8] =
            b"From: A <a@example.com>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\none\r\n";
        let two: &[u8] = b"From: b@example.com\r\nSubject: two\r\n\r\n--=_digest_5_0\r\n";
        let out = String::from_utf8(compose(&list, &[one, two], 5)).unwrap();
        for part in [
            "List-Id: Team <team.example.com>\r\n",
            "Subject: Team digest, 2 posts\r\n",
            "boundary=\"=_digest_5_1-m\"",
            "  1. café (A <a@example.com>)\r\n  2. two (b@example.com)\r\n",
            "Content-Type: multipart/digest; boundary=\"=_digest_5_1-d\"\r\n\r\n--=_digest_5_1-d\r\n\r\nFrom: A",
            "--=_digest_5_1-d\r\n\r\nFrom: b@example.com",
            "--=_digest_5_1-d--\r\n\r\n--=_digest_5_1-m--\r\n",
        ] {
            assert!(out.contains(part), "{part:?} in {out}");
        }
    }
}
