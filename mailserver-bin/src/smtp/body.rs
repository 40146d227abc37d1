//! A message body on its way to disk: streamed into the recipients' Maildirs or the queue,
//! committed durably at the end of DATA.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::delivery::{
    Committed, Placement, QuotaAccount, commit_placed, commit_shared, junk_folder,
};
use crate::mail::HeaderScan;
use crate::queue::spool::{self, QueuedMessage, Spool, SpoolError};
use crate::smtp::service::FLUSH_THRESHOLD;

/// Where a message body goes.
pub(super) enum Destination {
    /// Straight into these mailboxes, each copy with the fields in front of it that are its
    /// own (`Return-Path:`, `Delivered-To:`), and counted in its `maildirsize` in the same
    /// step off the async threads. `shared`: the fields are the same for all (several
    /// recipients), and one file is written, linked into each at the end.
    Maildirs {
        targets: Vec<(QuotaAccount, String)>,
        hostname: String,
        shared: bool,
    },
    /// Into the outbound queue, with every recipient of the message.
    Queue {
        spool: Spool,
        entry: Box<QueuedMessage>,
    },
}

/// A message file being written.
pub(super) enum Open {
    Maildirs(Vec<mailwright_maildir::Delivery>),
    Queue(spool::Incoming),
}

#[derive(Debug, thiserror::Error)]
pub(super) enum StoreError {
    #[error(transparent)]
    Maildir(#[from] mailwright_maildir::Error),
    #[error(transparent)]
    Queue(#[from] SpoolError),
    #[error("message storage task failed: {0}")]
    Task(String),
    #[error("message has no recipients")]
    NoRecipients,
}

impl StoreError {
    pub(super) fn is_no_space(&self) -> bool {
        let queue_full = matches!(self, StoreError::Queue(SpoolError::Io { source, .. })
            if source.kind() == io::ErrorKind::StorageFull);
        queue_full
            || matches!(
                self,
                StoreError::Maildir(mailwright_maildir::Error::NoSpace { .. })
            )
    }
}

/// Streams a message body to its destination in batches off the async threads, and commits
/// it at the end.
pub(super) struct BodyWriter {
    pub(super) queue_id: String,
    pub(super) header: Option<Bytes>,
    /// Shared with each write job, which needs it only to open the file.
    pub(super) destination: Arc<Destination>,
    /// What the header holds, read as it streams in (trace fields; submission's missing ones).
    pub(super) scan: HeaderScan,
    /// Submission: the host name for a Message-ID it adds.
    pub(super) completion: Option<String>,
    pub(super) open: Option<Open>,
    pub(super) pending: Vec<Bytes>,
    pub(super) pending_len: usize,
    pub(super) error: Option<StoreError>,
    /// The octets of `header` in front of the message in each file (after its own fields).
    header_len: u64,
    /// The message's header section (its first octets) and what replaces it, known at the
    /// end of DATA: the checks' fields, a forged one removed, a milter's changes.
    new_header: Option<(u64, Bytes)>,
    /// The copies (in the order of the Maildirs) that go to Junk; for the queue, any.
    junk: Vec<bool>,
    /// Where Sieve puts each copy (in the order of the Maildirs), for those it decided.
    placements: Vec<Option<Placement>>,
    /// The header section each copy's scripts made (editheader), replacing the first
    /// octets of the judged message (after `new_header`'s change).
    edited_headers: Vec<Option<(u64, Vec<u8>)>>,
}

impl BodyWriter {
    pub(super) fn new(
        queue_id: String,
        header: String,
        destination: Destination,
        completion: Option<String>,
    ) -> Self {
        Self {
            queue_id,
            header: Some(Bytes::from(header)),
            destination: Arc::new(destination),
            scan: HeaderScan::default(),
            completion,
            open: None,
            pending: Vec::new(),
            pending_len: 0,
            error: None,
            header_len: 0,
            new_header: None,
            junk: Vec::new(),
            placements: Vec::new(),
            edited_headers: Vec::new(),
        }
    }

    /// Which copies went to Junk (in the order of the Maildirs).
    pub(super) fn junk(&self) -> &[bool] {
        &self.junk
    }

    /// Puts the copies where Sieve decided (in the order of the Maildirs; `None` leaves one
    /// in its inbox), each with the header its scripts made, if they edited it.
    pub(super) fn place(
        &mut self,
        placements: Vec<Option<Placement>>,
        headers: Vec<Option<(u64, Vec<u8>)>>,
    ) {
        self.placements = placements;
        self.edited_headers = headers;
    }

    /// Replaces the message's header section, its first `old_len` octets, with `new` (which
    /// follows our `Received:`): in memory when nothing was written yet, else in each file at
    /// commit.
    pub(super) fn replace_header(&mut self, old_len: u64, new: Vec<u8>) {
        self.new_header = Some((old_len, Bytes::from(new)));
    }

    /// Sends the copies `which` picks (in the order of the Maildirs; any, for the queue) to
    /// the mailboxes' Junk folders.
    pub(super) fn send_to_junk(&mut self, which: Vec<bool>) {
        self.junk = which;
    }

    /// The message as it will be stored: the client's, with the header the checks made
    /// (their fields, a milter's changes).
    pub(super) async fn judged(&mut self) -> Result<Vec<u8>, StoreError> {
        let message = self.message().await?;
        Ok(match &self.new_header {
            None => message,
            Some((old, new)) => {
                let rest = message.get(*old as usize..).unwrap_or_default();
                [new.as_ref(), rest].concat()
            }
        })
    }

    /// The message as the client sent it.
    pub(super) async fn message(&mut self) -> Result<Vec<u8>, StoreError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.open.is_none() {
            return Ok(self.pending.concat());
        }
        let job = self.job();
        let skip = self.header_len;
        run_blocking(move || {
            let destination = Arc::clone(&job.destination);
            let mut open = job.write()?;
            let message = match (&mut open, &*destination) {
                (Open::Maildirs(d), Destination::Maildirs { targets, .. }) => {
                    let fields = targets.first().map_or(0, |(_, f)| f.len() as u64);
                    d.first_mut()
                        .map(|d| d.read_from(fields + skip))
                        .transpose()?
                        .unwrap_or_default()
                }
                (Open::Queue(q), _) => q.read_from(skip)?,
                _ => return Err(StoreError::NoRecipients),
            };
            Ok((open, message))
        })
        .await
        .map(|(open, message)| {
            self.open = Some(open);
            message
        })
    }

    pub(super) async fn push(&mut self, chunk: Bytes) {
        if self.error.is_some() {
            return;
        }
        self.scan.feed(&chunk);
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= FLUSH_THRESHOLD {
            let job = self.job();
            match run_blocking(move || job.write()).await {
                Ok(open) => self.open = Some(open),
                Err(e) => self.error = Some(e),
            }
        }
    }

    pub(super) fn job(&mut self) -> WriteJob {
        self.pending_len = 0;
        let mut header = self.header.take();
        // The first write decides the fields added in front; the scan has seen the header
        // by then, or FLUSH_THRESHOLD octets of it.
        if let (Some(h), Some(hostname)) = (&header, self.completion.take()) {
            let added = self
                .scan
                .missing(&self.queue_id, &hostname, SystemTime::now());
            header = Some(Bytes::from([h.as_ref(), added.as_bytes()].concat()));
        }
        if let Some(h) = &header {
            self.header_len = h.len() as u64;
        }
        WriteJob {
            open: self.open.take(),
            header,
            chunks: std::mem::take(&mut self.pending),
            destination: Arc::clone(&self.destination),
            queue_id: self.queue_id.clone(),
        }
    }

    /// Returns the stored size of each copy (the fields added in front included) and how
    /// many copies, in the order of the Maildirs (one size for the queue), and for Maildir
    /// the first copy's path.
    pub(super) async fn commit(mut self) -> Result<Committed, StoreError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut new_header = self.new_header.take();
        if self.open.is_none()
            && let Some((old_len, new)) = new_header.take()
        {
            // Nothing written yet: the message is all in memory; its rest is a view, not a
            // second copy.
            let all = Bytes::from(self.pending.concat());
            let rest = all.slice((old_len as usize).min(all.len())..);
            self.pending = vec![new, rest];
        }
        let job = self.job();
        let (at, junk, placements) = (self.header_len, self.junk, self.placements);
        let edited = self.edited_headers;
        run_blocking(move || {
            let destination = Arc::clone(&job.destination);
            let mut open = job.write()?;
            amend(&mut open, &destination, new_header.as_ref(), at, &junk)?;
            if let Open::Maildirs(deliveries) = &mut open
                && let Destination::Maildirs {
                    targets,
                    shared: false,
                    ..
                } = &*destination
            {
                for ((d, (_, fields)), header) in deliveries.iter_mut().zip(targets).zip(&edited) {
                    if let Some((old, new)) = header {
                        d.replace(fields.len() as u64 + at, *old, new)?;
                    }
                }
            }
            match (open, &*destination) {
                (
                    Open::Maildirs(mut deliveries),
                    Destination::Maildirs {
                        targets,
                        shared: true,
                        ..
                    },
                ) => {
                    let accounts: Vec<&QuotaAccount> = targets.iter().map(|(a, _)| a).collect();
                    let fields = targets.first().map_or(0, |(_, f)| f.len() as u64);
                    let shared = deliveries.pop().ok_or(StoreError::NoRecipients)?;
                    let at = fields + at;
                    Ok(commit_shared(
                        shared,
                        &accounts,
                        &placements,
                        &junk,
                        &edited,
                        at,
                    )?)
                }
                (Open::Maildirs(deliveries), Destination::Maildirs { targets, .. }) => {
                    let accounts: Vec<&QuotaAccount> = targets.iter().map(|(a, _)| a).collect();
                    Ok(commit_placed(deliveries, &accounts, &placements)?)
                }
                (Open::Queue(incoming), Destination::Queue { spool, entry }) => {
                    let mut entry = QueuedMessage::clone(entry);
                    entry.junk = junk.iter().any(|&j| j);
                    Ok(Committed {
                        sizes: vec![incoming.commit(spool, entry)?.size],
                        copies: vec![1],
                        path: None,
                    })
                }
                _ => Err(StoreError::NoRecipients),
            }
        })
        .await
    }
}

pub(super) struct WriteJob {
    pub(super) open: Option<Open>,
    pub(super) header: Option<Bytes>,
    pub(super) chunks: Vec<Bytes>,
    pub(super) destination: Arc<Destination>,
    pub(super) queue_id: String,
}

impl WriteJob {
    pub(super) fn write(self) -> Result<Open, StoreError> {
        let mut open = match self.open {
            Some(o) => o,
            None => match &*self.destination {
                Destination::Maildirs {
                    targets,
                    hostname,
                    shared,
                } => {
                    if targets.is_empty() {
                        return Err(StoreError::NoRecipients);
                    }
                    // One file for all when they share it.
                    let writing = if *shared { &targets[..1] } else { &targets[..] };
                    let mut deliveries = Vec::with_capacity(writing.len());
                    for (account, fields) in writing {
                        let mut d =
                            mailwright_maildir::Delivery::begin(&account.maildir, hostname)?;
                        d.write(fields.as_bytes())?;
                        deliveries.push(d);
                    }
                    Open::Maildirs(deliveries)
                }
                Destination::Queue { spool, .. } => Open::Queue(spool.incoming(&self.queue_id)?),
            },
        };
        for data in self.header.iter().chain(&self.chunks) {
            match &mut open {
                Open::Maildirs(deliveries) => {
                    for d in deliveries.iter_mut() {
                        d.write(data)?;
                    }
                }
                Open::Queue(q) => q.write(data)?,
            }
        }
        Ok(open)
    }
}

/// Replaces the header section of each file (`new_header`: its old length and the new one;
/// it follows our fields, `at` octets after each copy's own), and sends the copies `junk`
/// picks to their mailbox's Junk folder.
fn amend(
    open: &mut Open,
    destination: &Destination,
    new_header: Option<&(u64, Bytes)>,
    at: u64,
    junk: &[bool],
) -> Result<(), StoreError> {
    match (open, destination) {
        (
            Open::Maildirs(deliveries),
            Destination::Maildirs {
                targets, shared, ..
            },
        ) => {
            for (i, (d, (account, fields))) in deliveries.iter_mut().zip(targets).enumerate() {
                if let Some((old_len, new)) = new_header {
                    d.replace(fields.len() as u64 + at, *old_len, new)?;
                }
                // A shared file goes to each Junk folder when it is linked.
                if !shared && junk.get(i) == Some(&true) {
                    d.deliver_into(junk_folder(&account.maildir)?);
                }
            }
        }
        (Open::Queue(q), _) => {
            if let Some((old_len, new)) = new_header {
                q.replace(at, *old_len, new)?;
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
}
