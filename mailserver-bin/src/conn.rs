//! A client connection, plain or TLS, so a session can upgrade it in place (STARTTLS, STLS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A connection's read buffer: small while the peer says little (most connections, most of
/// the time), grown while it streams data (DATA, APPEND), made small again by `rest`.
#[derive(Debug)]
pub struct ReadBuffer {
    buf: Vec<u8>,
}

impl ReadBuffer {
    const SMALL: usize = 2 * 1024;
    const LARGE: usize = 64 * 1024;

    pub fn new() -> Self {
        Self {
            buf: vec![0; Self::SMALL],
        }
    }

    /// Room for a read of at most `limit` octets (empty: the session takes no more input).
    pub fn room(&mut self, limit: usize) -> &mut [u8] {
        let n = limit.min(self.buf.len());
        &mut self.buf[..n]
    }

    /// The `n` octets just read; a read that filled the buffer makes it large for the next.
    pub fn take(&mut self, n: usize) -> &[u8] {
        if n == self.buf.len() && n < Self::LARGE {
            let mut large = vec![0; Self::LARGE];
            large[..n].copy_from_slice(&self.buf);
            self.buf = large;
        }
        &self.buf[..n]
    }

    /// Back to small, for a connection that goes quiet (IDLE).
    pub fn rest(&mut self) {
        if self.buf.len() > Self::SMALL {
            self.buf = vec![0; Self::SMALL];
        }
    }
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// A TCP stream before or after STARTTLS.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// How long a client gets to complete a TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

impl Conn {
    /// Writes a session's output and flushes it (TLS buffers records until flushed).
    pub async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data).await?;
        self.flush().await
    }

    /// A new connection: plain, or with the TLS handshake done first (implicit TLS ports).
    pub async fn open(
        stream: TcpStream,
        implicit_tls: bool,
        acceptor: &TlsAcceptor,
    ) -> Result<Self, String> {
        let mut conn = Conn::Plain(stream);
        if implicit_tls {
            conn.start_tls(acceptor).await?;
        }
        Ok(conn)
    }

    /// Upgrades a plain connection in place (STARTTLS, STLS). On failure the connection is
    /// gone and the reason is returned for the log.
    pub async fn start_tls(&mut self, acceptor: &TlsAcceptor) -> Result<(), String> {
        let Conn::Plain(tcp) = std::mem::replace(self, Conn::Gone) else {
            return Err("TLS requested on a TLS connection".into());
        };
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                *self = Conn::Tls(Box::new(tls));
                Ok(())
            }
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }
}

/// How many connections each key (a client address, a user at an address) has open, up to a
/// maximum per key.
#[derive(Debug)]
pub struct Tally<K: Eq + std::hash::Hash> {
    counts: Mutex<HashMap<K, usize>>,
    max: usize,
}

/// One connection counted in a [`Tally`]; dropped when it ends.
#[derive(Debug)]
pub struct Counted<K: Eq + std::hash::Hash + Clone> {
    tally: Arc<Tally<K>>,
    key: K,
}

impl<K: Eq + std::hash::Hash + Clone> Tally<K> {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            counts: Mutex::new(HashMap::new()),
            max,
        })
    }

    /// Counts one more connection for `key`, unless it has `max` already.
    pub fn claim(self: &Arc<Self>, key: K) -> Option<Counted<K>> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Counted {
            tally: Arc::clone(self),
            key,
        })
    }
}

impl<K: Eq + std::hash::Hash + Clone> Drop for Counted<K> {
    fn drop(&mut self) {
        let mut counts = self
            .tally
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Who may connect: at most `max_connections` clients of one protocol at once, at most
/// `max_per_address` of them from one address, and all protocols together within the
/// process's file descriptors (see [`fd_budget`]). A refused client is told so by its
/// protocol's driver, and the refusal is logged once, with its address.
#[derive(Debug)]
pub struct Gate {
    protocol: &'static str,
    service: Arc<Semaphore>,
    process: Arc<Semaphore>,
    per_address: Arc<Tally<IpAddr>>,
}

/// A client let in; dropped when its connection ends.
#[derive(Debug)]
pub struct Admission {
    _address: Counted<IpAddr>,
    _service: OwnedSemaphorePermit,
    _process: OwnedSemaphorePermit,
}

/// Why a client was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The protocol's `[limits] max_connections`, or the process's descriptors.
    Busy,
    /// `[limits] max_connections_per_address`.
    TooManyFromAddress,
}

impl Refusal {
    /// The reason, as told to the client.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::Busy => "Too many connections, try again later",
            Refusal::TooManyFromAddress => {
                "Too many connections from your address, try again later"
            }
        }
    }
}

impl Gate {
    /// A gate for one protocol; `process` is shared by every protocol of the daemon.
    pub fn new(
        protocol: &'static str,
        max_connections: usize,
        max_per_address: usize,
        process: Arc<Semaphore>,
    ) -> Arc<Self> {
        Arc::new(Self {
            protocol,
            service: Arc::new(Semaphore::new(max_connections)),
            process,
            per_address: Tally::new(max_per_address),
        })
    }

    /// Lets `peer` in, or says why not (and logs it).
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admission, Refusal> {
        let refuse = |why: Refusal| {
            tracing::warn!(%peer, protocol = self.protocol, reason = why.text(), "connection refused");
            why
        };
        let (Ok(service), Ok(process)) = (
            self.service.clone().try_acquire_owned(),
            self.process.clone().try_acquire_owned(),
        ) else {
            return Err(refuse(Refusal::Busy));
        };
        let Some(address) = self.per_address.claim(peer.ip()) else {
            return Err(refuse(Refusal::TooManyFromAddress));
        };
        Ok(Admission {
            _address: address,
            _service: service,
            _process: process,
        })
    }
}

/// Descriptors kept back from connections: listeners, the account database, message and
/// index files being read or written, DNS and relay sockets.
const FD_RESERVE: u64 = 64;

/// Raises the soft limit on open files to the hard one, and says how many connections all
/// protocols together may have open so that the process never runs out of descriptors (which
/// would leave clients unanswered and accept(2) failing in a loop): the limit less a reserve
/// of a quarter (at least 64) for everything else, and at most `configured`.
pub fn fd_budget(configured: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut soft = limit.current.unwrap_or(u64::MAX);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => soft = maximum,
            Err(e) => tracing::warn!(error = %e, soft, "cannot raise the open-file limit"),
        }
    }
    let reserve = (soft / 4).max(FD_RESERVE);
    let budget = soft.saturating_sub(reserve).max(1);
    let budget = usize::try_from(budget)
        .unwrap_or(usize::MAX)
        .min(configured);
    tracing::info!(open_files = soft, connections = budget, "connection budget");
    budget
}

/// Closes clients that take too long: one waiting longer than its protocol's idle time
/// (`session.timeout()`) to start a command, and one sending a command (or a message) so
/// slowly that less than [`Pacer::PROGRESS`] octets arrive in `command_deadline` (a
/// client trickling a byte every few seconds, which a timeout per read never catches).
/// Before login, it also counts what the client sent against a budget.
#[derive(Debug)]
pub struct Pacer {
    command_deadline: Duration,
    /// When the current window started: the last answer, or the last progress.
    since: Instant,
    /// Octets received in the current window.
    received: usize,
    /// Octets the client may still send before logging in; `None` once it has.
    budget: Option<usize>,
}

/// Why a client that sent `[limits] max_bytes_before_auth` without logging in is closed.
pub const BUDGET_SPENT: &str = "Too much data before authentication";

/// What the driver does after a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Fine,
    /// The client sent more before logging in than `[limits] max_bytes_before_auth`.
    OverBudget,
}

impl Pacer {
    /// Octets that count as progress within a command deadline.
    pub const PROGRESS: usize = 4096;

    /// A pacer with `[limits] command_deadline`, and `max_bytes_before_auth` when the
    /// protocol has a login.
    pub fn from_limits(limits: &crate::config::Limits, login: bool) -> Self {
        Self::new(
            Duration::from_secs(limits.command_deadline),
            login.then_some(limits.max_bytes_before_auth),
        )
    }

    pub fn new(command_deadline: Duration, budget_before_auth: Option<usize>) -> Self {
        Self {
            command_deadline,
            since: Instant::now(),
            received: 0,
            budget: budget_before_auth,
        }
    }

    /// The session answered: the client's next command gets a fresh window.
    pub fn answered(&mut self) {
        self.since = Instant::now();
        self.received = 0;
    }

    /// The client logged in: no budget any more.
    pub fn authenticated(&mut self) {
        self.budget = None;
    }

    /// `n` octets arrived.
    pub fn received(&mut self, n: usize) -> Pace {
        self.received += n;
        if self.received >= Self::PROGRESS {
            self.since = Instant::now();
            self.received = 0;
        }
        match &mut self.budget {
            Some(left) if *left < n => Pace::OverBudget,
            Some(left) => {
                *left -= n;
                Pace::Fine
            }
            None => Pace::Fine,
        }
    }

    /// How long the next read may wait, given the session's idle timeout: the idle time when
    /// nothing of a command has arrived, else what is left of the command deadline.
    pub fn wait(&self, idle: Duration) -> Duration {
        let window = if self.received == 0 {
            idle
        } else {
            self.command_deadline.min(idle)
        };
        window.saturating_sub(self.since.elapsed())
    }
}

/// Accepts connections until shutdown is signalled, running `handle` for each on its own task
/// and counting the live ones in `active` (the shutdown waits for it to reach zero).
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    active: Arc<AtomicUsize>,
    mut shutdown: watch::Receiver<bool>,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut last_accept_error = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors despite the budget (files held by sessions): wait
                    // for some to close, saying so once per second at most.
                    if last_accept_error.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::error!(error = %e, "accept failed");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        active.fetch_add(1, Ordering::SeqCst);
        let session = handle(stream, peer, shutdown.clone());
        let active = active.clone();
        tokio::spawn(async move {
            session.await;
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// An answer a sans-I/O session refused (it was not waiting for one of that kind, or was
/// closed) is a bug of ours, never dropped silently: logged at error level with where it was
/// given, and a panic in debug builds so the tests find it.
pub trait Answered {
    /// Logs a refusal (see the trait).
    fn answered(self);
}

impl<T, E: std::fmt::Display> Answered for Result<T, E> {
    #[track_caller]
    fn answered(self) {
        if let Err(e) = self {
            let at = std::panic::Location::caller();
            tracing::error!(error = %e, %at, "a session refused an answer");
            debug_assert!(false, "a session refused an answer at {at}: {e}");
        }
    }
}
