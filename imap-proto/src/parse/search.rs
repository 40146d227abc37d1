//! The SEARCH grammar (RFC 3501 §6.4.4 with RFC 9051's and CONDSTORE's keys), nested at
//! most [`MAX_SEARCH_NESTING`] deep.

use crate::command::SearchKey;
use crate::types::Atom;

use super::cursor::{Cursor, Fail, NAME_MAX, R};

/// Deepest nesting of SEARCH key parentheses and NOT/OR accepted.
pub const MAX_SEARCH_NESTING: usize = 10;

impl Cursor<'_> {
    pub(super) fn search_key(&mut self, depth: usize) -> R<SearchKey> {
        if depth > MAX_SEARCH_NESTING {
            return Err(Fail("Search keys nested too deeply"));
        }
        if self.eat(b'(') {
            let mut keys = vec![self.search_key(depth + 1)?];
            while self.eat(b' ') {
                keys.push(self.search_key(depth + 1)?);
            }
            self.expect(b')', "Expected ) after search keys")?;
            return Ok(SearchKey::And(keys));
        }
        if matches!(self.peek(), Some(b'0'..=b'9' | b'*' | b'$')) {
            return Ok(SearchKey::SequenceSet(self.sequence_set()?));
        }
        let mut upper = [0; NAME_MAX];
        let word = self.upper_atom(&mut upper)?;
        let arg_string = |c: &mut Self| -> R<String> {
            c.sp()?;
            c.astring()
        };
        Ok(match word {
            "ALL" => SearchKey::All,
            "ANSWERED" => SearchKey::Answered,
            "DELETED" => SearchKey::Deleted,
            "DRAFT" => SearchKey::Draft,
            "FLAGGED" => SearchKey::Flagged,
            "NEW" => SearchKey::New,
            "OLD" => SearchKey::Old,
            "RECENT" => SearchKey::Recent,
            "SEEN" => SearchKey::Seen,
            "UNANSWERED" => SearchKey::Unanswered,
            "UNDELETED" => SearchKey::Undeleted,
            "UNDRAFT" => SearchKey::Undraft,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNSEEN" => SearchKey::Unseen,
            "BCC" => SearchKey::Bcc(arg_string(self)?),
            "BODY" => SearchKey::Body(arg_string(self)?),
            "CC" => SearchKey::Cc(arg_string(self)?),
            "FROM" => SearchKey::From(arg_string(self)?),
            "SUBJECT" => SearchKey::Subject(arg_string(self)?),
            "TEXT" => SearchKey::Text(arg_string(self)?),
            "TO" => SearchKey::To(arg_string(self)?),
            "HEADER" => {
                let name = arg_string(self)?;
                SearchKey::Header(name, arg_string(self)?)
            }
            "KEYWORD" | "UNKEYWORD" => {
                self.sp()?;
                let k = Atom::new(self.atom()?).map_err(|_| Fail("Invalid keyword"))?;
                if word == "KEYWORD" {
                    SearchKey::Keyword(k)
                } else {
                    SearchKey::Unkeyword(k)
                }
            }
            "LARGER" | "SMALLER" => {
                self.sp()?;
                let n = self.number64()?;
                if word == "LARGER" {
                    SearchKey::Larger(n)
                } else {
                    SearchKey::Smaller(n)
                }
            }
            "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
                self.sp()?;
                let d = self.date()?;
                match word {
                    "BEFORE" => SearchKey::Before(d),
                    "ON" => SearchKey::On(d),
                    "SINCE" => SearchKey::Since(d),
                    "SENTBEFORE" => SearchKey::SentBefore(d),
                    "SENTON" => SearchKey::SentOn(d),
                    _ => SearchKey::SentSince(d),
                }
            }
            "NOT" => {
                self.sp()?;
                SearchKey::Not(Box::new(self.search_key(depth + 1)?))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key(depth + 1)?;
                self.sp()?;
                let b = self.search_key(depth + 1)?;
                SearchKey::Or(Box::new(a), Box::new(b))
            }
            "UID" => {
                self.sp()?;
                SearchKey::Uid(self.sequence_set()?)
            }
            "MODSEQ" => {
                self.sp()?;
                let entry = if matches!(self.peek(), Some(b'"' | b'{')) {
                    let name = self.string()?;
                    self.sp()?;
                    let kind = self.atom()?.to_ascii_lowercase();
                    if !matches!(kind.as_str(), "priv" | "shared" | "all") {
                        return Err(Fail("Expected priv, shared or all"));
                    }
                    self.sp()?;
                    Some((
                        name,
                        Atom::new(kind).map_err(|_| Fail("Invalid entry type"))?,
                    ))
                } else {
                    None
                };
                SearchKey::ModSeq {
                    modseq: self.mod_sequence()?,
                    entry,
                }
            }
            _ => return Err(Fail("Unknown search key")),
        })
    }
}
