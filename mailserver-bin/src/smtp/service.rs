//! What every SMTP session of a service shares (configuration, accounts, TLS, the queue,
//! SRS, connection limits), and the replies several parts give.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use mailwright_smtp::{AuthMechanism, DefectPolicy, Reply};
use tokio_rustls::TlsAcceptor;

use crate::accounts::Accounts;
use crate::config::{Config, Policy};
use crate::filter::{ContentFilters, SenderAuth};
use crate::queue::Queue;
use crate::srs::Srs;

/// Body octets buffered in memory before they are written to the Maildir's tmp file.
pub(super) const FLUSH_THRESHOLD: usize = 256 * 1024;

pub struct SmtpService {
    pub config: Arc<Config>,
    pub session_config: mailwright_smtp::Config,
    pub accounts: Accounts,
    pub tls: Option<TlsAcceptor>,
    pub gate: Arc<crate::conn::Gate>,
    pub active: Arc<AtomicUsize>,
    pub queue: Arc<Queue>,
    /// Submission: AUTH required, relaying for the authenticated user.
    pub submission: bool,
    pub srs: Option<Srs>,
    /// Port 25: SPF, DKIM, DMARC and ARC checks of strangers' mail (`[sender_auth]`).
    pub sender_auth: Option<Arc<SenderAuth>>,
    /// Port 25: the content scanners of `[filters]` (spamd, clamd).
    pub filters: Option<Arc<ContentFilters>>,
    /// Users' and global Sieve scripts, run on each local copy (`[sieve]`).
    pub sieve: Arc<crate::sieve::Filtering>,
}

impl SmtpService {
    /// The inbound MX service (port 25): mail for our domains only, no AUTH.
    pub fn new(
        config: Arc<Config>,
        accounts: Accounts,
        tls: Option<TlsAcceptor>,
        queue: Arc<Queue>,
        srs: Option<Srs>,
        shared: &crate::conn::Shared,
    ) -> Self {
        let sieve = Arc::new(crate::sieve::Filtering::new(&config));
        Self {
            gate: crate::conn::Gate::for_limits("smtp", &config.limits, shared),
            session_config: session_settings(&config, tls.is_some(), false),
            config,
            accounts,
            tls,
            active: Arc::new(AtomicUsize::new(0)),
            queue,
            submission: false,
            srs,
            sender_auth: None,
            filters: None,
            sieve,
        }
    }

    /// The submission service (587, 465): AUTH PLAIN/LOGIN required before MAIL.
    pub fn submission(
        config: Arc<Config>,
        accounts: Accounts,
        tls: Option<TlsAcceptor>,
        queue: Arc<Queue>,
        srs: Option<Srs>,
        active: Arc<AtomicUsize>,
        shared: &crate::conn::Shared,
    ) -> Self {
        let limits = &config.limits;
        // Its own connection count, apart from port 25's.
        let gate = crate::conn::Gate::for_limits("submission", limits, shared);
        let mut service = Self::new(config, accounts, tls, queue, srs, shared);
        service.gate = gate;
        service.session_config = session_settings(&service.config, service.tls.is_some(), true);
        service.submission = true;
        service.active = active;
        service
    }

    /// This service with the settings of `config` (a reload), for the sessions that start
    /// from now on: the same gate (given the new limits), session count, queue and TLS.
    pub fn reconfigured(&self, config: Arc<Config>, srs: Option<Srs>) -> Self {
        self.gate.follow(&config.limits);
        let sieve = Arc::new(crate::sieve::Filtering::new(&config));
        Self {
            session_config: session_settings(&config, self.tls.is_some(), self.submission),
            config,
            accounts: self.accounts.clone(),
            tls: self.tls.clone(),
            gate: Arc::clone(&self.gate),
            active: Arc::clone(&self.active),
            queue: Arc::clone(&self.queue),
            submission: self.submission,
            srs,
            sender_auth: None,
            filters: None,
            sieve,
        }
    }

    pub(super) fn session_config(
        &self,
        implicit_tls: bool,
        loopback: bool,
    ) -> mailwright_smtp::Config {
        let mut c = self.session_config.clone();
        c.implicit_tls = implicit_tls;
        c.starttls &= !implicit_tls;
        c.allow_plaintext_auth = self.config.submission.allow_plaintext_auth || loopback;
        c
    }
}

/// The sessions' settings from `config`: limits, defect policies, STARTTLS when there is a
/// certificate, and for submission (587, 465) AUTH PLAIN/LOGIN required before MAIL.
fn session_settings(config: &Config, starttls: bool, submission: bool) -> mailwright_smtp::Config {
    let mut s = mailwright_smtp::Config::new(config.hostname.clone());
    let l = &config.limits;
    s.limits.max_message_size = l.max_message_size;
    s.limits.max_recipients = l.max_recipients;
    s.limits.max_command_line = l.max_command_line;
    s.limits.max_data_line = l.max_data_line;
    s.limits.max_errors = l.max_errors;
    s.limits.max_junk_commands = l.max_junk_commands;
    s.limits.command_timeout = Duration::from_secs(l.command_timeout);
    s.limits.data_timeout = Duration::from_secs(l.data_timeout);
    let policy = |p: Policy| match p {
        Policy::Reject => DefectPolicy::Reject,
        Policy::Allow => DefectPolicy::Allow,
        Policy::Normalize => DefectPolicy::Normalize,
    };
    s.bare_line_ending = policy(config.smtp.bare_line_ending);
    s.nul = policy(config.smtp.nul);
    s.long_data_line = policy(config.smtp.long_lines);
    s.require_helo = config.smtp.require_helo;
    s.vrfy = config.smtp.vrfy;
    s.starttls = starttls;
    s.dsn = true;
    if submission {
        s.auth_mechanisms = vec![AuthMechanism::Plain, AuthMechanism::Login];
        s.require_auth = true;
    }
    s
}

/// 452 4.3.1 (RFC 3463: mail system full): the sender retries later.
pub(super) fn insufficient_storage() -> Reply {
    reply(
        452,
        4,
        3,
        1,
        "Insufficient system storage, try again later".into(),
    )
}

/// 451 4.3.0: the account store could not answer; the client tries again later.
pub(super) fn lookup_failed() -> Reply {
    reply(
        451,
        4,
        3,
        0,
        "Temporary lookup failure, try again later".into(),
    )
}

pub(super) fn reply(code: u16, class: u8, subject: u16, detail: u16, text: String) -> Reply {
    Reply::or_fallback(code, class, subject, detail, &text, "Error")
}
