//! A milter client, as Postfix's smtpd is one (Sendmail's milter protocol, version 6), so
//! rspamd, OpenDKIM, clamav-milter and the like plug in as they do into Postfix. The
//! transaction is replayed to the filter at the end of DATA: connect, HELO, MAIL, RCPT, the
//! header fields, the body and its end, with the macros filters commonly ask for; the filter
//! answers accept, continue, reject, tempfail, discard or a reply of its own, and at the end
//! may add, insert or change header fields and ask for quarantine.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::headers::Edit;
use super::scanner::{ScanError, Stream, connect, io};

/// The protocol version we speak.
const VERSION: u32 = 6;
/// What we let a filter do: add fields, change fields, quarantine.
const ACTIONS: u32 = 0x01 | 0x10 | 0x20;
/// The steps a filter may skip (`SMFIP_NO*`) or not answer (`SMFIP_NR_*`).
const NO_CONNECT: u32 = 0x1;
const NO_HELO: u32 = 0x2;
const NO_MAIL: u32 = 0x4;
const NO_RCPT: u32 = 0x8;
const NO_BODY: u32 = 0x10;
const NO_HEADERS: u32 = 0x20;
const NO_EOH: u32 = 0x40;
const NR_HEADER: u32 = 0x80;
const NO_DATA: u32 = 0x200;
const NR_CONNECT: u32 = 0x1000;
const NR_HELO: u32 = 0x2000;
const NR_MAIL: u32 = 0x4000;
const NR_RCPT: u32 = 0x8000;
const NR_DATA: u32 = 0x10000;
const NR_EOH: u32 = 0x40000;
const NR_BODY: u32 = 0x80000;
/// Every step bit we honour, offered in the negotiation.
const STEPS: u32 = 0x7FF & !0x100 | 0xDF000;
/// Octets per body packet (the protocol's `MILTER_CHUNK_SIZE`).
const BODY_CHUNK: usize = 65_535;
/// The largest packet we read from a filter.
const MAX_PACKET: usize = 1 << 20;

/// What the SMTP transaction said, as the filter is told it.
pub struct Envelope<'a> {
    pub client_ip: IpAddr,
    pub client_port: u16,
    /// The client's name (its address in brackets when it has none checked).
    pub client_name: &'a str,
    pub helo: &'a str,
    /// The envelope sender, empty for `<>`.
    pub sender: &'a str,
    pub recipients: &'a [String],
    pub queue_id: &'a str,
    /// Our host name (macro `j`).
    pub hostname: &'a str,
}

/// What the filter decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// 5xx: the code, and the rest of the reply (enhanced code and text).
    Reject(u16, String),
    /// 4xx, likewise.
    Tempfail(u16, String),
    /// Accepted and thrown away (`SMFIR_DISCARD`).
    Discard,
    /// Accepted and held (`SMFIR_QUARANTINE`): we deliver it to Junk.
    Quarantine(String),
}

/// The filter's verdict and the header changes it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilterVerdict {
    pub decision: Decision,
    pub edits: Vec<Edit>,
}

/// A connection to one filter, with the steps it negotiated.
struct Session {
    stream: Box<dyn Stream>,
    address: String,
    protocol: u32,
}

/// Asks the milter at `address` about `message` (as received).
pub async fn check(
    address: &str,
    envelope: &Envelope<'_>,
    message: &[u8],
) -> Result<MilterVerdict, ScanError> {
    let stream = connect(address).await?;
    let mut s = Session {
        stream,
        address: address.to_owned(),
        protocol: 0,
    };
    s.negotiate().await?;
    let verdict = s.replay(envelope, message).await;
    // Whatever the outcome, the filter is told we are done.
    let _ = s.send(b'Q', &[]).await;
    verdict
}

impl Session {
    async fn negotiate(&mut self) -> Result<(), ScanError> {
        let mut data = Vec::with_capacity(12);
        data.extend_from_slice(&VERSION.to_be_bytes());
        data.extend_from_slice(&ACTIONS.to_be_bytes());
        data.extend_from_slice(&STEPS.to_be_bytes());
        self.send(b'O', &data).await?;
        let (command, answer) = self.read().await?;
        if command != b'O' || answer.len() < 12 {
            return Err(self.bad("no option negotiation"));
        }
        let word =
            |i: usize| u32::from_be_bytes([answer[i], answer[i + 1], answer[i + 2], answer[i + 3]]);
        if word(0) < 2 {
            return Err(self.bad("protocol version below 2"));
        }
        self.protocol = word(8) & STEPS;
        Ok(())
    }

    /// The transaction, step by step; the first decision other than "continue" ends it.
    async fn replay(
        &mut self,
        e: &Envelope<'_>,
        message: &[u8],
    ) -> Result<MilterVerdict, ScanError> {
        let accept = |decision| {
            Ok(MilterVerdict {
                decision,
                edits: Vec::new(),
            })
        };
        self.macros(
            b'C',
            &[
                ("j", e.hostname),
                ("{daemon_name}", "mailwright"),
                ("_", e.client_name),
            ],
        )
        .await?;
        let mut connect = zstr(e.client_name);
        match e.client_ip {
            IpAddr::V4(ip) => {
                connect.push(b'4');
                connect.extend_from_slice(&e.client_port.to_be_bytes());
                connect.extend_from_slice(&zstr(&ip.to_string()));
            }
            IpAddr::V6(ip) => {
                connect.push(b'6');
                connect.extend_from_slice(&e.client_port.to_be_bytes());
                connect.extend_from_slice(&zstr(&ip.to_string()));
            }
        }
        if let Some(d) = self.step(b'C', &connect, NO_CONNECT, NR_CONNECT).await? {
            return accept(d);
        }
        if let Some(d) = self.step(b'H', &zstr(e.helo), NO_HELO, NR_HELO).await? {
            return accept(d);
        }
        self.macros(b'M', &[("{i}", e.queue_id), ("{mail_addr}", e.sender)])
            .await?;
        let from = zstr(&format!("<{}>", e.sender));
        if let Some(d) = self.step(b'M', &from, NO_MAIL, NR_MAIL).await? {
            return accept(d);
        }
        for rcpt in e.recipients {
            self.macros(b'R', &[("{rcpt_addr}", rcpt)]).await?;
            let to = zstr(&format!("<{rcpt}>"));
            if let Some(d) = self.step(b'R', &to, NO_RCPT, NR_RCPT).await? {
                return accept(d);
            }
        }
        if let Some(d) = self.step(b'T', &[], NO_DATA, NR_DATA).await? {
            return accept(d);
        }
        let len = crate::message::header_len(message);
        for field in crate::message::fields(&message[..len]) {
            let colon = memchr::memchr(b':', field).unwrap_or(0);
            let name = crate::message::name(field);
            let value = &field[(colon + 1).min(field.len())..];
            // One leading space is the separator, as Postfix strips it.
            let value = value.strip_prefix(b" ").unwrap_or(value);
            let value = value
                .strip_suffix(b"\r\n")
                .or_else(|| value.strip_suffix(b"\n"))
                .unwrap_or(value);
            let mut data = Vec::with_capacity(field.len() + 2);
            data.extend_from_slice(name);
            data.push(0);
            // Folded lines are sent with LF alone, as Postfix sends them.
            data.extend(value.iter().filter(|&&b| b != b'\r'));
            data.push(0);
            if let Some(d) = self.step(b'L', &data, NO_HEADERS, NR_HEADER).await? {
                return accept(d);
            }
        }
        if let Some(d) = self.step(b'N', &[], NO_EOH, NR_EOH).await? {
            return accept(d);
        }
        let body = message.get(len..).unwrap_or_default();
        let body = body
            .strip_prefix(b"\r\n")
            .or_else(|| body.strip_prefix(b"\n"))
            .unwrap_or(body);
        if self.protocol & NO_BODY == 0 {
            for chunk in body.chunks(BODY_CHUNK) {
                match self.step(b'B', chunk, 0, NR_BODY).await {
                    Err(Skip::Rest) => break,
                    Err(Skip::Failed(e)) => return Err(e),
                    Ok(Some(d)) => return accept(d),
                    Ok(None) => {}
                }
            }
        }
        self.send(b'E', &[]).await?;
        self.end_of_message().await
    }

    /// Sends one step unless the filter skips it, and reads its answer unless it does not
    /// give one. `Some` is a decision that ends the transaction; `Skip::Rest`, the filter's
    /// "skip" to a body chunk: it wants no more of the body.
    async fn step(
        &mut self,
        command: u8,
        data: &[u8],
        skip: u32,
        no_reply: u32,
    ) -> Result<Option<Decision>, Skip> {
        if skip != 0 && self.protocol & skip != 0 {
            return Ok(None);
        }
        self.send(command, data).await?;
        if self.protocol & no_reply != 0 {
            return Ok(None);
        }
        loop {
            let (reply, data) = self.read().await?;
            match reply {
                b'c' => return Ok(None),
                b'p' => continue,
                // SMFIR_SKIP: no more body wanted.
                b's' if command == b'B' => return Err(Skip::Rest),
                _ => return Ok(Some(self.decision(reply, &data)?)),
            }
        }
    }

    /// The answers to the end of the message: header changes, then a decision.
    async fn end_of_message(&mut self) -> Result<MilterVerdict, ScanError> {
        let mut edits = Vec::new();
        let mut quarantine = None;
        loop {
            let (reply, data) = self.read().await?;
            let strings: Vec<String> = data
                .split(|&b| b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            let text = |i: usize| strings.get(i).cloned().unwrap_or_default();
            let index = || {
                data.get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .unwrap_or(0)
            };
            let after_index = || -> Vec<String> {
                data.get(4..)
                    .unwrap_or_default()
                    .split(|&b| b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            };
            match reply {
                b'h' => edits.push(Edit::Add {
                    name: text(0),
                    value: text(1),
                }),
                b'i' => {
                    let s = after_index();
                    edits.push(Edit::Insert {
                        index: index(),
                        name: s.first().cloned().unwrap_or_default(),
                        value: s.get(1).cloned().unwrap_or_default(),
                    });
                }
                b'm' => {
                    let s = after_index();
                    edits.push(Edit::Change {
                        name: s.first().cloned().unwrap_or_default(),
                        occurrence: index().max(1),
                        value: s.get(1).cloned().unwrap_or_default(),
                    });
                }
                b'q' => quarantine = Some(text(0)),
                b'p' => {}
                // Changes we did not allow (body, recipients, sender, macros) are not made.
                b'b' | b'+' | b'2' | b'-' | b'e' | b'l' => {
                    tracing::warn!(filter = %self.address, action = %char::from(reply), "milter asked for a change it may not make; ignored");
                }
                _ => {
                    let mut decision = self.decision(reply, &data)?;
                    if let (Decision::Accept, Some(reason)) = (&decision, quarantine.take()) {
                        decision = Decision::Quarantine(reason);
                    }
                    return Ok(MilterVerdict { decision, edits });
                }
            }
        }
    }

    /// A final answer.
    fn decision(&self, reply: u8, data: &[u8]) -> Result<Decision, ScanError> {
        Ok(match reply {
            b'a' | b'c' => Decision::Accept,
            b'r' => Decision::Reject(550, "5.7.1 Command rejected".into()),
            // Tempfail, and the filter's own failure or shutdown (SMFIR_CONN_FAIL, _SHUTDOWN).
            b't' | b'f' | b'4' => {
                Decision::Tempfail(451, "4.7.1 Service unavailable - try again later".into())
            }
            b'd' => Decision::Discard,
            b'y' => {
                let text = String::from_utf8_lossy(data);
                let text = text.trim_end_matches('\0').trim();
                let (code, rest) = text.split_at(text.len().min(3));
                match code.parse::<u16>() {
                    Ok(c @ 500..=599) => Decision::Reject(c, rest.trim().to_owned()),
                    Ok(c @ 400..=499) => Decision::Tempfail(c, rest.trim().to_owned()),
                    _ => return Err(self.bad("a reply code outside 4xx and 5xx")),
                }
            }
            other => {
                return Err(self.bad(&format!("an unknown answer {:?}", char::from(other))));
            }
        })
    }

    /// Macros for the step `command` (`SMFIC_MACRO`), unless the filter skips that step.
    async fn macros(&mut self, command: u8, pairs: &[(&str, &str)]) -> Result<(), ScanError> {
        let mut data = vec![command];
        for (name, value) in pairs {
            data.extend_from_slice(&zstr(name));
            data.extend_from_slice(&zstr(value));
        }
        self.send(b'D', &data).await
    }

    async fn send(&mut self, command: u8, data: &[u8]) -> Result<(), ScanError> {
        let len = u32::try_from(data.len() + 1).map_err(|_| self.bad("a packet too large"))?;
        let mut packet = Vec::with_capacity(data.len() + 5);
        packet.extend_from_slice(&len.to_be_bytes());
        packet.push(command);
        packet.extend_from_slice(data);
        self.stream
            .write_all(&packet)
            .await
            .map_err(io(&self.address))
    }

    async fn read(&mut self) -> Result<(u8, Vec<u8>), ScanError> {
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .await
            .map_err(io(&self.address))?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(self.bad("a packet of a bad length"));
        }
        let mut packet = vec![0u8; len];
        self.stream
            .read_exact(&mut packet)
            .await
            .map_err(io(&self.address))?;
        let data = packet.split_off(1);
        Ok((packet[0], data))
    }

    fn bad(&self, what: &str) -> ScanError {
        ScanError::Answer {
            address: self.address.clone(),
            answer: what.to_owned(),
        }
    }
}

/// Why a step ended early: the filter wants no more of the body, or the exchange failed.
enum Skip {
    Rest,
    Failed(ScanError),
}

impl From<ScanError> for Skip {
    fn from(e: ScanError) -> Self {
        Skip::Failed(e)
    }
}

impl From<Skip> for ScanError {
    fn from(s: Skip) -> Self {
        match s {
            Skip::Failed(e) => e,
            Skip::Rest => ScanError::Answer {
                address: String::new(),
                answer: "skip outside the body".into(),
            },
        }
    }
}

/// `s` NUL-terminated.
fn zstr(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn packet(s: &mut tokio::net::TcpStream) -> (u8, Vec<u8>) {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut p = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut p).await.unwrap();
        let data = p.split_off(1);
        (p[0], data)
    }

    async fn answer(s: &mut tokio::net::TcpStream, command: u8, data: &[u8]) {
        let mut p = ((data.len() + 1) as u32).to_be_bytes().to_vec();
        p.push(command);
        p.extend_from_slice(data);
        s.write_all(&p).await.unwrap();
    }

    /// A filter that skips HELO, answers nothing to headers, wants no more body after the
    /// first chunk, and at the end inserts, changes and adds fields and quarantines.
    #[tokio::test]
    async fn a_filter_is_told_the_transaction_and_its_changes_are_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let filter = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (command, data) = packet(&mut s).await;
            assert_eq!((command, &data[..4]), (b'O', &6u32.to_be_bytes()[..]));
            let mut reply = 6u32.to_be_bytes().to_vec();
            reply.extend_from_slice(&ACTIONS.to_be_bytes());
            reply.extend_from_slice(&(NO_HELO | NR_HEADER).to_be_bytes());
            answer(&mut s, b'O', &reply).await;
            let mut seen = Vec::new();
            loop {
                let (command, data) = packet(&mut s).await;
                seen.push((command, data.clone()));
                match command {
                    b'D' | b'L' => {}
                    b'B' => answer(&mut s, b's', &[]).await,
                    b'E' => {
                        answer(&mut s, b'i', b"\0\0\0\0X-First\0yes\0").await;
                        answer(&mut s, b'm', b"\0\0\0\x01Subject\0[spam] hi\0").await;
                        answer(&mut s, b'h', b"X-Filter\0seen\0").await;
                        answer(&mut s, b'q', b"held for review\0").await;
                        answer(&mut s, b'a', &[]).await;
                    }
                    b'Q' => return seen,
                    _ => answer(&mut s, b'c', &[]).await,
                }
            }
        });
        let recipients = vec!["alice@example.com".to_owned()];
        let envelope = Envelope {
            client_ip: "192.0.2.7".parse().unwrap(),
            client_port: 4321,
            client_name: "[192.0.2.7]",
            helo: "client.example",
            sender: "bob@client.example",
            recipients: &recipients,
            queue_id: "Q1",
            hostname: "mx.example.com",
        };
        let message = b"Subject: hi\r\nTo: alice@example.com\r\n\tfolded\r\n\r\nbody\r\n";
        let verdict = check(&address, &envelope, message).await.unwrap();
        assert_eq!(
            verdict.decision,
            Decision::Quarantine("held for review".into())
        );
        assert_eq!(
            verdict.edits,
            [
                Edit::Insert {
                    index: 0,
                    name: "X-First".into(),
                    value: "yes".into()
                },
                Edit::Change {
                    name: "Subject".into(),
                    occurrence: 1,
                    value: "[spam] hi".into()
                },
                Edit::Add {
                    name: "X-Filter".into(),
                    value: "seen".into()
                },
            ]
        );
        let seen = filter.await.unwrap();
        let commands: Vec<u8> = seen.iter().map(|(c, _)| *c).collect();
        // HELO skipped; macros before connect, MAIL and RCPT; two fields, no reply to them.
        assert_eq!(commands, b"DCDMDRTLLNBEQ");
        assert_eq!(seen[1].1, b"[192.0.2.7]\x004\x10\xe1192.0.2.7\x00");
        assert_eq!(seen[3].1, b"<bob@client.example>\x00");
        assert_eq!(seen[7].1, b"Subject\0hi\0");
        assert_eq!(seen[8].1, b"To\0alice@example.com\n\tfolded\0");
        assert_eq!(seen[10].1, b"body\r\n");
    }
}
