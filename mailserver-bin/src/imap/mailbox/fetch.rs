//! FETCH: flags, sizes, envelopes, body structures and sections, streamed when large.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mailwright_imap::{
    BodyStructure, Code, DateTime, FetchAttr, FetchValue, Response, Section, SectionText,
    SequenceSet, ServerSession, Status,
};
use mailwright_maildir::read_message;
use tracing::warn;

use super::common::{STREAM_ABOVE, STREAM_CHUNK, block, note_changes};
use super::selected::Selected;
use super::session::User;
use crate::conn::{Answered, Conn};
use crate::imap::headers::FolderHeaders;
use crate::imap::service::{WRITE_BATCH, flush};
use crate::imap::{headers, mime, ranges};

/// FETCH's CHANGEDSINCE modifier, and VANISHED with it (RFC 7162).
#[derive(Clone, Copy)]
pub(super) struct ChangedSince {
    pub(super) modseq: u64,
    pub(super) vanished: bool,
}

impl User {
    pub(super) async fn fetch(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
        uid: bool,
        set: &SequenceSet,
        attrs: &[FetchAttr],
        since: Option<ChangedSince>,
    ) -> io::Result<()> {
        let vanished = since.is_some_and(|c| c.vanished);
        if vanished && !session.is_enabled("QRESYNC") {
            session
                .complete(Status::Bad, None, "ENABLE QRESYNC first")
                .answered();
            return Ok(());
        }
        let mut indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                session.complete(Status::Bad, None, e).answered();
                return Ok(());
            }
        };
        // RFC 7162 §3.1.4: CHANGEDSINCE narrows to the changed messages and reports MODSEQ.
        let mut with_modseq;
        let mut attrs = attrs;
        if attrs.contains(&FetchAttr::ModSeq) || since.is_some() {
            self.condstore_enabled(session);
        }
        if let (Some(since), Some(sel)) = (since, &self.selected) {
            indices.retain(|&i| sel.msg(i).modseq > since.modseq);
            if vanished {
                let largest = sel.next_uid.saturating_sub(1);
                if let Some(uids) = self.vanished(sel, since.modseq, &|u| {
                    if set.is_saved() {
                        sel.is_saved(u)
                    } else {
                        set.contains(u, largest)
                    }
                }) {
                    session
                        .send(&Response::Vanished {
                            earlier: true,
                            uids,
                        })
                        .answered();
                }
            }
            if !attrs.contains(&FetchAttr::ModSeq) {
                with_modseq = attrs.to_vec();
                with_modseq.push(FetchAttr::ModSeq);
                attrs = &with_modseq;
            }
        }
        let plan = Plan::of(attrs);
        let cache = match &self.selected {
            Some(sel) if plan.uses_cache(attrs) => Some(block(|| {
                self.headers
                    .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
            })),
            _ => None,
        };
        let mut outcome = Outcome::default();
        for i in indices {
            self.fetch_one(
                session,
                conn,
                uid,
                attrs,
                &plan,
                cache.as_deref(),
                i,
                &mut outcome,
            )
            .await?;
            if session.pending_output() >= WRITE_BATCH {
                flush(session, conn).await?;
            }
        }
        if let (Some(c), Some(sel)) = (&cache, &self.selected) {
            block(|| headers::lock_folder(c).flush(&sel.maildir));
        }
        self.sync(session, uid);
        outcome.complete(session);
        Ok(())
    }

    /// One message's `* n FETCH`, its content streamed after it when large.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_one(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
        uid: bool,
        attrs: &[FetchAttr],
        plan: &Plan<'_>,
        cache: Option<&Mutex<FolderHeaders>>,
        i: usize,
        outcome: &mut Outcome,
    ) -> io::Result<()> {
        let Some(sel) = self.selected.as_mut() else {
            return Ok(());
        };
        if sel.is_gone(i) {
            outcome.expunged = true;
            return Ok(());
        }
        let Some(loaded) = Loaded::read(sel, i, plan, cache, &mut self.line_ends) else {
            outcome.expunged = true;
            return Ok(());
        };
        let mut items = Vec::with_capacity(attrs.len() + 1);
        if uid && !attrs.contains(&FetchAttr::Uid) {
            items.push(FetchValue::Uid(sel.msg(i).uid));
        }
        for attr in attrs {
            match value(attr, sel, i, cache, &loaded) {
                Ok(Some(v)) => items.push(v),
                Ok(None) => {}
                Err(mime::UnknownCte) => outcome.unknown_cte = true,
            }
        }
        if plan.sets_seen && !sel.read_only && !sel.msg(i).has_flag('S') {
            let m = sel.msg(i).clone();
            // Added to whatever flags the file carries now (another session's included).
            match block(|| sel.maildir.add_flags(&m, "S")) {
                Ok(m) => {
                    sel.set_msg(i, m.clone());
                    sel.record_modseqs(self.listings.modseqs(), &[i]);
                    note_changes(&self.listings, &mut self.recheck, &sel.maildir, &[m], &[]);
                    if !attrs.contains(&FetchAttr::Flags) {
                        items.push(FetchValue::Flags(sel.flags(i)));
                    }
                    if session.is_enabled("CONDSTORE") {
                        items.retain(|item| !matches!(item, FetchValue::ModSeq(_)));
                        items.push(FetchValue::ModSeq(sel.msg(i).modseq));
                    }
                }
                Err(e) => warn!(error = %e, "imap fetch: setting \\Seen failed"),
            }
        }
        session
            .send(&Response::Fetch {
                seq: i as u32 + 1,
                items,
            })
            .answered();
        if let Some(range) = loaded.streamed {
            // Where the file is now: setting \Seen above renamed it.
            let m = sel.msg(i);
            let (path, base) = (sel.maildir.message_path(m), Arc::clone(&m.base));
            let crlf = m.size == m.vsize;
            stream(
                session,
                conn,
                &path,
                &base,
                crlf,
                range,
                &mut self.line_ends,
            )
            .await?;
        }
        Ok(())
    }
}

/// How a FETCH ended: every message sent, or some gone meanwhile, or a part that cannot be
/// decoded for BINARY.
#[derive(Default)]
struct Outcome {
    expunged: bool,
    unknown_cte: bool,
}

impl Outcome {
    fn complete(&self, session: &mut ServerSession) {
        if self.unknown_cte {
            session
                .complete(
                    Status::No,
                    Some(Code::UnknownCte),
                    "A part has a transfer encoding this server cannot undo; fetch it with BODY",
                )
                .answered();
        } else if self.expunged {
            // RFC 2180 §4.1.2 leaves the choice: OK with what could be fetched, as Dovecot
            // answers (a NO makes clients retry the whole FETCH), the code telling the
            // client to look (RFC 5530).
            session
                .complete(
                    Status::Ok,
                    Some(Code::ExpungeIssued),
                    "Some messages were expunged meanwhile",
                )
                .answered();
        } else {
            session
                .complete(Status::Ok, None, "FETCH completed")
                .answered();
        }
    }
}

/// What a FETCH's items need of each message, worked out once per command.
struct Plan<'a> {
    /// BODY or BODYSTRUCTURE.
    wants_structure: bool,
    /// An item that needs the whole message (or a part, or its text).
    needs_body_always: bool,
    /// ENVELOPE, RFC822.HEADER or a BODY[...] section: at least the header.
    needs_header_fields: bool,
    /// What is asked of the header is what the header cache keeps (ENVELOPE and the usual
    /// HEADER.FIELDS lists).
    fields_cacheable: bool,
    /// Thunderbird downloads a large message in chunks (`BODY.PEEK[]<0.65536>`, then the
    /// next): such a chunk is read alone, not the whole message each time.
    window: Option<(u64, u64)>,
    /// A large message asked for whole (`BODY.PEEK[]` from mbsync or a client opening it,
    /// `BODY[TEXT]`) is streamed a chunk at a time, when nothing else needs its content.
    streamable: Option<&'a Section>,
    /// An item sets `\Seen` (one not PEEK).
    sets_seen: bool,
}

/// Items every message answers without its content.
fn is_metadata(a: &FetchAttr) -> bool {
    matches!(
        a,
        FetchAttr::Uid
            | FetchAttr::Flags
            | FetchAttr::Rfc822Size
            | FetchAttr::InternalDate
            | FetchAttr::ModSeq
    )
}

impl<'a> Plan<'a> {
    fn of(attrs: &'a [FetchAttr]) -> Self {
        let needs_whole = |a: &FetchAttr| {
            matches!(
                a,
                FetchAttr::Rfc822
                    | FetchAttr::Rfc822Text
                    | FetchAttr::Binary { .. }
                    | FetchAttr::BinarySize { .. }
            ) || matches!(a, FetchAttr::BodySection { section, .. }
                    if !section.part.is_empty() || !matches!(section.text, Some(SectionText::Header | SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_))))
        };
        // Without a cached BODYSTRUCTURE the whole message is read for it.
        let needs_body_always = attrs.iter().any(needs_whole);
        let fields_cacheable = !needs_body_always && attrs.iter().all(|a| match a {
            FetchAttr::Rfc822Header => false,
            FetchAttr::BodySection { section, .. } => {
                matches!(&section.text, Some(SectionText::HeaderFields(n)) if headers::covers(n))
            }
            _ => true,
        });
        let window = attrs
            .iter()
            .filter_map(|a| match a {
                FetchAttr::BodySection {
                    section,
                    partial: Some(range),
                    ..
                } if section.part.is_empty() && section.text.is_none() => Some(Some(*range)),
                a if is_metadata(a) => None,
                _ => Some(None),
            })
            .try_fold(None, |window: Option<(u64, u64)>, range| {
                let (offset, len) = range?;
                let (offset, end) = (u64::from(offset), u64::from(offset) + u64::from(len));
                Some(Some(window.map_or((offset, end), |(lo, hi)| {
                    (lo.min(offset), hi.max(end))
                })))
            })
            .flatten();
        let mut content_items = attrs.iter().filter(|a| !is_metadata(a));
        let streamable = match (content_items.next(), content_items.next()) {
            (
                Some(FetchAttr::BodySection {
                    section,
                    partial: None,
                    ..
                }),
                None,
            ) if section.part.is_empty()
                && matches!(section.text, None | Some(SectionText::Text)) =>
            {
                Some(section)
            }
            _ => None,
        };
        Plan {
            wants_structure: attrs
                .iter()
                .any(|a| matches!(a, FetchAttr::Body | FetchAttr::BodyStructure)),
            needs_body_always,
            needs_header_fields: attrs.iter().any(|a| {
                matches!(
                    a,
                    FetchAttr::Envelope | FetchAttr::Rfc822Header | FetchAttr::BodySection { .. }
                )
            }),
            fields_cacheable,
            window,
            streamable,
            sets_seen: attrs.iter().any(|a| match a {
                FetchAttr::BodySection { peek, .. } | FetchAttr::Binary { peek, .. } => !peek,
                FetchAttr::Rfc822 | FetchAttr::Rfc822Text => true,
                _ => false,
            }),
        }
    }

    /// Whether the folder's header cache is used (loaded first if need be).
    fn uses_cache(&self, attrs: &[FetchAttr]) -> bool {
        (self.needs_header_fields && self.fields_cacheable)
            || self.wants_structure
            || attrs.contains(&FetchAttr::InternalDate)
    }
}

/// What was read of one message for its items.
struct Loaded {
    /// The message (or its header, or the window's chunk), CRLF.
    content: Option<Vec<u8>>,
    parsed: Option<mime::Part>,
    structure: Option<BodyStructure>,
    header_len: usize,
    window: Option<(u64, u64)>,
    /// The range of the CRLF form to stream after the FETCH line.
    streamed: Option<(u64, u64)>,
}

impl Loaded {
    /// Reads what `plan` needs of message `i`; `None` when its file is gone.
    fn read(
        sel: &Selected,
        i: usize,
        plan: &Plan<'_>,
        cache: Option<&Mutex<FolderHeaders>>,
        line_ends: &mut Option<ranges::LineEnds>,
    ) -> Option<Loaded> {
        let m = sel.msg(i);
        // Made only when the file is read (looking at each message's name costs a cache
        // miss, noticeable over 100,000 of them when only FLAGS are asked for).
        let path_cell = std::sync::OnceLock::new();
        let path = || path_cell.get_or_init(|| sel.maildir.file_path(m.subdir, &m.name));
        let structure = cache
            .filter(|_| plan.wants_structure)
            .and_then(|c| headers::lock_folder(c).structure(&m.base));
        let (crlf, vsize) = (m.size == m.vsize, m.vsize);
        let streamed = match plan.streamable.filter(|_| vsize >= STREAM_ABOVE) {
            Some(section) => {
                let bounds = block(|| -> io::Result<(u64, u64)> {
                    let total = ranges::crlf_len(path(), &m.base, crlf, line_ends)?;
                    let start = match section.text {
                        Some(_) => header_length(&read_message(path(), true)?) as u64,
                        None => 0,
                    };
                    Ok((start.min(total), total))
                });
                Some(readable(path(), bounds)?)
            }
            None => None,
        };
        let window = plan.window;
        let plain_read = window.is_none() && streamed.is_none();
        let needs_body =
            plain_read && (plan.needs_body_always || (plan.wants_structure && structure.is_none()));
        let needs_header = plain_read && (needs_body || plan.needs_header_fields);
        let cached = cache
            .filter(|_| needs_header && !needs_body && plan.fields_cacheable)
            .and_then(|c| headers::lock_folder(c).get(&m.base));
        let hit = cached.is_some();
        let content = if let Some(fields) = cached {
            Some(fields.to_vec())
        } else if let Some(range) = window {
            let chunk = block(|| ranges::read(path(), &m.base, crlf, range, line_ends));
            Some(readable(path(), chunk)?)
        } else if needs_header {
            Some(readable(
                path(),
                block(|| read_message(path(), !needs_body)),
            )?)
        } else {
            None
        };
        if let (Some(c), Some(data), false, None) = (cache, &content, hit, window) {
            let mut folder = headers::lock_folder(c);
            if folder.get(&m.base).is_none() {
                let fields = headers::extract(&data[..header_length(data)]);
                folder.insert(&m.base, fields);
            }
        }
        let parsed = content
            .as_ref()
            .filter(|_| needs_body)
            .map(|c| mime::parse(c));
        let structure = match (structure, &parsed, &content) {
            (Some(s), _, _) => Some(s),
            (None, Some(p), Some(data)) if plan.wants_structure => {
                let s = mime::body_structure(data, p);
                if let Some(c) = cache {
                    headers::lock_folder(c).insert_structure(&m.base, &s);
                }
                Some(s)
            }
            _ => None,
        };
        let header_len = content.as_ref().map(|c| header_length(c)).unwrap_or(0);
        Some(Loaded {
            content,
            parsed,
            structure,
            header_len,
            window,
            streamed,
        })
    }
}

/// The value of one FETCH item of message `i` (none for an item it cannot have, such as
/// BODYSTRUCTURE of an unreadable message).
fn value(
    attr: &FetchAttr,
    sel: &Selected,
    i: usize,
    cache: Option<&Mutex<FolderHeaders>>,
    loaded: &Loaded,
) -> Result<Option<FetchValue>, mime::UnknownCte> {
    let v = sel.msg(i);
    let data = loaded.content.as_deref().unwrap_or(&[]);
    let header = &data[..loaded.header_len];
    Ok(Some(match attr {
        FetchAttr::Flags => FetchValue::Flags(sel.flags(i)),
        FetchAttr::Uid => FetchValue::Uid(v.uid),
        FetchAttr::Rfc822Size => FetchValue::Rfc822Size(v.vsize),
        FetchAttr::InternalDate => FetchValue::InternalDate(DateTime::from_unix(block(|| {
            headers::internal_time(cache, &sel.maildir, v)
        }))),
        FetchAttr::Envelope => FetchValue::Envelope(Box::new(mime::envelope(header))),
        FetchAttr::Body | FetchAttr::BodyStructure => {
            let Some(s) = loaded.structure.as_ref() else {
                return Ok(None);
            };
            let bs = Box::new(s.clone());
            if *attr == FetchAttr::Body {
                FetchValue::Body(bs)
            } else {
                FetchValue::BodyStructure(bs)
            }
        }
        FetchAttr::BodySection {
            section, partial, ..
        } => body_section(section, *partial, data, loaded),
        FetchAttr::Rfc822 => FetchValue::Rfc822(Some(Bytes::copy_from_slice(data))),
        FetchAttr::Rfc822Header => FetchValue::Rfc822Header(Some(Bytes::copy_from_slice(header))),
        FetchAttr::Rfc822Text => {
            FetchValue::Rfc822Text(Some(Bytes::copy_from_slice(&data[loaded.header_len..])))
        }
        FetchAttr::ModSeq => FetchValue::ModSeq(v.modseq),
        FetchAttr::Binary { part, partial, .. } => {
            let Some(p) = loaded.parsed.as_ref() else {
                return Ok(None);
            };
            let (origin, decoded) = match (partial, mime::binary(data, p, part)?) {
                (Some((offset, len)), Some(d)) => {
                    let start = (*offset as usize).min(d.len());
                    let end = start.saturating_add(*len as usize).min(d.len());
                    (Some(*offset), Some(d[start..end].to_vec()))
                }
                (_, d) => (None, d),
            };
            FetchValue::Binary {
                part: part.clone(),
                origin,
                data: decoded.map(Bytes::from),
            }
        }
        FetchAttr::BinarySize { part } => {
            let Some(p) = loaded.parsed.as_ref() else {
                return Ok(None);
            };
            FetchValue::BinarySize {
                part: part.clone(),
                size: mime::binary(data, p, part)?.map_or(0, |d| d.len() as u64),
            }
        }
    }))
}

/// `BODY[section]<partial>`: streamed after the line, cut from the window read, or taken
/// from the message (or its header alone).
fn body_section(
    section: &Section,
    partial: Option<(u32, u32)>,
    data: &[u8],
    loaded: &Loaded,
) -> FetchValue {
    if let Some((start, end)) = loaded.streamed {
        return FetchValue::BodySectionStreamed {
            section: section.clone(),
            origin: None,
            len: end - start,
        };
    }
    let header = &data[..loaded.header_len];
    let octets = match (loaded.window, loaded.parsed.as_ref()) {
        (Some((start, _)), _) => {
            // The chunk of the window read; the range asked for is within it.
            let (offset, len) = partial.unwrap_or_default();
            let from = (u64::from(offset) - start) as usize;
            let to = from.saturating_add(len as usize).min(data.len());
            let chunk = data.get(from..to).unwrap_or_default().to_vec();
            return FetchValue::BodySection {
                section: section.clone(),
                origin: Some(offset),
                data: Some(Bytes::from(chunk)),
            };
        }
        (None, Some(p)) => mime::section(data, p, section),
        (None, None) => match &section.text {
            Some(SectionText::Header) => Some(header.to_vec()),
            Some(SectionText::HeaderFields(n)) => Some(mime::header_fields(header, n, false)),
            Some(SectionText::HeaderFieldsNot(n)) => Some(mime::header_fields(header, n, true)),
            _ => None,
        },
    };
    let octets = octets.unwrap_or_default();
    let (origin, octets) = match partial {
        Some((offset, len)) => {
            let start = (offset as usize).min(octets.len());
            let end = start.saturating_add(len as usize).min(octets.len());
            (Some(offset), octets[start..end].to_vec())
        }
        None => (None, octets),
    };
    FetchValue::BodySection {
        section: section.clone(),
        origin,
        data: Some(Bytes::from(octets)),
    }
}

/// Sends `range` of the CRLF form of the message at `path` as the literal promised, a chunk
/// at a time, flushing as it goes.
async fn stream(
    session: &mut ServerSession,
    conn: &mut Conn,
    path: &std::path::Path,
    base: &Arc<str>,
    crlf: bool,
    (mut at, end): (u64, u64),
    line_ends: &mut Option<ranges::LineEnds>,
) -> io::Result<()> {
    while at < end {
        let to = (at + STREAM_CHUNK).min(end);
        let chunk = block(|| ranges::read(path, base, crlf, (at, to), line_ends))?;
        if chunk.len() as u64 != to - at {
            // The literal's length is promised: the connection cannot go on.
            return Err(io::Error::other(format!(
                "{} changed while being sent",
                path.display()
            )));
        }
        session.stream_literal(&chunk).answered();
        at = to;
        if session.pending_output() >= WRITE_BATCH {
            flush(session, conn).await?;
        }
    }
    Ok(())
}

/// Where the header ends in CRLF data (after the blank line).
pub(super) fn header_length(data: &[u8]) -> usize {
    if data.starts_with(b"\r\n") {
        return 2;
    }
    memchr::memmem::find(data, b"\r\n\r\n").map_or(data.len(), |i| i + 4)
}

/// The message with CRLF line ends; with `header_only`, only as far as the header needs
/// (whole messages are read only when the body is asked for).
/// What was read, or `None` when the message is gone (expunged meanwhile) or unreadable
/// (logged).
pub(super) fn readable<T>(path: &std::path::Path, read: io::Result<T>) -> Option<T> {
    match read {
        Ok(v) => Some(v),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "imap fetch: message unreadable");
            None
        }
    }
}
