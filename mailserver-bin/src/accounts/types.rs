//! What the accounts store answers and refuses: its errors, mailboxes, domains and
//! resolutions, and addresses and domains as they are stored (lower-case, validated).
//! Below everything else in `accounts`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AccountsError {
    #[error("account database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{table}.{column} of {row} holds {value:?}, which is not one of {expected}")]
    BadStoredValue {
        table: &'static str,
        column: &'static str,
        row: String,
        value: String,
        expected: &'static str,
    },
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("cannot create directory for the account database {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0:?} is not a valid domain name")]
    BadDomain(String),
    #[error("{0:?} is not a valid email address")]
    BadAddress(String),
    #[error("domain {0} already exists")]
    DuplicateDomain(String),
    #[error("domain {0} does not exist (add it with `mailserver domain add {0}`)")]
    UnknownDomain(String),
    #[error(
        "domain {domain} still has {mailboxes} mailbox(es) and {aliases} alias(es); remove them first"
    )]
    DomainNotEmpty {
        domain: String,
        mailboxes: i64,
        aliases: i64,
    },
    #[error("user {0} already exists")]
    DuplicateUser(String),
    #[error(
        "domain {domain} may have {} {what}; change it with `mailserver domain limits`",
        if *limit < 0 { "no".to_owned() } else { format!("at most {limit}") }
    )]
    DomainLimit {
        domain: String,
        what: &'static str,
        limit: i64,
    },
    #[error(
        "domain {domain} allows mailboxes of at most {max_mb} MB; a quota of {requested} octets (0 is none) is over it"
    )]
    QuotaOverDomainMax {
        domain: String,
        max_mb: i64,
        requested: u64,
    },
    #[error("user {0} does not exist")]
    UnknownUser(String),
    #[error("alias {0} does not exist")]
    UnknownAlias(String),
    #[error("{0} is already a domain of ours; an alias domain must be a different name")]
    AliasDomainIsDomain(String),
    #[error("alias domain {0} already exists")]
    DuplicateAliasDomain(String),
    #[error("alias domain {0} does not exist")]
    UnknownAliasDomain(String),
    #[error("alias {source_address} has no target {target}")]
    UnknownTarget {
        source_address: String,
        target: String,
    },
    #[error(
        "this database's mailbox table has no smtp_active column (PostfixAdmin adds it from version 4.0 on)"
    )]
    NoSmtpActiveColumn,
    #[error("mailing list {0} does not exist (add it with `mailserver list add {0}`)")]
    UnknownList(String),
    #[error("{0} is already a mailbox, an alias or a mailing list")]
    AddressTaken(String),
    #[error("{0}")]
    BadListSetting(String),
    #[error("{0}")]
    Admin(String),
}

/// A mailbox's 0/1 columns the CLI changes.
#[derive(Debug, Clone, Copy)]
pub(super) enum MailboxFlag {
    Active,
    SmtpActive,
}

/// A domain as `domain list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRow {
    pub name: String,
    pub active: bool,
    /// All its mailboxes together, in octets (0: none).
    pub quota: u64,
    /// We only relay its mail to its own MX hosts.
    pub backup_mx: bool,
}

/// Where mail for a recipient goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Our mailboxes, deduplicated.
    Local(Vec<LocalMailbox>),
    /// The domain is not one of ours.
    NotOurDomain,
    /// Our domain, but no such mailbox or alias.
    Unknown,
    /// A domain we are a backup MX for (PostfixAdmin's `backupmx`): accepted, and passed on
    /// to the domain's own MX hosts.
    Relay(String),
    /// Aliases lead (also) outside our domains: these mailboxes, and these remote addresses
    /// the outbound queue forwards to.
    Forward {
        local: Vec<LocalMailbox>,
        remote: Vec<String>,
    },
    /// One of our mailing lists: a post to it (the queue hands it to `crate::lists`).
    List(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalMailbox {
    pub username: String,
    pub maildir: PathBuf,
    /// Quota in octets (PostfixAdmin's `mailbox.quota`); 0 means none.
    pub quota: u64,
    /// Messages the mailbox may hold (our `message_quota` table, or the directory's
    /// attribute): `None` for the server's `[limits] max_messages_per_mailbox`, 0 for none.
    pub message_quota: Option<u64>,
    /// The user's own spam threshold in tenths of a point (our `spam_policy` table): `None`
    /// for the server's `[filters] spam_junk_score`.
    pub spam_junk_tenths: Option<i64>,
    /// The mailbox's domain, and the quota of all its mailboxes together in octets
    /// (PostfixAdmin's `domain.quota`, kept in MB; 0 or less means none).
    pub domain: String,
    pub domain_quota: u64,
}

/// A spam score in tenths of a point, as lookups carry a user's threshold (a `LocalMailbox`
/// is hashed and compared).
pub fn spam_tenths(score: f64) -> i64 {
    (score * 10.0).round() as i64
}

/// How deep alias chains may go before we stop following them.
pub(crate) const MAX_ALIAS_EXPANSIONS: usize = 100;

pub(super) fn split_address(address: &str) -> Option<(&str, &str)> {
    address.rsplit_once('@')
}

/// The domain of `address`; `address` itself when it has no `@` (a domain).
pub fn domain_of(address: &str) -> &str {
    split_address(address).map_or(address, |(_, domain)| domain)
}

/// Validates a domain name and gives its one stored form: lower-case, IDNs as A-labels.
pub fn normalize_domain(domain: &str) -> Result<String, AccountsError> {
    let bad = || AccountsError::BadDomain(domain.into());
    let d = domain.trim().trim_end_matches('.');
    // UTS 46 (what browsers and mail clients do): `Bücher.example` and
    // `xn--bcher-kva.example` are one domain, stored and looked up as the A-label.
    let d = idna::domain_to_ascii(d).map_err(|_| bad())?;
    if !matches!(
        mailwright_smtp::Host::parse(&d),
        Ok(mailwright_smtp::Host::Domain(_))
    ) {
        return Err(bad());
    }
    if !d.is_ascii() || (!d.contains('.') && d != "localhost") {
        return Err(bad());
    }
    Ok(d)
}

/// `domain` (an A-label form, as stored) as people read it: its U-labels, or as it is when
/// it has none or they are not valid.
pub fn display_domain(domain: &str) -> String {
    if !domain.split('.').any(|l| l.starts_with("xn--")) {
        return domain.to_owned();
    }
    match idna::domain_to_unicode(domain) {
        (unicode, Ok(())) => unicode,
        _ => domain.to_owned(),
    }
}

/// Lower-cases and validates an address (`local@domain`).
pub fn normalize_address(address: &str) -> Result<String, AccountsError> {
    let bad = || AccountsError::BadAddress(address.into());
    let mailbox = mailwright_smtp::parse_mailbox(address.trim()).ok_or_else(bad)?;
    let domain = mailbox.domain().ok_or_else(bad)?;
    let domain = normalize_domain(domain).map_err(|_| bad())?;
    if mailbox.local_part().contains([',', ' ']) {
        return Err(bad());
    }
    Ok(format!("{}@{domain}", mailbox.local_part().to_lowercase()))
}

pub(super) fn split_goto(goto: &str) -> Vec<String> {
    goto.split(',')
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) fn normalize_alias_source(source: &str) -> Result<(String, String), AccountsError> {
    if let Some(domain) = source.trim().strip_prefix('@') {
        let d = normalize_domain(domain)?;
        return Ok((format!("@{d}"), d));
    }
    let address = normalize_address(source)?;
    let domain = split_address(&address)
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    Ok((address, domain))
}

/// A domain's limits as PostfixAdmin keeps them: counts of mailboxes and aliases, and the
/// largest mailbox quota in MB; 0 means unlimited and -1 none allowed (the quota: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DomainLimits {
    pub mailboxes: i64,
    pub aliases: i64,
    pub max_quota_mb: i64,
}

/// PostfixAdmin's MB (where 0 and -1 mean no limit) in octets.
pub(super) fn megabytes(mb: i64) -> u64 {
    u64::try_from(mb).unwrap_or(0).saturating_mul(1 << 20)
}

/// Why the LDAP directory could not answer.
#[derive(Debug, Error)]
pub enum DirectoryError {
    #[error("LDAP server {url}: {source}")]
    Ldap {
        url: String,
        source: Box<ldap3::LdapError>,
    },
    #[error("LDAP search for {address} found {count} entries; the filter must match one")]
    Ambiguous { address: String, count: usize },
}

/// Usage changes not yet written to `quota2`: address -> (octets, messages).
#[derive(Debug, Default)]
pub(super) struct PendingUsage(Mutex<HashMap<String, (i64, i64)>>);

impl PendingUsage {
    pub(super) fn add(&self, address: &str, bytes: i64, messages: i64) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(address.to_owned()).or_default();
        entry.0 += bytes;
        entry.1 += messages;
    }

    pub(super) fn take(&self) -> HashMap<String, (i64, i64)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The octets pending for the addresses of `domain`.
    pub(super) fn of_domain(&self, domain: &str) -> i64 {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .filter(|(a, _)| {
                a.rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
            })
            .map(|(_, (bytes, _))| bytes)
            .sum()
    }
}

/// `bytes` as an admin reads it: `512B`, `1.5M`, `2.0G` (powers of 1024, as [`parse_size`]).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// `500M`, `2G`, `100K`, `1048576` (octets), or `0`/`none`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("unlimited") {
        return Some(0);
    }
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        "T" | "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}
