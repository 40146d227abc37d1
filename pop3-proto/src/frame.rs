//! Byte scanners: command lines in, and the streaming encoder for multi-line message responses
//! (RETR, TOP) out.

use bytes::BytesMut;

/// Streams a stored message as a POP3 multi-line response body (RFC 1939 §3): every line ends
/// in CRLF (Maildir files often use LF), a line starting with `.` gets a second one, and the
/// response ends with `.` CRLF. For TOP, only the header, the blank line and `n` body lines
/// are sent. State carries across chunks, so the message never has to be in memory at once.
#[derive(Debug, Clone)]
pub struct MessageEncoder {
    line_start: bool,
    last_was_cr: bool,
    in_body: bool,
    /// Whether the current line has content before its line end (a header/body separator has none).
    line_has_content: bool,
    body_lines_left: Option<u32>,
    done: bool,
}

impl MessageEncoder {
    /// An encoder for RETR (`top` is `None`) or `TOP msg n` (`Some(n)`).
    pub fn new(top: Option<u32>) -> Self {
        Self {
            line_start: true,
            last_was_cr: false,
            in_body: false,
            line_has_content: false,
            body_lines_left: top,
            done: false,
        }
    }

    /// Whether the encoder wants no more input (TOP has sent its lines).
    pub fn is_satisfied(&self) -> bool {
        self.done
    }

    /// Appends the encoded form of `chunk` to `out`.
    pub fn encode(&mut self, mut chunk: &[u8], out: &mut BytesMut) {
        out.reserve(chunk.len() + chunk.len() / 32 + 4);
        while !chunk.is_empty() && !self.done {
            if self.line_start && chunk[0] == b'.' {
                out.extend_from_slice(b".");
            }
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    let content = &chunk[..i];
                    let crlf = if i > 0 {
                        content[i - 1] == b'\r'
                    } else {
                        self.last_was_cr
                    };
                    out.extend_from_slice(content);
                    out.extend_from_slice(if crlf { b"\n" } else { b"\r\n" });
                    // A CR left over from the previous chunk is content unless this LF completes it.
                    let has_content = self.line_has_content
                        || content.len() > usize::from(crlf && i > 0)
                        || (self.last_was_cr && i > 0);
                    self.end_line(has_content);
                    chunk = &chunk[i + 1..];
                }
                None => {
                    out.extend_from_slice(chunk);
                    self.line_start = false;
                    // A CR alone at the end may be the first half of a CRLF; it is not content
                    // of the line in that case, so remember it rather than counting it.
                    let trailing_cr = chunk.last() == Some(&b'\r');
                    if chunk.len() > usize::from(trailing_cr)
                        || (self.last_was_cr && !chunk.is_empty())
                    {
                        self.line_has_content = true;
                    }
                    self.last_was_cr = trailing_cr;
                    chunk = &[];
                }
            }
        }
    }

    fn end_line(&mut self, has_content: bool) {
        self.line_start = true;
        self.last_was_cr = false;
        self.line_has_content = false;
        if !self.in_body {
            if !has_content {
                self.in_body = true;
                if self.body_lines_left == Some(0) {
                    self.done = true;
                }
            }
        } else if let Some(left) = &mut self.body_lines_left {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.done = true;
            }
        }
    }

    /// Ends the response: completes an unterminated last line, then `.` CRLF.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if !self.line_start {
            if self.last_was_cr {
                out.extend_from_slice(b"\n");
            } else {
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b".\r\n");
        self.done = true;
    }
}

/// Counts the octets of a stored message once every line ends in CRLF, as
/// [`MessageEncoder`] sends it before dot-stuffing: the size that
/// [`MessageInfo::new`](crate::MessageInfo::new) wants for LIST, STAT and RETR's `+OK`.
/// Feed the message in chunks of any size, then read [`CrlfSize::total`].
///
/// ```
/// let mut size = mailwright_pop3::CrlfSize::new();
/// size.update(b"Subject: hi\n\nbody");
/// assert_eq!(size.total(), "Subject: hi\r\n\r\nbody\r\n".len() as u64);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CrlfSize {
    octets: u64,
    last: Option<u8>,
}

impl CrlfSize {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts the next chunk of the stored message.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut previous = self.last;
        let mut rest = chunk;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let before = if i > 0 { Some(rest[i - 1]) } else { previous };
            if before != Some(b'\r') {
                self.octets += 1;
            }
            previous = Some(b'\n');
            rest = &rest[i + 1..];
        }
        self.octets += chunk.len() as u64;
        if let Some(&last) = chunk.last() {
            self.last = Some(last);
        }
    }

    /// The size so far, counting the line end [`MessageEncoder::finish`] adds to an
    /// unterminated last line.
    pub fn total(&self) -> u64 {
        match self.last {
            None | Some(b'\n') => self.octets,
            Some(b'\r') => self.octets + 1,
            Some(_) => self.octets + 2,
        }
    }
}

/// Decodes a multi-line response body (the client side; used by tests and tools): removes the
/// stuffed dots and stops at `.` CRLF. Returns the content and whether the end was found.
pub fn decode_multiline(wire: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        if line == b".\r\n" {
            return (out, true);
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        rest = &rest[end..];
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(input: &[u8], top: Option<u32>, split: usize) -> Vec<u8> {
        let mut e = MessageEncoder::new(top);
        let mut out = BytesMut::new();
        let split = split.min(input.len());
        e.encode(&input[..split], &mut out);
        e.encode(&input[split..], &mut out);
        e.finish(&mut out);
        out.to_vec()
    }

    #[test]
    fn lf_becomes_crlf_and_dots_are_stuffed() {
        let msg = b"Subject: x\n\n.hidden\nline\r\n..two\nend";
        let want = b"Subject: x\r\n\r\n..hidden\r\nline\r\n...two\r\nend\r\n.\r\n";
        for i in 0..=msg.len() {
            assert_eq!(encode(msg, None, i), want, "split {i}");
        }
    }

    #[test]
    fn top_counts_body_lines() {
        let msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        for i in 0..=msg.len() {
            assert_eq!(
                encode(msg, Some(0), i),
                b"A: 1\r\nB: 2\r\n\r\n.\r\n",
                "split {i}"
            );
            assert_eq!(
                encode(msg, Some(2), i),
                b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n",
                "split {i}"
            );
            assert_eq!(
                encode(msg, Some(9), i),
                b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n.\r\n",
                "split {i}"
            );
        }
        // LF-only separator.
        assert_eq!(
            encode(b"A: 1\n\nbody\nmore\n", Some(1), 3),
            b"A: 1\r\n\r\nbody\r\n.\r\n"
        );
    }

    #[test]
    fn empty_message() {
        assert_eq!(encode(b"", None, 0), b".\r\n");
    }

    #[test]
    fn decode_inverts_encode() {
        let msg = b"a\r\n.b\r\n..\r\n.\r\nlast\r\n";
        let wire = encode(msg, None, 5);
        assert_eq!(decode_multiline(&wire), (msg.to_vec(), true));
    }
}
