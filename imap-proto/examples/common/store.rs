//! The data of the example IMAP servers: one INBOX in memory.
use std::sync::{Arc, Mutex};

use mailwright_imap::{Flag, SequenceSet};

/// Never changes: the INBOX is never recreated.
pub const UIDVALIDITY: u32 = 1;
/// The flags clients may set (no `\Deleted`: this example never expunges).
pub const FLAGS: [Flag; 4] = [Flag::Answered, Flag::Flagged, Flag::Seen, Flag::Draft];

/// A stored message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its UID.
    pub uid: u32,
    /// Its flags.
    pub flags: Vec<Flag>,
    /// Its octets.
    pub body: Vec<u8>,
}

/// The INBOX: messages in UID order.
#[derive(Debug)]
pub struct Inbox {
    /// The UID the next message gets.
    pub uid_next: u32,
    /// The messages.
    pub messages: Vec<Message>,
}

impl Inbox {
    /// Stores a message; returns its UID.
    pub fn store(&mut self, flags: Vec<Flag>, body: Vec<u8>) -> u32 {
        let uid = self.uid_next;
        self.uid_next += 1;
        self.messages.push(Message { uid, flags, body });
        uid
    }
}

/// The messages a set names: (sequence number, index), by UID for UID commands.
pub fn chosen(uid: bool, set: &SequenceSet, inbox: &Inbox) -> Vec<(u32, usize)> {
    let (count, last_uid) = (inbox.messages.len() as u32, inbox.uid_next - 1);
    let named = |(i, m): (usize, &Message)| {
        let seq = i as u32 + 1;
        let hit = if uid {
            set.contains(m.uid, last_uid)
        } else {
            set.contains(seq, count)
        };
        hit.then_some((seq, i))
    };
    inbox
        .messages
        .iter()
        .enumerate()
        .filter_map(named)
        .collect()
}

/// Messages never leave the INBOX here (no EXPUNGE), so sequence numbers never shift.
pub type Shared = Arc<Mutex<Inbox>>;

/// An INBOX with one message.
pub fn inbox() -> Shared {
    let body = b"Subject: Welcome\r\nFrom: <postmaster@example.com>\r\n\r\nHello.\r\n".to_vec();
    let welcome = Message {
        uid: 1,
        flags: Vec::new(),
        body,
    };
    Arc::new(Mutex::new(Inbox {
        uid_next: 2,
        messages: vec![welcome],
    }))
}
