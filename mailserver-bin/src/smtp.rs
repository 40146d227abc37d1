//! The SMTP services: inbound mail on port 25 and submission on 587/465. Each accepts
//! connections, drives `smtp_proto::ServerSession`, answers its decisions from the account
//! store, and stores messages: straight into Maildir when every recipient is local, into the
//! outbound queue when one is not.
//!
//! Submission (RFC 6409) needs AUTH, lets a user send only as their own addresses, adds
//! Message-ID and Date when the client left them out, and writes a Received: line without the
//! client's name or IP address.

use std::net::SocketAddr;
use std::sync::Arc;

use smtp_proto::{CloseReason, Event, Reply, ServerSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::conn::{Answered, BUDGET_SPENT, Conn, Pace, Pacer};
use crate::mail::queue_id;
use crate::smtp::session::{Connection, Transaction};

mod body;
mod route;
mod service;
mod session;

pub use service::SmtpService;

/// Accepts SMTP connections (with `implicit_tls`, SMTPS on 465) until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    service: Arc<SmtpService>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    let active = service.active.clone();
    crate::conn::accept_loop(listener, active, shutdown, move |stream, peer, shutdown| {
        connection(stream, peer, service.clone(), implicit_tls, shutdown)
    })
    .await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<SmtpService>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = service.gate.admit(peer);
    let mut conn = match (&service.tls, implicit_tls) {
        (Some(acceptor), true) => match Box::pin(Conn::open(stream, true, acceptor)).await {
            Ok(c) => c,
            Err(reason) => return info!(%peer, %reason, "smtps handshake failed"),
        },
        _ => Conn::Plain(stream),
    };
    let config = service.session_config(implicit_tls, peer.ip().is_loopback());
    let mut session = match &admission {
        Ok(_) => ServerSession::new(config),
        Err(why) => {
            let text = format!("{} {}", service.config.hostname, why.text());
            let reply = Reply::or_fallback(421, 4, 7, 0, &text, "Too many connections");
            ServerSession::refuse(config, reply)
        }
    };
    let _admission = admission;
    // Port 25 has no login: its clients have no budget before one.
    let mut pacer = Pacer::from_limits(&service.config.limits, service.submission);
    let mut state = Connection {
        peer,
        service: service.clone(),
        tx: Transaction::new(),
        messages: 0,
        id: queue_id(),
        login: None,
    };
    info!(conn = %state.id, %peer, submission = service.submission, tls = implicit_tls, "connect");
    let mut buf = crate::conn::ReadBuffer::new();
    let mut shutting_down = *shutdown.borrow();
    let mut start_tls = false;
    let outcome = loop {
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::StartTls) {
                start_tls = true;
                continue;
            }
            // Boxed: an event's handling (delivery, lookups) holds state only while it runs,
            // not in every waiting connection's task.
            Box::pin(state.handle(&mut session, event)).await;
        }
        if let Some(out) = session.poll_output() {
            if let Err(e) = conn.send(&out).await {
                break format!("write error: {e}");
            }
            pacer.answered();
            continue;
        }
        if session.is_closed() {
            break match session.closed_because() {
                // A limit reached is a refusal: the admin sees which, from where.
                Some(
                    reason @ (CloseReason::AuthFailures
                    | CloseReason::LineTooLong
                    | CloseReason::JunkCommands
                    | CloseReason::Errors
                    | CloseReason::PipelinedAfterStartTls),
                ) => {
                    warn!(%peer, ?reason, "smtp closing: limit reached");
                    format!("closed ({reason:?})")
                }
                _ => "closed".into(),
            };
        }
        if session.is_authenticated() {
            pacer.authenticated();
        }
        if start_tls {
            start_tls = false;
            let Some(acceptor) = service.tls.clone() else {
                break "STARTTLS without TLS configuration".into();
            };
            if let Err(reason) = Box::pin(conn.start_tls(&acceptor)).await {
                break reason;
            }
            session.tls_established().answered();
            continue;
        }
        if shutting_down && !session.in_message() {
            session.shutdown();
            continue;
        }
        let room = buf.room(session.input_capacity());
        if room.is_empty() {
            break "session stalled".into();
        }
        tokio::select! {
            read = tokio::time::timeout(pacer.wait(session.timeout()), conn.read(room)) => match read {
                Err(_) => {
                    warn!(conn = %state.id, %peer, "closing: too slow (timeout or command deadline)");
                    session.handle_timeout();
                }
                Ok(Ok(0)) => {
                    if session.handle_eof() {
                        warn!(conn = %state.id, %peer, "connection lost in the middle of a message; nothing was stored");
                    }
                    break "client closed".into();
                }
                Ok(Ok(n)) => {
                    if pacer.received(n) == Pace::OverBudget {
                        warn!(conn = %state.id, %peer, "closing: too much data before authentication");
                        session.abort(BUDGET_SPENT);
                    } else if let Err(e) = session.receive(buf.take(n)) {
                        break format!("protocol violation: {e}");
                    }
                }
                Ok(Err(e)) => break format!("read error: {e}"),
            },
            _ = shutdown.changed(), if !shutting_down => shutting_down = true,
        }
    };
    // Anything not acknowledged is abandoned here; dropping the writer removes its tmp file.
    state.tx.body = None;
    let _ = conn.shutdown().await;
    info!(conn = %state.id, %peer, messages = state.messages, tls = session.is_tls(), %outcome, "disconnect");
}
