//! Client connections, whatever the protocol: the TCP or TLS stream ([`Conn`]), who may
//! connect ([`Gate`]), how slow a client may be ([`Pacer`]), and the one loop that runs a
//! protocol's sans-I/O session over a connection ([`drive::run`]). Protocol modules (`smtp`,
//! `imap`, `pop3`) use this; it uses none of them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub mod drive;
mod gate;
mod pace;

pub use gate::{Counted, Gate, Shared, Tally, fd_budget};
pub use pace::{BUDGET_SPENT, Pace, Pacer};

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

/// A client connection before or after STARTTLS, counting the octets of the protocol that
/// cross it (after TLS), for the disconnect line (as Dovecot's `in=` and `out=`).
pub struct Conn {
    stream: Stream,
    received: u64,
    sent: u64,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

impl Conn {
    /// A connection that has not (yet) started TLS.
    pub fn plain(stream: TcpStream) -> Self {
        Self {
            stream: Stream::Plain(stream),
            received: 0,
            sent: 0,
        }
    }

    /// Octets read from the client so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Octets written to the client so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Ok(())),
        };
        this.received += (buf.filled().len() - before) as u64;
        poll
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        };
        if let Poll::Ready(Ok(n)) = &poll {
            this.sent += *n as u64;
        }
        poll
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// How long a client gets to complete a TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

impl Conn {
    /// A new connection: plain, or with the TLS handshake done first (implicit TLS ports).
    pub async fn open(
        stream: TcpStream,
        implicit_tls: bool,
        acceptor: &TlsAcceptor,
    ) -> Result<Self, String> {
        let mut conn = Conn::plain(stream);
        if implicit_tls {
            conn.start_tls(acceptor).await?;
        }
        Ok(conn)
    }

    /// Upgrades a plain connection in place (STARTTLS, STLS). On failure the connection is
    /// gone and the reason is returned for the log.
    pub async fn start_tls(&mut self, acceptor: &TlsAcceptor) -> Result<(), String> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err("TLS requested on a TLS connection".into());
        };
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }
}

/// Accepts connections until shutdown is signalled, running `handle` for each on its own task
/// and counting the live ones in `active` (the shutdown waits for it to reach zero). Each
/// runs in a span that puts the protocol and a session id on every line it logs, and the
/// user once a protocol records one (`Span::current().record("user", ...)`).
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    door: Door,
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
        // A `[::]` listener sees IPv4 clients as `::ffff:a.b.c.d`: every check (loopback, the
        // limit per address) and every log line uses the IPv4 address they are.
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        if let Err(turned) = door.guard.admit(peer.ip()) {
            // Before any TLS or session: one line on a plain-text listener, then closed.
            match turned {
                crate::guard::Turned::Banned { until } => {
                    crate::metrics::get().connection(door.protocol, "banned");
                    tracing::info!(%peer, protocol = %door.protocol, until, "connection refused: address banned");
                }
                crate::guard::Turned::TooFast => {
                    crate::metrics::get().connection(door.protocol, "refused");
                    tracing::warn!(%peer, protocol = %door.protocol, "connection refused: too many connections per minute from the address");
                }
            }
            if door.plain {
                let _ = stream.try_write(door.refusal(turned.text()).as_bytes());
            }
            continue;
        }
        let protocol = door.protocol;
        let _ = stream.set_nodelay(true);
        active.fetch_add(1, Ordering::SeqCst);
        let span = tracing::info_span!(
            "session",
            %protocol,
            id = %crate::mail::queue_id(),
            user = tracing::field::Empty
        );
        let session = handle(stream, peer, shutdown.clone());
        let active = active.clone();
        tokio::spawn(async move {
            tracing::Instrument::instrument(session, span).await;
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// A listener's protocol, and the guard that turns clients away at it: with one line in the
/// protocol on a plain-text listener, unanswered on an implicit-TLS one.
pub struct Door {
    /// `smtp`, `imap` or `pop3`.
    pub protocol: &'static str,
    pub guard: Arc<crate::guard::Guard>,
    pub plain: bool,
}

impl Door {
    /// The line that turns a client away, as its protocol closes a connection.
    fn refusal(&self, text: &str) -> String {
        match self.protocol {
            "imap" => format!("* BYE {text}\r\n"),
            "pop3" => format!("-ERR [SYS/TEMP] {text}\r\n"),
            _ => format!("421 4.7.0 {text}\r\n"),
        }
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
