//! The ban list on disk, `<data_dir>/bans`, shared by the daemon and `mailserver ban`: one
//! line per banned network, `<network> <until, in Unix seconds> <reason>`. Every change reads,
//! changes and replaces the file under an exclusive lock on `bans.lock`, so the daemon and the
//! CLI never lose each other's changes; bans that have run out are left out when it is
//! written. The daemon reads the file again when it changes (see [`super::Guard`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

/// One banned network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub net: IpNet,
    /// When it lifts, in Unix seconds.
    pub until: u64,
    pub reason: String,
}

/// The file of `data_dir`'s bans.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("bans")
}

/// The time now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The bans in `file` that have not run out (none when there is no file). A line that does
/// not parse is skipped: a hand edit gone wrong must not lift every other ban.
pub fn read(file: &Path) -> io::Result<Vec<Ban>> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let now = now();
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.splitn(3, ' ');
            let net = fields.next()?.parse::<IpNet>().ok()?;
            let until = fields.next()?.parse::<u64>().ok()?;
            let reason = fields.next().unwrap_or_default().to_owned();
            Some(Ban { net, until, reason })
        })
        .filter(|b| b.until > now)
        .collect())
}

/// Changes the bans of `data_dir` with `change`, under the lock, and writes them back
/// (replacing the file in one rename); returns them as written.
pub fn update(data_dir: &Path, change: impl FnOnce(&mut Vec<Ban>)) -> io::Result<Vec<Ban>> {
    fs::create_dir_all(data_dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("bans.lock"))?;
    lock.lock()?;
    let file = path(data_dir);
    let mut bans = read(&file)?;
    change(&mut bans);
    let now = now();
    bans.retain(|b| b.until > now);
    let mut text = String::from("# network, until (Unix seconds), reason: see `mailserver ban`\n");
    for b in &bans {
        // A reason is one line.
        let reason = b.reason.replace(['\r', '\n'], " ");
        text.push_str(&format!("{} {} {reason}\n", b.net, b.until));
    }
    replace(&file, &text)?;
    Ok(bans)
}

/// An address or network as an admin types it (`192.0.2.7`, `2001:db8::/64`), its host bits
/// cleared.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .ok()
}

/// Bans `net` from every listener of the server whose data is in `data_dir`, for `seconds`
/// (replacing a ban on the same network).
pub fn add(data_dir: &Path, net: IpNet, seconds: u64, reason: String) -> io::Result<()> {
    update(data_dir, |list| {
        list.retain(|b| b.net != net);
        list.push(Ban {
            net,
            until: now() + seconds.max(1),
            reason,
        });
    })
    .map(|_| ())
}

/// Replaces `file` with `text` in one rename (written to `<file>.tmp` and synced first), so a
/// crash leaves the old list or the new one, never part of one.
pub(super) fn replace(file: &Path, text: &str) -> io::Result<()> {
    let tmp = file.with_extension("tmp");
    let mut out = File::create(&tmp)?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    fs::rename(&tmp, file)
}

/// Lifts the bans on `net`, or (an address) the ban that holds it; returns the networks
/// whose bans were lifted.
pub fn lift(data_dir: &Path, net: IpNet) -> io::Result<Vec<IpNet>> {
    let mut lifted = Vec::new();
    update(data_dir, |list| {
        list.retain(|b| {
            let hit = b.net == net
                || b.net.contains(&net.addr()) && net.prefix_len() == net.max_prefix_len();
            if hit {
                lifted.push(b.net);
            }
            !hit
        })
    })?;
    Ok(lifted)
}

/// The network an address is counted and banned by: itself for IPv4, its `/v6_prefix` for
/// IPv6 (a host usually has a whole /64 to pick addresses from).
pub fn network_of(ip: std::net::IpAddr, v6_prefix: u8) -> IpNet {
    let prefix = if ip.is_ipv4() { 32 } else { v6_prefix.min(128) };
    IpNet::new(ip, prefix).map_or_else(|_| IpNet::from(ip), |n| n.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_are_kept_until_they_run_out_and_bad_lines_are_skipped() {
        let dir = std::env::temp_dir().join(format!("bans-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let net: IpNet = "192.0.2.7/32".parse().unwrap();
        update(&dir, |b| {
            b.push(Ban {
                net,
                until: now() + 60,
                reason: "10 failed\nlogins".into(),
            });
            b.push(Ban {
                net: "2001:db8::/64".parse().unwrap(),
                until: now() - 1,
                reason: "over".into(),
            });
        })
        .unwrap();
        let mut text = fs::read_to_string(path(&dir)).unwrap();
        text.push_str("not a ban\n");
        fs::write(path(&dir), text).unwrap();
        let bans = read(&path(&dir)).unwrap();
        assert_eq!(bans.len(), 1);
        assert_eq!(bans[0].net, net);
        assert_eq!(bans[0].reason, "10 failed logins");
        assert_eq!(
            network_of("2001:db8::1:2:3:4".parse().unwrap(), 64).to_string(),
            "2001:db8::/64"
        );
        assert_eq!(
            network_of(
                "::ffff:192.0.2.7"
                    .parse::<std::net::IpAddr>()
                    .unwrap()
                    .to_canonical(),
                64
            ),
            net
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
