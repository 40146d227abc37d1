//! The message itself: DATA (dot-unstuffed, smuggling-safe) and BDAT chunks, and the
//! replies to a body that is refused.

use crate::frame::{BodyDefect, DataItem};
use crate::types::Reply;

use super::*;

impl ServerSession {
    /// Why the transaction cannot take a body now, if it cannot.
    pub(super) fn body_refusal(&self) -> Option<Reply> {
        match &self.tx {
            None => Some(Reply::fixed(503, 5, 5, 1, "Error: need MAIL command")),
            Some(tx) if tx.rcpt_accepted == 0 && tx.rcpt_attempted > 0 => {
                Some(Reply::fixed(554, 5, 5, 1, "Error: no valid recipients"))
            }
            Some(tx) if tx.rcpt_accepted == 0 => {
                Some(Reply::fixed(503, 5, 5, 1, "Error: need RCPT command"))
            }
            _ => None,
        }
    }

    pub(super) fn start_data(&mut self) {
        if let Some(reply) = self.body_refusal() {
            return self.error(reply);
        }
        if self.tx.as_ref().is_some_and(|t| t.body.is_some()) {
            return self.error(Reply::fixed(503, 5, 5, 1, "Error: DATA after BDAT"));
        }
        self.pending = Some(Pending::MessageStart {
            kind: BodyKind::Data,
            bdat: None,
        });
        self.events.push_back(Event::MessageStart {
            kind: BodyKind::Data,
        });
    }

    pub(super) fn start_bdat(&mut self, size: u64, last: bool) {
        // Whatever we answer, the chunk's octets follow the command and must be consumed.
        let discard = |s: &mut Self, reply: Reply| {
            s.errors += 1;
            s.phase = Phase::Bdat {
                remaining: size,
                last,
                refuse: Some(reply),
            };
        };
        if !self.config.chunking {
            return discard(
                self,
                Reply::fixed(502, 5, 5, 1, "Error: BDAT not supported"),
            );
        }
        if let Some(reply) = self.body_refusal() {
            return discard(self, reply);
        }
        let max = self.config.limits.max_message_size;
        let Some(tx) = &mut self.tx else { return };
        if tx.bdat_failed {
            return discard(
                self,
                Reply::fixed(503, 5, 5, 1, "Error: earlier BDAT failed, send RSET"),
            );
        }
        let total = tx.bdat_size.saturating_add(size);
        if max != 0 && total > max {
            let started = tx.body.is_some();
            tx.bdat_failed = true;
            if started {
                self.events.push_back(Event::MessageAborted {
                    reason: AbortReason::TooLarge,
                });
            }
            return discard(
                self,
                Reply::fixed(552, 5, 3, 4, "Message size exceeds fixed limit"),
            );
        }
        tx.bdat_size = total;
        if tx.body.is_none() {
            self.pending = Some(Pending::MessageStart {
                kind: BodyKind::Bdat,
                bdat: Some((size, last)),
            });
            self.events.push_back(Event::MessageStart {
                kind: BodyKind::Bdat,
            });
        } else {
            self.phase = Phase::Bdat {
                remaining: size,
                last,
                refuse: None,
            };
        }
    }

    pub(super) fn step_bdat(&mut self) -> bool {
        let Phase::Bdat {
            remaining,
            last,
            refuse,
        } = &mut self.phase
        else {
            return false;
        };
        if *remaining > 0 {
            if self.io.input.is_empty() {
                return false;
            }
            let take = (*remaining).min(self.io.input.len() as u64) as usize;
            let chunk = self.io.input.split_to(take).freeze();
            *remaining -= take as u64;
            if refuse.is_none() {
                self.events.push_back(Event::MessageChunk(chunk));
            }
            if *remaining > 0 {
                return true;
            }
        }
        let last = *last;
        let refuse = refuse.take();
        self.phase = Phase::Command;
        match refuse {
            Some(reply) => {
                self.queue(reply);
                if self.errors >= self.config.limits.max_errors {
                    self.queue(Reply::fixed(
                        421,
                        4,
                        7,
                        0,
                        "Too many errors, closing connection",
                    ));
                    self.close_for(CloseReason::Errors);
                }
            }
            None if last => {
                let size = self.tx.as_ref().map_or(0, |t| t.bdat_size);
                self.pending = Some(Pending::MessageEnd);
                self.events.push_back(Event::MessageEnd { size });
            }
            None => {
                let size = self.tx.as_ref().map_or(0, |t| t.bdat_size);
                let text = format!("Ok, {size} octets received");
                self.queue(reply_or(250, 2, 0, 0, &text, "Ok"));
            }
        }
        true
    }

    pub(super) fn step_data(&mut self) -> bool {
        let Phase::Data(decoder) = &mut self.phase else {
            return false;
        };
        match decoder.decode(&mut self.io.input) {
            None => false,
            Some(DataItem::Chunk(chunk)) => {
                self.events.push_back(Event::MessageChunk(chunk));
                true
            }
            Some(DataItem::End) => {
                let size = decoder.size();
                let defect = decoder.defect();
                self.phase = Phase::Command;
                match defect {
                    None => {
                        self.pending = Some(Pending::MessageEnd);
                        self.events.push_back(Event::MessageEnd { size });
                    }
                    Some(defect) => {
                        self.tx = None;
                        let reply = self.defect_reply(defect);
                        self.queue(reply);
                        self.events.push_back(Event::MessageAborted {
                            reason: AbortReason::Defect(defect),
                        });
                    }
                }
                true
            }
        }
    }

    pub(super) fn defect_reply(&self, defect: BodyDefect) -> Reply {
        match defect {
            BodyDefect::BareLineEnding => Reply::fixed(
                550,
                5,
                6,
                0,
                "Message refused: bare CR or LF; SMTP lines end with CRLF",
            ),
            BodyDefect::Nul => {
                Reply::fixed(550, 5, 6, 0, "Message refused: it contains NUL octets")
            }
            BodyDefect::LineTooLong => Reply::fixed(
                550,
                5,
                6,
                0,
                &format!(
                    "Message refused: a line is longer than {} octets",
                    self.config.limits.max_data_line
                ),
            ),
            BodyDefect::TooLarge => Reply::fixed(552, 5, 3, 4, "Message size exceeds fixed limit"),
        }
    }
}
