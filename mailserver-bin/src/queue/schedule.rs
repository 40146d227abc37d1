//! When each queued message is next due, in due order, so that a pass starting deliveries
//! looks only at the messages due (a backlog of ten thousand deferred ones costs nothing per
//! pass), and the next wake-up is the first entry after now.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default)]
pub struct Schedule {
    /// When each message is due (Unix seconds); `None`: on hold.
    by_id: HashMap<String, Option<u64>>,
    /// The messages not on hold, by when they are due, then by id (the oldest first: ids begin
    /// with their time).
    by_due: BTreeSet<(u64, String)>,
    /// When each message was received (Unix seconds), for the age of the oldest.
    received: HashMap<String, u64>,
}

impl Schedule {
    /// Records when `id` is due (`None`: on hold).
    pub fn set(&mut self, id: &str, due: Option<u64>) {
        if let Some(Some(at)) = self.by_id.remove(id) {
            self.by_due.remove(&(at, id.to_owned()));
        }
        if let Some(at) = due {
            self.by_due.insert((at, id.to_owned()));
        }
        self.by_id.insert(id.to_owned(), due);
    }

    /// `id` left the queue.
    pub fn remove(&mut self, id: &str) {
        self.received.remove(id);
        if let Some(Some(at)) = self.by_id.remove(id) {
            self.by_due.remove(&(at, id.to_owned()));
        }
    }

    /// Records when `id` was received (Unix seconds).
    pub fn received(&mut self, id: &str, at: u64) {
        self.received.insert(id.to_owned(), at);
    }

    /// How many messages are queued, and when the oldest was received.
    pub fn summary(&self) -> (usize, Option<u64>) {
        (self.by_id.len(), self.received.values().min().copied())
    }

    /// Replaces everything, as read from the envelope files: when each is due, and when it
    /// was `received`.
    pub fn replace(&mut self, all: HashMap<String, Option<u64>>, received: HashMap<String, u64>) {
        self.received = received;
        self.by_due = all
            .iter()
            .filter_map(|(id, due)| due.map(|at| (at, id.clone())))
            .collect();
        self.by_id = all;
    }

    /// Makes every message not on hold due at `now` (`queue flush`).
    pub fn flush(&mut self, now: u64) {
        for (id, due) in &mut self.by_id {
            if let Some(at) = due
                && *at > now
            {
                self.by_due.remove(&(*at, id.clone()));
                self.by_due.insert((now, id.clone()));
                *at = now;
            }
        }
    }

    /// The messages due at `now`, the longest waiting first.
    pub fn due(&self, now: u64) -> impl Iterator<Item = &str> {
        self.by_due
            .iter()
            .take_while(move |(at, _)| *at <= now)
            .map(|(_, id)| id.as_str())
    }

    /// When the first message not yet due at `now` is.
    pub fn next_after(&self, now: u64) -> Option<u64> {
        self.by_due
            .range((now.saturating_add(1), String::new())..)
            .next()
            .map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_order_and_held_never() {
        let mut s = Schedule::default();
        s.set("b", Some(100));
        s.set("a", Some(100));
        s.set("c", Some(50));
        s.set("held", None);
        s.set("later", Some(500));
        assert_eq!(s.due(100).collect::<Vec<_>>(), ["c", "a", "b"]);
        assert_eq!(s.next_after(100), Some(500));
        s.set("c", Some(700));
        assert_eq!(s.due(100).collect::<Vec<_>>(), ["a", "b"]);
        s.remove("a");
        s.flush(200);
        assert_eq!(s.due(200).collect::<Vec<_>>(), ["b", "c", "later"]);
        assert_eq!(s.next_after(200), None);
        s.replace(
            HashMap::from([("x".to_owned(), Some(1)), ("y".to_owned(), None)]),
            HashMap::from([("x".to_owned(), 7), ("y".to_owned(), 5)]),
        );
        assert_eq!(s.due(1).collect::<Vec<_>>(), ["x"]);
        assert_eq!(s.next_after(0), Some(1));
        assert_eq!(s.summary(), (2, Some(5)));
        s.remove("y");
        s.set("x", Some(9));
        assert_eq!(s.summary(), (1, Some(7)));
    }
}
