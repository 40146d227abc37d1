//! STORE (flags and keywords, with UNCHANGEDSINCE) and EXPUNGE.

use mailwright_imap::{
    Code, FetchValue, Flag, Response, SequenceSet, ServerSession, Status, StoreMode,
};
use tracing::warn;

use super::common::{block, note_changes};
use super::selected::{flags_to_letters, send_flag_list, sorted};
use super::session::User;
use crate::conn::Answered;

/// STORE's change: how, which flags, and whether to answer with them.
pub(super) struct FlagUpdate<'a> {
    pub(super) mode: StoreMode,
    pub(super) flags: &'a [Flag],
    pub(super) silent: bool,
}

impl User {
    pub(super) fn store(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        set: &SequenceSet,
        update: FlagUpdate<'_>,
        unchanged_since: Option<u64>,
    ) {
        let FlagUpdate {
            mode,
            flags,
            silent,
        } = update;
        if !self.writable(session) {
            return;
        }
        if unchanged_since.is_some() {
            self.condstore_enabled(session);
        }
        let condstore = session.is_enabled("CONDSTORE");
        let indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                session.complete(Status::Bad, None, e).answered();
                return;
            }
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let letters = match block(|| flags_to_letters(flags, &sel.maildir)) {
            Ok(l) => {
                // New keywords got letters: the client must see them by name.
                if flags.iter().any(|f| matches!(f, Flag::Keyword(_))) {
                    match block(|| sel.maildir.keywords()) {
                        Ok(k) if k != sel.keywords => {
                            send_flag_list(session, &k, sel.read_only);
                            sel.keywords = k;
                        }
                        Ok(_) => {}
                        Err(e) => warn!(error = %e, "reading dovecot-keywords"),
                    }
                }
                l
            }
            Err((None, text)) => {
                session.complete(Status::Bad, None, text).answered();
                return;
            }
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
                return;
            }
        };
        let mut failed = false;
        // RFC 7162 §3.1.3: messages changed after UNCHANGEDSINCE are left alone and named.
        let mut modified: Vec<u32> = Vec::new();
        let mut stored: Vec<usize> = Vec::new();
        // Each message to answer for, and whether its flags changed.
        let mut answer: Vec<(usize, bool)> = Vec::new();
        let mut renamed = Vec::new();
        for i in indices {
            if sel.is_gone(i) {
                continue;
            }
            let v = sel.msg(i);
            if unchanged_since.is_some_and(|n| v.modseq > n) {
                modified.push(if uid { v.uid } else { i as u32 + 1 });
                continue;
            }
            // The change, applied to the flags the file carries when it is renamed (another
            // session may have changed them since this one looked): no change is lost.
            let change = |current: &str| match mode {
                StoreMode::Replace => sorted(letters.chars()),
                StoreMode::Add => sorted(current.chars().chain(letters.chars())),
                StoreMode::Remove => sorted(current.chars().filter(|c| !letters.contains(*c))),
            };
            // Even a STORE that changes nothing by this session's view looks at the file: the
            // view may be behind another session's change.
            let changed = match block(|| sel.maildir.update_flags(v, change)) {
                Ok(Some(m)) => {
                    let changed = m.flags != v.flags;
                    // A file renamed, or found under another name (its MODSEQ then unknown),
                    // takes its MODSEQ from the log: the flags on disk changed even when they
                    // are back to what this session showed, and a view without its MODSEQ
                    // would let an older listing's value reach the client (RFC 7162 §3.1).
                    if changed || m.name != v.name || m.modseq != v.modseq {
                        stored.push(i);
                        renamed.push(m.clone());
                        sel.set_msg(i, m);
                    }
                    changed
                }
                // Expunged by another session meanwhile: reported at the next sync.
                Ok(None) => continue,
                Err(e) => {
                    warn!(user = %self.username, error = %e, "imap store failed");
                    failed = true;
                    continue;
                }
            };
            answer.push((i, changed));
        }
        sel.record_modseqs(self.listings.modseqs(), &stored);
        note_changes(
            &self.listings,
            &mut self.recheck,
            &sel.maildir,
            &renamed,
            &[],
        );
        for (i, changed) in answer {
            // With CONDSTORE even a silent STORE tells the new MODSEQ of what it changed.
            let mut items = Vec::new();
            if uid || (silent && condstore) {
                items.push(FetchValue::Uid(sel.msg(i).uid));
            }
            if !silent {
                items.push(FetchValue::Flags(sel.flags(i)));
            }
            if condstore && (!silent || changed) {
                items.push(FetchValue::ModSeq(sel.msg(i).modseq));
            }
            if !silent || (condstore && changed) {
                session
                    .send(&Response::Fetch {
                        seq: i as u32 + 1,
                        items,
                    })
                    .answered();
            }
        }
        // The shared listing has our own renames (note_changes), so only others' changes are
        // reported.
        self.sync(session, uid);
        if !modified.is_empty() && !failed {
            let code = SequenceSet::from_numbers(&modified)
                .ok()
                .map(Code::Modified);
            session
                .complete(Status::Ok, code, "Conditional STORE failed for some")
                .answered();
        } else if failed {
            session
                .complete(
                    Status::No,
                    Some(Code::ServerBug),
                    "Some flags could not be stored",
                )
                .answered();
        } else {
            session
                .complete(Status::Ok, None, "STORE completed")
                .answered();
        }
    }

    /// Removes the `\Deleted` messages among `indices`, telling the client when `announce`.
    pub(super) fn expunge(
        &mut self,
        session: &mut ServerSession,
        indices: Vec<usize>,
        announce: bool,
    ) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let targets: Vec<usize> = indices
            .into_iter()
            .filter(|&i| sel.msg(i).has_flag('T') && !sel.is_gone(i))
            .collect();
        if targets.is_empty() {
            return;
        }
        let removed = block(|| -> Result<(i64, i64), mailwright_maildir::Error> {
            let mut freed = (0i64, 0i64);
            for &i in &targets {
                // Counted by whoever removed it: sessions expunging the same message at
                // once take it off the quota once.
                if sel.maildir.expunge(sel.msg(i))? {
                    freed = (freed.0 + sel.msg(i).size as i64, freed.1 + 1);
                }
            }
            sel.maildir.sync()?;
            Ok(freed)
        });
        if removed.is_ok() {
            let uids: Vec<u32> = targets.iter().map(|&i| sel.msg(i).uid).collect();
            note_changes(&self.listings, &mut self.recheck, &sel.maildir, &[], &uids);
        }
        match removed {
            Ok(freed) => {
                sel.remove(session, &targets, announce);
                self.account_usage(-freed.0, -freed.1);
            }
            Err(e) => warn!(user = %self.username, error = %e, "imap expunge failed"),
        }
    }

    /// CLOSE: expunges silently (unless the folder is read-only) and unselects.
    pub(super) fn close(&mut self, session: &mut ServerSession) {
        if let Some(sel) = self.selected.as_ref()
            && !sel.read_only
        {
            let all: Vec<usize> = (0..sel.len()).collect();
            self.expunge(session, all, false);
        }
        self.selected = None;
        session
            .complete(Status::Ok, None, "CLOSE completed")
            .answered();
    }

    /// EXPUNGE, or UID EXPUNGE of `set` (RFC 4315).
    pub(super) fn expunge_command(
        &mut self,
        session: &mut ServerSession,
        set: Option<&SequenceSet>,
    ) {
        if !self.writable(session) {
            return;
        }
        let indices = match set {
            None => self
                .selected
                .as_ref()
                .map(|s| (0..s.len()).collect())
                .unwrap_or_default(),
            Some(set) => match self.resolve(set, true) {
                Ok(indices) => indices,
                Err(e) => {
                    session.complete(Status::Bad, None, e).answered();
                    return;
                }
            },
        };
        self.expunge(session, indices, true);
        self.sync(session, true);
        let text = if set.is_some() {
            "UID EXPUNGE completed"
        } else {
            "EXPUNGE completed"
        };
        session.complete(Status::Ok, None, text).answered();
    }
}
