#![doc = include_str!("../README.md")]

/// The byte buffers of this crate's API (from the `bytes` crate, re-exported so that an
/// embedder needs no version of its own to match).
pub use bytes::{Bytes, BytesMut};

/// Why a session refused octets the client sent (also `imap-proto`'s, whose session frames
/// literals itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The session is closed.
    #[error("session is closed")]
    Closed,
    /// More input than the session's `input_capacity` allowed.
    #[error("input exceeds the session's capacity")]
    InputOverflow,
    /// Plaintext arrived between the answer to STARTTLS (or STLS) and the handshake
    /// (CVE-2011-0411): the session closes.
    #[error("plaintext received while waiting for the TLS handshake")]
    InputDuringTls,
}

/// Where the next line in a buffer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStatus {
    /// A line of `len` octets including its line end; `content` octets before CR/LF.
    Complete {
        /// Octets to consume, line end included.
        len: usize,
        /// Octets of the line without its line end.
        content: usize,
    },
    /// No line end yet, and the line is still within the limit.
    Incomplete,
    /// No line end within `max` octets.
    TooLong,
}

/// Finds the first line in `buf`. LF ends a line and a CR before it is dropped (a lone LF is
/// accepted in command lines, as Postfix and Dovecot do); `max` counts the line end.
pub fn find_line(buf: &[u8], max: usize) -> LineStatus {
    let window = &buf[..buf.len().min(max)];
    match memchr::memchr(b'\n', window) {
        Some(i) => LineStatus::Complete {
            len: i + 1,
            content: if i > 0 && window[i - 1] == b'\r' {
                i - 1
            } else {
                i
            },
        },
        None if buf.len() >= max => LineStatus::TooLong,
        None => LineStatus::Incomplete,
    }
}

/// The next command line taken from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line, without its line end.
    Complete(BytesMut),
    /// No line end yet: more input is needed.
    Incomplete,
    /// No line end within the limit. The input is left as it is: the session answers and
    /// closes, since a client that keeps sending such a line could hold it open forever.
    TooLong,
}

/// A session's input and output, and whether it is closing.
///
/// The fields are public to the protocol crates that build on it, which also stream message
/// bodies straight from `input` (SMTP DATA) and into `output` (POP3 RETR).
#[derive(Debug, Default)]
pub struct Buffers {
    /// Octets received and not yet consumed.
    pub input: BytesMut,
    /// Octets to send and not yet taken by [`Buffers::poll_output`].
    pub output: BytesMut,
    /// The session has said its last word; it closes once `output` is taken.
    pub closing: bool,
}

impl Buffers {
    /// Takes `data` from the client, within `capacity` (the session's `input_capacity`).
    /// While `awaiting_tls`, any octet is refused and the session closes.
    pub fn receive(
        &mut self,
        data: &[u8],
        capacity: usize,
        awaiting_tls: bool,
    ) -> Result<(), SessionError> {
        if self.closing {
            return Err(SessionError::Closed);
        }
        if awaiting_tls && !data.is_empty() {
            self.close();
            return Err(SessionError::InputDuringTls);
        }
        if data.len() > capacity {
            return Err(SessionError::InputOverflow);
        }
        self.input.extend_from_slice(data);
        Ok(())
    }

    /// `limit` less the octets already waiting: what a session with that input limit can take.
    pub fn room(&self, limit: usize) -> usize {
        limit.saturating_sub(self.input.len())
    }

    /// Takes the next line of at most `max` octets (line end included) from the input.
    pub fn take_line(&mut self, max: usize) -> Line {
        match find_line(&self.input, max) {
            LineStatus::Incomplete => Line::Incomplete,
            LineStatus::TooLong => Line::TooLong,
            LineStatus::Complete { len, content } => {
                let mut line = self.input.split_to(len);
                line.truncate(content);
                Line::Complete(line)
            }
        }
    }

    /// Octets to send, if any.
    pub fn poll_output(&mut self) -> Option<Bytes> {
        (!self.output.is_empty()).then(|| self.output.split().freeze())
    }

    /// Octets queued and not yet taken.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// Whether the session has ended and its output has been taken.
    pub fn is_closed(&self) -> bool {
        self.closing && self.output.is_empty()
    }

    /// Closes after the output already queued; input not yet read is dropped.
    pub fn close(&mut self) {
        self.closing = true;
        self.input.clear();
    }

    /// The client went away: nothing more is read or sent.
    pub fn hang_up(&mut self) {
        self.closing = true;
        self.input.clear();
        self.output.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn line_framing() {
        assert_eq!(
            find_line(b"NOOP\r\nX", 512),
            LineStatus::Complete { len: 6, content: 4 }
        );
        assert_eq!(
            find_line(b"NOOP\n", 512),
            LineStatus::Complete { len: 5, content: 4 }
        );
        assert_eq!(find_line(b"NOOP", 512), LineStatus::Incomplete);
        assert_eq!(find_line(b"NOOPNOOP", 8), LineStatus::TooLong);
        assert_eq!(
            find_line(b"NOOPNO\r\n", 8),
            LineStatus::Complete { len: 8, content: 6 }
        );
    }

    #[test]
    fn refuses_what_it_cannot_take() {
        let mut io = Buffers::default();
        assert_eq!(
            io.receive(b"12345", 4, false),
            Err(SessionError::InputOverflow)
        );
        assert_eq!(
            io.receive(b"EHLO", 64, true),
            Err(SessionError::InputDuringTls)
        );
        assert!(io.closing && io.input.is_empty());
        assert_eq!(io.receive(b"x", 64, false), Err(SessionError::Closed));
    }

    #[test]
    fn a_closed_session_says_its_last_word_first() {
        let mut io = Buffers::default();
        io.output.extend_from_slice(b"221 Bye\r\n");
        io.close();
        assert!(!io.is_closed());
        assert!(io.poll_output().is_some());
        assert!(io.is_closed());
    }

    proptest! {
        /// However the input is cut into reads, the lines taken are the lines sent.
        #[test]
        fn lines_survive_any_split(lines in proptest::collection::vec("[ -~]{0,20}", 1..8), cut in 0usize..200) {
            let wire: Vec<u8> = lines.iter().flat_map(|l| [l.as_bytes(), b"\r\n"].concat()).collect();
            let cut = cut.min(wire.len());
            let mut io = Buffers::default();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                io.receive(part, usize::MAX, false).unwrap();
                while let Line::Complete(l) = io.take_line(64) {
                    got.push(String::from_utf8(l.to_vec()).unwrap());
                }
            }
            prop_assert_eq!(got, lines);
        }
    }
}
