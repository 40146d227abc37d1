//! A message body on its way to disk: streamed into the recipients' Maildirs or the queue,
//! committed durably at the end of DATA.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::delivery::{QuotaAccount, count_in_maildirsize};
use crate::mail::HeaderScan;
use crate::queue::spool::{self, QueuedMessage, Spool, SpoolError};
use crate::smtp::service::FLUSH_THRESHOLD;

/// Where a message body goes.
pub(super) enum Destination {
    /// Straight into these mailboxes, each copy with the fields in front of it that are its
    /// own (`Return-Path:`, `Delivered-To:`), and counted in its `maildirsize` in the same
    /// step off the async threads.
    Maildirs {
        targets: Vec<(QuotaAccount, String)>,
        hostname: String,
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
        }
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
        WriteJob {
            open: self.open.take(),
            header,
            chunks: std::mem::take(&mut self.pending),
            destination: Arc::clone(&self.destination),
            queue_id: self.queue_id.clone(),
        }
    }

    /// Returns the stored size of each copy (the fields added in front included), in the
    /// order of the Maildirs (one size for the queue), and for Maildir the first copy's path.
    pub(super) async fn commit(mut self) -> Result<(Vec<u64>, Option<PathBuf>), StoreError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let job = self.job();
        run_blocking(move || {
            let destination = Arc::clone(&job.destination);
            match (job.write()?, &*destination) {
                (Open::Maildirs(deliveries), Destination::Maildirs { targets, .. }) => {
                    let sizes: Vec<u64> = deliveries
                        .iter()
                        .map(mailwright_maildir::Delivery::size)
                        .collect();
                    let paths = mailwright_maildir::Delivery::commit_all(deliveries)?;
                    for ((account, _), size) in targets.iter().zip(&sizes) {
                        count_in_maildirsize(account, *size as i64, 1);
                    }
                    Ok((sizes, paths.into_iter().next()))
                }
                (Open::Queue(incoming), Destination::Queue { spool, entry }) => Ok((
                    vec![incoming.commit(spool, QueuedMessage::clone(entry))?.size],
                    None,
                )),
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
                Destination::Maildirs { targets, hostname } => {
                    if targets.is_empty() {
                        return Err(StoreError::NoRecipients);
                    }
                    let mut deliveries = Vec::with_capacity(targets.len());
                    for (account, fields) in targets {
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

pub(super) async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
}
