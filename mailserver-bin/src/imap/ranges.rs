//! Reading part of a message as IMAP sees it (CRLF line ends) without reading the message
//! whole. Thunderbird downloads a large message in 64 KiB chunks (`BODY.PEEK[]<0.65536>`,
//! then the next); reading 30 MB for each of them made such a download take many seconds.
//!
//! A file stored with CRLF line ends (its size equals RFC822.SIZE) is read at the offset
//! asked for. A file with bare LF line ends (what Dovecot and procmail store) is scanned once:
//! every [`STEP`] octets of the file, a checkpoint notes the CRLF offset there, and a chunk is
//! read from the checkpoint before it. The checkpoints of the last such message a session read
//! are kept by the session.
//!
//! A large message asked for whole (`BODY[]`) is streamed the same way, a chunk at a time,
//! behind a literal whose length comes from the file itself ([`crlf_len`]), not its name.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// File octets between checkpoints.
const STEP: u64 = 64 * 1024;

/// A file position and the CRLF-form offset of the same octet.
#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    file: u64,
    crlf: u64,
    /// The octet before `file` (whether an LF there is bare depends on it).
    prev: u8,
}

/// Checkpoints of one message file with bare LFs.
#[derive(Debug)]
pub struct LineEnds {
    base: Arc<str>,
    checkpoints: Vec<Checkpoint>,
    /// The CRLF form's length.
    total: u64,
}

impl LineEnds {
    fn scan(base: Arc<str>, file: &mut File) -> io::Result<Self> {
        let mut checkpoints = Vec::new();
        let mut block = vec![0u8; STEP as usize];
        let (mut at, mut crlf, mut prev) = (0u64, 0u64, b'\n');
        file.seek(SeekFrom::Start(0))?;
        loop {
            let n = read_full(file, &mut block)?;
            if n == 0 {
                break;
            }
            checkpoints.push(Checkpoint {
                file: at,
                crlf,
                prev,
            });
            let bare = bare_lfs(&block[..n], prev);
            prev = block[n - 1];
            at += n as u64;
            crlf += n as u64 + bare;
        }
        Ok(Self {
            base,
            checkpoints,
            total: crlf,
        })
    }

    /// The checkpoints of the file at `path`, scanned unless `memo` has them.
    fn of<'m>(
        path: &Path,
        base: &Arc<str>,
        memo: &'m mut Option<LineEnds>,
    ) -> io::Result<&'m LineEnds> {
        if memo.as_ref().is_none_or(|m| m.base != *base) {
            let mut file = File::open(path)?;
            *memo = Some(LineEnds::scan(Arc::clone(base), &mut file)?);
        }
        memo.as_ref()
            .ok_or_else(|| io::Error::other("line ends not scanned"))
    }
}

/// The length of the message's CRLF form: the file's size when it is stored with CRLF line
/// ends (`crlf`, its name's S= and W= agree), else counted.
pub fn crlf_len(
    path: &Path,
    base: &Arc<str>,
    crlf: bool,
    memo: &mut Option<LineEnds>,
) -> io::Result<u64> {
    if crlf {
        return Ok(std::fs::metadata(path)?.len());
    }
    Ok(LineEnds::of(path, base, memo)?.total)
}

/// LFs in `data` without a CR before them; `prev` is the octet before `data`.
fn bare_lfs(data: &[u8], prev: u8) -> u64 {
    memchr::memchr_iter(b'\n', data)
        .filter(|&i| (if i == 0 { prev } else { data[i - 1] }) != b'\r')
        .count() as u64
}

/// Fills `buf` unless the file ends first; returns how much was read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Octets `start..end` of the message's CRLF form (fewer at its end). `crlf`: the file is
/// stored with CRLF line ends (read as it is); `memo` keeps the checkpoints of one that is not.
pub fn read(
    path: &Path,
    base: &Arc<str>,
    crlf: bool,
    (start, end): (u64, u64),
    memo: &mut Option<LineEnds>,
) -> io::Result<Vec<u8>> {
    if start >= end {
        return Ok(Vec::new());
    }
    if crlf {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut data = Vec::new();
        file.take(end - start).read_to_end(&mut data)?;
        return Ok(data);
    }
    let line_ends = LineEnds::of(path, base, memo)?;
    let mut file = File::open(path)?;
    let at = line_ends
        .checkpoints
        .partition_point(|c| c.crlf <= start)
        .saturating_sub(1);
    let Some(&Checkpoint {
        file: position,
        mut crlf,
        mut prev,
    }) = line_ends.checkpoints.get(at)
    else {
        return Ok(Vec::new());
    };
    file.seek(SeekFrom::Start(position))?;
    let mut out = Vec::with_capacity((end - start) as usize);
    let mut block = vec![0u8; STEP as usize];
    while crlf < end {
        let n = read_full(&mut file, &mut block)?;
        if n == 0 {
            break;
        }
        let data = &block[..n];
        let mut copied = 0;
        for i in memchr::memchr_iter(b'\n', data) {
            if (if i == 0 { prev } else { data[i - 1] }) != b'\r' {
                keep(&mut out, &mut crlf, &data[copied..i], (start, end));
                keep(&mut out, &mut crlf, b"\r", (start, end));
                copied = i;
            }
        }
        keep(&mut out, &mut crlf, &data[copied..], (start, end));
        prev = data[n - 1];
    }
    Ok(out)
}

/// Appends the part of `octets`, which sit at `*at` in the CRLF form, that falls in
/// `start..end`, and moves `*at` past them.
fn keep(out: &mut Vec<u8>, at: &mut u64, octets: &[u8], (start, end): (u64, u64)) {
    let (lo, hi) = (*at, *at + octets.len() as u64);
    let (from, to) = (start.max(lo), end.min(hi));
    if from < to {
        out.extend_from_slice(&octets[(from - lo) as usize..(to - lo) as usize]);
    }
    *at = hi;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_lf_and_crlf_files_match_the_crlf_form() {
        let dir = std::env::temp_dir().join(format!("imap-ranges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Long enough for several checkpoints, with a CRLF across a block boundary and bare
        // LFs next to it.
        let mut lf = Vec::new();
        for i in 0..40_000 {
            lf.extend_from_slice(format!("line {i}").as_bytes());
            lf.extend_from_slice(if i % 7 == 0 { b"\r\n" } else { b"\n" });
        }
        lf[STEP as usize - 1] = b'\r';
        lf[STEP as usize] = b'\n';
        let crlf = mailwright_maildir::to_crlf(lf.clone());
        let base: Arc<str> = Arc::from("m");
        let lf_path = dir.join("lf");
        let crlf_path = dir.join("crlf");
        std::fs::write(&lf_path, &lf).unwrap();
        std::fs::write(&crlf_path, &crlf).unwrap();
        let mut memo = None;
        let total = crlf.len() as u64;
        let spread = (1..200u64).map(|k| ((k * 7919 * 13) % total, (k * 104_729) % 150_000));
        for (start, len) in [
            (0, 10),
            (0, 65536),
            (STEP - 3, 10),
            (65536, 65536),
            (100_000, 200_000),
            (total - 5, 100),
            (total + 5, 100),
            (0, total + 1000),
        ]
        .into_iter()
        .chain(spread)
        {
            let want = &crlf[(start.min(total) as usize)..((start + len).min(total) as usize)];
            for (path, is_crlf) in [(&lf_path, false), (&crlf_path, true)] {
                let got = read(path, &base, is_crlf, (start, start + len), &mut memo).unwrap();
                assert!(got == want, "{start}+{len} of {}", path.display());
            }
        }
        assert!(memo.is_some());
        for (path, is_crlf) in [(&lf_path, false), (&crlf_path, true)] {
            assert_eq!(crlf_len(path, &base, is_crlf, &mut memo).unwrap(), total);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
