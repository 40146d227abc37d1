//! FETCH: flags, sizes, envelopes, body structures and sections, streamed when large.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use imap_proto::{
    Code, DateTime, FetchAttr, FetchValue, Response, SectionText, SequenceSet, ServerSession,
    Status,
};
use tracing::warn;

use super::session::{STREAM_ABOVE, STREAM_CHUNK, User, block, note_changes, read_message};
use crate::conn::Conn;
use crate::imap::{WRITE_BATCH, flush, headers, mime, ranges};

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
        let changed_since = since.map(|c| c.modseq);
        let vanished = since.is_some_and(|c| c.vanished);
        if vanished && !session.is_enabled("QRESYNC") {
            let _ = session.complete(Status::Bad, None, "ENABLE QRESYNC first");
            return Ok(());
        }
        let mut indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                let _ = session.complete(Status::Bad, None, e);
                return Ok(());
            }
        };
        // RFC 7162 §3.1.4: CHANGEDSINCE narrows to the changed messages and reports MODSEQ.
        let mut with_modseq;
        let mut attrs = attrs;
        if attrs.contains(&FetchAttr::ModSeq) || changed_since.is_some() {
            self.condstore_enabled(session);
        }
        if let (Some(since), Some(sel)) = (changed_since, &self.selected) {
            indices.retain(|&i| sel.msg(i).modseq > since);
            if vanished {
                let largest = sel.next_uid.saturating_sub(1);
                if let Some(uids) = self.vanished(sel, since, &|u| {
                    if set.is_saved() {
                        sel.is_saved(u)
                    } else {
                        set.contains(u, largest)
                    }
                }) {
                    let _ = session.send(&Response::Vanished {
                        earlier: true,
                        uids,
                    });
                }
            }
            if !attrs.contains(&FetchAttr::ModSeq) {
                with_modseq = attrs.to_vec();
                with_modseq.push(FetchAttr::ModSeq);
                attrs = &with_modseq;
            }
        }
        let is_structure = |a: &FetchAttr| matches!(a, FetchAttr::Body | FetchAttr::BodyStructure);
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
        let wants_structure = attrs.iter().any(is_structure);
        // Without a cached BODYSTRUCTURE the whole message is read for it.
        let needs_body_always = attrs.iter().any(needs_whole);
        let needs_header_fields = attrs.iter().any(|a| {
            matches!(
                a,
                FetchAttr::Envelope | FetchAttr::Rfc822Header | FetchAttr::BodySection { .. }
            )
        });
        // ENVELOPE and the usual HEADER.FIELDS lists come from the header cache.
        let fields_cacheable = !needs_body_always && attrs.iter().all(|a| match a {
            FetchAttr::Rfc822Header => false,
            FetchAttr::BodySection { section, .. } => {
                matches!(&section.text, Some(SectionText::HeaderFields(n)) if headers::covers(n))
            }
            _ => true,
        });
        // Thunderbird downloads a large message in chunks (`BODY.PEEK[]<0.65536>`, then the
        // next): such a chunk is read alone, not the whole message each time.
        let whole_message_chunks = attrs
            .iter()
            .filter_map(|a| match a {
                FetchAttr::BodySection {
                    section,
                    partial: Some(range),
                    ..
                } if section.part.is_empty() && section.text.is_none() => Some(Some(*range)),
                FetchAttr::Uid
                | FetchAttr::Flags
                | FetchAttr::Rfc822Size
                | FetchAttr::InternalDate
                | FetchAttr::ModSeq => None,
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
        // A large message asked for whole (`BODY.PEEK[]` from mbsync or a client opening it,
        // `BODY[TEXT]`) is streamed a chunk at a time, when nothing else needs its content.
        let streamable = {
            let mut content_items = attrs.iter().filter(|a| {
                !matches!(
                    a,
                    FetchAttr::Uid
                        | FetchAttr::Flags
                        | FetchAttr::Rfc822Size
                        | FetchAttr::InternalDate
                        | FetchAttr::ModSeq
                )
            });
            match (content_items.next(), content_items.next()) {
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
            }
        };
        let cache = match &self.selected {
            Some(sel)
                if (needs_header_fields && fields_cacheable)
                    || wants_structure
                    || attrs.contains(&FetchAttr::InternalDate) =>
            {
                Some(block(|| {
                    self.headers
                        .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
                }))
            }
            _ => None,
        };
        let mut expunged = false;
        let mut unknown_cte = false;
        let root = self.selected.as_ref().map(|sel| sel.maildir.clone());
        let may_read = streamable.is_some()
            || whole_message_chunks.is_some()
            || needs_body_always
            || wants_structure
            || needs_header_fields;
        for i in indices {
            let (Some(sel), Some(root)) = (self.selected.as_mut(), root.as_ref()) else {
                break;
            };
            if sel.is_gone(i) {
                expunged = true;
                continue;
            }
            // Made only when the file is read (looking at each message's name costs a cache
            // miss, noticeable over 100,000 of them when only FLAGS are asked for).
            let file = may_read.then(|| (sel.msg(i).subdir, Arc::clone(&sel.msg(i).name)));
            let path_cell = std::sync::OnceLock::new();
            let path = || {
                path_cell.get_or_init(|| {
                    file.as_ref()
                        .map(|(subdir, name)| root.file_path(*subdir, name))
                        .unwrap_or_default()
                })
            };
            let structure = cache
                .as_ref()
                .filter(|_| wants_structure)
                .and_then(|c| headers::lock_folder(c).structure(&sel.msg(i).base));
            let window = whole_message_chunks;
            let (crlf, vsize) = (sel.msg(i).size == sel.msg(i).vsize, sel.msg(i).vsize);
            // The streamed range of the CRLF form, its length read from the file.
            let streamed = match streamable.filter(|_| vsize >= STREAM_ABOVE) {
                Some(section) => {
                    let base = Arc::clone(&sel.msg(i).base);
                    let line_ends = &mut self.line_ends;
                    let bounds = block(|| -> io::Result<(u64, u64)> {
                        let total = ranges::crlf_len(path(), &base, crlf, line_ends)?;
                        let start = match section.text {
                            Some(_) => header_length(&read_message(path(), true)?) as u64,
                            None => 0,
                        };
                        Ok((start.min(total), total))
                    });
                    let Some(bounds) = readable(path(), bounds) else {
                        expunged = true;
                        continue;
                    };
                    Some(bounds)
                }
                None => None,
            };
            let plain_read = window.is_none() && streamed.is_none();
            let needs_body =
                plain_read && (needs_body_always || (wants_structure && structure.is_none()));
            let needs_header = plain_read && (needs_body || needs_header_fields);
            let cached = cache
                .as_ref()
                .filter(|_| needs_header && !needs_body && fields_cacheable)
                .and_then(|c| headers::lock_folder(c).get(&sel.msg(i).base));
            let hit = cached.is_some();
            let content = if let Some(fields) = cached {
                Some(fields.to_vec())
            } else if let Some(range) = window {
                let base = Arc::clone(&sel.msg(i).base);
                let line_ends = &mut self.line_ends;
                let chunk = block(|| ranges::read(path(), &base, crlf, range, line_ends));
                let Some(c) = readable(path(), chunk) else {
                    expunged = true;
                    continue;
                };
                Some(c)
            } else if needs_header {
                let Some(c) = readable(path(), block(|| read_message(path(), !needs_body))) else {
                    expunged = true;
                    continue;
                };
                Some(c)
            } else {
                None
            };
            if let (Some(c), Some(data), false, None) = (&cache, &content, hit, window) {
                let mut folder = headers::lock_folder(c);
                if folder.get(&sel.msg(i).base).is_none() {
                    let fields = headers::extract(&data[..header_length(data)]);
                    folder.insert(&sel.msg(i).base, fields);
                }
            }
            let parsed = content
                .as_ref()
                .filter(|_| needs_body)
                .map(|c| mime::parse(c));
            let structure = match (structure, &parsed, &content) {
                (Some(s), _, _) => Some(s),
                (None, Some(p), Some(data)) if wants_structure => {
                    let s = mime::body_structure(data, p);
                    if let Some(c) = &cache {
                        headers::lock_folder(c).insert_structure(&sel.msg(i).base, &s);
                    }
                    Some(s)
                }
                _ => None,
            };
            let header_len = content.as_ref().map(|c| header_length(c)).unwrap_or(0);
            let mut items = Vec::with_capacity(attrs.len() + 1);
            if uid && !attrs.contains(&FetchAttr::Uid) {
                items.push(FetchValue::Uid(sel.msg(i).uid));
            }
            let mut set_seen = false;
            for attr in attrs {
                let v = sel.msg(i);
                let data = content.as_deref().unwrap_or(&[]);
                items.push(match attr {
                    FetchAttr::Flags => FetchValue::Flags(sel.flags(i)),
                    FetchAttr::Uid => FetchValue::Uid(v.uid),
                    FetchAttr::Rfc822Size => FetchValue::Rfc822Size(v.vsize),
                    FetchAttr::InternalDate => {
                        FetchValue::InternalDate(DateTime::from_unix(block(|| {
                            headers::internal_time(cache.as_deref(), &sel.maildir, v)
                        })))
                    }
                    FetchAttr::Envelope => {
                        FetchValue::Envelope(Box::new(mime::envelope(&data[..header_len])))
                    }
                    FetchAttr::Body | FetchAttr::BodyStructure => {
                        let Some(s) = structure.as_ref() else {
                            continue;
                        };
                        let bs = Box::new(s.clone());
                        if *attr == FetchAttr::Body {
                            FetchValue::Body(bs)
                        } else {
                            FetchValue::BodyStructure(bs)
                        }
                    }
                    FetchAttr::BodySection {
                        peek,
                        section,
                        partial,
                    } => {
                        set_seen |= !peek;
                        if let Some((start, end)) = streamed {
                            items.push(FetchValue::BodySectionStreamed {
                                section: section.clone(),
                                origin: None,
                                len: end - start,
                            });
                            continue;
                        }
                        let octets = match (window, parsed.as_ref()) {
                            (Some((start, _)), _) => {
                                // The chunk of the window read; the range below is within it.
                                let (offset, len) = partial.unwrap_or_default();
                                let from = (u64::from(offset) - start) as usize;
                                let to = from.saturating_add(len as usize).min(data.len());
                                let chunk = data.get(from..to).unwrap_or_default().to_vec();
                                items.push(FetchValue::BodySection {
                                    section: section.clone(),
                                    origin: Some(offset),
                                    data: Some(Bytes::from(chunk)),
                                });
                                continue;
                            }
                            (None, Some(p)) => mime::section(data, p, section),
                            (None, None) => match &section.text {
                                Some(SectionText::Header) => Some(data[..header_len].to_vec()),
                                Some(SectionText::HeaderFields(n)) => {
                                    Some(mime::header_fields(&data[..header_len], n, false))
                                }
                                Some(SectionText::HeaderFieldsNot(n)) => {
                                    Some(mime::header_fields(&data[..header_len], n, true))
                                }
                                _ => None,
                            },
                        };
                        let octets = octets.unwrap_or_default();
                        let (origin, octets) = match partial {
                            Some((offset, len)) => {
                                let start = (*offset as usize).min(octets.len());
                                let end = start.saturating_add(*len as usize).min(octets.len());
                                (Some(*offset), octets[start..end].to_vec())
                            }
                            None => (None, octets),
                        };
                        FetchValue::BodySection {
                            section: section.clone(),
                            origin,
                            data: Some(Bytes::from(octets)),
                        }
                    }
                    FetchAttr::Rfc822 => {
                        set_seen = true;
                        FetchValue::Rfc822(Some(Bytes::copy_from_slice(data)))
                    }
                    FetchAttr::Rfc822Header => {
                        FetchValue::Rfc822Header(Some(Bytes::copy_from_slice(&data[..header_len])))
                    }
                    FetchAttr::Rfc822Text => {
                        set_seen = true;
                        FetchValue::Rfc822Text(Some(Bytes::copy_from_slice(&data[header_len..])))
                    }
                    FetchAttr::ModSeq => FetchValue::ModSeq(v.modseq),
                    FetchAttr::Binary {
                        peek,
                        part,
                        partial,
                    } => {
                        set_seen |= !peek;
                        let Some(p) = parsed.as_ref() else { continue };
                        let decoded = match mime::binary(data, p, part) {
                            Ok(d) => d,
                            Err(mime::UnknownCte) => {
                                unknown_cte = true;
                                continue;
                            }
                        };
                        let (origin, decoded) = match (partial, decoded) {
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
                        let Some(p) = parsed.as_ref() else { continue };
                        match mime::binary(data, p, part) {
                            Ok(d) => FetchValue::BinarySize {
                                part: part.clone(),
                                size: d.map_or(0, |d| d.len() as u64),
                            },
                            Err(mime::UnknownCte) => {
                                unknown_cte = true;
                                continue;
                            }
                        }
                    }
                });
            }
            if set_seen && !sel.read_only && !sel.msg(i).has_flag('S') {
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
            let _ = session.send(&Response::Fetch {
                seq: i as u32 + 1,
                items,
            });
            if let Some((mut at, end)) = streamed {
                let base = Arc::clone(&sel.msg(i).base);
                // Where the file is now: setting \Seen above renamed it.
                let path = root.message_path(sel.msg(i));
                while at < end {
                    let to = (at + STREAM_CHUNK).min(end);
                    let line_ends = &mut self.line_ends;
                    let chunk = block(|| ranges::read(&path, &base, crlf, (at, to), line_ends))?;
                    if chunk.len() as u64 != to - at {
                        // The literal's length is promised: the connection cannot go on.
                        return Err(io::Error::other(format!(
                            "{} changed while being sent",
                            path.display()
                        )));
                    }
                    let _ = session.stream_literal(&chunk);
                    at = to;
                    if session.pending_output() >= WRITE_BATCH {
                        flush(session, conn).await?;
                    }
                }
            }
            if session.pending_output() >= WRITE_BATCH {
                flush(session, conn).await?;
            }
        }
        if let (Some(c), Some(sel)) = (&cache, &self.selected) {
            block(|| headers::lock_folder(c).flush(&sel.maildir));
        }
        self.sync(session, uid);
        if unknown_cte {
            let _ = session.complete(
                Status::No,
                Some(Code::UnknownCte),
                "A part has a transfer encoding this server cannot undo; fetch it with BODY",
            );
        } else if expunged {
            // RFC 2180 §4.1.2 leaves the choice: OK with what could be fetched, as Dovecot
            // answers (a NO makes clients retry the whole FETCH), the code telling the
            // client to look (RFC 5530).
            let _ = session.complete(
                Status::Ok,
                Some(Code::ExpungeIssued),
                "Some messages were expunged meanwhile",
            );
        } else {
            let _ = session.complete(Status::Ok, None, "FETCH completed");
        }
        Ok(())
    }
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
