//! Greylisting, as postgrey does it for Postfix (optional, `[guard] greylist`): on port 25 a
//! recipient from an unknown (client network, sender, recipient) triplet is answered `451
//! 4.7.1` the first time; a real mail server retries, and a retry after `greylist_delay`
//! seconds (within `greylist_retry_window`) is accepted and lets that client network (its
//! /24, an IPv6 one its prefix) through without delay for `greylist_whitelist_days`. Clients
//! and sender domains in `greylist_allow` are never greylisted.
//!
//! The triplets and the clients let through are kept in memory and written to
//! `<data_dir>/greylist` at most once a minute when they changed, and at shutdown, so a
//! restart does not make every sender wait again (one lost minute only delays mail).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use ipnet::IpNet;

use super::bans::now;

/// Triplets kept at most (then the oldest half goes): a flood of forged senders must not
/// grow memory.
const MAX_TRIPLETS: usize = 200_000;

/// What a recipient gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Not yet: retry in this many seconds.
    Wait(u64),
}

/// `[guard] greylist_*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub delay: u64,
    pub retry_window: u64,
    pub whitelist_for: u64,
    pub allow_networks: Vec<IpNet>,
    /// Sender domains, lowercase.
    pub allow_domains: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    /// When each triplet was first seen (Unix seconds).
    triplets: HashMap<(IpNet, String, String), u64>,
    /// Client networks let through, until when.
    clients: HashMap<IpNet, u64>,
    changed: bool,
}

/// The greylist of the process.
#[derive(Debug)]
pub struct Greylist {
    settings: Settings,
    file: PathBuf,
    state: Mutex<State>,
}

/// The network a client is greylisted by: its /24, an IPv6 one its `/v6_prefix` (a sending
/// farm retries from a neighbouring address).
fn client_network(ip: IpAddr, v6_prefix: u8) -> IpNet {
    match ip {
        IpAddr::V4(_) => IpNet::new(ip, 24).map_or_else(|_| IpNet::from(ip), |n| n.trunc()),
        IpAddr::V6(_) => super::bans::network_of(ip, v6_prefix),
    }
}

impl Greylist {
    /// The greylist, with what `file` kept from the last run.
    pub fn new(settings: Settings, file: PathBuf) -> Self {
        let state = load(&file, &settings).unwrap_or_else(|e| {
            tracing::warn!(file = %file.display(), error = %e, "cannot read the greylist; starting empty");
            State::default()
        });
        Self {
            settings,
            file,
            state: Mutex::new(state),
        }
    }

    /// What it was made with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether mail from `ip` (by network), `sender` to `recipient` may come in now.
    pub fn check(&self, ip: IpAddr, v6_prefix: u8, sender: &str, recipient: &str) -> Verdict {
        let s = &self.settings;
        let domain = sender.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        if s.allow_networks.iter().any(|n| n.contains(&ip))
            || domain.is_some_and(|d| s.allow_domains.contains(&d))
        {
            return Verdict::Pass;
        }
        let net = client_network(ip, v6_prefix);
        let now = now();
        let mut state = self.lock();
        if state.clients.get(&net).is_some_and(|&until| until > now) {
            return Verdict::Pass;
        }
        let key = (
            net,
            sender.to_ascii_lowercase(),
            recipient.to_ascii_lowercase(),
        );
        match state.triplets.get(&key).copied() {
            Some(first) if now >= first + s.delay && now <= first + s.retry_window => {
                // Retried as a mail server does: the client is let through from now on.
                state.triplets.remove(&key);
                state.clients.insert(net, now + s.whitelist_for);
                state.changed = true;
                Verdict::Pass
            }
            Some(first) if now < first + s.delay => Verdict::Wait(first + s.delay - now),
            _ => {
                if state.triplets.len() >= MAX_TRIPLETS {
                    let mut firsts: Vec<u64> = state.triplets.values().copied().collect();
                    let half = firsts.len() / 2;
                    let (_, &mut median, _) = firsts.select_nth_unstable(half);
                    state.triplets.retain(|_, first| *first > median);
                }
                state.triplets.insert(key, now);
                state.changed = true;
                Verdict::Wait(s.delay)
            }
        }
    }

    /// Writes the greylist if it changed since it was last written (replacing the file in
    /// one rename), leaving out what has run out.
    pub fn save(&self) -> io::Result<()> {
        let now = now();
        let text = {
            let mut state = self.lock();
            if !state.changed {
                return Ok(());
            }
            state.changed = false;
            let window = self.settings.retry_window;
            state.triplets.retain(|_, first| *first + window >= now);
            state.clients.retain(|_, until| *until > now);
            let mut text =
                String::from("# greylist: c NETWORK UNTIL | t NETWORK FIRST SENDER RECIPIENT\n");
            for (net, until) in &state.clients {
                text.push_str(&format!("c {net} {until}\n"));
            }
            for ((net, sender, recipient), first) in &state.triplets {
                // `<>` for the null sender keeps the fields apart.
                let sender = if sender.is_empty() { "<>" } else { sender };
                text.push_str(&format!("t {net} {first} {sender} {recipient}\n"));
            }
            text
        };
        super::bans::replace(&self.file, &text)
    }
}

fn load(file: &std::path::Path, s: &Settings) -> io::Result<State> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(e),
    };
    let now = now();
    let mut state = State::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["c", net, until] => {
                if let (Ok(net), Ok(until)) = (net.parse(), until.parse::<u64>())
                    && until > now
                {
                    state.clients.insert(net, until);
                }
            }
            ["t", net, first, sender, recipient] => {
                if let (Ok(net), Ok(first)) = (net.parse(), first.parse::<u64>())
                    && first + s.retry_window >= now
                {
                    let sender = if *sender == "<>" { "" } else { sender };
                    let key = (net, sender.to_owned(), (*recipient).to_owned());
                    state.triplets.insert(key, first);
                }
            }
            _ => {}
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_the_delay_passes_and_lets_the_client_through() {
        let dir = std::env::temp_dir().join(format!("greylist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let settings = Settings {
            delay: 0,
            retry_window: 3600,
            whitelist_for: 3600,
            allow_networks: vec!["198.51.100.0/24".parse().unwrap()],
            allow_domains: vec!["partner.example".into()],
        };
        let g = Greylist::new(settings.clone(), dir.join("greylist"));
        let check = |g: &Greylist, cases: &[(&str, &str, &str, Verdict)]| {
            for &(ip, from, to, want) in cases {
                let got = g.check(ip.parse().unwrap(), 64, from, to);
                assert_eq!(got, want, "{ip} {from} {to}");
            }
        };
        let (wait, pass) = (Verdict::Wait(0), Verdict::Pass);
        check(
            &g,
            &[
                ("192.0.2.7", "a@b.example", "u@ours.example", wait),
                // The retry (no delay to wait here) passes, from a neighbour too, and lets
                // the client through for other mail.
                ("192.0.2.8", "A@b.example", "u@ours.example", pass),
                ("192.0.2.7", "o@c.example", "v@ours.example", pass),
                ("203.0.113.1", "", "u@ours.example", wait),
                // The allow-list: a network, a sender domain.
                ("198.51.100.9", "x@y.example", "u@ours.example", pass),
                ("203.0.113.1", "x@Partner.example", "u@ours.example", pass),
            ],
        );
        // Written and read back by another process.
        g.save().unwrap();
        let again = Greylist::new(settings, dir.join("greylist"));
        check(
            &again,
            &[
                ("192.0.2.7", "n@d.example", "w@ours.example", pass),
                ("203.0.113.1", "", "u@ours.example", pass),
            ],
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
