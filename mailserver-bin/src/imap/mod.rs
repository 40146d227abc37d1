//! The IMAP service (143 with STARTTLS, 993 with implicit TLS): drives
//! `mailwright_imap::ServerSession`, logs users in against the account store, and serves their
//! Maildir++ folders.
//!
//! Storage work runs in `block_in_place`, on this worker thread, as POP3 does: a session is
//! one client, and the runtime moves its other tasks away meanwhile.

mod headers;
mod idle_watch;
mod mailbox;
pub(crate) mod mime;
mod ranges;
mod search;
mod seats;
mod service;
mod sort_thread;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailwright_imap::{Code, Event, Refusal, ServerSession, Status};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::conn::drive::{self, Flow};
use crate::conn::{Answered, Conn, Pacer};

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
    live: Arc<crate::live::Live<ImapService>>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    // Each connection gets the service in force when it arrives (a reload replaces it);
    // what every version shares (session count, guard) is taken once.
    let service = live.get();
    let active = service.active.clone();
    let door = crate::conn::Door {
        protocol: "imap",
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

/// LOGIN or AUTHENTICATE: the user and their session slot when the password is right and
/// they have a slot left from this address; the answer is given either way.
async fn on_login(
    service: &ImapService,
    peer: SocketAddr,
    session: &mut ServerSession,
    authzid: Option<String>,
    username: String,
    password: mailwright_imap::Secret<String>,
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
            service.gate.guard.succeeded(peer.ip(), "imap");
            session.auth_finish(Ok(())).answered();
            Some((u, claimed))
        }
        (Ok(u), _) => {
            warn!(%peer, user = %u.username, "imap login refused: too many sessions of this user from this address");
            session
                .auth_finish(Err(Refusal::new(
                    Some(Code::Limit),
                    "Too many connections of this user from your address",
                )))
                .answered();
            None
        }
        (Err((code, text)), _) => {
            info!(%peer, %username, reason = text, "imap login refused");
            if code == Some(Code::AuthenticationFailed) {
                // Answered late, and counted towards a ban (the `guard` module).
                let delay = service.gate.guard.failed(peer.ip(), "imap", &username);
                tokio::time::sleep(delay).await;
            }
            session
                .auth_finish(Err(Refusal::new(code, text)))
                .answered();
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
/// after a while anyway (sooner while the folder's times have not settled, and every
/// `[storage] poll_ms` when other nodes share the store: their changes may not be reported);
/// never when not idling.
async fn idle_tick(
    watch: &mut Option<idle_watch::FolderWatch>,
    idling: bool,
    settled: bool,
    shared_poll: Option<Duration>,
) {
    let recheck = if settled {
        shared_poll.map_or(IDLE_RECHECK, |p| p.min(IDLE_RECHECK))
    } else {
        mailwright_maildir::SETTLE * 2
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
    let mut handler = ImapConnection {
        service,
        peer,
        user: None,
        _user_slot: None,
        idling: false,
        folder_watch: None,
        last_keepalive: tokio::time::Instant::now(),
    };
    info!(%peer, tls = implicit_tls, "imap connect");
    let run = drive::run(
        &mut handler,
        &mut session,
        &mut conn,
        &mut pacer,
        peer,
        &mut shutdown,
    );
    let outcome = run.await;
    if let Some(u) = handler.user.as_mut() {
        u.append_abort();
    }
    info!(%peer, %outcome, bytes_in = conn.received(), bytes_out = conn.sent(), "imap disconnect");
}

/// One IMAP connection's part: logs in, runs commands on the user's folders, IDLE.
struct ImapConnection {
    service: Arc<ImapService>,
    peer: SocketAddr,
    user: Option<User>,
    /// Counts this session against its user's limit from this address while it lasts.
    _user_slot: Option<crate::conn::Counted<(String, std::net::IpAddr)>>,
    idling: bool,
    folder_watch: Option<idle_watch::FolderWatch>,
    last_keepalive: tokio::time::Instant,
}

impl drive::Handler for ImapConnection {
    type Session = ServerSession;
    const PROTOCOL: &'static str = "imap";

    async fn handle_events(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
    ) -> Result<Flow, String> {
        let mut flow = Flow::Continue;
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => flow = Flow::StartTls,
                Event::Login {
                    authzid,
                    username,
                    password,
                } => {
                    let login = on_login(
                        &self.service,
                        self.peer,
                        session,
                        authzid,
                        username,
                        password,
                    );
                    if let Some((u, claimed)) = Box::pin(login).await {
                        tracing::Span::current()
                            .record("user", tracing::field::display(&u.username));
                        self.user = Some(u);
                        self._user_slot = Some(claimed);
                    }
                }
                Event::Logout => {}
                Event::Idle { .. } => {
                    self.idling = true;
                    flow = Flow::Quiet;
                    self.last_keepalive = tokio::time::Instant::now();
                    self.folder_watch = start_idle(&self.service, self.user.as_mut(), session);
                }
                Event::IdleDone => {
                    self.idling = false;
                    self.folder_watch = None;
                    if let Some(u) = self.user.as_mut() {
                        u.sync(session, true);
                    }
                    session
                        .complete(Status::Ok, None, "IDLE terminated")
                        .answered();
                }
                Event::Command { tag, command } => {
                    let Some(u) = self.user.as_mut() else {
                        session
                            .complete(Status::No, Some(Code::ServerBug), "Not logged in")
                            .answered();
                        continue;
                    };
                    let name = command.name();
                    // Boxed: a command's state lives only while it runs, not in every idle
                    // connection's task.
                    let run = Box::pin(u.command(session, conn, &tag, command));
                    if let Err(e) = run.await {
                        return Err(format!("write error during {name} ({tag}): {e}"));
                    }
                }
                Event::AppendStart(_)
                | Event::AppendChunk(_)
                | Event::AppendEnd
                | Event::AppendAborted => {
                    Box::pin(on_append(self.user.as_mut(), session, event)).await;
                }
            }
            if session.pending_output() >= WRITE_BATCH
                && let Err(e) = flush(session, conn).await
            {
                return Err(format!("write error: {e}"));
            }
        }
        Ok(flow)
    }

    fn logged_in(&self, _session: &ServerSession) -> bool {
        self.user.is_some()
    }

    fn tls(&self) -> Option<&TlsAcceptor> {
        Some(&self.service.tls)
    }

    fn wake(&mut self) -> impl std::future::Future<Output = ()> + Send {
        let settled = self.user.as_ref().is_none_or(User::folder_settled);
        let storage = &self.service.config.storage;
        let shared_poll = storage
            .shared
            .then(|| Duration::from_millis(storage.poll_ms));
        idle_tick(&mut self.folder_watch, self.idling, settled, shared_poll)
    }

    fn woken(&mut self, session: &mut ServerSession) {
        if let Some(u) = self.user.as_mut() {
            u.sync(session, true);
        }
        if self.last_keepalive.elapsed() >= IDLE_KEEPALIVE {
            self.last_keepalive = tokio::time::Instant::now();
            session
                .send(&mailwright_imap::Response::ok(None, "Still here"))
                .answered();
        }
    }
}
