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

pub mod bans;

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tracing::{info, warn};

use crate::config::Config;
use bans::Ban;

/// Addresses whose failures are remembered at most; past it, those outside the window are
/// forgotten first, then all (a flood from many addresses must not grow memory).
const MAX_TRACKED: usize = 65_536;
/// How often at most the ban file's time is looked at for changes made by `mailserver ban`.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// The failures and bans of the process.
#[derive(Debug)]
pub struct Guard {
    max_failures: u32,
    window: Duration,
    ban_time: u64,
    delay: Duration,
    delay_max: Duration,
    v6_prefix: u8,
    trusted: Vec<IpNet>,
    data_dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per network: failures in the current window, and when the window began.
    failures: HashMap<IpNet, (u32, Instant)>,
    bans: Vec<Ban>,
    /// The ban file as last read (time, size, inode), and when that was checked.
    file: Option<(i64, i64, u64, u64)>,
    checked: Option<Instant>,
}

impl Guard {
    /// The guard `[guard]` configures, with the bans on disk.
    pub fn new(config: &Config) -> Result<Self, String> {
        let g = &config.guard;
        let guard = Guard {
            max_failures: g.max_auth_failures,
            window: Duration::from_secs(g.failure_window),
            ban_time: g.ban_time,
            delay: Duration::from_millis(g.auth_failure_delay_ms),
            delay_max: Duration::from_millis(g.auth_failure_delay_max_ms),
            v6_prefix: g.ipv6_prefix,
            trusted: g.trusted()?,
            data_dir: config.data_dir.clone(),
            state: Mutex::default(),
        };
        let mut state = guard.lock();
        guard.reload(&mut state, Instant::now());
        if !state.bans.is_empty() {
            info!(bans = state.bans.len(), "bans in force from the last run");
        }
        drop(state);
        Ok(guard)
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
        if stamp.is_some() && stamp == state.file {
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

    /// When the ban on `ip` lifts (Unix seconds), if it is banned.
    pub fn banned(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.checked.is_none_or(|at| now - at >= RELOAD_EVERY) {
            self.reload(&mut state, now);
        }
        let unix = bans::now();
        state
            .bans
            .iter()
            .find(|b| b.until > unix && b.net.contains(&ip))
            .map(|b| b.until)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// Counts a failed login from `ip` (logged for Fail2Ban), bans its network when that makes
    /// too many, and says how long to wait before answering.
    pub fn failed(&self, ip: IpAddr, protocol: &str, user: &str) -> Duration {
        if self.is_trusted(ip) {
            warn!(peer = %ip, protocol = %protocol, user = %user, trusted = true, "authentication failed");
            return Duration::ZERO;
        }
        let net = bans::network_of(ip, self.v6_prefix);
        let now = Instant::now();
        let count = {
            let mut state = self.lock();
            if state.failures.len() >= MAX_TRACKED {
                let window = self.window;
                state.failures.retain(|_, (_, since)| now - *since < window);
                if state.failures.len() >= MAX_TRACKED {
                    state.failures.clear();
                }
            }
            let entry = state.failures.entry(net).or_insert((0, now));
            if now - entry.1 >= self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
            let count = entry.0;
            if count >= self.max_failures {
                state.failures.remove(&net);
            }
            count
        };
        warn!(peer = %ip, protocol = %protocol, user = %user, failures = count, "authentication failed");
        if count >= self.max_failures {
            self.ban(
                net,
                self.ban_time,
                &format!("{count} failed logins ({protocol})"),
            );
        }
        let doublings = count.saturating_sub(1).min(20);
        self.delay
            .saturating_mul(1 << doublings)
            .min(self.delay_max)
    }

    /// Forgets `ip`'s failures after a successful login.
    pub fn succeeded(&self, ip: IpAddr) {
        let net = bans::network_of(ip, self.v6_prefix);
        self.lock().failures.remove(&net);
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
    fn failures_double_the_delay_then_ban_the_network_on_disk() {
        let dir = std::env::temp_dir().join(format!("guard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let g = guard(&dir);
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::8".parse().unwrap();
        assert_eq!(g.failed(ip, "imap", "a"), Duration::from_millis(100));
        assert_eq!(g.failed(neighbour, "pop3", "a"), Duration::from_millis(200));
        assert_eq!(g.banned(ip), None);
        assert_eq!(g.failed(ip, "smtp", "a"), Duration::from_millis(250));
        assert!(g.banned(neighbour).is_some(), "banned by its /64");
        assert_eq!(g.banned("2001:db8:1::7".parse().unwrap()), None);
        // Trusted addresses are never delayed or banned; a success forgets failures.
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(g.failed(local, "imap", "a"), Duration::ZERO);
        }
        assert_eq!(g.banned(local), None);
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        g.failed(other, "imap", "a");
        g.failed(other, "imap", "a");
        g.succeeded(other);
        assert_eq!(g.failed(other, "imap", "a"), Duration::from_millis(100));
        // Another process (a restart) reads the ban back.
        assert!(guard(&dir).banned(ip).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
