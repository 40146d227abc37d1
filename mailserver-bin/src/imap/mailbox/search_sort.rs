//! SEARCH, SORT and THREAD over the selected folder.

use mailwright_imap::{Code, Response, SearchKey, SequenceSet, ServerSession, Status, Tag};

use super::common::block;
use super::session::User;
use crate::conn::Answered;
use crate::imap::{headers, search, sort_thread};

impl User {
    pub(super) fn search(
        &mut self,
        session: &mut ServerSession,
        tag: &Tag,
        uid: bool,
        charset: Option<&str>,
        key: &SearchKey,
        return_options: Option<&[mailwright_imap::Atom]>,
    ) {
        // RFC 4731: MIN, MAX, COUNT, ALL; an empty list means ALL. RFC 5182: SAVE keeps the
        // result for `$`, and alone asks for no answer.
        let want =
            |o: &str| return_options.is_some_and(|opts| opts.iter().any(|a| a.as_str() == o));
        let save = want("SAVE");
        // RFC 9051 §7.3.4: an IMAP4rev2 client gets ESEARCH, ALL by default.
        let return_options = match return_options {
            None if session.is_enabled("IMAP4rev2") => Some(&[][..]),
            other => other,
        };
        let esearch = return_options.map(|opts| {
            (
                want("MIN"),
                want("MAX"),
                want("COUNT"),
                want("ALL") || opts.is_empty(),
            )
        });
        if save && let Some(sel) = self.selected.as_mut() {
            // A SEARCH that fails leaves `$` empty.
            sel.saved.clear();
        }
        if let Some(opts) = return_options
            && let Some(bad) = opts
                .iter()
                .find(|a| !matches!(a.as_str(), "MIN" | "MAX" | "COUNT" | "ALL" | "SAVE"))
        {
            session
                .complete(
                    Status::Bad,
                    None,
                    &format!("Unsupported SEARCH return option {bad}"),
                )
                .answered();
            return;
        }
        if let Some(cs) = charset
            && !self.charset_ok(session, cs)
        {
            return;
        }
        if search::uses_modseq(key) {
            self.condstore_enabled(session);
        }
        let Some(sel) = &self.selected else { return };
        let cache = search::uses_cache(key).then(|| {
            block(|| {
                self.headers
                    .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
            })
        });
        let found = block(|| {
            let found = search::run(sel, key, cache.as_deref());
            if let Some(c) = &cache {
                headers::lock_folder(c).flush(&sel.maildir);
            }
            found
        });
        // RFC 7162 §3.1.5: the highest MODSEQ of the messages returned; with only MIN and/or
        // MAX, those are the one or two messages named, not every match.
        let returned: Vec<usize> = match esearch {
            Some((min, max, false, false)) if min || max => {
                let mut ends: Vec<usize> = Vec::new();
                ends.extend(found.first().filter(|_| min));
                ends.extend(found.last().filter(|_| max));
                ends
            }
            _ => found.clone(),
        };
        let modseq = search::uses_modseq(key)
            .then(|| returned.iter().map(|&i| sel.msg(i).modseq).max())
            .flatten();
        let saved: Option<Vec<u32>> = save.then(|| {
            let uids: Vec<u32> = found.iter().map(|&i| sel.msg(i).uid).collect();
            match esearch {
                // RFC 5182 §2.4: SAVE with only MIN and/or MAX keeps just those.
                Some((min, max, false, false)) if min || max => {
                    let mut kept: Vec<u32> = Vec::new();
                    kept.extend(uids.first().filter(|_| min));
                    kept.extend(uids.last().filter(|_| max));
                    kept.dedup();
                    kept
                }
                _ => uids,
            }
        });
        let numbers: Vec<u32> = found
            .into_iter()
            .map(|i| if uid { sel.msg(i).uid } else { i as u32 + 1 })
            .collect();
        match esearch {
            None => {
                session.send(&Response::Search(numbers, modseq)).answered();
            }
            Some((false, false, false, false)) => {}
            Some((min, max, count, all)) => {
                session
                    .send(&Response::ESearch {
                        tag: tag.clone(),
                        uid,
                        min: numbers.iter().min().copied().filter(|_| min),
                        max: numbers.iter().max().copied().filter(|_| max),
                        count: count.then_some(numbers.len() as u32),
                        all: (all && !numbers.is_empty())
                            .then(|| SequenceSet::from_numbers(&numbers).ok())
                            .flatten(),
                        modseq,
                    })
                    .answered();
            }
        }
        if let (Some(saved), Some(sel)) = (saved, self.selected.as_mut()) {
            sel.saved = saved;
        }
        self.sync(session, uid);
        session
            .complete(Status::Ok, None, "SEARCH completed")
            .answered();
    }

    pub(super) fn thread(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        algorithm: &str,
        charset: &str,
        key: &SearchKey,
    ) {
        let by_references = match algorithm {
            "ORDEREDSUBJECT" => false,
            "REFERENCES" => true,
            _ => {
                session
                    .complete(
                        Status::Bad,
                        None,
                        "Unsupported threading algorithm (ORDEREDSUBJECT and REFERENCES are)",
                    )
                    .answered();
                return;
            }
        };
        if !self.charset_ok(session, charset) {
            return;
        }
        let Some(sel) = &self.selected else { return };
        let cache = block(|| {
            self.headers
                .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
        });
        let threads = block(|| {
            let found = search::run(sel, key, Some(&cache));
            let threads = if by_references {
                sort_thread::thread_by_references(sel, found, Some(&cache))
            } else {
                sort_thread::thread_by_subject(sel, found, Some(&cache))
            };
            headers::lock_folder(&cache).flush(&sel.maildir);
            threads
        });
        let id = |i: usize| {
            if uid { sel.msg(i).uid } else { i as u32 + 1 }
        };
        fn node(t: sort_thread::Thread, id: &dyn Fn(usize) -> u32) -> mailwright_imap::ThreadNode {
            mailwright_imap::ThreadNode {
                id: t.message.map(id),
                children: t.replies.into_iter().map(|r| node(r, id)).collect(),
            }
        }
        let threads = threads.into_iter().map(|t| node(t, &id)).collect();
        session.send(&Response::Thread(threads)).answered();
        self.sync(session, uid);
        session
            .complete(Status::Ok, None, "THREAD completed")
            .answered();
    }

    /// Whether SEARCH, SORT or THREAD strings in `charset` can be matched; answers NO
    /// `[BADCHARSET]` if not.
    pub(super) fn charset_ok(&self, session: &mut ServerSession, charset: &str) -> bool {
        if matches!(charset, "UTF-8" | "US-ASCII") {
            return true;
        }
        let charsets = ["UTF-8", "US-ASCII"]
            .iter()
            .filter_map(|c| mailwright_imap::Atom::new(*c).ok())
            .collect();
        session
            .complete(
                Status::No,
                Some(Code::BadCharset(charsets)),
                "Unsupported charset",
            )
            .answered();
        false
    }

    pub(super) fn sort(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        criteria: &[mailwright_imap::SortCriterion],
        charset: &str,
        key: &SearchKey,
    ) {
        if !self.charset_ok(session, charset) {
            return;
        }
        let Some(sel) = &self.selected else { return };
        let by_cached = criteria
            .iter()
            .any(|c| c.key != mailwright_imap::SortKey::Size);
        let cache = (by_cached || search::uses_cache(key)).then(|| {
            block(|| {
                self.headers
                    .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
            })
        });
        let sorted = block(|| {
            let found = search::run(sel, key, cache.as_deref());
            let sorted = sort_thread::sort(sel, found, criteria, cache.as_deref());
            if let Some(c) = &cache {
                headers::lock_folder(c).flush(&sel.maildir);
            }
            sorted
        });
        let numbers = sorted
            .into_iter()
            .map(|i| if uid { sel.msg(i).uid } else { i as u32 + 1 })
            .collect();
        session.send(&Response::Sort(numbers)).answered();
        self.sync(session, uid);
        session
            .complete(Status::Ok, None, "SORT completed")
            .answered();
    }
}
