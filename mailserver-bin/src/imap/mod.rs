//! The IMAP service (143 with STARTTLS, 993 with implicit TLS): drives
//! `imap_proto::ServerSession`, logs users in against the account store, and serves their
//! Maildir++ folders.
//!
//! Storage work runs in `block_in_place`, on this worker thread, as POP3 does: a session is
//! one client, and the runtime moves its other tasks away meanwhile.

mod headers;
mod idle_watch;
mod mailbox;
mod mime;
mod ranges;
mod search;
mod seats;
mod service;
mod sort_thread;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imap_proto::{Code, Event, ServerSession, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::conn::{Answered, BUDGET_SPENT, Conn, Pace, Pacer, ReadBuffer};

pub use mailbox::User;
pub use service::ImapService;
use service::{WRITE_BATCH, flush};

/// How often a session in IDLE looks for changes when its folder cannot be watched.
const IDLE_POLL: Duration = Duration::from_millis(400);
/// How often a session in IDLE looks anyway when it is watching (a watch only speeds things
/// up; this bounds what a missed event could cost).
const IDLE_RECHECK: Duration = Duration::from_secs(30);
/// How often a session in IDLE says it is still there (NAT boxes drop silent connections).
const IDLE_KEEPALIVE: Duration = Duration::from_secs(120);

/// Accepts IMAP (or, with `implicit_tls`, IMAPS) connections until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    service: Arc<ImapService>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    let active = service.active.clone();
    crate::conn::accept_loop(listener, active, shutdown, move |stream, peer, shutdown| {
        connection(stream, peer, service.clone(), implicit_tls, shutdown)
    })
    .await;
}

/// LOGIN or AUTHENTICATE: the user and their session slot when the password is right and
/// they have a slot left from this address; the answer is given either way.
async fn on_login(
    service: &ImapService,
    peer: SocketAddr,
    session: &mut ServerSession,
    authzid: Option<String>,
    username: String,
    password: imap_proto::types::Secret<String>,
) -> Option<(User, crate::conn::Counted<(String, std::net::IpAddr)>)> {
    let result = mailbox::login(
        service,
        &username,
        authzid.as_deref(),
        password.into_inner(),
    )
    .await;
    let slot = result
        .as_ref()
        .ok()
        .map(|u| service.per_user.claim((u.username.clone(), peer.ip())));
    match (result, slot) {
        (Ok(u), Some(Some(claimed))) => {
            info!(%peer, user = %u.username, "imap login");
            session.auth_finish(Ok(())).answered();
            Some((u, claimed))
        }
        (Ok(u), _) => {
            warn!(%peer, user = %u.username, "imap login refused: too many sessions of this user from this address");
            session
                .auth_finish(Err((
                    Some(Code::Limit),
                    "Too many connections of this user from your address",
                )))
                .answered();
            None
        }
        (Err((code, text)), _) => {
            info!(%peer, %username, reason = text, "imap login refused");
            session.auth_finish(Err((code, text))).answered();
            None
        }
    }
}

/// An APPEND's start, literal chunks, end or abort, for the logged-in `user`.
async fn on_append(user: Option<&mut User>, session: &mut ServerSession, event: Event) {
    let Some(u) = user else {
        match event {
            Event::AppendStart(_) => {
                session
                    .reject_append(Some(Code::ServerBug), "Not logged in")
                    .answered();
            }
            Event::AppendEnd => {
                session
                    .complete(Status::No, Some(Code::ServerBug), "Not logged in")
                    .answered();
            }
            _ => {}
        }
        return;
    };
    match event {
        Event::AppendStart(head) => u.append_start(session, head),
        Event::AppendChunk(chunk) => u.append_chunk(&chunk),
        Event::AppendEnd => u.append_end(session).await,
        Event::AppendAborted => u.append_abort(),
        _ => {}
    }
}

/// IDLE accepted: the selected folder watched (first, so a change during the first look
/// still wakes the session) and looked at.
fn start_idle(
    service: &ImapService,
    user: Option<&mut User>,
    session: &mut ServerSession,
) -> Option<idle_watch::FolderWatch> {
    session.idle_accept().answered();
    let user = user?;
    let watch = user
        .selected_folder()
        .and_then(|dir| service.watcher.watch(&dir));
    user.sync(session, true);
    watch
}

/// When an idling session looks at its folder again: when the watch says it changed, or
/// after a while anyway (sooner while the folder's times have not settled); never when not
/// idling.
async fn idle_tick(watch: &mut Option<idle_watch::FolderWatch>, idling: bool, settled: bool) {
    let recheck = if settled {
        IDLE_RECHECK
    } else {
        maildir::SETTLE * 2
    };
    match (watch, idling) {
        (Some(w), true) => {
            tokio::select! {
                () = w.changed() => {}
                () = tokio::time::sleep(recheck) => {}
            }
        }
        (None, true) => tokio::time::sleep(IDLE_POLL).await,
        (_, false) => std::future::pending::<()>().await,
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<ImapService>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = service.gate.admit(peer);
    let mut conn = match Box::pin(Conn::open(stream, implicit_tls, &service.tls)).await {
        Ok(c) => c,
        Err(reason) => return info!(%peer, %reason, "imaps handshake failed"),
    };
    let config = service.session_config(implicit_tls, peer.ip().is_loopback());
    let mut session = match &admission {
        Ok(_) => ServerSession::new(config),
        Err(why) => ServerSession::refuse(config, why.text()),
    };
    let _admission = admission;
    let mut pacer = Pacer::from_limits(&service.config.limits, true);
    let mut user: Option<User> = None;
    // Counts this session against its user's limit from this address while it lasts.
    let mut _user_slot = None;
    let mut buf = ReadBuffer::new();
    let mut start_tls = false;
    let mut idling = false;
    let mut folder_watch: Option<idle_watch::FolderWatch> = None;
    let mut last_keepalive = tokio::time::Instant::now();
    let mut shutting_down = *shutdown.borrow();
    info!(%peer, tls = implicit_tls, "imap connect");
    let outcome: String = 'session: loop {
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => start_tls = true,
                Event::Login {
                    authzid,
                    username,
                    password,
                } => {
                    let login = on_login(&service, peer, &mut session, authzid, username, password);
                    if let Some((u, claimed)) = Box::pin(login).await {
                        user = Some(u);
                        _user_slot = Some(claimed);
                    }
                }
                Event::Logout => {}
                Event::Idle { .. } => {
                    idling = true;
                    buf.rest();
                    last_keepalive = tokio::time::Instant::now();
                    folder_watch = start_idle(&service, user.as_mut(), &mut session);
                }
                Event::IdleDone => {
                    idling = false;
                    folder_watch = None;
                    if let Some(u) = user.as_mut() {
                        u.sync(&mut session, true);
                    }
                    session
                        .complete(Status::Ok, None, "IDLE terminated")
                        .answered();
                }
                Event::Command { tag, command } => {
                    let Some(u) = user.as_mut() else {
                        session
                            .complete(Status::No, Some(Code::ServerBug), "Not logged in")
                            .answered();
                        continue;
                    };
                    let name = command.name();
                    // Boxed: a command's state lives only while it runs, not in every idle
                    // connection's task.
                    let run = Box::pin(u.command(&mut session, &mut conn, &tag, command));
                    if let Err(e) = run.await {
                        break 'session format!("write error during {name} ({tag}): {e}");
                    }
                }
                Event::AppendStart(_)
                | Event::AppendChunk(_)
                | Event::AppendEnd
                | Event::AppendAborted => {
                    Box::pin(on_append(user.as_mut(), &mut session, event)).await
                }
            }
            if session.pending_output() >= WRITE_BATCH
                && let Err(e) = flush(&mut session, &mut conn).await
            {
                break 'session format!("write error: {e}");
            }
        }
        if session.pending_output() > 0 {
            if let Err(e) = flush(&mut session, &mut conn).await {
                break format!("write error: {e}");
            }
            pacer.answered();
            continue;
        }
        if session.is_closed() {
            break "closed".into();
        }
        if user.is_some() {
            pacer.authenticated();
        }
        if start_tls {
            start_tls = false;
            if let Err(reason) = Box::pin(conn.start_tls(&service.tls)).await {
                break reason;
            }
            session.tls_established().answered();
            continue;
        }
        if shutting_down {
            session.shutdown();
            continue;
        }
        let room = buf.room(session.input_capacity());
        if room.is_empty() {
            break "session stalled".into();
        }
        let timeout = session.timeout();
        let settled = user.as_ref().is_none_or(User::folder_settled);
        let idle_tick = idle_tick(&mut folder_watch, idling, settled);
        tokio::select! {
            read = tokio::time::timeout(pacer.wait(timeout), conn.read(room)) => match read {
                Err(_) => {
                    warn!(%peer, "imap closing: too slow (timeout or command deadline)");
                    session.handle_timeout();
                }
                Ok(Ok(0)) => break "client closed".into(),
                Ok(Ok(n)) => {
                    if pacer.received(n) == Pace::OverBudget {
                        warn!(%peer, "imap closing: too much data before login");
                        session.abort(BUDGET_SPENT);
                    } else if let Err(e) = session.receive(buf.take(n)) {
                        break format!("protocol violation: {e}");
                    }
                }
                Ok(Err(e)) => break format!("read error: {e}"),
            },
            () = idle_tick => {
                if let Some(u) = user.as_mut() {
                    u.sync(&mut session, true);
                }
                if last_keepalive.elapsed() >= IDLE_KEEPALIVE {
                    last_keepalive = tokio::time::Instant::now();
                    session.send(&imap_proto::Response::ok(None, "Still here")).answered();
                }
            }
            _ = shutdown.changed(), if !shutting_down => shutting_down = true,
        }
    };
    if let Some(u) = user.as_mut() {
        u.append_abort();
    }
    let _ = conn.shutdown().await;
    info!(%peer, %outcome, "imap disconnect");
}
