//! The daemon's life under a service manager: readiness, reloads and the watchdog for systemd
//! (`Type=notify`, `WatchdogSec=`), SIGTERM and SIGINT for an orderly stop. SIGHUP is
//! `reload`'s.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::AnyError;

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

/// Tells systemd a reload has begun (with the time, as `Type=notify-reload` wants it).
pub fn notify_reloading() {
    let mut reloading = vec![sd_notify::NotifyState::Reloading];
    reloading.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
    notify(&reloading);
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
