//! Changes to a message still being delivered: part of it replaced once the whole message is
//! known (its header, with a verdict on it), the message read back, and the folder it goes to.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;

use crate::{Delivery, Error, Maildir, unique_base_name};

impl Delivery {
    /// Replaces the `len` octets at offset `at` of what was written with `data` (`len` 0
    /// inserts): the file is copied into a new one in `tmp/` (the kernel copies, without
    /// reading it through memory) that takes its place. For a header changed once the message
    /// is on disk.
    pub fn replace(&mut self, at: u64, len: u64, data: &[u8]) -> Result<(), Error> {
        let Some(writer) = self.file.take() else {
            return Err(finished(self));
        };
        let old = writer
            .into_inner()
            .map_err(|e| Error::from_io("writing", &self.tmp_path, e.into_error()))?;
        // `<secs>.M<usec>P<pid>Q<n>.<host>`: the same host in the new name.
        let host = self.base_name.splitn(3, '.').nth(2).unwrap_or("localhost");
        let base_name = unique_base_name(host);
        let tmp_path = self.maildir.root.join("tmp").join(&base_name);
        let at = at.min(self.size);
        let len = len.min(self.size - at);
        // W= counts a CRLF for every line end: the LFs without their CR, removed and added.
        let removed = bare_lfs(&read_range(&self.tmp_path, at, len).unwrap_or_default()) as u64;
        let copied = copy_replacing(&self.tmp_path, &tmp_path, at, len, data);
        drop(old);
        let new = match copied {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&tmp_path);
                let _ = fs::remove_file(&self.tmp_path);
                return Err(Error::from_io("copying", &self.tmp_path, e));
            }
        };
        let _ = fs::remove_file(&self.tmp_path);
        self.tmp_path = tmp_path;
        self.base_name = base_name;
        self.file = Some(BufWriter::with_capacity(64 * 1024, new));
        self.size = self.size - len + data.len() as u64;
        self.vsize = self.vsize - len - removed + data.len() as u64 + bare_lfs(data) as u64;
        Ok(())
    }

    /// A delivery of its own into `maildir` of what was written so far (the kernel copies
    /// the file): for one recipient's copy that is to differ from the others'.
    pub fn fork(&mut self, maildir: &Maildir) -> Result<Delivery, Error> {
        let Some(writer) = self.file.as_mut() else {
            return Err(finished(self));
        };
        writer
            .flush()
            .map_err(|e| Error::from_io("writing", &self.tmp_path, e))?;
        maildir.create()?;
        let host = self.base_name.splitn(3, '.').nth(2).unwrap_or("localhost");
        let base_name = unique_base_name(host);
        let tmp_path = maildir.root.join("tmp").join(&base_name);
        let file = copy_replacing(&self.tmp_path, &tmp_path, self.size, 0, b"").map_err(|e| {
            let _ = fs::remove_file(&tmp_path);
            Error::from_io("copying", &self.tmp_path, e)
        })?;
        Ok(Delivery {
            maildir: maildir.clone(),
            base_name,
            tmp_path,
            file: Some(BufWriter::with_capacity(64 * 1024, file)),
            size: self.size,
            vsize: self.vsize,
            last_byte: self.last_byte,
            flags: None,
        })
    }

    /// What was written from offset `from` on (the writing may go on afterwards).
    pub fn read_from(&mut self, from: u64) -> Result<Vec<u8>, Error> {
        let Some(writer) = self.file.as_mut() else {
            return Err(finished(self));
        };
        writer
            .flush()
            .map_err(|e| Error::from_io("writing", &self.tmp_path, e))?;
        let mut out = Vec::with_capacity(self.size.saturating_sub(from) as usize);
        File::open(&self.tmp_path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(from))?;
                f.read_to_end(&mut out)
            })
            .map_err(|e| Error::from_io("reading", &self.tmp_path, e))?;
        Ok(out)
    }

    /// Stores the message in `folder` (a folder of the Maildir it was begun in, such as its
    /// Junk) rather than in that Maildir's `new/`, when it is committed.
    pub fn deliver_into(&mut self, folder: Maildir) {
        self.maildir = folder;
    }
}

/// Copies file `from` into a new file `to` (mode 0600) with its `len` octets at offset `at`
/// replaced by `data`; the kernel copies the rest (`copy_file_range`), without reading it
/// through memory. Returns the new file, open for writing at its end. For any spool file
/// amended after the fact.
pub fn copy_replacing(
    from: &std::path::Path,
    to: &std::path::Path,
    at: u64,
    len: u64,
    data: &[u8],
) -> io::Result<File> {
    let mut new = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let mut source = File::open(from)?;
    io::copy(&mut (&mut source).take(at), &mut new)?;
    new.write_all(data)?;
    source.seek(SeekFrom::Start(at + len))?;
    io::copy(&mut source, &mut new)?;
    Ok(new)
}

/// The `len` octets of `path` at `at`.
fn read_range(path: &std::path::Path, at: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(at))?;
    let mut out = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut out)?;
    Ok(out)
}

/// The line feeds of `data` without a carriage return before them.
fn bare_lfs(data: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', data)
        .filter(|&i| i == 0 || data[i - 1] != b'\r')
        .count()
}

fn finished(d: &Delivery) -> Error {
    Error::Io {
        action: "amending",
        path: d.tmp_path.clone(),
        source: io::Error::other("delivery already finished"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_replaced_in_a_written_message_lands_in_its_place() {
        let dir = std::env::temp_dir().join(format!("maildir-amend-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        let mut d = Delivery::begin(&md, "mx.example.com").unwrap();
        d.write(b"Return-Path: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n")
            .unwrap();
        let at = b"Return-Path: <a@b>\r\n".len() as u64;
        assert_eq!(d.read_from(at).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        d.replace(
            at,
            b"Subject: hi\r\n".len() as u64,
            b"X-Verdict: ok\nSubject: hello\r\n",
        )
        .unwrap();
        d.write(b"more\r\n").unwrap();
        let junk = md.special_folder("Junk", "Junk").unwrap();
        assert_eq!(md.special_use("Junk").unwrap(), ["Junk"]);
        d.deliver_into(junk);
        let paths = d.commit(&[]).unwrap();
        assert!(paths[0].starts_with(dir.join(".Junk/new")));
        let stored = fs::read(&paths[0]).unwrap();
        assert_eq!(
            stored,
            b"Return-Path: <a@b>\r\nX-Verdict: ok\nSubject: hello\r\n\r\nbody\r\nmore\r\n"
        );
        let name = paths[0].file_name().unwrap().to_str().unwrap().to_owned();
        let size = stored.len();
        assert!(
            name.ends_with(&format!(",S={size},W={}", size + 1)),
            "{name}"
        );
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        // A folder that has the use is found again, whatever its name.
        md.create_folder_with_use("Spam", &["Junk"]).unwrap();
        fs::remove_dir_all(dir.join(".Junk")).unwrap();
        let found = md.special_folder("Junk", "Junk").unwrap();
        assert_eq!(found.path(), dir.join(".Spam"));
        let _ = fs::remove_dir_all(&dir);
    }
}
