//! SORT (RFC 5256, with RFC 5957 DISPLAY) and THREAD (ORDEREDSUBJECT and REFERENCES), as
//! Dovecot answers them: keys worked out once per message and kept in the header cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mailwright_imap::{SortCriterion, SortKey};

use super::headers::{FolderHeaders, MessageKeys, lock_folder};
use super::mailbox::selected::Selected;
use super::mime;
use super::search::{Candidate, parse_header_time};
use crate::message::decode_words;

/// One message's value for a sort key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SortValue {
    Number(i64),
    Text(Arc<str>),
}

impl MessageKeys {
    fn of(c: &mut Candidate<'_>) -> Self {
        let mut first_mailbox = |field: &str| -> Arc<str> {
            let raw = c.raw_header(field).unwrap_or_default();
            // The first address as parsed, a group's name included (`Team: a@x;` sorts as
            // "team"), as Dovecot sorts: compared against it in the Dovecot test.
            let mailbox = mime::addresses(&raw)
                .into_iter()
                .next()
                .and_then(|a| a.mailbox)
                .unwrap_or_default();
            String::from_utf8_lossy(&mailbox)
                .to_ascii_lowercase()
                .into()
        };
        let (from, to, cc) = (
            first_mailbox("From"),
            first_mailbox("To"),
            first_mailbox("Cc"),
        );
        let sent = c
            .raw_header("Date")
            .and_then(|v| parse_header_time(&String::from_utf8_lossy(&v)));
        let (subject, refwd) =
            base_subject_and_refwd(&decode_words(&c.raw_header("Subject").unwrap_or_default()));
        let mut references = message_ids(&c.raw_header("References").unwrap_or_default());
        if references.is_empty() {
            references = message_ids(&c.raw_header("In-Reply-To").unwrap_or_default());
            references.truncate(1);
        }
        let message_id = message_ids(&c.raw_header("Message-ID").unwrap_or_default())
            .into_iter()
            .next();
        MessageKeys {
            sent,
            subject: subject.to_ascii_lowercase().into(),
            refwd,
            from,
            to,
            cc,
            message_id,
            references,
        }
    }

    /// Octets held, roughly, for the cache's budget.
    pub fn size(&self) -> usize {
        64 + self.subject.len()
            + self.from.len()
            + self.to.len()
            + self.cc.len()
            + self.message_id.as_ref().map_or(0, String::len)
            + self.references.iter().map(|r| r.len() + 24).sum::<usize>()
    }
}

/// The keys of the messages at `indices`, from the cache where it has them (one lock for
/// all), worked out and added where not.
pub(super) fn message_keys(
    sel: &Selected,
    indices: &[usize],
    header_cache: Option<&Mutex<FolderHeaders>>,
) -> Vec<Arc<MessageKeys>> {
    let mut keys: Vec<Option<Arc<MessageKeys>>> = match header_cache {
        Some(cache) => {
            let cache = lock_folder(cache);
            indices
                .iter()
                .map(|&i| cache.keys(&sel.msg(i).base))
                .collect()
        }
        None => vec![None; indices.len()],
    };
    let mut added = Vec::new();
    for (k, &i) in keys.iter_mut().zip(indices) {
        if k.is_none() {
            let computed = Arc::new(MessageKeys::of(&mut Candidate::new(sel, i, header_cache)));
            added.push((i, Arc::clone(&computed)));
            *k = Some(computed);
        }
    }
    if let Some(cache) = header_cache
        && !added.is_empty()
    {
        let mut cache = lock_folder(cache);
        for (i, k) in added {
            cache.insert_keys(&sel.msg(i).base, k);
        }
    }
    keys.into_iter().flatten().collect()
}

/// Orders the messages at `indices` by `criteria` (RFC 5256 §3): strings compare with
/// i;ascii-casemap, and messages that compare equal keep mailbox order.
pub(super) fn sort(
    sel: &Selected,
    indices: Vec<usize>,
    criteria: &[SortCriterion],
    header_cache: Option<&Mutex<FolderHeaders>>,
) -> Vec<usize> {
    // A sort of every message of a listing nobody changed can be the last one again.
    let whole = sel
        .shared_listing()
        .filter(|_| indices.len() == sel.len() && indices.iter().enumerate().all(|(k, &i)| k == i));
    if let (Some(listing), Some(cache)) = (whole, header_cache)
        && let Some(order) = lock_folder(cache).sorted(listing, criteria)
    {
        return order.iter().map(|&i| i as usize).collect();
    }
    let order = sort_uncached(sel, indices, criteria, header_cache);
    if let (Some(listing), Some(cache)) = (whole, header_cache) {
        let compact = order.iter().map(|&i| i as u32).collect();
        lock_folder(cache).remember_sort(listing, criteria, Arc::new(compact));
    }
    order
}

pub(super) fn sort_uncached(
    sel: &Selected,
    indices: Vec<usize>,
    criteria: &[SortCriterion],
    header_cache: Option<&Mutex<FolderHeaders>>,
) -> Vec<usize> {
    let keys = message_keys(sel, &indices, header_cache);
    let mut rows: Vec<(Vec<SortValue>, usize)> = indices
        .into_iter()
        .zip(&keys)
        .map(|(i, k)| {
            let c = Candidate::new(sel, i, header_cache);
            let values = criteria.iter().map(|cr| c.sort_value(cr.key, k)).collect();
            (values, i)
        })
        .collect();
    rows.sort_by(|(a, ia), (b, ib)| {
        for ((x, y), cr) in a.iter().zip(b).zip(criteria) {
            let o = if cr.reverse { y.cmp(x) } else { x.cmp(y) };
            if o.is_ne() {
                return o;
            }
        }
        ia.cmp(ib)
    });
    rows.into_iter().map(|(_, i)| i).collect()
}

impl Candidate<'_> {
    fn sort_value(&self, key: SortKey, keys: &MessageKeys) -> SortValue {
        match key {
            SortKey::Arrival => SortValue::Number(self.internal_time()),
            SortKey::Size => SortValue::Number(self.msg.vsize as i64),
            // RFC 5256: the sent date, or the internal date when there is none.
            SortKey::Date => SortValue::Number(keys.sent.unwrap_or_else(|| self.internal_time())),
            SortKey::From => SortValue::Text(Arc::clone(&keys.from)),
            SortKey::To => SortValue::Text(Arc::clone(&keys.to)),
            SortKey::Cc => SortValue::Text(Arc::clone(&keys.cc)),
            SortKey::Subject => SortValue::Text(Arc::clone(&keys.subject)),
        }
    }
}

/// A thread: a message (by index into the view), or a placeholder for a message its replies
/// refer to that is not among them, and the replies.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Thread {
    pub message: Option<usize>,
    pub replies: Vec<Thread>,
}

impl Thread {
    fn leaf(message: usize) -> Self {
        Thread {
            message: Some(message),
            replies: Vec::new(),
        }
    }
}

/// RFC 5256 ORDEREDSUBJECT: messages with the same base subject form a thread, its first
/// message (by sent date) the parent and the others its replies; threads in the order of their
/// first messages' sent dates.
pub(super) fn thread_by_subject(
    sel: &Selected,
    indices: Vec<usize>,
    header_cache: Option<&Mutex<FolderHeaders>>,
) -> Vec<Thread> {
    let keys = message_keys(sel, &indices, header_cache);
    let mut rows: Vec<(SortValue, SortValue, usize)> = indices
        .into_iter()
        .zip(&keys)
        .map(|(i, k)| {
            let c = Candidate::new(sel, i, header_cache);
            (
                c.sort_value(SortKey::Subject, k),
                c.sort_value(SortKey::Date, k),
                i,
            )
        })
        .collect();
    rows.sort();
    let mut threads: Vec<(&SortValue, Thread)> = Vec::new();
    let mut previous: Option<&SortValue> = None;
    for (subject, date, i) in &rows {
        match threads.last_mut() {
            Some((_, parent)) if previous == Some(subject) => parent.replies.push(Thread::leaf(*i)),
            _ => threads.push((date, Thread::leaf(*i))),
        }
        previous = Some(subject);
    }
    threads.sort_by(|a, b| (a.0, a.1.message).cmp(&(b.0, b.1.message)));
    threads.into_iter().map(|(_, t)| t).collect()
}

/// The message IDs in a header value, in order: what lies between `<` and `>`, without white
/// space (folding may have split it).
pub(super) fn message_ids(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut ids = Vec::new();
    let mut rest = &*text;
    while let Some(open) = rest.find('<') {
        let Some(len) = rest[open + 1..].find('>') else {
            break;
        };
        let id: String = rest[open + 1..open + 1 + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !id.is_empty() {
            ids.push(id);
        }
        rest = &rest[open + 1 + len + 1..];
    }
    ids
}

/// One container of RFC 5256 §4's REFERENCES algorithm.
#[derive(Default)]
pub(super) struct Container {
    message: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

pub(super) struct Containers(Vec<Container>);

impl Containers {
    fn add(&mut self) -> usize {
        self.0.push(Container::default());
        self.0.len() - 1
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut n = Some(b);
        // The parent links never form a cycle, so this walk ends.
        while let Some(x) = n {
            if x == a {
                return true;
            }
            n = self.0[x].parent;
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.0[child].parent.take() {
            self.0[p].children.retain(|&c| c != child);
        }
    }

    /// Makes `parent` the parent of `child`, unless that would make a loop.
    fn link(&mut self, parent: usize, child: usize) {
        if self.is_ancestor(child, parent) {
            return;
        }
        self.unlink(child);
        self.0[child].parent = Some(parent);
        self.0[parent].children.push(child);
    }

    /// Step 4: the threads that stand for container `n` at its level, placeholders without
    /// a message removed and their replies moved up a level.
    fn prune(&self, n: usize) -> Vec<Thread> {
        let replies: Vec<Thread> = self.0[n]
            .children
            .iter()
            .flat_map(|&c| self.prune(c))
            .collect();
        match self.0[n].message {
            Some(message) => vec![Thread {
                message: Some(message),
                replies,
            }],
            None => replies,
        }
    }
}

/// RFC 5256 §4 REFERENCES: threads from the References and In-Reply-To fields, then threads
/// whose first messages share a base subject gathered together, siblings ordered by sent
/// date.
pub(super) fn thread_by_references(
    sel: &Selected,
    indices: Vec<usize>,
    header_cache: Option<&Mutex<FolderHeaders>>,
) -> Vec<Thread> {
    let keys = message_keys(sel, &indices, header_cache);
    let mut dates: HashMap<usize, i64> = HashMap::new();
    let mut subjects: HashMap<usize, (Arc<str>, bool)> = HashMap::new();
    let mut containers = Containers(Vec::new());
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    // Step 1, message by message in mailbox order, so a duplicate Message-ID stays with
    // the first message that has it.
    for (i, k) in indices.into_iter().zip(&keys) {
        let c = Candidate::new(sel, i, header_cache);
        if let SortValue::Number(date) = c.sort_value(SortKey::Date, k) {
            dates.insert(i, date);
        }
        subjects.insert(i, (Arc::clone(&k.subject), k.refwd));
        let own_id = k.message_id.as_deref();
        let mut chain = Vec::with_capacity(k.references.len());
        for id in &k.references {
            let n = match by_id.get(id.as_str()) {
                Some(&n) => n,
                None => {
                    let n = containers.add();
                    by_id.insert(id, n);
                    n
                }
            };
            chain.push(n);
        }
        // 1.A: each reference the parent of the next, keeping links made before.
        for pair in chain.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if containers.0[child].parent.is_none() {
                containers.link(parent, child);
            }
        }
        let own = match own_id.and_then(|id| match by_id.get(&id) {
            Some(&n) if containers.0[n].message.is_none() => Some(n),
            Some(_) => None,
            None => {
                let n = containers.add();
                by_id.insert(id, n);
                Some(n)
            }
        }) {
            Some(n) => n,
            None => containers.add(),
        };
        containers.0[own].message = Some(i);
        // 1.B: the last reference is the parent, whatever an earlier, truncated References
        // field said.
        containers.unlink(own);
        if let Some(&last) = chain.last() {
            containers.link(last, own);
        }
    }
    // Steps 2 to 4: the roots, placeholders pruned (one with several replies stays at the
    // top, as it holds a thread together).
    let mut roots: Vec<Thread> = Vec::new();
    for n in 0..containers.0.len() {
        if containers.0[n].parent.is_some() {
            continue;
        }
        let mut threads = containers.prune(n);
        if containers.0[n].message.is_none() && threads.len() > 1 {
            roots.push(Thread {
                message: None,
                replies: threads,
            });
        } else {
            roots.append(&mut threads);
        }
    }
    let key = |t: &Thread| thread_key(t, &dates);
    sort_threads(&mut roots, &key);
    // Step 5: roots with the same base subject gathered.
    let subject_of = |t: &Thread| -> Option<(Arc<str>, bool)> {
        let mut t = t;
        while t.message.is_none() {
            t = t.replies.first()?;
        }
        t.message.and_then(|m| subjects.get(&m).cloned())
    };
    let mut table: HashMap<Arc<str>, usize> = HashMap::new();
    for (k, root) in roots.iter().enumerate() {
        let Some((subject, refwd)) = subject_of(root) else {
            continue;
        };
        if subject.is_empty() {
            continue;
        }
        match table.get(&subject) {
            None => {
                table.insert(subject, k);
            }
            Some(&t) => {
                let theirs = &roots[t];
                let their_refwd = subject_of(theirs).is_some_and(|(_, r)| r);
                if (root.message.is_none() && theirs.message.is_some())
                    || (theirs.message.is_some() && their_refwd && !refwd)
                {
                    table.insert(subject, k);
                }
            }
        }
    }
    let mut slots: Vec<Option<Thread>> = roots.into_iter().map(Some).collect();
    for k in 0..slots.len() {
        let Some((subject, refwd)) = slots[k].as_ref().and_then(&subject_of) else {
            continue;
        };
        let Some(&t) = table.get(&subject) else {
            continue;
        };
        if t == k || subject.is_empty() {
            continue;
        }
        let (Some(mut current), Some(mut theirs)) = (slots[k].take(), slots[t].take()) else {
            continue;
        };
        let their_refwd = subject_of(&theirs).is_some_and(|(_, r)| r);
        if current.message.is_none() && theirs.message.is_none() {
            theirs.replies.append(&mut current.replies);
        } else if theirs.message.is_none() || (refwd && !their_refwd && theirs.message.is_some()) {
            theirs.replies.push(current);
        } else {
            theirs = Thread {
                message: None,
                replies: vec![theirs, current],
            };
        }
        slots[t] = Some(theirs);
    }
    // Step 6.
    let mut roots: Vec<Thread> = slots.into_iter().flatten().collect();
    sort_threads(&mut roots, &key);
    roots
}

/// A thread's place among its siblings: its message's sent date, or for a placeholder its
/// first reply's; ties in mailbox order.
pub(super) fn thread_key(t: &Thread, dates: &HashMap<usize, i64>) -> (i64, usize) {
    match t.message {
        Some(m) => (dates.get(&m).copied().unwrap_or(0), m),
        None => t
            .replies
            .first()
            .map_or((0, 0), |first| thread_key(first, dates)),
    }
}

/// Sorts each set of siblings, replies before their parents, so a placeholder's first reply
/// is its earliest.
pub(super) fn sort_threads(threads: &mut [Thread], key: &dyn Fn(&Thread) -> (i64, usize)) {
    for t in threads.iter_mut() {
        sort_threads(&mut t.replies, key);
    }
    threads.sort_by_key(|t| key(t));
}

/// RFC 5256 §2.1's base subject (the subject without reply and forward markers, list tags in
/// brackets, trailing "(fwd)", and with runs of white space made one space), and whether the
/// subject marked a reply or forward (steps 2 to 4 removed something other than a list tag).
pub(super) fn base_subject_and_refwd(subject: &str) -> (String, bool) {
    let mut refwd = false;
    let mut s: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        // (2) trailing "(fwd)" and white space.
        loop {
            let t = s.trim_end();
            match t.len().checked_sub(5) {
                Some(n) if t.is_char_boundary(n) && t[n..].eq_ignore_ascii_case("(fwd)") => {
                    s = t[..n].to_owned();
                    refwd = true;
                }
                _ => {
                    s = t.to_owned();
                    break;
                }
            }
        }
        // (3) leading "Re:", "Fw:", "Fwd:" (each optionally with [blobs]) and [blobs].
        loop {
            let before = s.clone();
            s = s.trim_start().to_owned();
            if let Some(rest) = strip_leader(&s) {
                s = rest.to_owned();
                refwd = true;
            }
            if let Some(rest) = strip_blob(&s)
                && !rest.trim().is_empty()
            {
                s = rest.to_owned();
            }
            if s == before {
                break;
            }
        }
        // (4) "[fwd: ... ]".
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("[fwd:") && s.ends_with(']') {
            s = s[5..s.len() - 1].to_owned();
            refwd = true;
            continue;
        }
        return (s.trim().to_owned(), refwd);
    }
}

/// `subj-blob`: `[` anything but brackets `]`, then white space.
pub(super) fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    if !rest[end..].starts_with(']') {
        return None;
    }
    Some(rest[end + 1..].trim_start())
}

/// `subj-refwd`: `*subj-blob ("re" / "fw" / "fwd") *WSP [subj-blob] ":"`.
pub(super) fn strip_leader(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(r) = strip_blob(rest) {
        rest = r;
    }
    let lower = rest.to_ascii_lowercase();
    let word = ["fwd", "fw", "re"]
        .iter()
        .find(|w| lower.starts_with(**w))?;
    let mut rest = rest[word.len()..].trim_start();
    if let Some(r) = strip_blob(rest) {
        rest = r;
    }
    rest.strip_prefix(':')
}
