//! Alerts without extra software (`[alerts]`): every `interval` the daemon reads the
//! server's health (see `health`); a condition that appears is logged at WARN, shown as
//! `mailserver_alert{kind="…"} 1`, and mailed to the postmaster through the queue, once
//! (again after `repeat_hours` while it lasts); when it clears, that is logged and the metric
//! goes back to 0.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{info, warn};

use crate::health::{Condition, Sources, conditions};

/// Checks every `[alerts] interval` until shutdown, with the settings in force at each check
/// (a reload may turn alerts on or off, or change a threshold).
pub async fn watch(sources: std::sync::Arc<Sources>, mut shutdown: watch::Receiver<bool>) {
    let mut told: HashMap<&'static str, Instant> = HashMap::new();
    let metrics = crate::metrics::get();
    loop {
        let config = sources.config.get();
        let settings = &config.alerts;
        let to = settings.recipient(&config.hostname);
        let repeat = Duration::from_secs(settings.repeat_hours.saturating_mul(3600));
        let now = match settings.enabled {
            true => conditions(settings, &sources.read().await),
            false => Vec::new(),
        };
        for c in &now {
            metrics
                .alerts
                .get_or_create(&[("kind", c.kind.to_owned())])
                .set(1);
            let due = told.get(c.kind).is_none_or(|at| at.elapsed() >= repeat);
            if !due {
                continue;
            }
            warn!(kind = c.kind, %to, "alert: {}", c.subject);
            let text = message(&config.hostname, &to, c);
            match sources.queue.inject("", &to, text.into_bytes()).await {
                Ok(id) => {
                    info!(kind = c.kind, queue_id = %id, %to, "alert queued");
                    told.insert(c.kind, Instant::now());
                }
                // Tried again at the next check.
                Err(e) => warn!(kind = c.kind, %to, error = %e, "cannot queue the alert"),
            }
        }
        let cleared: Vec<&'static str> = told
            .keys()
            .filter(|k| !now.iter().any(|c| c.kind == **k))
            .copied()
            .collect();
        for kind in cleared {
            told.remove(kind);
            metrics
                .alerts
                .get_or_create(&[("kind", kind.to_owned())])
                .set(0);
            info!(kind, "alert cleared");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(settings.interval.max(1))) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The alert as a message from the server (RFC 3834's `Auto-Submitted`).
fn message(hostname: &str, to: &str, c: &Condition) -> String {
    format!(
        "From: Mail server {hostname} <MAILER-DAEMON@{hostname}>\r\nTo: <{to}>\r\n\
         Subject: [{hostname}] {}\r\nDate: {}\r\nMessage-ID: <{}.alert@{hostname}>\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\r\n\
         This is told once; again after repeat_hours if it lasts ([alerts] in the \
         configuration).\r\n",
        c.subject,
        crate::mail::rfc5322_date(std::time::SystemTime::now()),
        crate::mail::queue_id(),
        c.detail
    )
}
