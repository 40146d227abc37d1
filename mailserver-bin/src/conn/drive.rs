//! The one loop that runs a sans-I/O protocol session over a connection: it feeds the
//! session what the client sends, writes what the session answers, upgrades to TLS when asked,
//! enforces the idle timeout, the command deadline and the budget before login, and asks the
//! session to close on shutdown. What each protocol does with its session's events (log in,
//! deliver, serve a folder) is its [`Handler`]; everything else is here, once.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::warn;

use super::{Answered, BUDGET_SPENT, Conn, Pace, Pacer, ReadBuffer};

/// What the driver needs of a protocol crate's server session. The SMTP, POP3 and IMAP
/// sessions all have these methods under these names; the impls only forward.
pub trait Session: Send {
    /// Feeds octets the client sent; an error is a violation that ends the connection.
    fn receive(&mut self, data: &[u8]) -> Result<(), String>;
    /// The next block of output to write, if any.
    fn poll_output(&mut self) -> Option<Bytes>;
    /// Whether the session has said its last word.
    fn is_closed(&self) -> bool;
    /// How many octets the session takes now (0: it waits for an answer, not for input).
    fn input_capacity(&self) -> usize;
    /// How long the client may be silent in the session's current state.
    fn timeout(&self) -> Duration;
    /// The client was silent too long, or too slow within a command.
    fn handle_timeout(&mut self);
    /// The client closed its side; `true` when that cut off something it was sending (a
    /// message in SMTP DATA), which is worth a warning.
    fn handle_eof(&mut self) -> bool;
    /// Closes the session with `reason` told to the client.
    fn abort(&mut self, reason: &str);
    /// The server is shutting down: close at the next point the protocol allows.
    fn shutdown(&mut self);
    /// The TLS handshake the session asked for is done.
    fn tls_established(&mut self);
}

/// What a [`Handler`] asks of the driver after handling its session's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Nothing: write the output, then read.
    Continue,
    /// The session asked for TLS (STARTTLS, STLS): upgrade once its answer is written.
    StartTls,
    /// The client will be quiet for long (IMAP IDLE): give back the large read buffer.
    Quiet,
}

/// One protocol's part of a connection: it answers the session's events. The driver calls it
/// whenever the session may have events, and owns everything else.
pub trait Handler: Send {
    /// The session it answers.
    type Session: Session;

    /// `"smtp"`, `"imap"` or `"pop3"`: names the protocol in the driver's log lines.
    const PROTOCOL: &'static str;

    /// Answers every event the session has queued. A handler that streams large output
    /// (FETCH, RETR) may write to `conn` itself; an error ends the connection with that reason.
    fn handle_events(
        &mut self,
        session: &mut Self::Session,
        conn: &mut Conn,
    ) -> impl Future<Output = Result<Flow, String>> + Send;

    /// Whether the client has logged in (no more budget before login).
    fn logged_in(&self, session: &Self::Session) -> bool;

    /// The TLS configuration for STARTTLS, if there is one.
    fn tls(&self) -> Option<&TlsAcceptor>;

    /// Whether a shutdown may close the session now (SMTP waits for the end of a message).
    fn may_shut_down(&self, _session: &Self::Session) -> bool {
        true
    }

    /// Resolves when the handler wants to tell the client something unasked (IMAP IDLE
    /// updates); by default never.
    fn wake(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// [`wake`](Handler::wake) resolved.
    fn woken(&mut self, _session: &mut Self::Session) {}

    /// Why the session closed, for the disconnect log line.
    fn closed(&self, _session: &Self::Session) -> String {
        "closed".into()
    }
}

/// What woke the driver while it waited for the client.
enum Woke {
    Read(Result<io::Result<usize>, tokio::time::error::Elapsed>),
    Handler,
    Shutdown,
}

/// Runs `session` over `conn` until either side closes, then closes the connection; returns
/// why it ended, for the log.
pub async fn run<H: Handler>(
    handler: &mut H,
    session: &mut H::Session,
    conn: &mut Conn,
    pacer: &mut Pacer,
    peer: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
) -> String {
    let outcome = Box::pin(exchange(handler, session, conn, pacer, peer, shutdown)).await;
    if let Err(e) = conn.shutdown().await {
        tracing::debug!(%peer, protocol = H::PROTOCOL, error = %e, "closing the connection");
    }
    outcome
}

/// The exchange itself: what the session and the client say until either side closes.
async fn exchange<H: Handler>(
    handler: &mut H,
    session: &mut H::Session,
    conn: &mut Conn,
    pacer: &mut Pacer,
    peer: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
) -> String {
    let protocol = H::PROTOCOL;
    let mut buf = ReadBuffer::new();
    let mut start_tls = false;
    let mut shutting_down = *shutdown.borrow();
    loop {
        // Boxed: an event's handling (delivery, a FETCH) holds state only while it runs, not
        // in every waiting connection's task.
        match Box::pin(handler.handle_events(session, conn)).await {
            Ok(Flow::Continue) => {}
            Ok(Flow::StartTls) => start_tls = true,
            Ok(Flow::Quiet) => buf.rest(),
            Err(reason) => return reason,
        }
        let mut wrote = false;
        while let Some(out) = session.poll_output() {
            if let Err(e) = conn.write_all(&out).await {
                return format!("write error: {e}");
            }
            wrote = true;
        }
        if wrote {
            // TLS buffers records until flushed.
            if let Err(e) = conn.flush().await {
                return format!("write error: {e}");
            }
            pacer.answered();
            continue;
        }
        if session.is_closed() {
            return handler.closed(session);
        }
        if handler.logged_in(session) {
            pacer.authenticated();
        }
        if std::mem::take(&mut start_tls) {
            let Some(acceptor) = handler.tls() else {
                return "STARTTLS without TLS configuration".into();
            };
            if let Err(reason) = Box::pin(conn.start_tls(acceptor)).await {
                return reason;
            }
            session.tls_established();
            continue;
        }
        if shutting_down && handler.may_shut_down(session) {
            session.shutdown();
            continue;
        }
        let room = buf.room(session.input_capacity());
        if room.is_empty() {
            return "session stalled".into();
        }
        let wait = pacer.wait(session.timeout());
        let woke = tokio::select! {
            read = tokio::time::timeout(wait, conn.read(room)) => Woke::Read(read),
            () = handler.wake() => Woke::Handler,
            _ = shutdown.changed(), if !shutting_down => Woke::Shutdown,
        };
        match woke {
            Woke::Read(Err(_)) => {
                warn!(%peer, protocol, "closing: too slow (timeout or command deadline)");
                session.handle_timeout();
            }
            Woke::Read(Ok(Ok(0))) => {
                if session.handle_eof() {
                    warn!(%peer, protocol, "connection lost in the middle of a message; nothing was stored");
                }
                return "client closed".into();
            }
            Woke::Read(Ok(Ok(n))) => {
                if pacer.received(n) == Pace::OverBudget {
                    warn!(%peer, protocol, "closing: too much data before login");
                    session.abort(BUDGET_SPENT);
                } else if let Err(e) = session.receive(buf.take(n)) {
                    return format!("protocol violation: {e}");
                }
            }
            Woke::Read(Ok(Err(e))) if is_hang_up(&e) => {
                tracing::debug!(%peer, protocol, error = %e, "client hung up");
                return "client closed".into();
            }
            Woke::Read(Ok(Err(e))) => return format!("read error: {e}"),
            Woke::Handler => handler.woken(session),
            Woke::Shutdown => shutting_down = true,
        }
    }
}

/// Whether a read error is only the client going away: a reset, or TLS ended without
/// close_notify (most clients just close the socket; rustls's message for it is a URL).
fn is_hang_up(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// Forwards [`Session`] to a protocol crate's server session, whose methods have the same names.
macro_rules! forward_session {
    ($session:ty, eof: |$s:ident| $eof:expr) => {
        impl Session for $session {
            fn receive(&mut self, data: &[u8]) -> Result<(), String> {
                <$session>::receive(self, data).map_err(|e| e.to_string())
            }
            fn poll_output(&mut self) -> Option<Bytes> {
                <$session>::poll_output(self)
            }
            fn is_closed(&self) -> bool {
                <$session>::is_closed(self)
            }
            fn input_capacity(&self) -> usize {
                <$session>::input_capacity(self)
            }
            fn timeout(&self) -> Duration {
                <$session>::timeout(self)
            }
            fn handle_timeout(&mut self) {
                <$session>::handle_timeout(self);
            }
            fn handle_eof(&mut self) -> bool {
                let $s = self;
                $eof
            }
            fn abort(&mut self, reason: &str) {
                <$session>::abort(self, reason);
            }
            fn shutdown(&mut self) {
                <$session>::shutdown(self);
            }
            fn tls_established(&mut self) {
                <$session>::tls_established(self).answered();
            }
        }
    };
}

forward_session!(mailwright_smtp::ServerSession, eof: |s| s.handle_eof());
forward_session!(mailwright_pop3::ServerSession, eof: |s| {
    s.handle_eof();
    false
});
forward_session!(mailwright_managesieve::ServerSession, eof: |s| {
    s.handle_eof();
    false
});
// An APPEND cut off is abandoned by its handler when the session ends.
forward_session!(mailwright_imap::ServerSession, eof: |s| s.handle_eof());
