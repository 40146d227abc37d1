//! The daemon's life under a service manager: readiness and the watchdog for systemd
//! (`Type=notify`, `WatchdogSec=`), SIGHUP (`systemctl reload`) for new certificates without
//! dropping a session, SIGTERM and SIGINT for an orderly stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::AnyError;
use crate::config::Config;
use crate::tls::Certificates;

/// Tells systemd the server is serving (nothing when not started by it).
pub fn notify_ready() {
    notify(&[sd_notify::NotifyState::Ready]);
}

/// Tells systemd the server is stopping.
pub fn notify_stopping() {
    notify(&[sd_notify::NotifyState::Stopping]);
}

fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some()
        && let Err(e) = sd_notify::notify(states)
    {
        warn!(error = %e, "cannot notify systemd");
    }
}

/// Answers systemd's watchdog (`WatchdogSec=`) at half its interval, from the runtime, so
/// that a wedged runtime gets the process restarted.
pub async fn watchdog(mut shutdown: watch::Receiver<bool>) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tokio::select! {
            _ = tick.tick() => notify(&[sd_notify::NotifyState::Watchdog]),
            _ = shutdown.changed() => return,
        }
    }
}

/// On each SIGHUP: reads the configuration file again and takes the certificate and key it
/// names (renewed by certbot, say) for every new TLS handshake; sessions go on as they are.
/// Other settings take effect at the next restart. A file that does not load changes nothing
/// and is logged.
pub async fn reload_on_hup(config_path: Option<PathBuf>, certificates: Arc<Certificates>) {
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        error!("cannot listen for SIGHUP; reloads need a restart");
        return;
    };
    while hup.recv().await.is_some() {
        info!("SIGHUP received: reloading the configuration and certificates");
        let mut reloading = vec![sd_notify::NotifyState::Reloading];
        reloading.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
        notify(&reloading);
        let loaded = Config::load(config_path.as_deref())
            .map_err(|e| e.to_string())
            .and_then(|config| certificates.reload(&config).map_err(|e| e.to_string()));
        match loaded {
            Ok(()) => info!(
                expires = certificates.expires(),
                "reloaded; certificates in use for new connections (other settings apply at \
                 the next restart)"
            ),
            Err(e) => error!(error = %e, "reload failed; still serving with what was loaded"),
        }
        notify(&[sd_notify::NotifyState::Ready]);
        // Several signals at once make one reload.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for SIGTERM or SIGINT.
pub async fn wait_for_stop() -> Result<(), AnyError> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
    }
    Ok(())
}
