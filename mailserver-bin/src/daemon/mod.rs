//! The daemon (`mailserver serve`): logging, listeners, the services on them, signals and
//! an orderly shutdown.

use mailwright_maildir::{ListingCache, Maildir};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::AnyError;
use crate::accounts::Accounts;
use crate::config::Config;
use crate::live::Live;
use crate::{
    alerts, conn, dkim, health, http, imap, managesieve, owner, pop3, queue, smtp, srs, tls,
};

mod life;
mod reload;

/// How long sessions in the middle of a message get to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What every protocol's gate shares: its connections together, within the open-file limit
/// (raised to the hard limit here) so the process never runs out of descriptors, and the
/// guard against password guessing, with the bans of the last run.
fn shared_by_gates(config: &Config) -> Result<conn::Shared, AnyError> {
    Ok(conn::Shared {
        process: Arc::new(tokio::sync::Semaphore::new(conn::fd_budget(
            config.limits.max_total_connections,
        ))),
        guard: Arc::new(crate::guard::Guard::new(config)?),
    })
}

/// The SMTP services: port 25 (with the checks of `[sender_auth]` and `[filters]`) and
/// submission, sharing one count of active sessions.
fn smtp_services(
    config: &Arc<Config>,
    accounts: &Accounts,
    acceptor: &tokio_rustls::TlsAcceptor,
    outbound: &Arc<queue::Queue>,
    shared: &conn::Shared,
) -> Result<(Arc<smtp::SmtpService>, Arc<smtp::SmtpService>), AnyError> {
    let srs = srs::Srs::from_config(config)?;
    let mut inbound = smtp::SmtpService::new(
        config.clone(),
        accounts.clone(),
        Some(acceptor.clone()),
        outbound.clone(),
        srs.clone(),
        shared,
    );
    inbound.sender_auth = crate::filter::SenderAuth::new(config)?;
    inbound.filters = crate::filter::ContentFilters::new(config);
    let inbound = Arc::new(inbound);
    let submission = Arc::new(smtp::SmtpService::submission(
        config.clone(),
        accounts.clone(),
        Some(acceptor.clone()),
        outbound.clone(),
        srs,
        inbound.active.clone(),
        shared,
    ));
    Ok((inbound, submission))
}

/// The services of users' mailboxes: POP3 and IMAP, sharing the folder `listings` and the
/// count of `active` sessions with SMTP, and ManageSieve for their filters.
type MailboxServices = (
    Arc<Live<pop3::Pop3Service>>,
    Arc<Live<imap::ImapService>>,
    Arc<Live<managesieve::ManageSieveService>>,
);

fn mailbox_services(
    config: &Arc<Config>,
    accounts: &Accounts,
    acceptor: tokio_rustls::TlsAcceptor,
    active: Arc<std::sync::atomic::AtomicUsize>,
    listings: Arc<ListingCache>,
    shared: &conn::Shared,
) -> MailboxServices {
    let managesieve = managesieve::ManageSieveService::new(
        config.clone(),
        accounts.clone(),
        acceptor.clone(),
        Arc::clone(&active),
        shared,
    );
    let pop3 = pop3::Pop3Service::new(
        config.clone(),
        accounts.clone(),
        acceptor.clone(),
        Arc::clone(&active),
        Arc::clone(&listings),
        shared,
    );
    let imap = imap::ImapService::new(
        config.clone(),
        accounts.clone(),
        acceptor,
        active,
        listings,
        shared,
    );
    (
        Arc::new(Live::new(Arc::new(pop3))),
        Arc::new(Live::new(Arc::new(imap))),
        Arc::new(Live::new(Arc::new(managesieve))),
    )
}

/// Starts the POP3, IMAP and ManageSieve listeners of `bound`.
fn serve_mailboxes(
    bound: &mut Bound,
    services: &MailboxServices,
    shutdown: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, AnyError> {
    let (pop3_service, imap_service, managesieve_service) = services;
    let mut listeners = Vec::new();
    for (implicit_tls, name) in [(false, "pop3"), (true, "pop3s")] {
        for listener in bound.take(name)? {
            listeners.push(tokio::spawn(pop3::serve(
                listener,
                pop3_service.clone(),
                implicit_tls,
                shutdown.clone(),
            )));
        }
    }
    for (implicit_tls, name) in [(false, "imap"), (true, "imaps")] {
        for listener in bound.take(name)? {
            listeners.push(tokio::spawn(imap::serve(
                listener,
                imap_service.clone(),
                implicit_tls,
                shutdown.clone(),
            )));
        }
    }
    for listener in bound.take("managesieve")? {
        listeners.push(tokio::spawn(managesieve::serve(
            listener,
            managesieve_service.clone(),
            shutdown.clone(),
        )));
    }
    Ok(listeners)
}

/// The listening sockets, bound before the process gives up root (ports below 1024), each
/// with the name of its service.
pub struct Bound(Vec<(&'static str, std::net::TcpListener)>);

impl Bound {
    /// The runtime's listeners for service `name`.
    fn take(&mut self, name: &str) -> Result<Vec<tokio::net::TcpListener>, AnyError> {
        let (taken, kept) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(n, _)| *n == name);
        self.0 = kept;
        taken
            .into_iter()
            .map(|(_, l)| Ok(tokio::net::TcpListener::from_std(l)?))
            .collect()
    }
}

/// Binds every configured listener, saying which when one cannot be. Called before the
/// runtime starts, so that the process is still one thread when it switches user.
pub fn bind(config: &Config) -> Result<Bound, AnyError> {
    let mut bound = Vec::new();
    for (name, addrs) in config.listen.named() {
        for addr in addrs {
            let listener = std::net::TcpListener::bind(addr)
                .map_err(|e| format!("cannot listen on {addr} ({name}): {e}"))?;
            listener.set_nonblocking(true)?;
            info!(%addr, "listening for {name}");
            bound.push((name, listener));
        }
    }
    Ok(Bound(bound))
}

/// Logs to standard error, filtered by `MAILSERVER_LOG` (default `info,rustls=error`: what
/// rustls warns of is a client's misstep, such as an IP address sent as SNI, which every
/// webmail on the same host does; our own lines say what a failed handshake was).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILSERVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rustls=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the server on the `bound` listeners until SIGTERM or SIGINT, then shuts down in
/// order. SIGHUP reads the configuration file (`config_path`) again for new certificates.
pub async fn serve(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    mut bound: Bound,
) -> Result<(), AnyError> {
    // Freed memory goes back to the system within seconds, also while the server is idle.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        warn!(error = %e, "could not start the allocator's purging thread");
    }
    config.storage.sync.apply();
    let config = Arc::new(config);
    // Held until the process ends: only this process recovers and cleans the stores.
    let owner = owner::Owner::acquire(&config.data_dir, config.node())?;
    std::fs::create_dir_all(config.mail_root())
        .map_err(|e| format!("cannot create {}: {e}", config.mail_root().display()))?;
    let accounts = open_accounts(&config).await?;
    if owner.last_run_unclean() && config.node().is_some() {
        // The other nodes deliver meanwhile, with usage changes not yet written: a count now
        // would take some twice.
        warn!(
            "the last run did not stop in order; other nodes share the store, so usage is not counted again now: run `mailserver quota recalc --all` when mail is quiet"
        );
    } else if owner.last_run_unclean() {
        recount_usage(&config, &accounts).await;
    }
    let certificates = tls::Certificates::load(&config)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(certificates.server_config()?);
    let outbound = outbound_queue(&config, &accounts, &owner)?;
    let shared = shared_by_gates(&config)?;
    let (service, submission_service) =
        smtp_services(&config, &accounts, &acceptor, &outbound, &shared)?;
    let active = Arc::clone(&service.active);
    // One set of folder listings for IMAP and POP3, so each sees the other's changes cheaply.
    let mut listings = ListingCache::new(config.imap.listing_cache);
    if config.node().is_some() {
        // Other nodes' changes made while this one changes the same folder show within the
        // poll interval, not the default two seconds.
        let poll = std::time::Duration::from_millis(config.storage.poll_ms);
        let check = poll.min(listings.own_change_check());
        listings = listings.with_own_change_check(check);
    }
    let listings = Arc::new(listings);
    let (pop3_service, imap_service, managesieve_service) = mailbox_services(
        &config,
        &accounts,
        acceptor,
        Arc::clone(&active),
        Arc::clone(&listings),
        &shared,
    );
    let service = Arc::new(Live::new(service));
    let submission_service = Arc::new(Live::new(submission_service));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let guard_saver = tokio::spawn(Arc::clone(&shared.guard).keep_saved(shutdown_rx.clone()));
    let mut listeners = Vec::new();
    for (smtp_service, implicit_tls, name) in [
        (&service, false, "smtp"),
        (&submission_service, false, "submission"),
        (&submission_service, true, "submissions"),
    ] {
        for listener in bound.take(name)? {
            listeners.push(tokio::spawn(smtp::serve(
                listener,
                smtp_service.clone(),
                implicit_tls,
                shutdown_rx.clone(),
            )));
        }
    }
    let queue_runner = tokio::spawn(outbound.clone().run(shutdown_rx.clone()));
    tokio::spawn(outbound.clone().run_digests(shutdown_rx.clone()));
    if config.limits.tmp_max_age > 0 {
        tokio::spawn(sweep_tmp(
            config.clone(),
            accounts.clone(),
            shutdown_rx.clone(),
        ));
    }
    let usage_writer = tokio::spawn(write_usage(
        accounts.clone(),
        Duration::from_millis(config.accounts.usage_write_ms.max(1)),
        shutdown_rx.clone(),
    ));
    listeners.extend(serve_mailboxes(
        &mut bound,
        &(
            pop3_service.clone(),
            imap_service.clone(),
            managesieve_service.clone(),
        ),
        &shutdown_rx,
    )?);
    let health = Arc::new(health::Sources {
        config: Live::new(config.clone()),
        accounts: accounts.clone(),
        queue: outbound.clone(),
        certificates: Arc::clone(&certificates),
    });
    let status = Arc::new(http::Status {
        health: Arc::clone(&health),
        listening: std::sync::atomic::AtomicBool::new(false),
        guard: Arc::clone(&shared.guard),
    });
    for listener in bound.take("http")? {
        listeners.push(tokio::spawn(http::serve(
            listener,
            Arc::clone(&status),
            shutdown_rx.clone(),
        )));
    }
    if listeners.is_empty() {
        warn!("no listeners configured; nothing to do");
    }
    status.listening.store(true, Ordering::SeqCst);
    tokio::spawn(reload::on_hup(reload::Reloader {
        path: config_path,
        certificates: Arc::clone(&certificates),
        smtp: service,
        submission: submission_service,
        pop3: pop3_service,
        imap: imap_service,
        managesieve: managesieve_service,
        guard: Arc::clone(&shared.guard),
        queue: Arc::clone(&outbound),
        health: Arc::clone(&health),
    }));
    tokio::spawn(life::watchdog(shutdown_rx.clone()));
    tokio::spawn(alerts::watch(health, shutdown_rx.clone()));
    info!(hostname = %config.hostname, data_dir = %config.data_dir.display(), "mailserver ready");
    life::notify_ready();

    life::wait_for_stop().await?;
    info!("shutting down: no new connections; open sessions finish their current message");
    life::notify_stopping();
    let _ = shutdown_tx.send(true);
    for l in listeners {
        let _ = l.await;
    }
    let _ = queue_runner.await;
    let drained = drain(&active, &outbound).await;
    let _ = usage_writer.await;
    let _ = guard_saver.await;
    // The last changes: not written, the next start counts usage again.
    let written = match accounts.write_usage().await {
        Ok(_) => true,
        Err(e) => {
            error!(error = %e, "could not write the last usage changes to quota2");
            false
        }
    };
    let in_order = drained && written;
    accounts.close().await;
    // The first look at each large folder after a restart then reads one file, not cur/.
    let _ = tokio::task::spawn_blocking(move || listings.save_all()).await;
    if in_order {
        owner.stopped_in_order();
    }
    info!("stopped");
    Ok(())
}

/// Waits up to [`SHUTDOWN_GRACE`] for the sessions (`active`) and deliveries to end; whether
/// they all did.
async fn drain(active: &std::sync::atomic::AtomicUsize, outbound: &queue::Queue) -> bool {
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while (active.load(Ordering::SeqCst) > 0 || outbound.busy() > 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = active.load(Ordering::SeqCst);
    if left > 0 {
        error!(
            sessions = left,
            "grace period over; aborting sessions (unacknowledged messages are discarded)"
        );
    }
    left == 0 && outbound.busy() == 0
}

/// Removes what crashes left in the mailboxes' `tmp/` (files older than `[limits]
/// tmp_max_age`), at start and then once a day, as Dovecot does when it reads a folder.
async fn sweep_tmp(config: Arc<Config>, accounts: Accounts, mut shutdown: watch::Receiver<bool>) {
    let older_than = Duration::from_secs(config.limits.tmp_max_age);
    loop {
        match accounts.list_users(None).await {
            Ok(users) => {
                let swept = tokio::task::spawn_blocking(move || {
                    let mut removed = 0;
                    for (user, maildir, _) in users {
                        match Maildir::new(&maildir).clean_tmp(older_than) {
                            Ok(0) => {}
                            Ok(n) => {
                                info!(%user, files = n, "removed files a crash left in tmp/");
                                removed += n;
                            }
                            Err(e) => warn!(%user, error = %e, "cannot clean tmp/"),
                        }
                    }
                    removed
                })
                .await;
                if let Ok(n) = swept
                    && n > 0
                {
                    info!(files = n, "tmp/ swept");
                }
            }
            Err(e) => warn!(error = %e, "cannot list mailboxes to clean their tmp/"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(86_400)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Writes the usage changes of deliveries and expunges to `quota2` every `interval`, until
/// shutdown (the last ones are written after the sessions end).
async fn write_usage(accounts: Accounts, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = accounts.write_usage().await {
            warn!(error = %e, "could not write usage changes to quota2; trying again");
        }
    }
}

/// After a run that was killed or crashed: every mailbox's usage counted again from its
/// files before any mail is taken (a delivery cut off between storing a message and counting
/// it left usage short by that message; counting while mail arrives would miss some).
async fn recount_usage(config: &Config, accounts: &Accounts) {
    warn!("the last run did not stop in order; counting every mailbox's usage again");
    let started = std::time::Instant::now();
    match crate::delivery::recount(config, accounts, |_| true).await {
        Ok(counted) => {
            for r in counted.iter().filter(|r| r.corrected()) {
                if let Some(u) = r.usage {
                    warn!(user = %r.user, bytes = u.bytes, messages = u.messages,
                          maildirsize = ?r.maildirsize, quota2 = ?r.quota2, "usage corrected");
                }
            }
            info!(
                mailboxes = counted.len(),
                ms = started.elapsed().as_millis() as u64,
                "usage counted"
            );
        }
        Err(e) => {
            error!(error = %e, "could not count usage again; run `mailserver quota recalc --all`")
        }
    }
}

/// The accounts database (and LDAP directory, when configured), with the lookup cache.
async fn open_accounts(config: &Config) -> Result<Accounts, AnyError> {
    let accounts = Accounts::open(&config.accounts_url()?, &config.mail_root())
        .await?
        .with_cache_ttl(std::time::Duration::from_secs(config.accounts.cache_ttl))
        .with_decoy_scheme(config.accounts.password_scheme);
    Ok(match &config.ldap {
        Some(ldap) => accounts.with_directory(crate::accounts::backend::ldap::Directory::new(
            ldap.clone(),
            &config.mail_root(),
        )?),
        None => accounts,
    })
}

/// The outbound queue: its spool recovered after a crash, the transport to the relay or the
/// recipients' MX hosts, and DKIM signing.
fn outbound_queue(
    config: &Arc<Config>,
    accounts: &Accounts,
    owner: &owner::Owner,
) -> Result<Arc<queue::Queue>, AnyError> {
    let spool = queue::spool::Spool::recover(&config.queue_dir(), owner)?;
    let client_tls = tls::client_config(&config.relay.ca_file)?;
    let verified = Arc::clone(&client_tls.verified);
    let transport = queue::relay::Transport::new(config, client_tls)
        .map_err(|_| format!("hostname {:?} cannot be used in EHLO", config.hostname))?;
    let next_hop = match queue::relay::Hop::relay(config) {
        Some(hop) => queue::NextHop::Relay(hop),
        // A machine without usable resolvers still receives and serves mail; outbound mail
        // waits in the queue, saying why.
        None => queue::NextHop::Mx {
            resolver: queue::mx::MxResolver::new(&config.relay, &config.hostname, verified)
                .map(Box::new)
                .map_err(|e| {
                    warn!(error = %e, "no DNS resolver for MX lookups; outbound mail will wait");
                    e
                }),
            port: config.relay.mx_port,
        },
    };
    let dkim = Arc::new(dkim::Dkim::from_config(config));
    Ok(Arc::new(queue::Queue::new(
        spool,
        config.clone(),
        accounts.clone(),
        transport,
        next_hop,
        dkim,
        crate::lists::Links::from_config(config)?,
    )))
}
