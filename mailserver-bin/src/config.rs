//! The TOML configuration and its defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mailwright_maildir::QuotaLimits;
use mailwright_smtp::Host;
use serde::Deserialize;
use thiserror::Error;

/// The commented default configuration, printed by `mailserver config default`.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub hostname: String,
    pub data_dir: PathBuf,
    /// The user (name or number) the server runs as once its ports are bound, when started
    /// by root; also the user admin commands run by root switch to. Empty: no switch.
    pub user: String,
    /// Its group; empty: the user's own.
    pub group: String,
    /// Serve as root when `user` is empty (refused otherwise).
    pub run_as_root: bool,
    pub listen: Listen,
    pub tls: Tls,
    pub accounts: Accounts,
    pub limits: Limits,
    pub smtp: Smtp,
    pub pop3: Pop3,
    pub imap: Imap,
    pub submission: Submission,
    pub queue: Queue,
    pub relay: Relay,
    pub dkim: Dkim,
    pub dns: Dns,
    pub mta_sts: MtaSts,
    pub srs: Srs,
    pub lists: Lists,
    pub guard: Guard,
    pub sender_auth: SenderAuth,
    pub filters: Filters,
    pub alerts: Alerts,
    pub sieve: Sieve,
    pub storage: Storage,
    /// Users in an LDAP directory, besides those in the accounts database.
    pub ldap: Option<Ldap>,
}

/// The submission listeners (587 with STARTTLS, 465 with implicit TLS).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Submission {
    /// Accept AUTH before STARTTLS from non-loopback clients.
    pub allow_plaintext_auth: bool,
}

/// DKIM signing of outgoing mail whose From: domain has keys (`mailserver dns` makes them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dkim {
    /// The RSA key's selector (`<selector>._domainkey.<domain>`).
    pub selector: String,
    /// Also sign with Ed25519 (RFC 8463), selector `<selector>-ed25519`.
    pub ed25519: bool,
}

impl Default for Dkim {
    fn default() -> Self {
        Self {
            selector: "mail".into(),
            ed25519: true,
        }
    }
}

/// What `mailserver dns` prints besides the DKIM keys; `{domain}` and `{hostname}` are
/// replaced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    pub spf: String,
    pub dmarc: String,
    /// Seconds.
    pub ttl: u32,
}

impl Default for Dns {
    fn default() -> Self {
        Self {
            spf: "v=spf1 mx -all".into(),
            dmarc: "v=DMARC1; p=none; rua=mailto:postmaster@{domain}".into(),
            ttl: 3600,
        }
    }
}

/// The outbound queue's schedule (Postfix's names in brackets).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queue {
    /// Seconds before the first retry (minimal_backoff_time); each later wait doubles.
    pub min_backoff: u64,
    /// The longest wait between attempts (maximal_backoff_time).
    pub max_backoff: u64,
    /// Seconds a message may stay before it is returned to its sender (maximal_queue_lifetime).
    pub max_lifetime: u64,
    /// Messages delivered at once.
    pub concurrency: usize,
    /// Seconds to wait for a TCP connection to the next hop.
    pub connect_timeout: u64,
    /// Seconds after which a sender whose message is still queued is told so, once, by a
    /// "delayed" DSN (Postfix's delay_warning_time); 0: never.
    pub delay_warning: u64,
    /// Lines of a relayed message longer than this many octets are broken by an inserted
    /// CRLF and space (Postfix's smtp_line_length_limit); 0: sent as they are.
    pub line_length_limit: usize,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            min_backoff: 300,
            max_backoff: 4000,
            max_lifetime: 5 * 86_400,
            concurrency: 4,
            connect_timeout: 30,
            delay_warning: 0,
            line_length_limit: 998,
        }
    }
}

/// Where the accounts are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountsUrl {
    /// An SQLite file (ours, in PostfixAdmin's table shapes): `sqlite:PATH`.
    Sqlite(PathBuf),
    /// PostfixAdmin's MariaDB or MySQL database: `mysql://…` or `mariadb://…`, as sqlx
    /// takes it (`mysql://`).
    MySql(String),
}

impl AccountsUrl {
    /// `sqlite:PATH` (also `sqlite://PATH`), `mysql://…` or `mariadb://…`.
    pub fn parse(url: &str) -> Option<Self> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            return Some(Self::Sqlite(PathBuf::from(path.trim_start_matches("//"))));
        }
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            return Some(Self::MySql(url.replacen("mariadb://", "mysql://", 1)));
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletePolicy {
    Expunge,
    Keep,
    Seen,
}

impl DeletePolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "expunge" => Some(Self::Expunge),
            "keep" => Some(Self::Keep),
            "seen" => Some(Self::Seen),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expunge => "expunge",
            Self::Keep => "keep",
            Self::Seen => "seen",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    pub delete_policy: DeletePolicy,
    pub allow_plaintext_auth: bool,
    pub timeout: u64,
    pub max_auth_failures: u32,
}

impl Default for Pop3 {
    fn default() -> Self {
        Self {
            delete_policy: DeletePolicy::Expunge,
            allow_plaintext_auth: false,
            timeout: 600,
            max_auth_failures: 3,
        }
    }
}

/// In a `[listen]` table, a missing key turns that listener off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub smtp: Vec<SocketAddr>,
    pub submission: Vec<SocketAddr>,
    pub submissions: Vec<SocketAddr>,
    pub imap: Vec<SocketAddr>,
    pub imaps: Vec<SocketAddr>,
    pub pop3: Vec<SocketAddr>,
    pub pop3s: Vec<SocketAddr>,
    /// ManageSieve (RFC 5804; port 4190), with STARTTLS.
    pub managesieve: Vec<SocketAddr>,
    /// `/metrics`, `/health` and `/ready` over HTTP (keep it on loopback or a private
    /// network: it answers anyone who can reach it).
    pub http: Vec<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Sign the Apple configuration profiles (`/apple/mobileconfig`) with this certificate
    /// and key.
    pub sign_profiles: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            cert: PathBuf::new(),
            key: PathBuf::new(),
            sign_profiles: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accounts {
    pub url: String,
    pub password_scheme: crate::password::Scheme,
    pub default_password_scheme: crate::password::StoredScheme,
    /// Seconds a recipient or mailbox lookup is reused, changes or not (0: none). With
    /// SQLite a lookup is also reused until the database's files change, which needs no TTL.
    pub cache_ttl: u64,
    /// Milliseconds between writes of the usage changes of deliveries and expunges to
    /// `quota2` (one transaction for all of them).
    pub usage_write_ms: u64,
    /// App passwords a user may have (each is checked on a failed login: their number
    /// bounds a wrong password's cost).
    pub max_app_passwords: usize,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            url: String::new(),
            password_scheme: crate::password::Scheme::Argon2id,
            default_password_scheme: crate::password::StoredScheme::CRYPT,
            cache_ttl: 0,
            usage_write_ms: 1000,
            max_app_passwords: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub max_command_line: usize,
    pub max_data_line: usize,
    pub max_connections: usize,
    /// Connections of one protocol from one address (Postfix's
    /// `smtpd_client_connection_count_limit`).
    pub max_connections_per_address: usize,
    /// Connections of every protocol together; lowered at start to fit the open-file limit.
    pub max_total_connections: usize,
    /// Seconds in which a command that has begun (or each 4 KiB of a message) must arrive.
    pub command_deadline: u64,
    /// Octets a client may send before it logs in (IMAP, POP3, submission).
    pub max_bytes_before_auth: usize,
    /// Octets the data directory's file system keeps free: mail that would eat into them is
    /// refused before it is received (the smaller of this and `min_free_percent` applies).
    pub min_free_space: u64,
    pub min_free_percent: f64,
    pub max_errors: u32,
    /// NOOP, RSET, VRFY, EXPN and HELP an SMTP client may send without storing a message
    /// before it is disconnected (0: no limit); Postfix's `smtpd_junk_command_limit`.
    pub max_junk_commands: u32,
    /// `Received:` fields a message may carry; more is a loop (Postfix's `hopcount_limit`).
    pub max_hops: u32,
    /// Seconds after which a file left in a Maildir's `tmp/` (a delivery cut off by a crash)
    /// is removed, as Dovecot removes them after 36 hours (0: never).
    pub tmp_max_age: u64,
    /// Messages a mailbox may hold, all folders together (0: no limit), as Dovecot's
    /// `quota_rule = *:messages=N`, unless the mailbox has its own (`user message-quota`); the
    /// octet quota is each mailbox's own.
    pub max_messages_per_mailbox: u64,
    pub command_timeout: u64,
    pub data_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Reject,
    Allow,
    /// Bare LF stored as CRLF (Postfix 3.9's `smtpd_forbid_bare_newline = normalize`); for
    /// the other defects the same as `allow`.
    Normalize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// Where mail for `<postmaster>` and `postmaster@` a domain without that address goes;
    /// empty: the domain's oldest mailbox.
    pub postmaster: String,
    pub quota_exceeded: QuotaExceeded,
    pub require_helo: bool,
    pub vrfy: bool,
    pub bare_line_ending: Policy,
    pub nul: Policy,
    pub long_lines: Policy,
}

impl Config {
    /// The limits of a mailbox whose octet quota is `bytes` (0: none) and whose own message
    /// limit is `messages` (0: none; `None`: `[limits] max_messages_per_mailbox`).
    pub fn quota_limits(&self, bytes: u64, messages: Option<u64>) -> QuotaLimits {
        QuotaLimits {
            bytes,
            messages: messages.unwrap_or(self.limits.max_messages_per_mailbox),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hostname: system_hostname(),
            data_dir: PathBuf::from("./data"),
            user: String::new(),
            group: String::new(),
            run_as_root: false,
            listen: Listen::loopback_defaults(),
            tls: Tls::default(),
            accounts: Accounts::default(),
            limits: Limits::default(),
            smtp: Smtp::default(),
            pop3: Pop3::default(),
            imap: Imap::default(),
            submission: Submission::default(),
            queue: Queue::default(),
            relay: Relay::default(),
            dkim: Dkim::default(),
            dns: Dns::default(),
            mta_sts: MtaSts::default(),
            srs: Srs::default(),
            lists: Lists::default(),
            guard: Guard::default(),
            sender_auth: SenderAuth::default(),
            filters: Filters::default(),
            alerts: Alerts::default(),
            sieve: Sieve::default(),
            storage: Storage::default(),
            ldap: None,
        }
    }
}

impl Listen {
    /// Every listener list with the name of its service.
    pub fn named(&self) -> [(&'static str, &Vec<SocketAddr>); 9] {
        [
            ("smtp", &self.smtp),
            ("submission", &self.submission),
            ("submissions", &self.submissions),
            ("pop3", &self.pop3),
            ("pop3s", &self.pop3s),
            ("imap", &self.imap),
            ("imaps", &self.imaps),
            ("managesieve", &self.managesieve),
            ("http", &self.http),
        ]
    }

    /// The listeners of a configuration-less start: loopback, unprivileged ports.
    fn loopback_defaults() -> Self {
        Self {
            smtp: vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
            pop3: vec![SocketAddr::from(([127, 0, 0, 1], 1110))],
            pop3s: vec![SocketAddr::from(([127, 0, 0, 1], 1995))],
            imap: vec![SocketAddr::from(([127, 0, 0, 1], 1143))],
            imaps: vec![SocketAddr::from(([127, 0, 0, 1], 1993))],
            ..Self::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_command_line: 512,
            max_data_line: 1000,
            max_connections: 200,
            max_connections_per_address: 50,
            max_total_connections: 2000,
            command_deadline: 120,
            max_bytes_before_auth: 64 * 1024,
            min_free_space: 512 * 1024 * 1024,
            min_free_percent: 1.0,
            max_errors: 20,
            max_junk_commands: 100,
            max_hops: 50,
            tmp_max_age: 36 * 3600,
            max_messages_per_mailbox: 0,
            command_timeout: 300,
            data_timeout: 600,
        }
    }
}

/// How RCPT answers for a mailbox over quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaExceeded {
    /// 452 4.2.2: the sender retries, and the user has time to make room.
    Temporary,
    /// 552 5.2.2: the sender bounces the message at once.
    Permanent,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            postmaster: String::new(),
            quota_exceeded: QuotaExceeded::Temporary,
            require_helo: true,
            vrfy: false,
            bare_line_ending: Policy::Normalize,
            nul: Policy::Reject,
            long_lines: Policy::Allow,
        }
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl Config {
    /// Reads `path`, or the embedded defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.accounts_url()?;
        if !is_domain(&self.hostname) {
            let host = &self.hostname;
            let message = format!("hostname {host:?} is not a valid domain name");
            return Err(ConfigError::Invalid(message));
        }
        if !self.relay.host.is_empty() && self.relay.host_port().is_none() {
            return Err(ConfigError::Invalid(format!(
                "relay.host {:?} is not host:port or [host]:port",
                self.relay.host
            )));
        }
        let selector_ok = !self.dkim.selector.is_empty()
            && self.dkim.selector.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !selector_ok {
            return Err(ConfigError::Invalid(format!(
                "dkim.selector {:?} is not a DNS label",
                self.dkim.selector
            )));
        }
        let srs = &self.srs.domain;
        if !srs.is_empty() && !is_domain(srs) {
            let message = format!("srs.domain {srs:?} is not a domain name");
            return Err(ConfigError::Invalid(message));
        }
        if self.queue.concurrency < 1 || self.queue.min_backoff < 1 || self.queue.max_lifetime < 1 {
            return Err(ConfigError::Invalid(
                "queue.concurrency, queue.min_backoff and queue.max_lifetime must be at least 1"
                    .into(),
            ));
        }
        if self.limits.max_command_line < 512 {
            return Err(ConfigError::Invalid(
                "limits.max_command_line must be at least 512 (RFC 5321 §4.5.3.1.4)".into(),
            ));
        }
        let l = &self.limits;
        if [
            l.max_recipients,
            l.max_connections,
            l.max_connections_per_address,
            l.max_total_connections,
        ]
        .contains(&0)
            || l.command_deadline == 0
        {
            return Err(ConfigError::Invalid(
                "limits.max_recipients, max_connections, max_connections_per_address, max_total_connections and command_deadline must be at least 1".into(),
            ));
        }
        if !(0.0..=50.0).contains(&l.min_free_percent) {
            return Err(ConfigError::Invalid(
                "limits.min_free_percent must be between 0 and 50".into(),
            ));
        }
        if l.max_bytes_before_auth < 4096 {
            return Err(ConfigError::Invalid(
                "limits.max_bytes_before_auth must be at least 4096".into(),
            ));
        }
        if self.pop3.timeout < 60 || self.pop3.max_auth_failures < 1 {
            return Err(ConfigError::Invalid(
                "pop3.timeout must be at least 60 seconds and pop3.max_auth_failures at least 1"
                    .into(),
            ));
        }
        if self.imap.timeout < 30 * 60
            || self.imap.timeout_before_auth < 10
            || self.imap.max_auth_failures < 1
        {
            return Err(ConfigError::Invalid(
                "imap.timeout must be at least 1800 seconds (RFC 9051 §5.4), imap.timeout_before_auth at least 10 and imap.max_auth_failures at least 1".into(),
            ));
        }
        if self.imap.max_connections_per_user < 1 {
            return Err(ConfigError::Invalid(
                "imap.max_connections_per_user must be at least 1".into(),
            ));
        }
        if self.imap.max_mime_parts < 2
            || self.imap.max_mime_depth < 2
            || self.imap.max_header_fields < 50
        {
            return Err(ConfigError::Invalid(
                "imap.max_mime_parts and max_mime_depth must be at least 2, imap.max_header_fields at least 50".into(),
            ));
        }
        if self.imap.max_line < 8192 || self.imap.max_literal < 8192 {
            return Err(ConfigError::Invalid(
                "imap.max_line and imap.max_literal must be at least 8192 (RFC 7162 §4)".into(),
            ));
        }
        if let Some(node) = self.node() {
            let safe = !node.starts_with('.')
                && node
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !safe || self.storage.poll_ms == 0 {
                return Err(ConfigError::Invalid(format!(
                    "storage.node {node:?} must be letters, digits, '.', '-' and '_' (not first \
                     a '.'), and storage.poll_ms more than 0"
                )));
            }
        }
        self.guard.validate().map_err(ConfigError::Invalid)?;
        self.sender_auth.validate().map_err(ConfigError::Invalid)?;
        self.filters.validate().map_err(ConfigError::Invalid)?;
        if self.tls.cert.as_os_str().is_empty() != self.tls.key.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "set both tls.cert and tls.key, or neither".into(),
            ));
        }
        Ok(())
    }

    /// What the data directory's file system keeps free.
    pub fn disk_reserve(&self) -> crate::disk::Reserve {
        crate::disk::Reserve {
            bytes: self.limits.min_free_space,
            percent: self.limits.min_free_percent,
        }
    }

    /// Where the accounts are: `[accounts] url`, or an SQLite file in the data directory.
    pub fn accounts_url(&self) -> Result<AccountsUrl, ConfigError> {
        if self.accounts.url.is_empty() {
            return Ok(AccountsUrl::Sqlite(self.data_dir.join("accounts.db")));
        }
        AccountsUrl::parse(&self.accounts.url).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "[accounts] url {:?} is not sqlite:PATH or mysql://user:password@host/database",
                self.accounts.url
            ))
        })
    }

    /// Where mail for `local@domain` lives unless the account names another path.
    pub fn mail_root(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// This node's name when the data directory is shared (`[storage] shared`), else `None`.
    pub fn node(&self) -> Option<&str> {
        let s = &self.storage;
        let name = if s.node.is_empty() {
            &self.hostname
        } else {
            &s.node
        };
        s.shared.then_some(name.as_str())
    }

    /// The outbound queue's directory: this node's own when the data directory is shared
    /// (no node ever recovers or sends another's messages).
    pub fn queue_dir(&self) -> PathBuf {
        match self.node() {
            Some(node) => self.data_dir.join("queue").join(node),
            None => self.data_dir.join("queue"),
        }
    }

    /// A file of `data_dir` that is this node's own: `name`, or `name.<node>` when the data
    /// directory is shared.
    pub fn node_file(&self, name: &str) -> PathBuf {
        match self.node() {
            Some(node) => self.data_dir.join(format!("{name}.{node}")),
            None => self.data_dir.join(name),
        }
    }
}

/// Whether `s` is a domain name (not an address literal).
fn is_domain(s: &str) -> bool {
    matches!(Host::parse(s), Ok(Host::Domain(_)))
}

mod alerts;
mod filters;
mod guard;
mod imap;
mod ldap;
mod lists;
mod mta_sts;
mod relay;
mod sender_auth;
mod sieve;
mod srs;
mod storage;
#[cfg(test)]
mod tests;

pub use alerts::Alerts;
pub use filters::{Filters, OnFailure};
pub use guard::Guard;
pub use imap::Imap;
pub use ldap::Ldap;
pub use lists::Lists;
pub use mta_sts::MtaSts;
pub use relay::{Relay, RelayTls};
pub use sender_auth::{DmarcAction, SenderAuth};
pub use sieve::Sieve;
pub use srs::Srs;
pub use storage::Storage;
