//! The state an admin and a load balancer look at: free space, the outbound queue, the
//! certificate, the accounts backend, read in one place for `/status`, `/ready`, `mailserver
//! status` and the alerts; and which of it needs attention, under the thresholds of
//! `[alerts]`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::queue::Queue;
use crate::tls::Certificates;

/// How long the accounts backend may take to answer a health check.
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(5);

/// What is looked at.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Readings {
    /// Each store's path, free octets, size.
    pub disks: Vec<(String, u64, u64)>,
    pub queue_messages: usize,
    pub queue_oldest: u64,
    /// Seconds until the certificate expires.
    pub certificate_left: Option<i64>,
    /// Why the accounts backend did not answer.
    pub accounts_error: Option<String>,
}

/// A condition worth telling: its kind (the metric's label) and what to say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub kind: &'static str,
    pub subject: String,
    pub detail: String,
}

/// The conditions `r` shows, under the thresholds of `[alerts]`.
pub fn conditions(config: &crate::config::Alerts, r: &Readings) -> Vec<Condition> {
    let mut found = Vec::new();
    for (path, free, size) in &r.disks {
        let percent = if *size == 0 {
            100.0
        } else {
            *free as f64 * 100.0 / *size as f64
        };
        if percent < config.min_free_percent {
            found.push(Condition {
                kind: "disk",
                subject: format!("disk space low: {percent:.1}% free on {path}"),
                detail: format!(
                    "The file system holding {path} has {free} octets free of {size} \
                     ({percent:.1}%, below min_free_percent = {}). When it is full, mail is \
                     refused with 452 (senders retry) and IMAP APPEND fails. Free space or \
                     grow the file system.",
                    config.min_free_percent
                ),
            });
        }
    }
    if r.queue_messages > config.queue_max_messages {
        found.push(Condition {
            kind: "queue_size",
            subject: format!("{} messages in the outbound queue", r.queue_messages),
            detail: format!(
                "The outbound queue holds {} messages (queue_max_messages = {}). See \
                 `mailserver queue list` for why they wait.",
                r.queue_messages, config.queue_max_messages
            ),
        });
    }
    if r.queue_oldest > config.queue_max_age {
        found.push(Condition {
            kind: "queue_age",
            subject: format!(
                "a queued message has waited {} minutes",
                r.queue_oldest / 60
            ),
            detail: format!(
                "The oldest message in the outbound queue has waited {} s (queue_max_age = \
                 {} s). See `mailserver queue list` for the reason its delivery fails.",
                r.queue_oldest, config.queue_max_age
            ),
        });
    }
    if let Some(left) = r.certificate_left
        && left < (config.certificate_days * 86_400) as i64
    {
        found.push(Condition {
            kind: "certificate",
            subject: format!("the TLS certificate expires in {} days", left / 86_400),
            detail: format!(
                "The server's certificate expires in {left} s. Renew it (certbot renew) and \
                 `systemctl reload mailserver`: sessions are not dropped."
            ),
        });
    }
    if let Some(e) = &r.accounts_error {
        found.push(Condition {
            kind: "accounts",
            subject: "the accounts backend does not answer".to_owned(),
            detail: format!(
                "Looking up a domain in the accounts database failed: {e}. Logins fail and \
                 mail is deferred (451) until it answers."
            ),
        });
    }
    found
}

/// What the watcher reads from.
pub struct Sources {
    /// The configuration in force (a reload replaces it).
    pub config: crate::live::Live<Config>,
    pub accounts: Accounts,
    pub queue: Arc<Queue>,
    pub certificates: Arc<Certificates>,
}

impl Sources {
    /// The stores whose free space is watched: the data directory and the mail.
    pub fn stores(&self) -> [(&'static str, std::path::PathBuf); 2] {
        let config = self.config.get();
        [
            ("data", config.data_dir.clone()),
            ("mail", config.mail_root()),
        ]
    }

    /// Why the accounts backend does not answer a lookup within [`BACKEND_TIMEOUT`], if it
    /// does not (timed in the metrics).
    pub async fn accounts_error(&self) -> Option<String> {
        let answer = tokio::time::timeout(
            BACKEND_TIMEOUT,
            crate::metrics::timed("accounts", self.accounts.is_local_domain("health.invalid")),
        )
        .await;
        match answer {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} s", BACKEND_TIMEOUT.as_secs())),
        }
    }

    /// Reads everything now.
    pub async fn read(&self) -> Readings {
        let disks = self
            .stores()
            .into_iter()
            .filter_map(|(_, path)| {
                let (free, size) = crate::disk::space(&path)?;
                Some((path.display().to_string(), free, size))
            })
            .collect();
        let (queue_messages, queue_oldest) = self.queue.summary();
        let certificate_left = self
            .certificates
            .expires()
            .map(|at| at - crate::metrics::unix_now());
        let accounts_error = self.accounts_error().await;
        Readings {
            disks,
            queue_messages,
            queue_oldest,
            certificate_left,
            accounts_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let settings = crate::config::Alerts::default();
        let fine = Readings {
            disks: vec![("/var/lib/mailserver".into(), 50, 100)],
            certificate_left: Some(30 * 86_400),
            ..Readings::default()
        };
        assert!(conditions(&settings, &fine).is_empty());
        let bad = Readings {
            disks: vec![("/var/lib/mailserver".into(), 5, 100)],
            queue_messages: 1001,
            queue_oldest: 5 * 3600,
            certificate_left: Some(3 * 86_400),
            accounts_error: Some("connection refused".into()),
        };
        let kinds: Vec<&str> = conditions(&settings, &bad).iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            ["disk", "queue_size", "queue_age", "certificate", "accounts"]
        );
        assert_eq!(
            settings.recipient("mx.example.com"),
            "postmaster@example.com"
        );
        assert_eq!(settings.recipient("localhost"), "postmaster@localhost");
    }
}
