//! The on-disk queue: each message is an immutable file under `messages/` and an envelope file
//! under `envelopes/` that is rewritten whole (tmp, fsync, rename, fsync the directory) after
//! every attempt. A message is queued once its envelope exists; a message file without one was
//! never acknowledged and is removed when the spool is opened.
//!
//! The envelope is text, one `key value` per line and one tab-separated line per recipient, so
//! an admin can read it; `mailserver queue show` prints it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SpoolError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("envelope {path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("no queued message {0}")]
    NotFound(String),
    #[error("message {0} is being delivered right now; try again in a moment")]
    Busy(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Where a recipient is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Into this local mailbox (its user name).
    Local(String),
    /// Through the relay host (or the domain's MX).
    Remote,
    /// To the members of this mailing list of ours (`crate::lists`).
    List(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Delivered,
    /// Failed for good; the sender has been told (or was the null sender).
    Failed,
}

impl Status {
    const ALL: [Status; 3] = [Status::Pending, Status::Delivered, Status::Failed];

    /// As the envelope file and `queue show` write it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

/// DSN NOTIFY (RFC 3461 §4.1); `None` in `Recipient::notify` means the default
/// (failures and delays).
pub use mailwright_smtp::Notify;
use mailwright_smtp::OriginalRecipient;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address the message goes to (for a local route, the address the sender used).
    pub address: String,
    pub route: Route,
    pub status: Status,
    pub notify: Option<Notify>,
    /// ORCPT (RFC 3461 §4.2) as received.
    pub orcpt: Option<OriginalRecipient>,
    /// The last answer: the remote server's reply, or why the attempt failed.
    pub last_reply: String,
}

impl Recipient {
    pub fn new(address: String, route: Route) -> Self {
        Self {
            address,
            route,
            status: Status::Pending,
            notify: None,
            orcpt: None,
            last_reply: String::new(),
        }
    }

    /// Whether the sender wants to hear that delivery to this recipient failed.
    pub fn wants_failure_notice(&self) -> bool {
        self.notify.is_none_or(|n| n.failure)
    }

    /// Without NOTIFY the sender gets delay notices too, as from Postfix.
    pub fn wants_delay_notice(&self) -> bool {
        self.notify.is_none_or(|n| n.delay)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// The envelope sender; empty for the null sender `<>`.
    pub from: String,
    pub envid: Option<String>,
    /// DSN RET: return only the headers.
    pub ret_headers: bool,
    /// `8BITMIME`, `BINARYMIME` or `7BIT`, as MAIL FROM declared it.
    pub body: Option<String>,
    pub smtputf8: bool,
    pub size: u64,
    pub attempts: u32,
    /// Seconds since the epoch; 0 means now.
    pub next_attempt: u64,
    pub hold: bool,
    /// The sender was told the message is delayed (`[queue] delay_warning`): once is enough.
    pub delay_warned: bool,
    /// Its local copies go to the mailboxes' Junk folder (a DMARC quarantine verdict).
    pub junk: bool,
    /// Each recipient gets its own envelope sender (VERP): `LIST+bounces-user=host@domain`
    /// for a sender `LIST+bounces@domain`, so a bounce names the recipient it is about.
    pub verp: bool,
    pub recipients: Vec<Recipient>,
}

impl QueuedMessage {
    /// The envelope sender of the copy for `recipient`: with VERP, `local+recipient=host`
    /// in the local part of the sender's (`team+bounces-friend=example.org@example.com`).
    pub fn sender_for(&self, recipient: &str) -> String {
        match self.from.rsplit_once('@') {
            Some((local, domain)) if self.verp => {
                format!("{local}-{}@{domain}", recipient.replacen('@', "=", 1))
            }
            _ => self.from.clone(),
        }
    }

    pub fn new(id: String, from: String, recipients: Vec<Recipient>) -> Self {
        Self {
            id,
            created: now(),
            from,
            envid: None,
            ret_headers: false,
            body: None,
            smtputf8: false,
            size: 0,
            attempts: 0,
            next_attempt: 0,
            hold: false,
            delay_warned: false,
            junk: false,
            verp: false,
            recipients,
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.status == Status::Pending)
    }

    fn encode(&self) -> String {
        let mut s = String::with_capacity(256 + 80 * self.recipients.len());
        let mut line = |k: &str, v: &str| {
            s.push_str(k);
            s.push(' ');
            s.push_str(v);
            s.push('\n');
        };
        line("version", "1");
        line("created", &self.created.to_string());
        line(
            "from",
            if self.from.is_empty() {
                "<>"
            } else {
                &self.from
            },
        );
        if let Some(e) = &self.envid {
            line("envid", e);
        }
        if self.ret_headers {
            line("ret", "hdrs");
        }
        if let Some(b) = &self.body {
            line("body", b);
        }
        if self.smtputf8 {
            line("smtputf8", "1");
        }
        line("size", &self.size.to_string());
        line("attempts", &self.attempts.to_string());
        line("next", &self.next_attempt.to_string());
        if self.delay_warned {
            line("warned", "1");
        }
        if self.hold {
            line("hold", "1");
        }
        if self.junk {
            line("junk", "1");
        }
        if self.verp {
            line("verp", "1");
        }
        for r in &self.recipients {
            let status = r.status.name();
            let route = match &r.route {
                Route::Local(user) => format!("local:{user}"),
                Route::Remote => "remote".into(),
                Route::List(list) => format!("list:{list}"),
            };
            let notify = r.notify.map_or_else(|| "-".to_owned(), |n| n.to_string());
            let orcpt = r
                .orcpt
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            let reply = clean(&r.last_reply);
            s.push_str(&format!(
                "rcpt\t{status}\t{route}\t{}\t{notify}\t{orcpt}\t{reply}\n",
                r.address
            ));
        }
        s
    }

    fn decode(id: &str, text: &str) -> Result<Self, String> {
        let mut m = QueuedMessage::new(id.to_owned(), String::new(), Vec::new());
        let mut version = false;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("rcpt\t") {
                m.recipients.push(decode_recipient(rest)?);
                continue;
            }
            let (key, value) = line.split_once(' ').ok_or(format!("bad line {line:?}"))?;
            let number = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("bad number in {line:?}"))
            };
            match key {
                "version" if value == "1" => version = true,
                "created" => m.created = number(value)?,
                "from" if value == "<>" => m.from = String::new(),
                "from" => m.from = value.to_owned(),
                "envid" => m.envid = Some(value.to_owned()),
                "ret" => m.ret_headers = value == "hdrs",
                "body" => m.body = Some(value.to_owned()),
                "smtputf8" => m.smtputf8 = value == "1",
                "size" => m.size = number(value)?,
                "attempts" => m.attempts = number(value)? as u32,
                "next" => m.next_attempt = number(value)?,
                "hold" => m.hold = value == "1",
                "warned" => m.delay_warned = value == "1",
                "junk" => m.junk = value == "1",
                "verp" => m.verp = value == "1",
                _ => return Err(format!("unknown line {line:?}")),
            }
        }
        if !version {
            return Err("no version line".into());
        }
        if m.recipients.is_empty() {
            return Err("no recipients".into());
        }
        Ok(m)
    }
}

fn decode_recipient(rest: &str) -> Result<Recipient, String> {
    let fields: Vec<&str> = rest.splitn(6, '\t').collect();
    let [status, route, address, notify, orcpt, reply] = fields[..] else {
        return Err(format!("bad recipient line {rest:?}"));
    };
    let status = Status::ALL
        .into_iter()
        .find(|s| s.name() == status)
        .ok_or(format!("bad status {status:?}"))?;
    let route = match (route.strip_prefix("local:"), route.strip_prefix("list:")) {
        (Some(user), _) => Route::Local(user.to_owned()),
        (_, Some(list)) => Route::List(list.to_owned()),
        _ if route == "remote" => Route::Remote,
        _ => return Err(format!("bad route {route:?}")),
    };
    let notify = match notify {
        "-" => None,
        list => Some(Notify::parse(list).ok_or(format!("bad NOTIFY {list:?}"))?),
    };
    let orcpt = match orcpt {
        "-" => None,
        o => Some(OriginalRecipient::parse(o).ok_or(format!("bad ORCPT {o:?}"))?),
    };
    Ok(Recipient {
        address: address.to_owned(),
        route,
        status,
        notify,
        orcpt,
        last_reply: reply.to_owned(),
    })
}

/// Reply text for one envelope field: no tabs or line breaks.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The queue directory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

/// A message being written into the queue.
#[derive(Debug)]
pub struct Incoming {
    file: Option<File>,
    tmp: PathBuf,
    size: u64,
}

/// Holds a message for one delivery attempt (or an admin's change); dropped, it lets go.
#[derive(Debug)]
pub struct MessageLock {
    _file: File,
}

impl Spool {
    /// The queue under `root`, as admin commands see it: nothing is created, cleaned or
    /// recovered (that is the daemon's, at start, in [`Spool::recover`]); a queue never made
    /// lists as empty.
    pub fn at(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// Opens (creating if needed) the queue under `root` and removes what a crash left behind:
    /// files in `tmp/`, and messages whose envelope was never written (never acknowledged).
    /// Only the data directory's [`Owner`](crate::owner::Owner) may call this, once, before
    /// it accepts mail: in any other process it would remove a message the daemon is queueing
    /// (its file is renamed into `messages/` just before its envelope is saved).
    pub fn recover(root: &Path, _owner: &crate::owner::Owner) -> Result<Self, SpoolError> {
        let spool = Self::at(root);
        for dir in ["tmp", "messages", "envelopes"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io_err("creating", &path))?;
        }
        let tmp = root.join("tmp");
        for entry in fs::read_dir(&tmp)
            .map_err(io_err("reading", &tmp))?
            .flatten()
        {
            if let Err(e) = fs::remove_file(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a partly received message");
            }
        }
        let messages = root.join("messages");
        for entry in fs::read_dir(&messages)
            .map_err(io_err("reading", &messages))?
            .flatten()
        {
            let name = entry.file_name();
            let id = name.to_string_lossy();
            if !spool.envelope_path(&id).exists() {
                tracing::info!(queue_id = %id, "removing a message that was never acknowledged");
                if let Err(e) = fs::remove_file(entry.path()) {
                    tracing::warn!(queue_id = %id, error = %e, "cannot remove it");
                }
            }
        }
        Ok(spool)
    }

    pub fn message_path(&self, id: &str) -> PathBuf {
        self.root.join("messages").join(id)
    }

    fn envelope_path(&self, id: &str) -> PathBuf {
        self.root.join("envelopes").join(id)
    }

    /// Starts writing a message.
    pub fn incoming(&self, id: &str) -> Result<Incoming, SpoolError> {
        let tmp = self.root.join("tmp").join(id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("creating", &tmp))?;
        Ok(Incoming {
            file: Some(file),
            tmp,
            size: 0,
        })
    }

    /// The ids of every queued message, oldest first.
    pub fn list(&self) -> Result<Vec<String>, SpoolError> {
        let dir = self.root.join("envelopes");
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            r => r.map_err(io_err("reading", &dir))?,
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub fn load(&self, id: &str) -> Result<QueuedMessage, SpoolError> {
        valid_id(id)?;
        let path = self.envelope_path(id);
        let text = match fs::read_to_string(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound(id.to_owned()));
            }
            r => r.map_err(io_err("reading", &path))?,
        };
        QueuedMessage::decode(id, &text).map_err(|reason| SpoolError::Damaged { path, reason })
    }

    /// Replaces the envelope atomically and durably.
    pub fn save(&self, message: &QueuedMessage) -> Result<(), SpoolError> {
        let dir = self.root.join("envelopes");
        let tmp = dir.join(format!(".{}.tmp", message.id));
        let mut f = File::create(&tmp).map_err(io_err("creating", &tmp))?;
        f.write_all(message.encode().as_bytes())
            .map_err(io_err("writing", &tmp))?;
        let path = self.envelope_path(&message.id);
        if path.exists() {
            // Replaced: the strict order (a file's sync does not carry a changed entry).
            f.sync_all().map_err(io_err("writing", &tmp))?;
            fs::rename(&tmp, &path).map_err(io_err("renaming", &path))?;
            return sync_dir(&dir);
        }
        // A new envelope (the one that queues a message): one flush where the file system
        // allows.
        mailwright_maildir::rename_durably(&f, &tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(&tmp);
            io_err("saving", &path)(e)
        })
    }

    /// Removes a message whose recipients are all done.
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        valid_id(id)?;
        let envelope = self.envelope_path(id);
        match fs::remove_file(&envelope) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound(id.to_owned()));
            }
            r => r.map_err(io_err("removing", &envelope))?,
        }
        sync_dir(&self.root.join("envelopes"))?;
        // The envelope is gone, so the message is no longer queued; a body left behind only
        // takes room, and is said so.
        let body = self.message_path(id);
        if let Err(e) = fs::remove_file(&body)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %body.display(), error = %e, "could not remove a dequeued message body");
        }
        Ok(())
    }

    /// Takes the message's lock without waiting; `Busy` when a delivery holds it.
    pub fn lock(&self, id: &str) -> Result<MessageLock, SpoolError> {
        valid_id(id)?;
        let path = self.message_path(id);
        let file = match File::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound(id.to_owned()));
            }
            r => r.map_err(io_err("opening", &path))?,
        };
        match file.try_lock() {
            Ok(()) => Ok(MessageLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(SpoolError::Busy(id.to_owned())),
            Err(fs::TryLockError::Error(e)) => Err(io_err("locking", &path)(e)),
        }
    }

    /// Pokes a running daemon to look at the queue now (`queue flush`, `queue release`).
    pub fn trigger(&self) -> Result<(), SpoolError> {
        let path = self.root.join("trigger");
        fs::write(&path, now().to_string()).map_err(io_err("writing", &path))
    }

    /// Asks a running daemon (or the next one to start) to try every message not on hold now
    /// (`queue flush`): a request file, so ten thousand envelopes need no rewriting.
    pub fn request_flush(&self) -> Result<(), SpoolError> {
        let path = self.root.join("flush");
        fs::write(&path, now().to_string()).map_err(io_err("writing", &path))?;
        self.trigger()
    }

    /// Whether a flush was asked for (the request is removed).
    pub fn take_flush_request(&self) -> bool {
        fs::remove_file(self.root.join("flush")).is_ok()
    }

    /// When the queue was last poked.
    pub fn triggered(&self) -> Option<SystemTime> {
        fs::metadata(self.root.join("trigger"))
            .and_then(|m| m.modified())
            .ok()
    }
}

impl Incoming {
    pub fn write(&mut self, data: &[u8]) -> Result<(), SpoolError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(data).map_err(io_err("writing", &self.tmp))?;
            self.size += data.len() as u64;
        }
        Ok(())
    }

    /// Replaces the `len` octets at offset `at` of what was written with `data` (a header
    /// changed once the whole message is known): the file is copied, by the kernel, into a
    /// new one.
    pub fn replace(&mut self, at: u64, len: u64, data: &[u8]) -> Result<(), SpoolError> {
        let Some(old) = self.file.take() else {
            return Ok(());
        };
        drop(old);
        let mut name = self.tmp.as_os_str().to_owned();
        name.push("+");
        let tmp = PathBuf::from(name);
        let at = at.min(self.size);
        let len = len.min(self.size - at);
        let copied = mailwright_maildir::copy_replacing(&self.tmp, &tmp, at, len, data);
        let _ = fs::remove_file(&self.tmp);
        match copied {
            Ok(file) => {
                self.file = Some(file);
                self.tmp = tmp;
                self.size = self.size - len + data.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(io_err("copying", &self.tmp)(e))
            }
        }
    }

    /// What was written from offset `from` on.
    pub fn read_from(&self, from: u64) -> Result<Vec<u8>, SpoolError> {
        let mut out = Vec::new();
        File::open(&self.tmp)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(from))?;
                f.read_to_end(&mut out)
            })
            .map_err(io_err("reading", &self.tmp))?;
        Ok(out)
    }

    /// Makes the message durable and queues it with `envelope`; only then may it be
    /// acknowledged.
    pub fn commit(
        mut self,
        spool: &Spool,
        mut envelope: QueuedMessage,
    ) -> Result<QueuedMessage, SpoolError> {
        let Some(file) = self.file.take() else {
            return Err(SpoolError::NotFound(envelope.id));
        };
        let path = spool.message_path(&envelope.id);
        mailwright_maildir::rename_durably(&file, &self.tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(&self.tmp);
            io_err("storing", &path)(e)
        })?;
        drop(file);
        envelope.size = self.size;
        spool.save(&envelope)?;
        Ok(envelope)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn valid_id(id: &str) -> Result<(), SpoolError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SpoolError::NotFound(id.to_owned()));
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_messages_commit() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(Spool::at(&dir).list().unwrap().is_empty());
        assert!(
            !dir.exists(),
            "an admin's look at the queue creates nothing"
        );
        let owner = crate::owner::Owner::acquire(&dir.join("owner"), None).unwrap();
        let spool = Spool::recover(&dir, &owner).unwrap();
        let mut r1 = Recipient::new("a@example.com".into(), Route::Remote);
        r1.notify = Some(Notify {
            failure: true,
            delay: true,
            success: false,
        });
        r1.orcpt = OriginalRecipient::parse("rfc822;A+40example.com");
        r1.last_reply = "451 4.3.0 try\tlater\r\n".into();
        let mut r2 = Recipient::new("b@example.org".into(), Route::Local("b@example.org".into()));
        r2.status = Status::Delivered;
        r2.notify = Some(Notify::default());
        let r3 = Recipient::new(
            "team@example.org".into(),
            Route::List("team@example.org".into()),
        );
        let mut m = QueuedMessage::new("ABC1".into(), String::new(), vec![r1, r2, r3]);
        m.verp = true;
        m.envid = Some("x+2By".into());
        m.ret_headers = true;
        m.body = Some("8BITMIME".into());
        m.delay_warned = true;
        let mut incoming = spool.incoming("ABC1").unwrap();
        incoming.write(b"Subject: x\r\n\r\nbody\r\n").unwrap();
        let mut saved = incoming.commit(&spool, m.clone()).unwrap();
        let loaded = spool.load("ABC1").unwrap();
        // Control characters in a reply would break the line format.
        assert_eq!(loaded.recipients[0].last_reply, "451 4.3.0 try later  ");
        saved.recipients[0].last_reply = loaded.recipients[0].last_reply.clone();
        assert_eq!(loaded, saved);
        assert_eq!(loaded.size, 20);
        // VERP: each recipient's sender names it; without a sender, none.
        assert_eq!(loaded.sender_for("a@example.com"), "");
        let mut list = loaded.clone();
        list.from = "team+bounces@example.org".into();
        assert_eq!(
            list.sender_for("a@example.com"),
            "team+bounces-a=example.com@example.org"
        );
        assert_eq!(spool.list().unwrap(), vec!["ABC1".to_owned()]);
        let lock = spool.lock("ABC1").unwrap();
        assert!(matches!(spool.lock("ABC1"), Err(SpoolError::Busy(_))));
        drop(lock);
        // An unacknowledged message (no envelope) does not survive a restart.
        let mut orphan = spool.incoming("ORPHAN").unwrap();
        orphan.write(b"x").unwrap();
        fs::rename(dir.join("tmp/ORPHAN"), dir.join("messages/ORPHAN")).unwrap();
        std::mem::forget(orphan);
        // An admin's view leaves it alone (the daemon may be about to save its envelope);
        // only the owner's recovery at start removes it.
        assert_eq!(Spool::at(&dir).list().unwrap(), vec!["ABC1".to_owned()]);
        assert!(dir.join("messages/ORPHAN").exists());
        let spool = Spool::recover(&dir, &owner).unwrap();
        assert!(!dir.join("messages/ORPHAN").exists());
        spool.remove("ABC1").unwrap();
        assert!(spool.list().unwrap().is_empty());
        assert!(matches!(spool.load("../x"), Err(SpoolError::NotFound(_))));
        let _ = fs::remove_dir_all(&dir);
    }
}
