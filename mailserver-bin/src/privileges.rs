//! Who the process runs as: started by root, it binds its ports and then becomes the mail
//! user of the configuration (`user`, `group`; Debian's package makes `vmail`) before it
//! reads a byte from a client, as Postfix's and Dovecot's processes do. Files it makes are
//! private to that user (umask 077: files 0600, folders 0700).
//!
//! The switch is made while the process has a single thread (before the async runtime
//! starts), so the kernel's per-thread credentials are the whole process's. Users and groups
//! are read from `/etc/passwd` and `/etc/group` (system users, as `adduser --system` makes
//! them), or given as numbers. A leaf: uses only the configuration.

use std::path::Path;

use rustix::fs::{Gid, Uid};

use crate::config::Config;

/// A user to run as: ids, and the groups the user is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (e.g. `ssl-cert`, to read a certificate's key).
    pub groups: Vec<u32>,
}

/// Whether the process is root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Files and folders the process makes are its user's alone.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// What the daemon does about root, before its runtime starts: with `user` set, becomes
/// that user (making the data directory theirs when it is not); without, refuses to go on
/// as root unless `run_as_root` says so. Not root: nothing to do (systemd may have started
/// us as the user with `AmbientCapabilities=CAP_NET_BIND_SERVICE`).
pub fn drop_for_daemon(config: &Config) -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    if config.user.is_empty() {
        if config.run_as_root {
            tracing::warn!("running as root (run_as_root = true)");
            return Ok(());
        }
        return Err(
            "refusing to serve mail as root: set `user = \"vmail\"` (the server \
                    switches to it after binding its ports), or `run_as_root = true`"
                .into(),
        );
    }
    become_user(config)
}

/// What an admin command run by root does: when `user` is set, the same switch, so that
/// what it writes (the accounts database, DKIM keys, queue files) stays the server's.
pub fn drop_for_command(config: &Config) -> Result<(), String> {
    if is_root() && !config.user.is_empty() {
        become_user(config)
    } else {
        Ok(())
    }
}

fn become_user(config: &Config) -> Result<(), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut account = find_user(&passwd, &group, &config.user)
        .ok_or_else(|| format!("user {:?} (setting `user`) does not exist", config.user))?;
    if !config.group.is_empty() {
        account.gid = find_group(&group, &config.group)
            .ok_or_else(|| format!("group {:?} (setting `group`) does not exist", config.group))?;
    }
    own_data_dir(&config.data_dir, &account)?;
    switch_to(&account)?;
    tracing::info!(user = %account.name, uid = account.uid, gid = account.gid, "running as the mail user");
    Ok(())
}

/// Creates the data directory when missing, and gives it (with everything in it) to
/// `account` when it is someone else's: a data directory made by an earlier run as root.
fn own_data_dir(dir: &Path, account: &Account) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if meta.uid() == account.uid {
        return Ok(());
    }
    let mut changed = 0u64;
    chown_tree(dir, account, &mut changed)
        .map_err(|e| format!("cannot give {} to {}: {e}", dir.display(), account.name))?;
    tracing::warn!(dir = %dir.display(), user = %account.name, files = changed,
                   "the data directory was not the mail user's; now it is");
    Ok(())
}

fn chown_tree(path: &Path, account: &Account, changed: &mut u64) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    rustix::fs::chown(
        path,
        Some(Uid::from_raw(account.uid)),
        Some(Gid::from_raw(account.gid)),
    )?;
    *changed += 1;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), account, changed)?;
        }
    }
    Ok(())
}

/// Switches the credentials of the process, which must have one thread only.
fn switch_to(account: &Account) -> Result<(), String> {
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, Iterator::count);
    if threads != 1 {
        return Err(format!(
            "cannot switch to user {}: the process already has {threads} threads",
            account.name
        ));
    }
    let gid = Gid::from_raw(account.gid);
    let uid = Uid::from_raw(account.uid);
    let mut groups: Vec<Gid> = vec![gid];
    groups.extend(account.groups.iter().map(|&g| Gid::from_raw(g)));
    let fail = |what: &str, e: rustix::io::Errno| {
        format!("cannot switch to user {} ({what}): {e}", account.name)
    };
    rustix::thread::set_thread_groups(&groups).map_err(|e| fail("groups", e))?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| fail("gid", e))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| fail("uid", e))?;
    // No way back: root is gone for good.
    if rustix::thread::set_thread_uid(Uid::ROOT).is_ok() {
        return Err("the switch of user could be undone".into());
    }
    Ok(())
}

/// `name` (or a number) in `/etc/passwd`'s text, with its groups from `/etc/group`'s.
pub fn find_user(passwd: &str, group: &str, name: &str) -> Option<Account> {
    let numeric: Option<u32> = name.parse().ok();
    let (user, uid, gid) = passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let uid: u32 = f.get(2)?.parse().ok()?;
        let gid: u32 = f.get(3)?.parse().ok()?;
        (f[0] == name || numeric == Some(uid)).then(|| (f[0].to_owned(), uid, gid))
    })?;
    let groups = group
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            let id: u32 = f.get(2)?.parse().ok()?;
            let members = f.get(3)?;
            (id != gid && members.split(',').any(|m| m == user)).then_some(id)
        })
        .collect();
    Some(Account {
        name: user,
        uid,
        gid,
        groups,
    })
}

/// `name` (or a number) in `/etc/group`'s text.
pub fn find_group(group: &str, name: &str) -> Option<u32> {
    let numeric: Option<u32> = name.parse().ok();
    group.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let id: u32 = f.get(2)?.parse().ok()?;
        (f[0] == name || numeric == Some(id)).then_some(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nvmail:x:2000:2000::/var/vmail:/usr/sbin/nologin\n";
    const GROUP: &str =
        "root:x:0:\nvmail:x:2000:\nssl-cert:x:110:vmail,postfix\nmail:x:8:dovecot\n";

    #[test]
    fn users_and_groups_by_name_or_number() {
        let vmail = find_user(PASSWD, GROUP, "vmail").expect("vmail");
        assert_eq!(
            (vmail.uid, vmail.gid, vmail.groups.clone()),
            (2000, 2000, vec![110])
        );
        assert_eq!(find_user(PASSWD, GROUP, "2000"), Some(vmail));
        assert_eq!(find_user(PASSWD, GROUP, "nobody"), None);
        assert_eq!(find_group(GROUP, "ssl-cert"), Some(110));
        assert_eq!(find_group(GROUP, "8"), Some(8));
        assert_eq!(find_group(GROUP, "wheel"), None);
    }
}
