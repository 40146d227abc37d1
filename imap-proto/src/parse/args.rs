//! Arguments shared by several commands: APPEND's, CONDSTORE's mod-sequences, SELECT/EXAMINE
//! parameters (CONDSTORE, QRESYNC), STATUS items.

use crate::command::{Mailbox, QResync, SelectParams, StatusItem};
use crate::types::{DateTime, Flag};

use super::cursor::{Cursor, Fail, NAME_MAX, R};

impl Cursor<'_> {
    /// APPEND's arguments before its message: ` mailbox [flags] [date-time] `.
    pub(super) fn append_args(&mut self) -> R<(Mailbox, Vec<Flag>, Option<DateTime>)> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            let f = self.settable_flag_list()?;
            self.sp()?;
            f
        } else {
            Vec::new()
        };
        let date = if self.peek() == Some(b'"') {
            let d = self.date_time()?;
            self.sp()?;
            Some(d)
        } else {
            None
        };
        Ok((mailbox, flags, date))
    }

    /// `mod-sequence-value`: 1 to 2^63-1 (RFC 7162 §7); `zero_ok` for `mod-sequence-valzer`.
    pub(super) fn mod_sequence_value(&mut self, zero_ok: bool) -> R<u64> {
        let n = self.number64()?;
        if n > i64::MAX as u64 || (n == 0 && !zero_ok) {
            return Err(Fail("MODSEQ out of range"));
        }
        Ok(n)
    }

    pub(super) fn mod_sequence(&mut self) -> R<u64> {
        self.mod_sequence_value(true)
    }

    /// SELECT/EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
    pub(super) fn select_params(&mut self) -> R<SelectParams> {
        let mut params = SelectParams::default();
        if !self.eat(b' ') {
            return Ok(params);
        }
        self.expect(b'(', "Expected (")?;
        loop {
            match self.upper_atom(&mut [0; NAME_MAX])? {
                "CONDSTORE" => params.condstore = true,
                "QRESYNC" if params.qresync.is_none() => {
                    self.sp()?;
                    self.expect(b'(', "Expected (")?;
                    let uid_validity = self.nz_number()?;
                    self.sp()?;
                    let modseq = self.mod_sequence_value(false)?;
                    let mut known_uids = None;
                    let mut seq_match = None;
                    if self.eat(b' ') {
                        if self.peek() != Some(b'(') {
                            known_uids = Some(self.sequence_set()?);
                            self.eat(b' ');
                        }
                        if self.eat(b'(') {
                            let seqs = self.sequence_set()?;
                            self.sp()?;
                            let uids = self.sequence_set()?;
                            self.expect(b')', "Expected )")?;
                            seq_match = Some((seqs, uids));
                        }
                    }
                    self.expect(b')', "Expected )")?;
                    params.qresync = Some(Box::new(QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    }));
                }
                _ => return Err(Fail("Unknown SELECT parameter")),
            }
            if self.eat(b')') {
                return Ok(params);
            }
            self.sp()?;
        }
    }

    pub(super) fn status_items(&mut self) -> R<Vec<StatusItem>> {
        self.expect(b'(', "Expected status items")?;
        let mut items = Vec::new();
        loop {
            let item = match self.upper_atom(&mut [0; NAME_MAX])? {
                "MESSAGES" => StatusItem::Messages,
                "RECENT" => StatusItem::Recent,
                "UIDNEXT" => StatusItem::UidNext,
                "UIDVALIDITY" => StatusItem::UidValidity,
                "UNSEEN" => StatusItem::Unseen,
                "DELETED" => StatusItem::Deleted,
                "SIZE" => StatusItem::Size,
                "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
                _ => return Err(Fail("Unknown status item")),
            };
            items.push(item);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }
}
