//! Small pieces of mail formatting: queue ids, RFC 5322 dates, the Received: header.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A queue id unique within this host: microsecond clock and a counter, in upper-case hex.
pub fn queue_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let micros = now.as_micros() as u64;
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) & 0xFFFF;
    format!("{:011X}{seq:04X}", micros & 0xFFF_FFFF_FFFF)
}

/// `Mon, 23 Nov 2026 01:36:12 +0000` (RFC 5322 §3.3), in UTC.
pub fn rfc5322_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub struct ReceivedInfo<'a> {
    pub helo: Option<&'a str>,
    pub peer: SocketAddr,
    pub hostname: &'a str,
    pub esmtp: bool,
    pub tls: bool,
    pub authenticated: bool,
    pub smtputf8: bool,
    pub queue_id: &'a str,
    /// Named in the header only when there is exactly one recipient (RFC 5321 §4.4).
    pub single_recipient: Option<&'a str>,
    pub time: SystemTime,
    /// Leave out the client's name and address (submission: a user's IP address and
    /// machine name stay private).
    pub hide_client: bool,
}

/// The trace header (RFC 5321 §4.4), folded with CRLF + TAB, ending in CRLF.
pub fn received_header(info: &ReceivedInfo<'_>) -> String {
    let protocol = match (info.smtputf8, info.esmtp) {
        (true, _) => "UTF8SMTP",
        (false, true) => "ESMTP",
        (false, false) => "SMTP",
    };
    let suffix = match (info.tls, info.authenticated) {
        (true, true) => "SA",
        (true, false) => "S",
        (false, true) => "A",
        (false, false) => "",
    };
    let ip = info.peer.ip();
    let mut h = String::with_capacity(256);
    let helo = info.helo.unwrap_or("unknown");
    if info.hide_client {
        let _ = write!(
            h,
            "Received: by {} (mailserver) with {protocol}{suffix} id {}",
            info.hostname, info.queue_id
        );
    } else {
        let _ = write!(
            h,
            "Received: from {helo} ([{ip}])\r\n\tby {} (mailserver) with {protocol}{suffix} id {}",
            info.hostname, info.queue_id
        );
    }
    if let Some(rcpt) = info.single_recipient {
        let _ = write!(h, "\r\n\tfor <{rcpt}>");
    }
    let _ = write!(h, ";\r\n\t{}\r\n", rfc5322_date(info.time));
    h
}

/// Watches a message's header as it streams in, for what is decided at the end of DATA: the
/// fields a submission server adds when they are missing (RFC 6409 §8.2, §8.3: Message-ID
/// and Date), and the trace fields that reveal a loop (how many `Received:`, and every
/// `Delivered-To:`, as Postfix's `hopcount_limit` and forwarding-loop check read them).
#[derive(Debug, Clone, Default)]
pub struct HeaderScan {
    done: bool,
    /// In a field's value (not its name).
    in_value: bool,
    name: [u8; 12],
    name_len: usize,
    has_message_id: bool,
    has_date: bool,
    received: u32,
    /// The value of the `Delivered-To:` field being read.
    delivered_value: Option<Vec<u8>>,
    delivered_to: Vec<String>,
}

/// `Delivered-To:` values kept, and the octets of each: a header with more is a loop anyway.
const MAX_DELIVERED_TO: usize = 64;
const MAX_ADDRESS: usize = 320;

impl HeaderScan {
    /// Reads more of the message; stops looking at the empty line that ends the header.
    pub fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if self.done {
                return;
            }
            if self.in_value {
                if b == b'\n' {
                    self.end_value();
                    self.in_value = false;
                    self.name_len = 0;
                } else if let Some(v) = &mut self.delivered_value
                    && v.len() < MAX_ADDRESS
                {
                    v.push(b);
                }
                continue;
            }
            match b {
                b'\n' => {
                    let blank = self.name_len == 0 || (self.name_len == 1 && self.name[0] == b'\r');
                    self.done = blank;
                    self.name_len = 0;
                }
                b':' => {
                    let name = &self.name[..self.name_len.min(self.name.len())];
                    if self.name_len <= self.name.len() {
                        self.has_message_id |= name.eq_ignore_ascii_case(b"message-id");
                        self.has_date |= name.eq_ignore_ascii_case(b"date");
                        if name.eq_ignore_ascii_case(b"received") {
                            self.received += 1;
                        }
                        if name.eq_ignore_ascii_case(b"delivered-to") {
                            self.delivered_value = Some(Vec::new());
                        }
                    }
                    self.in_value = true;
                }
                // A folded line continues the previous field.
                b' ' | b'\t' if self.name_len == 0 => self.in_value = true,
                _ => {
                    if let Some(slot) = self.name.get_mut(self.name_len) {
                        *slot = b;
                    }
                    self.name_len += 1;
                }
            }
        }
    }

    fn end_value(&mut self) {
        if let Some(value) = self.delivered_value.take()
            && self.delivered_to.len() < MAX_DELIVERED_TO
        {
            let text = String::from_utf8_lossy(&value);
            let address = text.trim().trim_start_matches('<').trim_end_matches('>');
            self.delivered_to.push(address.to_ascii_lowercase());
        }
    }

    /// How many `Received:` fields the header has.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Whether the header already has `Delivered-To: <address>` (case-insensitive): the
    /// message was delivered to it before and came back.
    pub fn delivered_to(&self, address: &str) -> bool {
        self.delivered_to
            .iter()
            .any(|a| a.eq_ignore_ascii_case(address))
    }

    /// The fields to put in front of the message.
    pub fn missing(&self, queue_id: &str, hostname: &str, time: SystemTime) -> String {
        let mut h = String::new();
        if !self.has_message_id {
            let _ = write!(h, "Message-ID: <{queue_id}@{hostname}>\r\n");
        }
        if !self.has_date {
            let _ = write!(h, "Date: {}\r\n", rfc5322_date(time));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_397_772);
        assert_eq!(rfc5322_date(t), "Mon, 23 Nov 2026 01:36:12 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc5322_date(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn received() {
        let h = received_header(&ReceivedInfo {
            helo: Some("client.example"),
            peer: "192.0.2.1:4000".parse().unwrap(),
            hostname: "mx.example.com",
            esmtp: true,
            tls: true,
            authenticated: false,
            smtputf8: false,
            queue_id: "ABC",
            single_recipient: Some("a@example.com"),
            time: UNIX_EPOCH,
            hide_client: false,
        });
        assert_eq!(
            h,
            "Received: from client.example ([192.0.2.1])\r\n\tby mx.example.com (mailserver) with ESMTPS id ABC\r\n\tfor <a@example.com>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        assert_ne!(queue_id(), queue_id());
    }

    #[test]
    fn header_scan_finds_fields_in_any_split() {
        let msg = b"Subject: x\r\nDATE: now\r\nX-Long-Field-Name-Here: y\r\n folded Message-ID: no\r\n\r\nMessage-ID: <body>\r\n";
        for split in 0..msg.len() {
            let mut scan = HeaderScan::default();
            scan.feed(&msg[..split]);
            scan.feed(&msg[split..]);
            assert_eq!(
                scan.missing("Q1", "mx.example", UNIX_EPOCH),
                "Message-ID: <Q1@mx.example>\r\n"
            );
        }
        let mut scan = HeaderScan::default();
        scan.feed(b"message-id: <a@b>\nDate: x\n\n");
        assert_eq!(scan.missing("Q1", "mx.example", UNIX_EPOCH), "");
    }

    #[test]
    fn header_scan_counts_hops_and_reads_delivered_to() {
        let mut scan = HeaderScan::default();
        let message = b"Received: from a\r\n\tby b; date\r\nDelivered-To: Alice@Example.com\r\nReceived: from c\r\nDelivered-To: <bob@example.com>\r\nSubject: x\r\n\r\nReceived: not a header\r\nDelivered-To: carol@example.com\r\n";
        // Fed in pieces, as DATA arrives.
        for piece in message.chunks(7) {
            scan.feed(piece);
        }
        assert_eq!(scan.received(), 2);
        assert!(scan.delivered_to("alice@example.com"));
        assert!(scan.delivered_to("BOB@example.com"));
        assert!(
            !scan.delivered_to("carol@example.com"),
            "the body is not the header"
        );
    }

    proptest::proptest! {
        /// However a message arrives in pieces, the scan sees the same header, and keeps no
        /// more than its bounds whatever the input.
        #[test]
        fn header_scan_ignores_how_input_is_split(
            fields in proptest::collection::vec(
                (0..4usize, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)),
                0..90,
            ),
            cut in 0usize..40_000,
        ) {
            let names: [&[u8]; 4] = [b"Received: ", b"Delivered-To: ", b"Subject: ", b"\t"];
            let mut message = Vec::new();
            for (name, value) in &fields {
                message.extend_from_slice(names[*name]);
                message.extend_from_slice(value);
                message.extend_from_slice(b"\r\n");
            }
            let mut whole = HeaderScan::default();
            whole.feed(&message);
            let mut split = HeaderScan::default();
            let cut = cut.min(message.len());
            split.feed(&message[..cut]);
            split.feed(&message[cut..]);
            proptest::prop_assert_eq!(whole.received(), split.received());
            proptest::prop_assert_eq!(&whole.delivered_to, &split.delivered_to);
            proptest::prop_assert!(whole.delivered_to.len() <= MAX_DELIVERED_TO);
            proptest::prop_assert!(whole.delivered_to.iter().all(|a| a.chars().count() <= MAX_ADDRESS));
        }
    }
}
