//! ManageSieve (RFC 5804, port 4190): users store, check, list and activate their Sieve
//! scripts, as Roundcube's filter settings and `sieve-connect` do with Dovecot. The scripts
//! are kept as Pigeonhole keeps them (`mailwright_maildir::SieveScripts`), so what is stored
//! here runs at delivery (the `sieve` module) and in Dovecot alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use mailwright_maildir::{ScriptError, SieveScripts};
use mailwright_managesieve::{Code, Config as SessionConfig, Event, Response, ServerSession};
use mailwright_sieve::{Limits, Script};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::accounts::Accounts;
use crate::config::Config;
use crate::conn::drive::{self, Flow};
use crate::conn::{Answered, Conn, Pacer};
use crate::live::Live;

/// What every ManageSieve session shares.
pub struct ManageSieveService {
    pub config: Arc<Config>,
    pub accounts: Accounts,
    pub tls: TlsAcceptor,
    pub gate: Arc<crate::conn::Gate>,
    pub active: Arc<AtomicUsize>,
}

impl ManageSieveService {
    pub fn new(
        config: Arc<Config>,
        accounts: Accounts,
        tls: TlsAcceptor,
        active: Arc<AtomicUsize>,
        shared: &crate::conn::Shared,
    ) -> Self {
        Self {
            gate: crate::conn::Gate::for_limits("managesieve", &config.limits, shared),
            config,
            accounts,
            tls,
            active,
        }
    }

    /// This service with the settings of `config` (a reload), for new sessions.
    pub fn reconfigured(&self, config: Arc<Config>) -> Self {
        self.gate.follow(&config.limits);
        Self {
            config,
            accounts: self.accounts.clone(),
            tls: self.tls.clone(),
            gate: Arc::clone(&self.gate),
            active: Arc::clone(&self.active),
        }
    }

    fn session_config(&self, loopback: bool) -> SessionConfig {
        let mut c = SessionConfig::new(
            "mailserver",
            mailwright_sieve::EXTENSIONS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
        );
        c.max_redirects = u32::try_from(self.config.sieve.max_redirects).ok();
        c.allow_plaintext_auth = loopback || self.config.imap.allow_plaintext_auth;
        c.limits.max_literal = self.config.sieve.max_script_size;
        c.limits.max_errors = self.config.limits.max_errors;
        c
    }

    fn limits(&self) -> Limits {
        crate::sieve::limits(&self.config.sieve)
    }
}

/// Accepts ManageSieve connections until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    live: Arc<Live<ManageSieveService>>,
    shutdown: watch::Receiver<bool>,
) {
    let service = live.get();
    let door = crate::conn::Door {
        protocol: "managesieve",
        guard: Arc::clone(&service.gate.guard),
        plain: true,
    };
    crate::conn::accept_loop(
        listener,
        door,
        service.active.clone(),
        shutdown,
        move |stream, peer, shutdown| connection(stream, peer, live.get(), shutdown),
    )
    .await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<ManageSieveService>,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = service.gate.admit(peer);
    let mut conn = Conn::plain(stream);
    let config = service.session_config(peer.ip().is_loopback());
    let mut session = match &admission {
        Ok(_) => ServerSession::new(config),
        Err(why) => ServerSession::refuse(config, why.text()),
    };
    let _admission = admission;
    let mut pacer = Pacer::from_limits(&service.config.limits, true);
    let mut handler = Connection {
        service,
        peer,
        scripts: None,
    };
    info!(%peer, "managesieve connect");
    let outcome = drive::run(
        &mut handler,
        &mut session,
        &mut conn,
        &mut pacer,
        peer,
        &mut shutdown,
    )
    .await;
    info!(%peer, %outcome, "managesieve disconnect");
}

/// One connection: the logged-in user's scripts.
struct Connection {
    service: Arc<ManageSieveService>,
    peer: SocketAddr,
    scripts: Option<(String, SieveScripts)>,
}

impl drive::Handler for Connection {
    type Session = ServerSession;
    const PROTOCOL: &'static str = "managesieve";

    async fn handle_events(
        &mut self,
        session: &mut ServerSession,
        _conn: &mut Conn,
    ) -> Result<Flow, String> {
        let mut flow = Flow::Continue;
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => flow = Flow::StartTls,
                Event::Login(credentials) => {
                    let user = credentials.username.clone();
                    let password = credentials.password.into_inner();
                    let answer = Box::pin(self.login(&user, password)).await;
                    session.auth_finish(answer).answered();
                }
                event => {
                    let Some((user, scripts)) = &self.scripts else {
                        session
                            .answer(Response::no("Authenticate first"))
                            .answered();
                        continue;
                    };
                    let (user, scripts) = (user.clone(), scripts.clone());
                    let limits = self.service.limits();
                    let answered = tokio::task::spawn_blocking(move || {
                        let mut s = Answers::default();
                        s.handle(&scripts, &limits, &user, event);
                        s
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    answered.send(session);
                }
            }
        }
        Ok(flow)
    }

    fn logged_in(&self, _session: &ServerSession) -> bool {
        self.scripts.is_some()
    }

    fn tls(&self) -> Option<&TlsAcceptor> {
        Some(&self.service.tls)
    }
}

impl Connection {
    async fn login(&mut self, username: &str, password: String) -> Result<String, Response> {
        let service = &self.service;
        let scheme = service.config.accounts.default_password_scheme;
        let failed = |why: &str| {
            info!(peer = %self.peer, user = %username, reason = why, "managesieve login refused");
        };
        match service
            .accounts
            .authenticate(username, password, scheme)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                failed("bad credentials");
                let delay = service
                    .gate
                    .guard
                    .failed(self.peer.ip(), "managesieve", username);
                tokio::time::sleep(delay).await;
                return Err(Response::no("Authentication failed"));
            }
            Err(e) => {
                warn!(error = %e, "managesieve login failed on the server side");
                return Err(Response::No(Some(Code::TryLater), "Try again later".into()));
            }
        }
        let mailbox = match service.accounts.mailbox(username).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                failed("no mailbox");
                return Err(Response::no("Authentication failed"));
            }
            Err(e) => {
                warn!(error = %e, "managesieve login failed on the server side");
                return Err(Response::No(Some(Code::TryLater), "Try again later".into()));
            }
        };
        service.gate.guard.succeeded(self.peer.ip(), "managesieve");
        info!(peer = %self.peer, user = %mailbox.username, "managesieve login");
        tracing::Span::current().record("user", tracing::field::display(&mailbox.username));
        self.scripts = Some((
            mailbox.username.clone(),
            SieveScripts::new(&mailbox.maildir),
        ));
        Ok(mailbox.username)
    }
}

/// The answer to one script event, worked out off the async threads.
#[derive(Default)]
struct Answers {
    list: Option<Vec<(String, bool)>>,
    script: Option<Vec<u8>>,
    response: Option<Response>,
}

impl Answers {
    fn send(self, session: &mut ServerSession) {
        match (self.list, self.script, self.response) {
            (Some(list), _, _) => session.answer_list(&list).answered(),
            (_, Some(script), _) => session.answer_script(&script).answered(),
            (_, _, Some(r)) => session.answer(r).answered(),
            _ => session.answer(Response::no("Internal error")).answered(),
        }
    }

    fn handle(&mut self, scripts: &SieveScripts, limits: &Limits, user: &str, event: Event) {
        let stored = |r: Result<(), ScriptError>, done: &str| match r {
            Ok(()) => Response::ok(done),
            Err(e) => refusal(user, e),
        };
        self.response = Some(match event {
            Event::ListScripts => match scripts.list() {
                Ok(list) => {
                    self.list = Some(list);
                    return;
                }
                Err(e) => refusal(user, e.into()),
            },
            Event::GetScript { name } => match scripts.read(&name) {
                Ok(Some(text)) => {
                    self.script = Some(text);
                    return;
                }
                Ok(None) => Response::No(
                    Some(Code::NonExistent),
                    "There is no script by that name".into(),
                ),
                Err(e) => refusal(user, e),
            },
            Event::HaveSpace { name, size } => {
                match mailwright_maildir::validate_script_name(&name) {
                    Err(e) => Response::no(e.to_string()),
                    Ok(()) if size > limits.max_script_size as u64 => Response::No(
                        Some(Code::QuotaMaxSize),
                        format!("Scripts are limited to {} octets", limits.max_script_size),
                    ),
                    Ok(()) => Response::ok("Putscript would succeed"),
                }
            }
            Event::CheckScript { script } => match check(&script, limits) {
                Ok(()) => Response::ok("Script is valid"),
                Err(e) => Response::no(e),
            },
            Event::PutScript { name, script } => match check(&script, limits) {
                Ok(()) => {
                    let r = stored(scripts.put(&name, &script), "Putscript completed");
                    if matches!(r, Response::Ok(..)) {
                        info!(%user, script = %name, octets = script.len(), "managesieve: script stored");
                    }
                    r
                }
                Err(e) => Response::no(e),
            },
            Event::SetActive { name } => {
                let target = (!name.is_empty()).then_some(name.as_str());
                // A script activated is one that compiles (RFC 5804 §2.8).
                let valid = match target.map(|n| scripts.read(n)) {
                    Some(Ok(Some(text))) => check(&text, limits).err(),
                    _ => None,
                };
                match valid {
                    Some(e) => Response::no(e),
                    None => stored(scripts.activate(target), "Setactive completed"),
                }
            }
            Event::DeleteScript { name } => stored(scripts.delete(&name), "Deletescript completed"),
            Event::RenameScript { old, new } => {
                stored(scripts.rename(&old, &new), "Renamescript completed")
            }
            Event::StartTls | Event::Login(_) => Response::no("Unexpected"),
        });
    }
}

/// Whether `script` compiles; the error says where, as CHECKSCRIPT's NO should.
fn check(script: &[u8], limits: &Limits) -> Result<(), String> {
    let text = std::str::from_utf8(script).map_err(|_| "The script is not UTF-8".to_owned())?;
    Script::compile(text, limits)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn refusal(user: &str, e: ScriptError) -> Response {
    match e {
        ScriptError::NotFound(_) => Response::No(Some(Code::NonExistent), e.to_string()),
        ScriptError::Exists(_) => Response::No(Some(Code::AlreadyExists), e.to_string()),
        ScriptError::Active(_) => Response::No(Some(Code::Active), e.to_string()),
        ScriptError::BadName(_) => Response::no(e.to_string()),
        ScriptError::Storage(e) => {
            warn!(%user, error = %e, "managesieve: storage failed");
            Response::No(Some(Code::TryLater), "Try again later".into())
        }
    }
}
