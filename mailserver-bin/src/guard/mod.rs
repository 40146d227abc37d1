//! Defence against password guessing, for every protocol with a login (SMTP AUTH, IMAP,
//! POP3), as Dovecot's auth penalty and Fail2Ban give it: each failed login from an address
//! is counted in one place and answered after a delay that doubles with each further failure
//! (up to a cap); past `[guard] max_auth_failures` within `failure_window` the address (an
//! IPv6 one by its /64) is banned from every listener for `ban_time`, refused at accept
//! before any TLS. Bans live in `<data_dir>/bans` (see [`bans`]), so they outlast a restart
//! and `mailserver ban` can list, add and lift them while the daemon runs. Trusted networks
//! (a webmail on this host logs in for all its users) are never delayed or banned.
//!
//! Every failure is logged as `authentication failed peer=<address> protocol=… user=…` at
//! WARN, the line `contrib/fail2ban` matches for those who ban with a firewall instead.
//!
//! It also holds the rate limits a stranger or a stolen account meets (each refusal a 4xx
//! and a log line): connections per address per minute, unknown recipients per address per
//! hour (directory harvesting), and messages and recipients per authenticated user per hour
//! (a stolen account sending spam is how a host gets on blocklists).

pub mod bans;
mod counts;
pub mod dnsbl;
pub mod greylist;

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tracing::{info, warn};

use crate::config::Config;
use crate::live::Live;
use bans::Ban;
use counts::Counts;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// How often at most the ban file's time is looked at for changes made by `mailserver ban`.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Why a client was turned away at connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turned {
    /// Its address is banned until then (Unix seconds).
    Banned { until: u64 },
    /// More connections from its address this minute than `[guard] max_connections_per_minute`.
    TooFast,
}

impl Turned {
    /// What the client is told.
    pub fn text(self) -> &'static str {
        match self {
            Turned::Banned { .. } => "Your address is banned for failed logins, try again later",
            Turned::TooFast => "Too many connections from your address, try again later",
        }
    }
}

/// The failures, bans and rates of the process.
#[derive(Debug)]
pub struct Guard {
    /// The settings of `[guard]` in force (a reload replaces them; counts and bans stay).
    rules: Live<Rules>,
    data_dir: PathBuf,
    state: Mutex<State>,
}

/// Settings of `[guard]` read by a reload, not yet in force.
#[derive(Debug)]
pub struct GuardRules(Rules);

/// What `[guard]` sets.
#[derive(Debug)]
struct Rules {
    max_failures: u32,
    failure_window: Duration,
    ban_time: u64,
    delay: Duration,
    delay_max: Duration,
    v6_prefix: u8,
    trusted: Vec<IpNet>,
    /// The rate limits (0: none).
    connections_per_minute: u32,
    unknown_recipients_per_hour: u32,
    messages_per_hour: u32,
    recipients_per_hour: u32,
    dnsbl: Option<dnsbl::Dnsbl>,
    greylist: Option<Arc<greylist::Greylist>>,
}

#[derive(Debug)]
struct State {
    /// Per network: failed logins, connections, unknown recipients.
    failures: Counts<IpNet>,
    connections: Counts<IpNet>,
    unknown: Counts<IpNet>,
    /// Per authenticated user: messages and recipients sent.
    messages: Counts<String>,
    recipients: Counts<String>,
    bans: Vec<Ban>,
    /// The ban file as last read (time, size, inode), and when that was checked.
    file: Option<(i64, i64, u64, u64)>,
    checked: Option<Instant>,
}

impl Guard {
    /// The guard `[guard]` configures, with the bans on disk.
    pub fn new(config: &Config) -> Result<Self, String> {
        let rules = Rules::from_config(config, None)?;
        let guard = Guard {
            state: Mutex::new(State {
                failures: Counts::new(rules.failure_window),
                connections: Counts::new(MINUTE),
                unknown: Counts::new(HOUR),
                messages: Counts::new(HOUR),
                recipients: Counts::new(HOUR),
                bans: Vec::new(),
                file: None,
                checked: None,
            }),
            rules: Live::new(Arc::new(rules)),
            data_dir: config.data_dir.clone(),
        };
        let mut state = guard.lock();
        guard.reload(&mut state, Instant::now());
        if !state.bans.is_empty() {
            info!(bans = state.bans.len(), "bans in force from the last run");
        }
        drop(state);
        Ok(guard)
    }

    /// The `[guard]` settings of a reloaded `config`, checked, to put in force with
    /// [`Guard::put`] once everything else of the reload is checked too.
    pub fn rules_for(&self, config: &Config) -> Result<GuardRules, String> {
        Rules::from_config(config, self.rules.get().greylist.as_ref()).map(GuardRules)
    }

    /// Puts reloaded settings in force; what was counted and the bans stay. The greylist is
    /// kept when its settings did not change, else written and read again with the new ones.
    pub fn put(&self, GuardRules(rules): GuardRules) {
        let old = self.rules.get();
        if let Some(g) = old.greylist.as_ref().filter(|g| {
            !rules
                .greylist
                .as_ref()
                .is_some_and(|new| Arc::ptr_eq(g, new))
        }) && let Err(e) = g.save()
        {
            warn!(error = %e, "cannot write the greylist");
        }
        self.lock().failures.set_window(rules.failure_window);
        self.rules.set(Arc::new(rules));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the ban file again if it changed since it was last read.
    fn reload(&self, state: &mut State, now: Instant) {
        state.checked = Some(now);
        let path = bans::path(&self.data_dir);
        let stamp = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.mtime(), m.mtime_nsec(), m.ino(), m.size()));
        // Unchanged (or still missing, which keeps a ban that could not be written).
        if stamp == state.file {
            return;
        }
        match bans::read(&path) {
            Ok(b) => {
                state.bans = b;
                state.file = stamp;
            }
            Err(e) => warn!(file = %path.display(), error = %e, "cannot read the ban list"),
        }
    }

    /// Whether a client connecting from `ip` is let in: not banned, and within the
    /// connections per minute of its address (a connection turned away counts too).
    pub fn admit(&self, ip: IpAddr) -> Result<(), Turned> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.checked.is_none_or(|at| now - at >= RELOAD_EVERY) {
            self.reload(&mut state, now);
        }
        let unix = bans::now();
        if let Some(b) = state
            .bans
            .iter()
            .find(|b| b.until > unix && b.net.contains(&ip))
        {
            return Err(Turned::Banned { until: b.until });
        }
        let rules = self.rules.get();
        if rules.connections_per_minute > 0 && !rules.trusts(ip) {
            let net = bans::network_of(ip, rules.v6_prefix);
            if state.connections.hit(net, now) > rules.connections_per_minute {
                return Err(Turned::TooFast);
            }
        }
        Ok(())
    }

    /// The blocklist that lists `ip`, if any (`[guard] dnsbl_zones`; never a trusted one).
    pub async fn blocklisted(&self, ip: IpAddr) -> Option<dnsbl::Listed> {
        let rules = self.rules.get();
        match &rules.dnsbl {
            Some(d) if !rules.trusts(ip) => d.check(ip).await,
            _ => None,
        }
    }

    /// How long mail from `ip`, `sender` to `recipient` must wait before a retry is
    /// accepted, when it is greylisted (`[guard] greylist`; never from a trusted network).
    pub fn greylisted(&self, ip: IpAddr, sender: &str, recipient: &str) -> Option<u64> {
        let rules = self.rules.get();
        match &rules.greylist {
            Some(g) if !rules.trusts(ip) => match g.check(ip, rules.v6_prefix, sender, recipient) {
                greylist::Verdict::Pass => None,
                greylist::Verdict::Wait(seconds) => Some(seconds),
            },
            _ => None,
        }
    }

    /// Writes what must outlast a restart and is not written at once (the greylist) every
    /// minute while it changes, and at shutdown.
    pub async fn keep_saved(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(MINUTE);
        loop {
            let last = tokio::select! {
                _ = tick.tick() => false,
                _ = shutdown.changed() => true,
            };
            let rules = self.rules.get();
            let saved = tokio::task::spawn_blocking(move || match &rules.greylist {
                Some(g) => g.save(),
                None => Ok(()),
            });
            if let Ok(Err(e)) = saved.await {
                warn!(error = %e, "cannot write the greylist");
            }
            if last {
                return;
            }
        }
    }

    /// Whether `ip` is in `[guard] trusted_networks` (never delayed, banned, limited or
    /// checked as a stranger's mail).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.rules.get().trusts(ip)
    }

    /// Counts a failed login from `ip` (logged for Fail2Ban), bans its network when that makes
    /// too many, and says how long to wait before answering.
    pub fn failed(&self, ip: IpAddr, protocol: &'static str, user: &str) -> Duration {
        crate::metrics::get().auth(protocol, false);
        let rules = self.rules.get();
        if rules.trusts(ip) {
            warn!(peer = %ip, protocol = %protocol, user = %user, trusted = true, "authentication failed");
            return Duration::ZERO;
        }
        let net = bans::network_of(ip, rules.v6_prefix);
        let count = {
            let mut state = self.lock();
            let count = state.failures.hit(net, Instant::now());
            if count >= rules.max_failures {
                state.failures.forget(&net);
            }
            count
        };
        warn!(peer = %ip, protocol = %protocol, user = %user, failures = count, "authentication failed");
        if count >= rules.max_failures {
            self.ban(
                net,
                rules.ban_time,
                &format!("{count} failed logins ({protocol})"),
            );
        }
        let doublings = count.saturating_sub(1).min(20);
        rules
            .delay
            .saturating_mul(1 << doublings)
            .min(rules.delay_max)
    }

    /// Forgets `ip`'s failures after a successful login to `protocol`.
    pub fn succeeded(&self, ip: IpAddr, protocol: &'static str) {
        crate::metrics::get().auth(protocol, true);
        let net = bans::network_of(ip, self.rules.get().v6_prefix);
        self.lock().failures.forget(&net);
    }

    /// Whether `ip` has been refused more unknown recipients this hour than it may (a
    /// directory harvest): its RCPTs are then answered 450 until the hour is over.
    pub fn harvesting(&self, ip: IpAddr) -> bool {
        let rules = self.rules.get();
        let limit = rules.unknown_recipients_per_hour;
        if limit == 0 || rules.trusts(ip) {
            return false;
        }
        let net = bans::network_of(ip, rules.v6_prefix);
        self.lock().unknown.get(&net, Instant::now()) >= limit
    }

    /// Counts an unknown recipient refused to `ip`.
    pub fn unknown_recipient(&self, ip: IpAddr) {
        let net = bans::network_of(ip, self.rules.get().v6_prefix);
        self.lock().unknown.hit(net, Instant::now());
    }

    /// Counts a message `user` sends, unless it has sent its hour's worth already.
    pub fn may_send_message(&self, user: &str) -> bool {
        self.within(user, self.rules.get().messages_per_hour, |s| {
            &mut s.messages
        })
    }

    /// Counts a recipient `user` sends to, unless it has had its hour's worth already.
    pub fn may_send_to_recipient(&self, user: &str) -> bool {
        self.within(user, self.rules.get().recipients_per_hour, |s| {
            &mut s.recipients
        })
    }

    fn within(
        &self,
        user: &str,
        limit: u32,
        counts: fn(&mut State) -> &mut Counts<String>,
    ) -> bool {
        if limit == 0 {
            return true;
        }
        let now = Instant::now();
        let mut state = self.lock();
        let counts = counts(&mut state);
        let key = user.to_ascii_lowercase();
        if counts.get(&key, now) >= limit {
            return false;
        }
        counts.hit(key, now);
        true
    }

    /// Bans `net` for `seconds`, on disk and at once.
    fn ban(&self, net: IpNet, seconds: u64, reason: &str) {
        let until = bans::now() + seconds;
        let ban = Ban {
            net,
            until,
            reason: reason.to_owned(),
        };
        warn!(network = %net, until, reason = %reason, "address banned");
        let written = bans::update(&self.data_dir, |list| {
            list.retain(|b| b.net != net);
            list.push(ban.clone());
        });
        let mut state = self.lock();
        match written {
            Ok(list) => {
                state.bans = list;
                // Read back at the next check, which finds it as written.
                state.file = None;
            }
            Err(e) => {
                // Still banned until a restart.
                warn!(error = %e, "cannot write the ban list; the ban holds until a restart");
                state.bans.push(ban);
            }
        }
    }
}

impl Rules {
    /// The rules `config` sets; `greylist` is the one in use, kept when its settings are
    /// the same.
    fn from_config(
        config: &Config,
        greylist: Option<&Arc<greylist::Greylist>>,
    ) -> Result<Self, String> {
        let g = &config.guard;
        let zones = g.zones()?;
        let dnsbl = match zones.is_empty() {
            true => None,
            false => Some(dnsbl::Dnsbl::new(
                zones,
                crate::resolver::resolver(&config.relay)?,
                Duration::from_millis(g.dnsbl_timeout_ms),
            )),
        };
        let greylist = match g.greylist {
            false => None,
            true => {
                let (allow_networks, allow_domains) = g.greylist_allow()?;
                let settings = greylist::Settings {
                    delay: g.greylist_delay,
                    retry_window: g.greylist_retry_window,
                    whitelist_for: g.greylist_whitelist_days * 86400,
                    allow_networks,
                    allow_domains,
                };
                Some(match greylist.filter(|kept| kept.settings() == &settings) {
                    Some(kept) => Arc::clone(kept),
                    None => Arc::new(greylist::Greylist::new(
                        settings,
                        config.node_file("greylist"),
                    )),
                })
            }
        };
        Ok(Rules {
            dnsbl,
            greylist,
            max_failures: g.max_auth_failures,
            failure_window: Duration::from_secs(g.failure_window),
            ban_time: g.ban_time,
            delay: Duration::from_millis(g.auth_failure_delay_ms),
            delay_max: Duration::from_millis(g.auth_failure_delay_max_ms),
            v6_prefix: g.ipv6_prefix,
            trusted: g.trusted()?,
            connections_per_minute: g.max_connections_per_minute,
            unknown_recipients_per_hour: g.max_unknown_recipients_per_hour,
            messages_per_hour: g.max_messages_per_hour,
            recipients_per_hour: g.max_recipients_per_hour,
        })
    }

    /// Whether `ip` is in `[guard] trusted_networks`.
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(dir: &std::path::Path) -> Guard {
        let mut config = Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        };
        config.guard.max_auth_failures = 3;
        config.guard.auth_failure_delay_ms = 100;
        config.guard.auth_failure_delay_max_ms = 250;
        Guard::new(&config).unwrap()
    }

    #[test]
    fn a_reload_keeps_the_counts_and_takes_the_new_limits() {
        let dir = std::env::temp_dir().join(format!("guard-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let g = guard(&dir);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        g.failed(ip, "imap", "a");
        g.failed(ip, "imap", "a");
        let mut config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        config.guard.max_auth_failures = 4;
        config.guard.auth_failure_delay_ms = 10;
        config.guard.auth_failure_delay_max_ms = 1000;
        g.put(g.rules_for(&config).unwrap());
        // The third failure counts on from two, under the new delay; the fourth bans.
        assert_eq!(g.failed(ip, "imap", "a"), Duration::from_millis(40));
        assert!(!banned(&g, ip));
        g.failed(ip, "imap", "a");
        assert!(banned(&g, ip));
        config.guard.trusted_networks = vec!["bad".into()];
        assert!(g.rules_for(&config).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn banned(g: &Guard, ip: IpAddr) -> bool {
        matches!(g.admit(ip), Err(Turned::Banned { .. }))
    }

    #[test]
    fn rates_are_limited_per_address_and_per_user() {
        let dir = std::env::temp_dir().join(format!("guard-rates-{}", std::process::id()));
        let mut config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        config.guard.max_connections_per_minute = 2;
        config.guard.max_unknown_recipients_per_hour = 2;
        config.guard.max_messages_per_hour = 1;
        config.guard.max_recipients_per_hour = 2;
        let g = Guard::new(&config).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(g.admit(ip), Ok(()));
        assert_eq!(g.admit(ip), Ok(()));
        assert_eq!(g.admit(ip), Err(Turned::TooFast));
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(g.admit(local), Ok(()));
        }
        assert!(!g.harvesting(ip));
        g.unknown_recipient(ip);
        g.unknown_recipient(ip);
        assert!(g.harvesting(ip));
        assert!(g.may_send_message("a@example.com"));
        assert!(!g.may_send_message("A@example.com"));
        assert!(g.may_send_message("b@example.com"));
        assert!(g.may_send_to_recipient("a@example.com"));
        assert!(g.may_send_to_recipient("a@example.com"));
        assert!(!g.may_send_to_recipient("a@example.com"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failures_double_the_delay_then_ban_the_network_on_disk() {
        let dir = std::env::temp_dir().join(format!("guard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let g = guard(&dir);
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::8".parse().unwrap();
        assert_eq!(g.failed(ip, "imap", "a"), Duration::from_millis(100));
        assert_eq!(g.failed(neighbour, "pop3", "a"), Duration::from_millis(200));
        assert!(!banned(&g, ip));
        assert_eq!(g.failed(ip, "smtp", "a"), Duration::from_millis(250));
        assert!(banned(&g, neighbour), "banned by its /64");
        assert!(!banned(&g, "2001:db8:1::7".parse().unwrap()));
        // Trusted addresses are never delayed or banned; a success forgets failures.
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(g.failed(local, "imap", "a"), Duration::ZERO);
        }
        assert!(!banned(&g, local));
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        g.failed(other, "imap", "a");
        g.failed(other, "imap", "a");
        g.succeeded(other, "imap");
        assert_eq!(g.failed(other, "imap", "a"), Duration::from_millis(100));
        // Another process (a restart) reads the ban back.
        assert!(banned(&guard(&dir), ip));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
