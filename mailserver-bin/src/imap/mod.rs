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

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, UNIX_EPOCH};

use imap_proto::{Atom, Code, Event, ServerSession, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

pub(crate) use mailbox::read_message;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::conn::{BUDGET_SPENT, Conn, Pace, Pacer, ReadBuffer};

pub use mailbox::User;

/// How often a session in IDLE looks for changes when its folder cannot be watched.
const IDLE_POLL: Duration = Duration::from_millis(400);
/// How often a session in IDLE looks anyway when it is watching (a watch only speeds things
/// up; this bounds what a missed event could cost).
const IDLE_RECHECK: Duration = Duration::from_secs(30);
/// How often a session in IDLE says it is still there (NAT boxes drop silent connections).
const IDLE_KEEPALIVE: Duration = Duration::from_secs(120);
/// Output queued before it is written while producing a long response.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;

pub struct ImapService {
    pub config: Arc<Config>,
    pub accounts: Accounts,
    pub tls: TlsAcceptor,
    pub gate: Arc<crate::conn::Gate>,
    pub active: Arc<AtomicUsize>,
    /// Folder listings shared by every session (and with POP3), so opening a large folder
    /// again is cheap.
    pub listings: Arc<maildir::ListingCache>,
    /// Cached header fields of the folders in use (ENVELOPE, HEADER.FIELDS, header SEARCH).
    pub headers: Arc<headers::HeaderCache>,
    /// The sessions in each folder, to let go of what is cached for it when none is left.
    pub seats: Arc<seats::Seats>,
    /// Wakes sessions in IDLE when their folder changes.
    pub watcher: idle_watch::FolderWatcher,
    /// Sessions of each user from each address (`[imap] max_connections_per_user`).
    pub per_user: Arc<crate::conn::Tally<(String, std::net::IpAddr)>>,
}

impl ImapService {
    pub fn new(
        config: Arc<Config>,
        accounts: Accounts,
        tls: TlsAcceptor,
        active: Arc<AtomicUsize>,
        listings: Arc<maildir::ListingCache>,
        process: Arc<Semaphore>,
    ) -> Self {
        mime::set_limits(mime::MimeLimits {
            parts: config.imap.max_mime_parts,
            depth: config.imap.max_mime_depth,
            header_fields: config.imap.max_header_fields,
        });
        let gate = crate::conn::Gate::new(
            "imap",
            config.limits.max_connections,
            config.limits.max_connections_per_address,
            process,
        );
        let headers = Arc::new(headers::HeaderCache::new(config.imap.header_cache_mb << 20));
        Self {
            gate,
            seats: Arc::new(seats::Seats::new(
                Arc::clone(&listings),
                Arc::clone(&headers),
                Duration::from_secs(config.imap.folder_linger),
            )),
            listings,
            headers,
            watcher: idle_watch::FolderWatcher::new(),
            per_user: crate::conn::Tally::new(config.imap.max_connections_per_user),
            config,
            accounts,
            tls,
            active,
        }
    }

    /// The capabilities this server implements beyond what the session answers itself.
    fn capabilities(&self) -> Vec<Atom> {
        let mut caps: Vec<Atom> = [
            "IMAP4rev2",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "CHILDREN",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "STATUS=SIZE",
            "ESEARCH",
            "CONDSTORE",
            "QRESYNC",
            "UTF8=ACCEPT",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            "QUOTA=RES-MESSAGE",
            "SORT",
            "THREAD=ORDEREDSUBJECT",
            "THREAD=REFERENCES",
        ]
        .into_iter()
        .filter_map(|c| Atom::new(c).ok())
        .collect();
        caps.extend(
            Atom::new(format!(
                "APPENDLIMIT={}",
                self.config.limits.max_message_size
            ))
            .ok(),
        );
        caps
    }

    fn session_config(&self, implicit_tls: bool, loopback: bool) -> imap_proto::Config {
        let mut c = imap_proto::Config::new(format!("{} IMAP ready", self.config.hostname));
        c.starttls = !implicit_tls;
        c.implicit_tls = implicit_tls;
        // Cleartext credentials never cross a network unless the admin allows it.
        c.allow_plaintext_auth = loopback || self.config.imap.allow_plaintext_auth;
        c.limits.timeout = Duration::from_secs(self.config.imap.timeout);
        c.limits.timeout_before_auth = Duration::from_secs(self.config.imap.timeout_before_auth);
        c.limits.max_auth_failures = self.config.imap.max_auth_failures;
        c.limits.max_errors = self.config.limits.max_errors;
        c.limits.max_append = self.config.limits.max_message_size;
        c.limits.max_line = self.config.imap.max_line;
        c.limits.max_literal = self.config.imap.max_literal;
        c.capabilities = self.capabilities();
        c.enable = ["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4rev2"]
            .into_iter()
            .filter_map(|c| Atom::new(c).ok())
            .collect();
        c.id = vec![("name".into(), "mailserver".into())];
        c
    }
}

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

/// Writes what the session has queued.
pub(crate) async fn flush(session: &mut ServerSession, conn: &mut Conn) -> std::io::Result<()> {
    while let Some(out) = session.poll_output() {
        conn.write_all(&out).await?;
    }
    conn.flush().await
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
                    let result = Box::pin(mailbox::login(
                        &service,
                        &username,
                        authzid.as_deref(),
                        password.into_inner(),
                    ))
                    .await;
                    let slot = result
                        .as_ref()
                        .ok()
                        .map(|u| service.per_user.claim((u.username.clone(), peer.ip())));
                    match (result, slot) {
                        (Ok(u), Some(Some(claimed))) => {
                            info!(%peer, user = %u.username, "imap login");
                            user = Some(u);
                            _user_slot = Some(claimed);
                            let _ = session.auth_finish(Ok(()));
                        }
                        (Ok(u), _) => {
                            warn!(%peer, user = %u.username, "imap login refused: too many sessions of this user from this address");
                            let _ = session.auth_finish(Err((
                                Some(Code::Limit),
                                "Too many connections of this user from your address",
                            )));
                        }
                        (Err((code, text)), _) => {
                            info!(%peer, %username, reason = text, "imap login refused");
                            let _ = session.auth_finish(Err((code, text)));
                        }
                    }
                }
                Event::Logout => {}
                Event::Idle { .. } => {
                    let _ = session.idle_accept();
                    idling = true;
                    buf.rest();
                    last_keepalive = tokio::time::Instant::now();
                    // Watching first, so a change during the first look still wakes us.
                    folder_watch = user
                        .as_ref()
                        .and_then(User::selected_folder)
                        .and_then(|dir| service.watcher.watch(&dir));
                    if let Some(u) = user.as_mut() {
                        u.sync(&mut session, true);
                    }
                }
                Event::IdleDone => {
                    idling = false;
                    folder_watch = None;
                    if let Some(u) = user.as_mut() {
                        u.sync(&mut session, true);
                    }
                    let _ = session.complete(Status::Ok, None, "IDLE terminated");
                }
                Event::Command { tag, command } => {
                    let Some(u) = user.as_mut() else {
                        let _ =
                            session.complete(Status::No, Some(Code::ServerBug), "Not logged in");
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
                Event::AppendStart(head) => match user.as_mut() {
                    Some(u) => u.append_start(&mut session, head),
                    None => {
                        let _ = session.reject_append(Some(Code::ServerBug), "Not logged in");
                    }
                },
                Event::AppendChunk(chunk) => {
                    if let Some(u) = user.as_mut() {
                        u.append_chunk(&chunk);
                    }
                }
                Event::AppendEnd => match user.as_mut() {
                    Some(u) => Box::pin(u.append_end(&mut session)).await,
                    None => {
                        let _ =
                            session.complete(Status::No, Some(Code::ServerBug), "Not logged in");
                    }
                },
                Event::AppendAborted => {
                    if let Some(u) = user.as_mut() {
                        u.append_abort();
                    }
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
            let _ = session.tls_established();
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
        let recheck = if user.as_ref().is_none_or(User::folder_settled) {
            IDLE_RECHECK
        } else {
            maildir::SETTLE * 2
        };
        let idle_tick = async {
            match (&mut folder_watch, idling) {
                (Some(w), true) => {
                    tokio::select! {
                        () = w.changed() => {}
                        () = tokio::time::sleep(recheck) => {}
                    }
                }
                (None, true) => tokio::time::sleep(IDLE_POLL).await,
                (_, false) => std::future::pending::<()>().await,
            }
        };
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
                    let _ = session.send(&imap_proto::Response::ok(None, "Still here"));
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

/// Seconds since the epoch of a file time.
pub(crate) fn unix_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}
