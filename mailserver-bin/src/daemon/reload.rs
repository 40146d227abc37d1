//! SIGHUP (`systemctl reload`), as Dovecot and Postfix reload: the configuration file is read
//! again and, when all of it loads, put in force for every session that starts from then on,
//! while the sessions already open finish with the settings they started with. Nothing is
//! dropped: the listeners, the connection counts, the bans and counts of the guard, the
//! caches and the queue carry over. What a running process cannot change (the sockets, the
//! data directory, the accounts backend, …) is named in a warning: it waits for a restart.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use super::life;
use crate::config::Config;
use crate::filter::{ContentFilters, SenderAuth};
use crate::guard::Guard;
use crate::health::Sources;
use crate::imap::ImapService;
use crate::live::Live;
use crate::managesieve::ManageSieveService;
use crate::pop3::Pop3Service;
use crate::queue::Queue;
use crate::smtp::SmtpService;
use crate::srs::Srs;
use crate::tls::Certificates;

/// Everything a reload replaces or reconfigures.
pub struct Reloader {
    /// The file to read (`-c`), or the default.
    pub path: Option<PathBuf>,
    pub certificates: Arc<Certificates>,
    pub smtp: Arc<Live<SmtpService>>,
    pub submission: Arc<Live<SmtpService>>,
    pub pop3: Arc<Live<Pop3Service>>,
    pub imap: Arc<Live<ImapService>>,
    pub managesieve: Arc<Live<ManageSieveService>>,
    pub guard: Arc<Guard>,
    pub queue: Arc<Queue>,
    /// Holds the configuration in force (the alerts and `/status` read it there).
    pub health: Arc<Sources>,
}

impl Reloader {
    /// Reads the file again and puts it in force for new sessions; the settings that changed
    /// but wait for a restart. A file that does not load, or a part of it that cannot be
    /// used (a certificate, a DNS resolver), changes nothing.
    pub fn reload(&self) -> Result<Vec<&'static str>, String> {
        let config = Arc::new(Config::load(self.path.as_deref()).map_err(|e| e.to_string())?);
        // Everything that can fail, before anything is replaced.
        let srs = Srs::from_config(&config)?;
        let sender_auth = SenderAuth::new(&config)?;
        let guard_rules = self.guard.rules_for(&config)?;
        self.certificates
            .reload(&config)
            .map_err(|e| e.to_string())?;
        let old = self.health.config.get();
        self.guard.put(guard_rules);
        config.storage.sync.apply();
        let mut inbound = self
            .smtp
            .get()
            .reconfigured(Arc::clone(&config), srs.clone());
        inbound.sender_auth = sender_auth;
        inbound.filters = ContentFilters::new(&config);
        self.smtp.set(Arc::new(inbound));
        let submission = self.submission.get();
        self.submission
            .set(Arc::new(submission.reconfigured(Arc::clone(&config), srs)));
        let pop3 = self.pop3.get().reconfigured(Arc::clone(&config));
        self.pop3.set(Arc::new(pop3));
        let imap = self.imap.get().reconfigured(Arc::clone(&config));
        self.imap.set(Arc::new(imap));
        let managesieve = self.managesieve.get().reconfigured(Arc::clone(&config));
        self.managesieve.set(Arc::new(managesieve));
        self.queue.reconfigure(Arc::clone(&config));
        self.health.config.set(Arc::clone(&config));
        Ok(needing_restart(&old, &config))
    }
}

/// The settings that differ between `old` and `new` and that only a restart puts in force.
pub fn needing_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    fn differ(a: &dyn Debug, b: &dyn Debug) -> bool {
        format!("{a:?}") != format!("{b:?}")
    }
    let (oi, ni) = (&old.imap, &new.imap);
    [
        ("data_dir", differ(&old.data_dir, &new.data_dir)),
        (
            "user, group, run_as_root",
            differ(
                &(&old.user, &old.group, old.run_as_root),
                &(&new.user, &new.group, new.run_as_root),
            ),
        ),
        ("[listen]", differ(&old.listen, &new.listen)),
        ("[accounts]", differ(&old.accounts, &new.accounts)),
        ("[ldap]", differ(&old.ldap, &new.ldap)),
        (
            "hostname (outbound EHLO)",
            differ(&old.hostname, &new.hostname),
        ),
        ("[relay]", differ(&old.relay, &new.relay)),
        ("[dkim]", differ(&old.dkim, &new.dkim)),
        (
            "[imap] separator, listing_cache, header_cache_mb, folder_linger, max_mime_*",
            differ(
                &(
                    &oi.separator,
                    oi.listing_cache,
                    oi.header_cache_mb,
                    oi.folder_linger,
                    (oi.max_mime_parts, oi.max_mime_depth, oi.max_header_fields),
                ),
                &(
                    &ni.separator,
                    ni.listing_cache,
                    ni.header_cache_mb,
                    ni.folder_linger,
                    (ni.max_mime_parts, ni.max_mime_depth, ni.max_header_fields),
                ),
            ),
        ),
        (
            "[limits] max_total_connections, tmp_max_age",
            differ(
                &(old.limits.max_total_connections, old.limits.tmp_max_age),
                &(new.limits.max_total_connections, new.limits.tmp_max_age),
            ),
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Reloads on each SIGHUP, telling systemd (`RELOADING=1`, then `READY=1`).
pub async fn on_hup(reloader: Reloader) {
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        error!("cannot listen for SIGHUP; reloads need a restart");
        return;
    };
    while hup.recv().await.is_some() {
        info!("SIGHUP received: reloading the configuration and certificates");
        life::notify_reloading();
        match reloader.reload() {
            Ok(waiting) => {
                info!(
                    expires = reloader.certificates.expires(),
                    "reloaded; new sessions use the new configuration and certificates"
                );
                if !waiting.is_empty() {
                    warn!(
                        settings = waiting.join("; "),
                        "changed settings that take effect only after a restart"
                    );
                }
            }
            Err(e) => error!(error = %e, "reload failed; still serving with what was loaded"),
        }
        life::notify_ready();
        // Several signals at once make one reload.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_waits_for_a_restart_is_named() {
        let old = Config::default();
        let mut new = old.clone();
        new.limits.max_message_size += 1;
        new.guard.max_auth_failures += 1;
        new.queue.max_backoff += 1;
        assert!(needing_restart(&old, &new).is_empty());
        new.listen.imap.push("127.0.0.1:1143".parse().unwrap());
        new.imap.listing_cache += 1;
        assert_eq!(
            needing_restart(&old, &new),
            [
                "[listen]",
                "[imap] separator, listing_cache, header_cache_mb, folder_linger, max_mime_*"
            ]
        );
    }
}
