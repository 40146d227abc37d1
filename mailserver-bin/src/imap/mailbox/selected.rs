//! The selected folder as this session shows it: sequence numbers, each message shared with
//! the listing or a copy of its own, `\\Recent` and expunged-but-not-yet-told marks, and the
//! flag letters of file names turned into IMAP flags and back.

use std::sync::Arc;

use mailwright_imap::{Code, Flag, Response, SequenceSet, ServerSession};
use mailwright_maildir::{FolderStamp, Maildir};
use tracing::warn;

use super::common::{Refusal, block};
use crate::conn::Answered;

/// A message as this session has shown it.
#[derive(Debug)]
pub(super) struct View {
    pub(super) entry: Entry,
    pub recent: bool,
    /// Expunged by someone else while we could not say so yet.
    pub gone: bool,
}

/// The messages a session shows: the listing it shares, as it is (the common case, which a
/// SELECT makes without touching each message), or one view per message once any differs.
#[derive(Debug)]
pub(super) enum Views {
    /// Message `i` is the listing's message `i`, neither recent nor gone.
    Listing(usize),
    Each(Vec<View>),
}

/// Where a session's message is: in the listing it shares with every session that opened the
/// folder (so opening a large folder copies no messages), or, once this session changed it or
/// must keep showing it after others expunged it, in a copy of its own.
#[derive(Debug)]
pub(super) enum Entry {
    Shared(u32),
    Own(Box<mailwright_maildir::Message>),
}

impl View {
    pub(super) fn shared(index: usize, recent: bool) -> Self {
        View {
            entry: Entry::Shared(index as u32),
            recent,
            gone: false,
        }
    }
}

/// The selected mailbox.
#[derive(Debug)]
pub(crate) struct Selected {
    pub maildir: Maildir,
    pub read_only: bool,
    pub uid_validity: u32,
    pub next_uid: u32,
    /// The listing the shared views point into.
    pub(super) listing: Arc<mailwright_maildir::Listing>,
    /// The messages shown, in sequence-number order (which is UID order).
    pub(super) views: Views,
    /// Whether message `i` shown is the listing's message `i` for every `i` (none removed
    /// from the view alone, none kept after the listing lost it): a sync may then look only
    /// at what changed in the listing.
    pub(super) aligned: bool,
    pub keywords: Vec<(u32, String)>,
    pub(super) stamp: FolderStamp,
    /// The UIDs `SEARCH RETURN (SAVE)` saved, in order: what `$` stands for (RFC 5182).
    pub saved: Vec<u32>,
    /// This session's place in the folder: what is cached for it is let go once nobody is.
    pub(super) _seat: crate::imap::seats::Seat,
}

impl Selected {
    /// The listing, when the session shows it as it is (no message of it changed or gone for
    /// this session).
    pub fn shared_listing(&self) -> Option<&Arc<mailwright_maildir::Listing>> {
        matches!(self.views, Views::Listing(n) if n == self.listing.messages.len())
            .then_some(&self.listing)
    }

    /// How many messages the session shows.
    pub fn len(&self) -> usize {
        match &self.views {
            Views::Listing(n) => *n,
            Views::Each(v) => v.len(),
        }
    }

    /// The message at index `i` (sequence number `i + 1`).
    pub fn msg(&self, i: usize) -> &mailwright_maildir::Message {
        match &self.views {
            Views::Listing(_) => &self.listing.messages[i],
            Views::Each(v) => match &v[i].entry {
                Entry::Shared(k) => &self.listing.messages[*k as usize],
                Entry::Own(m) => m,
            },
        }
    }

    /// Whether the message at `i` is `\Recent` to this session.
    pub fn is_recent(&self, i: usize) -> bool {
        matches!(&self.views, Views::Each(v) if v[i].recent)
    }

    /// Whether the message at `i` was expunged by someone else and is shown until it may be
    /// announced.
    pub fn is_gone(&self, i: usize) -> bool {
        matches!(&self.views, Views::Each(v) if v[i].gone)
    }

    /// One view per message, made now if the session still shows the listing as it is.
    pub(super) fn each(&mut self) -> &mut Vec<View> {
        if let Views::Listing(n) = self.views {
            self.views = Views::Each((0..n).map(|k| View::shared(k, false)).collect());
        }
        match &mut self.views {
            Views::Each(v) => v,
            Views::Listing(_) => unreachable!("made above"),
        }
    }

    /// The message at `i`, to change: this session's own copy from now on.
    pub(super) fn msg_mut(&mut self, i: usize) -> &mut mailwright_maildir::Message {
        let listing = Arc::clone(&self.listing);
        let view = &mut self.each()[i];
        if let Entry::Shared(k) = view.entry {
            view.entry = Entry::Own(Box::new(listing.messages[k as usize].clone()));
        }
        match &mut view.entry {
            Entry::Own(m) => m,
            Entry::Shared(_) => unreachable!("made own above"),
        }
    }

    pub(super) fn set_msg(&mut self, i: usize, m: mailwright_maildir::Message) {
        self.each()[i].entry = Entry::Own(Box::new(m));
    }

    /// The messages in sequence-number order.
    pub fn messages(&self) -> impl Iterator<Item = &mailwright_maildir::Message> {
        (0..self.len()).map(|i| self.msg(i))
    }

    /// The highest UID shown (0 when empty).
    pub fn last_uid(&self) -> u32 {
        self.len().checked_sub(1).map_or(0, |i| self.msg(i).uid)
    }

    /// Whether UID `uid` is in the saved search result.
    pub fn is_saved(&self, uid: u32) -> bool {
        self.saved.binary_search(&uid).is_ok()
    }

    /// The index of the first message whose UID is at least `uid`.
    pub(super) fn first_at_or_above(&self, uid: u32) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.msg(mid).uid < uid {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub fn flags(&self, i: usize) -> Vec<Flag> {
        letters_to_flags(&self.msg(i).flags, &self.keywords, self.is_recent(i))
    }

    /// Removes the messages at `indices` (ascending) from the view, telling the client when
    /// `announce`: by sequence number, or by UID to a QRESYNC client (RFC 7162 §3.2.10).
    pub(super) fn remove(
        &mut self,
        session: &mut ServerSession,
        indices: &[usize],
        announce: bool,
    ) {
        let qresync = announce && session.is_enabled("QRESYNC");
        if qresync {
            let uids: Vec<u32> = indices.iter().map(|&i| self.msg(i).uid).collect();
            send_vanished(session, &uids);
        }
        if announce && !qresync {
            // From the end, so each number is still right when the client reads it.
            for &i in indices.iter().rev() {
                session.send(&Response::Expunge(i as u32 + 1)).answered();
            }
        }
        let mut doomed = vec![false; self.len()];
        for &i in indices {
            doomed[i] = true;
        }
        let mut index = 0;
        self.aligned = false;
        self.each().retain(|_| {
            index += 1;
            !doomed[index - 1]
        });
    }

    /// Logs the flags just stored on the messages at `indices` and gives their views the new
    /// MODSEQs (a log of another UIDVALIDITY is left to the next rescan).
    pub(super) fn record_modseqs(
        &mut self,
        modseqs: &mailwright_maildir::ModSeqs,
        indices: &[usize],
    ) {
        if indices.is_empty() {
            return;
        }
        let changes: Vec<(u32, Arc<str>)> = indices
            .iter()
            .map(|&i| (self.msg(i).uid, Arc::clone(&self.msg(i).flags)))
            .collect();
        match block(|| modseqs.record_flags(&self.maildir, self.uid_validity, &changes)) {
            Ok(Some(recorded)) => {
                for (&i, modseq) in indices.iter().zip(recorded) {
                    self.msg_mut(i).modseq = modseq;
                }
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "imap: logging MODSEQs failed"),
        }
    }
}

pub(super) fn letters_to_flags(
    letters: &str,
    keywords: &[(u32, String)],
    recent: bool,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    for c in letters.chars() {
        let f = match c {
            'D' => Flag::Draft,
            'F' => Flag::Flagged,
            'R' => Flag::Answered,
            'S' => Flag::Seen,
            'T' => Flag::Deleted,
            'a'..='z' => {
                let i = u32::from(c) - u32::from('a');
                match keywords
                    .iter()
                    .find(|(k, _)| *k == i)
                    .and_then(|(_, n)| mailwright_imap::Atom::new(n.clone()).ok())
                {
                    Some(a) => Flag::Keyword(a),
                    None => continue,
                }
            }
            _ => continue,
        };
        flags.push(f);
    }
    if recent {
        flags.push(Flag::Recent);
    }
    flags
}

/// `* FLAGS` and `* OK [PERMANENTFLAGS]` for a folder with `keywords`: at SELECT, and again
/// whenever a keyword is added, before any FETCH shows it (RFC 3501 §7.2.6).
pub(super) fn send_flag_list(
    session: &mut ServerSession,
    keywords: &[(u32, String)],
    read_only: bool,
) {
    let mut flags: Vec<Flag> = Flag::SYSTEM.to_vec();
    flags.extend(
        keywords
            .iter()
            .filter_map(|(_, k)| mailwright_imap::Atom::new(k.clone()).ok())
            .map(Flag::Keyword),
    );
    session.send(&Response::Flags(flags.clone())).answered();
    let permanent = if read_only { Vec::new() } else { flags };
    session
        .send(&Response::ok(
            Some(Code::PermanentFlags {
                flags: permanent,
                new_keywords: !read_only,
            }),
            "Flags permitted",
        ))
        .answered();
}

/// The file-name letters for `flags` in `md`. Keywords get letters from `dovecot-keywords`,
/// all of them or none: a STORE that is refused for too many keywords changes nothing.
pub(super) fn flags_to_letters(flags: &[Flag], md: &Maildir) -> Result<String, Refusal> {
    let mut out = String::new();
    let mut keywords: Vec<&str> = Vec::new();
    for f in flags {
        match f {
            Flag::Draft => out.push('D'),
            Flag::Flagged => out.push('F'),
            Flag::Answered => out.push('R'),
            Flag::Seen => out.push('S'),
            Flag::Deleted => out.push('T'),
            Flag::Recent => {}
            Flag::Extension(_) => return Err((None, "Unknown system flag")),
            Flag::Keyword(k) => keywords.push(k.as_str()),
        }
    }
    if keywords.is_empty() {
        return Ok(out);
    }
    match md.keyword_letters(&keywords) {
        Ok(Some(letters)) => out.extend(letters),
        Ok(None) => {
            warn!(folder = %md.path().display(), keywords = keywords.len(), "keywords refused: no free letter");
            return Err((Some(Code::Limit), "Too many keywords in this mailbox"));
        }
        Err(e) => {
            warn!(error = %e, "keyword");
            return Err((Some(Code::ServerBug), "Cannot store keywords"));
        }
    }
    Ok(out)
}

pub(super) fn sorted(letters: impl Iterator<Item = char>) -> String {
    let mut v: Vec<char> = letters.collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().collect()
}

/// `* VANISHED uids` (RFC 7162 §3.2.10), when there are any.
pub(super) fn send_vanished(session: &mut ServerSession, uids: &[u32]) {
    if let Ok(uids) = SequenceSet::from_numbers(uids) {
        session
            .send(&Response::Vanished {
                earlier: false,
                uids,
            })
            .answered();
    }
}
