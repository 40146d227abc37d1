//! The SMTP services: inbound mail on port 25 and submission on 587/465. Each accepts
//! connections, drives `mailwright_smtp::ServerSession`, answers its decisions from the account
//! store, and stores messages: straight into Maildir when every recipient is local, into the
//! outbound queue when one is not.
//!
//! Submission (RFC 6409) needs AUTH, lets a user send only as their own addresses, adds
//! Message-ID and Date when the client left them out, and writes a Received: line without the
//! client's name or IP address.

use std::net::SocketAddr;
use std::sync::Arc;

use mailwright_smtp::{CloseReason, Event, Reply, ServerSession};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::conn::drive::{self, Flow};
use crate::conn::{Conn, Pacer};
use crate::smtp::session::{Connection, Transaction};

mod body;
mod filtering;
mod judge;
mod route;
mod service;
mod session;

pub use service::SmtpService;

/// Accepts SMTP connections (with `implicit_tls`, SMTPS on 465) until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    live: Arc<crate::live::Live<SmtpService>>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    // Each connection gets the service in force when it arrives (a reload replaces it);
    // what every version shares (session count, guard) is taken once.
    let service = live.get();
    let active = service.active.clone();
    let door = crate::conn::Door {
        protocol: "smtp",
        guard: Arc::clone(&service.gate.guard),
        plain: !implicit_tls,
    };
    crate::conn::accept_loop(
        listener,
        door,
        active,
        shutdown,
        move |stream, peer, shutdown| connection(stream, peer, live.get(), implicit_tls, shutdown),
    )
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
        _ => Conn::plain(stream),
    };
    let config = service.session_config(implicit_tls, peer.ip().is_loopback());
    // Port 25 only: a user submitting from a dynamic address listed by a DNSBL logs in.
    let listed = match (&admission, service.submission) {
        (Ok(_), false) => service.gate.guard.blocklisted(peer.ip()).await,
        _ => None,
    };
    let mut session = match (&admission, listed) {
        (Ok(_), Some(listed)) => {
            info!(%peer, zone = %listed.zone, answer = %listed.answer, "connection refused: address on a DNS blocklist");
            let text = format!(
                "Service unavailable; client [{}] blocked using {}",
                peer.ip(),
                listed.zone
            );
            let reply = Reply::or_fallback(554, 5, 7, 1, &text, "Service unavailable");
            ServerSession::refuse(config, reply)
        }
        (Ok(_), None) => ServerSession::new(config),
        (Err(why), _) => {
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
        login: None,
    };
    info!(%peer, submission = service.submission, tls = implicit_tls, "connect");
    let run = drive::run(
        &mut state,
        &mut session,
        &mut conn,
        &mut pacer,
        peer,
        &mut shutdown,
    );
    let outcome = run.await;
    // Anything not acknowledged is abandoned here; dropping the writer removes its tmp file.
    state.tx.body = None;
    // As Postfix: `disconnect ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`.
    let commands = session.command_counts();
    info!(%peer, messages = state.messages, tls = session.is_tls(), %outcome, bytes_in = conn.received(), bytes_out = conn.sent(), "disconnect {commands}");
}

impl drive::Handler for Connection {
    type Session = ServerSession;
    const PROTOCOL: &'static str = "smtp";

    async fn handle_events(
        &mut self,
        session: &mut ServerSession,
        _conn: &mut Conn,
    ) -> Result<Flow, String> {
        let mut flow = Flow::Continue;
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::StartTls) {
                flow = Flow::StartTls;
                continue;
            }
            // Boxed: an event's handling (delivery, lookups) holds state only while it runs.
            Box::pin(self.handle(session, event)).await;
        }
        Ok(flow)
    }

    fn logged_in(&self, session: &ServerSession) -> bool {
        session.is_authenticated()
    }

    fn tls(&self) -> Option<&TlsAcceptor> {
        self.service.tls.as_ref()
    }

    fn may_shut_down(&self, session: &ServerSession) -> bool {
        !session.in_message()
    }

    fn closed(&self, session: &ServerSession) -> String {
        match session.closed_because() {
            // A limit reached is a refusal: the admin sees which, from where.
            Some(
                reason @ (CloseReason::AuthFailures
                | CloseReason::LineTooLong
                | CloseReason::JunkCommands
                | CloseReason::Errors
                | CloseReason::PipelinedAfterStartTls),
            ) => {
                warn!(peer = %self.peer, ?reason, "smtp closing: limit reached");
                format!("closed ({reason:?})")
            }
            _ => "closed".into(),
        }
    }
}
