//! The POP3 service (110 with STLS, 995 with implicit TLS): drives `mailwright_pop3::ServerSession`,
//! logs users in against the account store, serves their INBOX Maildir, and applies the
//! delete policy at UPDATE.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwright_pop3::{Event, MessageInfo, Response, ServerSession};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::accounts::Accounts;
use crate::config::{Config, DeletePolicy};
use crate::conn::drive::{self, Flow};
use crate::conn::{Answered, Conn, Pacer};

/// The keyword Dovecot's `pop3_deleted_flag` setting conventionally uses.
const POP3_DELETED: &str = "$POP3Deleted";
const READ_CHUNK: usize = 128 * 1024;
/// Output queued while streaming a message before it is written to the socket.
const WRITE_BATCH: usize = 256 * 1024;

pub struct Pop3Service {
    pub config: Arc<Config>,
    pub accounts: Accounts,
    pub tls: TlsAcceptor,
    pub gate: Arc<crate::conn::Gate>,
    pub active: Arc<AtomicUsize>,
    /// Maildrops with a session in TRANSACTION (RFC 1939 §8: one at a time).
    locked: Arc<Mutex<HashSet<String>>>,
    /// Folder listings shared with IMAP: a maildrop opened again is not scanned again, and
    /// IMAP sessions learn what POP3 changed without reading the folder file by file.
    listings: Arc<mailwright_maildir::ListingCache>,
}

impl Pop3Service {
    pub fn new(
        config: Arc<Config>,
        accounts: Accounts,
        tls: TlsAcceptor,
        active: Arc<AtomicUsize>,
        listings: Arc<mailwright_maildir::ListingCache>,
        shared: &crate::conn::Shared,
    ) -> Self {
        Self {
            gate: crate::conn::Gate::for_limits("pop3", &config.limits, shared),
            config,
            accounts,
            tls,
            active,
            locked: Arc::new(Mutex::new(HashSet::new())),
            listings,
        }
    }

    /// This service with the settings of `config` (a reload), for the sessions that start
    /// from now on: the same gate (given the new limits), session count and maildrop locks.
    pub fn reconfigured(&self, config: Arc<Config>) -> Self {
        self.gate.follow(&config.limits);
        Self {
            config,
            accounts: self.accounts.clone(),
            tls: self.tls.clone(),
            gate: Arc::clone(&self.gate),
            active: Arc::clone(&self.active),
            locked: Arc::clone(&self.locked),
            listings: Arc::clone(&self.listings),
        }
    }

    fn session_config(&self, implicit_tls: bool, loopback: bool) -> mailwright_pop3::Config {
        let mut c = mailwright_pop3::Config::new(format!("{} POP3 ready", self.config.hostname));
        c.stls = !implicit_tls;
        c.implicit_tls = implicit_tls;
        // Cleartext credentials never cross a network unless the admin allows it.
        c.allow_plaintext_auth = loopback || self.config.pop3.allow_plaintext_auth;
        c.limits.timeout = Duration::from_secs(self.config.pop3.timeout);
        c.limits.max_auth_failures = self.config.pop3.max_auth_failures;
        c.limits.max_errors = self.config.limits.max_errors;
        // RFC 2449 EXPIRE: we never remove mail on our own, whatever the delete policy.
        c.expire = Some("NEVER".to_owned());
        c.implementation = Some("mailserver".into());
        c
    }
}

/// Releases a maildrop's lock when the session ends, however it ends.
struct MaildropLock {
    locked: Arc<Mutex<HashSet<String>>>,
    username: String,
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        if let Ok(mut set) = self.locked.lock() {
            set.remove(&self.username);
        }
    }
}

/// Accepts POP3 (or, with `implicit_tls`, POP3S) connections until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    live: Arc<crate::live::Live<Pop3Service>>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    // Each connection gets the service in force when it arrives (a reload replaces it);
    // what every version shares (session count, guard) is taken once.
    let service = live.get();
    let active = service.active.clone();
    let door = crate::conn::Door {
        protocol: "pop3",
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

/// What a logged-in session works on.
struct Maildrop {
    username: String,
    maildir: mailwright_maildir::Maildir,
    messages: Vec<mailwright_maildir::Message>,
    policy: DeletePolicy,
    retrieved: HashSet<usize>,
    uid_validity: u32,
    quota: mailwright_maildir::QuotaLimits,
    _lock: MaildropLock,
}

/// USER/PASS or AUTH: the user's maildrop when the password is right and its listing can
/// be shown; the answer is given either way.
async fn on_login(
    service: &Pop3Service,
    peer: SocketAddr,
    session: &mut ServerSession,
    username: &str,
    password: mailwright_pop3::Secret<String>,
) -> Option<Maildrop> {
    let md = match login(service, username, password.into_inner()).await {
        Ok(md) => md,
        Err(response) => {
            info!(%peer, %username, reason = %response, "pop3 login refused");
            if response.code() == Some(mailwright_pop3::RespCode::Auth) {
                // Answered late, and counted towards a ban (the `guard` module).
                let delay = service.gate.guard.failed(peer.ip(), "pop3", username);
                tokio::time::sleep(delay).await;
            }
            session.auth_finish(Err(response)).answered();
            return None;
        }
    };
    let listing: Result<Vec<MessageInfo>, _> = md
        .messages
        .iter()
        .map(|m| MessageInfo::new(m.vsize, md.uidl(m)))
        .collect();
    match listing {
        Ok(listing) => {
            info!(%peer, user = %md.username, messages = listing.len(), policy = md.policy.as_str(), "pop3 login");
            service.gate.guard.succeeded(peer.ip(), "pop3");
            session.auth_finish(Ok(listing)).answered();
            Some(md)
        }
        Err(_) => {
            warn!(user = %md.username, "a UIDL in the uidlist is not valid for POP3");
            session
                .auth_finish(Err(Response::temporary_failure()))
                .answered();
            None
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<Pop3Service>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = service.gate.admit(peer);
    let mut conn = match Box::pin(Conn::open(stream, implicit_tls, &service.tls)).await {
        Ok(c) => c,
        Err(reason) => return info!(%peer, %reason, "pop3s handshake failed"),
    };
    let config = service.session_config(implicit_tls, peer.ip().is_loopback());
    let mut session = match &admission {
        Ok(_) => ServerSession::new(config),
        Err(why) => ServerSession::refuse(config, why.text()),
    };
    let _admission = admission;
    let mut pacer = Pacer::from_limits(&service.config.limits, true);
    let mut handler = Pop3Connection {
        service,
        peer,
        maildrop: None,
    };
    info!(%peer, tls = implicit_tls, "pop3 connect");
    let run = drive::run(
        &mut handler,
        &mut session,
        &mut conn,
        &mut pacer,
        peer,
        &mut shutdown,
    );
    let outcome = run.await;
    // A session that ends without QUIT never reaches UPDATE: nothing is deleted or flagged.
    drop(handler);
    info!(%peer, %outcome, bytes_in = conn.received(), bytes_out = conn.sent(), "pop3 disconnect");
}

/// One POP3 connection's part: logs in, serves RETR/TOP, carries out UPDATE.
struct Pop3Connection {
    service: Arc<Pop3Service>,
    peer: SocketAddr,
    maildrop: Option<Maildrop>,
}

impl drive::Handler for Pop3Connection {
    type Session = ServerSession;
    const PROTOCOL: &'static str = "pop3";

    async fn handle_events(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
    ) -> Result<Flow, String> {
        let mut flow = Flow::Continue;
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => flow = Flow::StartTls,
                Event::Authenticate {
                    username, password, ..
                } => {
                    let login = on_login(&self.service, self.peer, session, &username, password);
                    self.maildrop = Box::pin(login).await;
                    if let Some(md) = &self.maildrop {
                        tracing::Span::current()
                            .record("user", tracing::field::display(&md.username));
                    }
                }
                Event::Retrieve { index, top, .. } => {
                    let Some(md) = self.maildrop.as_mut() else {
                        session
                            .retrieve_fail(Response::temporary_failure())
                            .answered();
                        continue;
                    };
                    Box::pin(retrieve(md, session, conn, index, top)).await?;
                }
                Event::Commit { deleted } => {
                    let deleted = deleted.iter().map(|d| d.index).collect();
                    let result = match self.maildrop.take() {
                        Some(md) => Box::pin(commit(md, deleted, self.peer, &self.service)).await,
                        None => Ok(()),
                    };
                    session
                        .commit_finish(result.map_err(|_| Response::temporary_failure()))
                        .answered();
                }
                Event::Quit => {}
            }
        }
        Ok(flow)
    }

    fn logged_in(&self, _session: &ServerSession) -> bool {
        self.maildrop.is_some()
    }

    fn tls(&self) -> Option<&TlsAcceptor> {
        Some(&self.service.tls)
    }
}

/// RETR or TOP: streams message `index` through the session, writing to `conn` as it goes.
/// An error ends the connection (the +OK is out; all we can do is close without a terminator).
async fn retrieve(
    md: &mut Maildrop,
    session: &mut ServerSession,
    conn: &mut Conn,
    index: usize,
    top: Option<u32>,
) -> Result<(), String> {
    let path = md.maildir.message_path(&md.messages[index]);
    // One trip to the blocking pool opens the file and reads its first chunk, which for most
    // mail is all of it.
    let (mut file, mut data) = match read_chunk(None, path.clone()).await {
        Ok(v) => v,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "message file unreadable");
            session
                .retrieve_fail(Response::temporary_failure())
                .answered();
            return Ok(());
        }
    };
    session.retrieve_begin().answered();
    loop {
        let at_end = data.len() < READ_CHUNK;
        let more = session.retrieve_chunk(&data).unwrap_or(false);
        // Large messages go out as they are read; small ones in one write.
        if session.pending_output() >= WRITE_BATCH
            && let Some(out) = session.poll_output()
            && let Err(e) = conn.write_all(&out).await
        {
            return Err(format!("write error: {e}"));
        }
        if at_end || !more {
            break;
        }
        match read_chunk(Some(file), path.clone()).await {
            Ok((f, d)) => (file, data) = (f, d),
            Err(e) => return Err(format!("read error on {}: {e}", path.display())),
        }
    }
    session.retrieve_end().answered();
    // RETR makes a message \Seen; TOP only peeks (as in Dovecot).
    if top.is_none() {
        md.retrieved.insert(index);
    }
    Ok(())
}

/// Reads up to `READ_CHUNK` octets (fewer only at the end of the file), opening the file
/// first if needed.
async fn read_chunk(
    file: Option<std::fs::File>,
    path: std::path::PathBuf,
) -> std::io::Result<(std::fs::File, Vec<u8>)> {
    // block_in_place reads on this worker thread (the runtime moves its other tasks away), which
    // saves the hand-off to the blocking pool that dominated small RETRs.
    tokio::task::block_in_place(move || {
        use std::io::Read;
        let mut file = match file {
            Some(f) => f,
            None => std::fs::File::open(&path)?,
        };
        let mut data = vec![0u8; READ_CHUNK];
        let mut filled = 0;
        while filled < READ_CHUNK {
            match file.read(&mut data[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        data.truncate(filled);
        Ok((file, data))
    })
}

impl Maildrop {
    /// The UIDL: a migrated one from the uidlist, else Dovecot 2.3's default format
    /// (`%08Xu%08Xv`), so clients moving between the two servers see the same ids.
    fn uidl(&self, message: &mailwright_maildir::Message) -> String {
        mailwright_maildir::pop3_uidl(message, self.uid_validity)
    }
}

async fn login(
    service: &Pop3Service,
    username: &str,
    password: String,
) -> Result<Maildrop, Response> {
    let accounts = &service.accounts;
    let temp = |e: &dyn std::fmt::Display| {
        warn!(error = %e, "pop3 login failed on the server side");
        Response::temporary_failure()
    };
    let default_scheme = service.config.accounts.default_password_scheme;
    let ok = accounts
        .authenticate(username, password, default_scheme)
        .await
        .map_err(|e| temp(&e))?;
    if !ok {
        return Err(Response::auth_failed());
    }
    let mailbox = accounts
        .mailbox(username)
        .await
        .map_err(|e| temp(&e))?
        .ok_or_else(Response::auth_failed)?;
    let policy = accounts
        .pop3_policy(&mailbox.username)
        .await
        .map_err(|e| temp(&e))?
        .unwrap_or(service.config.pop3.delete_policy);
    let lock = {
        let mut set = service
            .locked
            .lock()
            .map_err(|_| Response::temporary_failure())?;
        if !set.insert(mailbox.username.clone()) {
            return Err(Response::in_use());
        }
        MaildropLock {
            locked: service.locked.clone(),
            username: mailbox.username.clone(),
        }
    };
    let maildir = mailwright_maildir::Maildir::new(mailbox.maildir.clone());
    let scanned = {
        let maildir = maildir.clone();
        let listings = Arc::clone(&service.listings);
        tokio::task::spawn_blocking(move || {
            // Reading does not depend on writing: a maildrop that cannot be made now (a full
            // disk) is read as empty.
            if let Err(e) = maildir.create() {
                warn!(path = %maildir.path().display(), error = %e, "cannot create the maildrop; reading it as it is");
            }
            // Looked up without adding it: only messages that carry it need hiding.
            let letter = maildir.existing_keyword_letter(POP3_DELETED)?;
            Ok::<_, mailwright_maildir::Error>((listings.scan(&maildir)?, letter))
        })
        .await
    };
    let (listing, deleted_letter) = match scanned {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(temp(&e)),
        Err(e) => return Err(temp(&e)),
    };
    // Messages a `keep` session deleted stay hidden from POP3 whatever the policy is now.
    let messages = listing
        .messages
        .iter()
        .filter(|m| deleted_letter.is_none_or(|l| !m.has_flag(l)))
        .cloned()
        .collect();
    Ok(Maildrop {
        username: mailbox.username,
        maildir,
        messages,
        policy,
        retrieved: HashSet::new(),
        uid_validity: listing.uid_validity,
        quota: service
            .config
            .quota_limits(mailbox.quota, mailbox.message_quota),
        _lock: lock,
    })
}

/// UPDATE: apply the delete policy to the deleted messages and mark retrieved ones \Seen, then
/// make the renames durable.
async fn commit(
    md: Maildrop,
    deleted: Vec<usize>,
    peer: SocketAddr,
    service: &Pop3Service,
) -> Result<(), mailwright_maildir::Error> {
    let accounts = &service.accounts;
    let listings = Arc::clone(&service.listings);
    let user = md.username.clone();
    let policy = md.policy;
    let count = deleted.len();
    // Room is never asked for here (only given back), so the domain is not needed.
    let account = crate::delivery::QuotaAccount {
        username: md.username.clone(),
        maildir: md.maildir.clone(),
        limits: md.quota,
        domain: String::new(),
        domain_quota: 0,
    };
    let result = tokio::task::spawn_blocking(move || {
        let deleted_set: HashSet<usize> = deleted.iter().copied().collect();
        let hide = match policy {
            DeletePolicy::Expunge => None,
            DeletePolicy::Keep | DeletePolicy::Seen => {
                Some(md.maildir.keyword_letter(POP3_DELETED)?)
            }
        };
        let mut freed = (0i64, 0i64);
        let (mut renamed, mut removed) = (Vec::new(), Vec::new());
        for (i, message) in md.messages.iter().enumerate() {
            let mut add = String::new();
            if deleted_set.contains(&i) {
                match hide {
                    None => {
                        // Counted only by whoever removed it (an IMAP session may have).
                        if md.maildir.expunge(message)? {
                            freed = (freed.0 + message.size as i64, freed.1 + 1);
                        }
                        removed.push(message.uid);
                        continue;
                    }
                    Some(letter) => add.push(letter),
                }
                if policy == DeletePolicy::Seen {
                    add.push('S');
                }
            }
            if md.retrieved.contains(&i) {
                add.push('S');
            }
            if !add.is_empty() {
                renamed.push(md.maildir.add_flags(message, &add)?);
            }
        }
        md.maildir.sync()?;
        listings.note_changes(&md.maildir, &renamed, &removed)?;
        Ok(freed)
    })
    .await
    .unwrap_or_else(|e| {
        Err(mailwright_maildir::Error::Io {
            action: "committing",
            path: Default::default(),
            source: std::io::Error::other(e.to_string()),
        })
    });
    match &result {
        Ok(_) => info!(%peer, %user, deleted = count, policy = policy.as_str(), "pop3 update"),
        Err(e) => warn!(%peer, %user, error = %e, "pop3 update failed"),
    }
    let (bytes, messages) = result?;
    crate::delivery::record_change(accounts, &account, -bytes, -messages).await;
    Ok(())
}
