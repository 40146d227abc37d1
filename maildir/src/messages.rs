//! A folder's messages in UID order, held in shared chunks: a listing made from another by a
//! few changes (a flag set, a message appended or expunged) copies the chunks those changes
//! touch and shares the rest. Copying a whole 100,000-message listing for each change cost
//! about 18 ms (every message holds three reference-counted strings, each a cache miss);
//! copying one chunk costs a few microseconds.
//!
//! A listing read from a folder's snapshot on disk leaves each chunk in the file until a
//! message of it is first looked at: the first SELECT of a 100,000-message folder after a
//! restart then reads the snapshot's header, not its 100,000 records (making them took
//! 23-27 ms, most of it the kernel handing the process fresh pages; benches/imap-scale.sh).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::Message;
use crate::snapshot::Stored;

/// Messages per chunk: small enough that copying one is cheap, large enough that the chunk
/// table of a large folder stays short.
const CHUNK: usize = 512;

/// Messages in UID order (see the module's note). Indexes like a slice.
#[derive(Debug, Clone, Default)]
pub struct Messages {
    chunks: Vec<Arc<Chunk>>,
    /// The index of each chunk's first message.
    starts: Vec<usize>,
    len: usize,
    /// Set when a chunk could not be read back from the snapshot it was left in.
    damage: Option<Arc<AtomicBool>>,
}

impl PartialEq for Messages {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Messages {}

/// Up to [`CHUNK`] messages: in memory, or still in a snapshot file (read on first use).
#[derive(Debug, Clone, Default)]
struct Chunk {
    /// The messages, when in memory (else empty).
    loaded: Vec<Message>,
    /// Where they are while not in memory, and once read from there (shared use).
    stored: Option<Box<(OnceLock<Vec<Message>>, Stored)>>,
}

impl Chunk {
    fn of(messages: Vec<Message>) -> Self {
        Chunk {
            loaded: messages,
            stored: None,
        }
    }

    fn messages(&self) -> &[Message] {
        match &self.stored {
            Some(s) => s.0.get_or_init(|| s.1.read()),
            None => &self.loaded,
        }
    }

    fn messages_mut(&mut self) -> &mut Vec<Message> {
        if let Some(s) = self.stored.take() {
            let (read, from) = *s;
            self.loaded = read.into_inner().unwrap_or_else(|| from.read());
        }
        &mut self.loaded
    }

    /// How many messages, without reading a stored chunk.
    fn len(&self) -> usize {
        match &self.stored {
            Some(s) => s.1.count,
            None => self.loaded.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first and last UID, without reading a stored chunk.
    fn uid_range(&self) -> Option<(u32, u32)> {
        match &self.stored {
            Some(s) => Some(s.1.uids),
            None => Some((self.loaded.first()?.uid, self.loaded.last()?.uid)),
        }
    }
}

impl From<Vec<Message>> for Messages {
    fn from(messages: Vec<Message>) -> Self {
        let mut out = Messages::default();
        let mut messages = messages.into_iter().peekable();
        while messages.peek().is_some() {
            let chunk: Vec<Message> = messages.by_ref().take(CHUNK).collect();
            out.starts.push(out.len);
            out.len += chunk.len();
            out.chunks.push(Arc::new(Chunk::of(chunk)));
        }
        out
    }
}

impl std::ops::Index<usize> for Messages {
    type Output = Message;

    fn index(&self, i: usize) -> &Message {
        let (k, j) = self.locate(i);
        &self.chunks[k].messages()[j]
    }
}

impl<'a> IntoIterator for &'a Messages {
    type Item = &'a Message;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The messages of a [`Messages`] in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    chunks: std::slice::Iter<'a, Arc<Chunk>>,
    current: std::slice::Iter<'a, Message>,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Message;

    fn next(&mut self) -> Option<&'a Message> {
        loop {
            if let Some(m) = self.current.next() {
                self.left -= 1;
                return Some(m);
            }
            self.current = self.chunks.next()?.messages().iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Messages {
    /// How many messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message at `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&Message> {
        (i < self.len).then(|| &self[i])
    }

    /// The last message (the highest UID).
    pub fn last(&self) -> Option<&Message> {
        self.chunks.last().and_then(|c| c.messages().last())
    }

    /// The messages in UID order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The messages from index `i` on.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        if i >= self.len {
            return Iter {
                chunks: [].iter(),
                current: [].iter(),
                left: 0,
            };
        }
        let (k, j) = self.locate(i);
        Iter {
            chunks: self.chunks[k + 1..].iter(),
            current: self.chunks[k].messages()[j..].iter(),
            left: self.len - i,
        }
    }

    /// The index of the first message for which `pred` is false (`pred` must be true for a
    /// prefix, as with [`slice::partition_point`]).
    pub fn partition_point(&self, mut pred: impl FnMut(&Message) -> bool) -> usize {
        let k = self
            .chunks
            .partition_point(|c| c.messages().last().is_some_and(&mut pred));
        match self.chunks.get(k) {
            Some(chunk) => self.starts[k] + chunk.messages().partition_point(pred),
            None => self.len,
        }
    }

    /// The index of the message with UID `uid`.
    pub fn position(&self, uid: u32) -> Option<usize> {
        let i = self.partition_point(|m| m.uid < uid);
        (self.get(i)?.uid == uid).then_some(i)
    }

    /// The message at `i`, to change: its chunk is copied first if another listing shares it.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Message> {
        if i >= self.len {
            return None;
        }
        let (k, j) = self.locate(i);
        Some(&mut Arc::make_mut(&mut self.chunks[k]).messages_mut()[j])
    }

    /// Every message, to change (copying every shared chunk).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Message> {
        self.chunks
            .iter_mut()
            .flat_map(|c| Arc::make_mut(c).messages_mut().iter_mut())
    }

    /// Adds `message` after the last (its UID must be higher).
    pub fn push(&mut self, message: Message) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).messages_mut().push(message),
            _ => {
                // A folder that fills one chunk will likely fill the next: made at its size
                // at once, not grown by doubling (a large snapshot loads 10% faster).
                let mut chunk = Vec::with_capacity(if self.len >= CHUNK { CHUNK } else { 1 });
                chunk.push(message);
                self.starts.push(self.len);
                self.chunks.push(Arc::new(Chunk::of(chunk)));
            }
        }
        self.len += 1;
    }

    /// Adds a chunk still in a snapshot file after the last (its UIDs must be higher).
    pub(crate) fn push_stored(&mut self, stored: Stored) {
        if stored.count == 0 {
            return;
        }
        self.damage = Some(stored.damage());
        self.starts.push(self.len);
        self.len += stored.count;
        self.chunks.push(Arc::new(Chunk {
            loaded: Vec::new(),
            stored: Some(Box::new((OnceLock::new(), stored))),
        }));
    }

    /// The messages chunk by chunk (to write them out).
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[Message]> {
        self.chunks.iter().map(|c| c.messages())
    }

    /// Whether a chunk could not be read back from its snapshot (the file changed under us
    /// or the disk failed): its messages are then stand-ins that name no file, and the
    /// folder is to be read again (see the `snapshot` module).
    pub fn damaged(&self) -> bool {
        self.damage
            .as_ref()
            .is_some_and(|d| d.load(Ordering::SeqCst))
    }

    /// Removes the messages with the UIDs `uids` (ascending); those not there are ignored.
    pub fn remove_uids(&mut self, uids: &[u32]) {
        let mut touched = false;
        for chunk in &mut self.chunks {
            let Some((lo, hi)) = chunk.uid_range() else {
                continue;
            };
            let from = uids.partition_point(|&u| u < lo);
            if uids.get(from).is_none_or(|&u| u > hi) {
                continue;
            }
            let here = &uids[from..uids.partition_point(|&u| u <= hi)];
            Arc::make_mut(chunk)
                .messages_mut()
                .retain(|m| here.binary_search(&m.uid).is_err());
            touched = true;
        }
        if touched {
            self.chunks.retain(|c| !c.is_empty());
            self.starts.clear();
            self.len = 0;
            for c in &self.chunks {
                self.starts.push(self.len);
                self.len += c.len();
            }
        }
    }

    /// Where `self` differs from `older`, when it was made from `older` by changing messages
    /// in place and adding messages after the last (no message removed, so every message of
    /// `older` is still at its index): the index ranges, below `older.len()`, of the chunks
    /// not shared with `older`. Every message outside them is the same one, unchanged; one
    /// inside may have changed (but has the same UID). `None` when it was not made that way.
    ///
    /// A session telling its client of a change walks these ranges instead of the whole
    /// folder: at 100,000 messages the whole walk cost about 3 ms of CPU per APPEND
    /// (benches/imap-scale.sh).
    pub fn changed_since(&self, older: &Messages) -> Option<Vec<std::ops::Range<usize>>> {
        if self.len < older.len {
            return None;
        }
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        let last = older.chunks.len().saturating_sub(1);
        for (k, (old, &start)) in older.chunks.iter().zip(&older.starts).enumerate() {
            let new = self.chunks.get(k)?;
            if self.starts[k] != start {
                return None;
            }
            if Arc::ptr_eq(old, new) {
                continue;
            }
            // Only the last chunk grows; any other of another length lost a message.
            let grown = new.len() > old.len();
            if new.len() < old.len() || (grown && k != last) {
                return None;
            }
            let (old, new) = (old.messages(), new.messages());
            if old.iter().zip(new.iter()).any(|(a, b)| a.uid != b.uid) {
                return None;
            }
            let range = start..start + old.len();
            match ranges.last_mut() {
                Some(r) if r.end == range.start => r.end = range.end,
                _ => ranges.push(range),
            }
        }
        Some(ranges)
    }

    /// The chunk holding index `i` and the index within it.
    fn locate(&self, i: usize) -> (usize, usize) {
        let k = self.starts.partition_point(|&s| s <= i) - 1;
        (k, i - self.starts[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Subdir;

    fn message(uid: u32) -> Message {
        Message {
            uid,
            base: format!("{uid}.M1P1.host").into(),
            name: format!("{uid}.M1P1.host:2,").into(),
            subdir: Subdir::Cur,
            flags: "".into(),
            size: 10,
            vsize: 11,
            pop3_uidl: None,
            modseq: 0,
        }
    }

    proptest::proptest! {
        /// Whatever is pushed, removed and changed, the chunks read as one vector would.
        #[test]
        fn behaves_as_a_vector(
            n in 0usize..2000,
            removed in proptest::collection::vec(0u32..2200, 0..300),
            pushed in 0usize..700,
            changed in proptest::collection::vec(0usize..3000, 0..20),
        ) {
            let mut model: Vec<Message> = (1..=n as u32).map(message).collect();
            let mut chunked = Messages::from(model.clone());
            let before = chunked.clone();
            let mut removed = removed;
            removed.sort_unstable();
            removed.dedup();
            chunked.remove_uids(&removed);
            model.retain(|m| removed.binary_search(&m.uid).is_err());
            let top = model.last().map_or(0, |m| m.uid).max(n as u32);
            for k in 0..pushed as u32 {
                chunked.push(message(top + 1 + k));
                model.push(message(top + 1 + k));
            }
            for &i in &changed {
                if let Some(m) = chunked.get_mut(i) {
                    m.size = 99;
                    model[i].size = 99;
                }
            }
            proptest::prop_assert_eq!(chunked.len(), model.len());
            proptest::prop_assert!(chunked.iter().eq(model.iter()));
            for (i, m) in model.iter().enumerate() {
                proptest::prop_assert_eq!(&chunked[i], m);
                proptest::prop_assert_eq!(chunked.position(m.uid), Some(i));
                proptest::prop_assert!(chunked.iter_from(i).eq(model[i..].iter()));
            }
            proptest::prop_assert_eq!(chunked.position(0), None);
            // What changed is inside the ranges, and only a listing without removals has them.
            match chunked.changed_since(&before) {
                Some(ranges) => {
                    proptest::prop_assert!(removed.iter().all(|&u| u as usize > n || u == 0));
                    for (i, m) in before.iter().enumerate() {
                        if !ranges.iter().any(|r| r.contains(&i)) {
                            proptest::prop_assert_eq!(&chunked[i], m);
                        }
                        proptest::prop_assert_eq!(chunked[i].uid, m.uid);
                    }
                }
                None => proptest::prop_assert!(
                    removed.iter().any(|&u| u >= 1 && u as usize <= n)
                ),
            }
            // The listing it came from is as it was.
            proptest::prop_assert!(before.iter().map(|m| m.uid).eq(1..=n as u32));
            proptest::prop_assert!(before.iter().all(|m| m.size == 10));
        }
    }
}
