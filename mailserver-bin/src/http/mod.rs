//! The HTTP listener (`[listen] http`): `/metrics` in Prometheus's text format, `/health`
//! (the process answers) and `/ready` (listeners up, the store writable, the accounts
//! backend answering), for Prometheus, Netdata and load balancers; the lists' one-click
//! unsubscribe links (`unsubscribe`); and what mail programs and senders fetch from
//! `autoconfig.`, `autodiscover.` and `mta-sts.<domain>` (`autoconfig`). The web console will
//! be served here too.

mod api;
mod autoconfig;
mod console;
mod console_account;
mod console_dashboard;
mod console_domains;
mod console_i18n;
mod console_log;
mod console_queue;
mod console_tokens;
mod passwords;
mod text;
mod unsubscribe;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

/// What the handlers read.
pub struct Status {
    pub health: Arc<crate::health::Sources>,
    /// Every listener is up (set once they all are).
    pub listening: AtomicBool,
    /// Counts the console's failed logins with the mail protocols'.
    pub guard: Arc<crate::guard::Guard>,
}

impl Status {
    /// Sets the gauges that are states, not events: the queue, free space.
    pub fn refresh(&self) {
        let metrics = crate::metrics::get();
        metrics.note_dir_syncs();
        let (count, oldest) = self.health.queue.summary();
        metrics.queue_messages.set(count as i64);
        metrics.queue_oldest.set(oldest as i64);
        for (store, path) in self.health.stores() {
            if let Some((free, _)) = crate::disk::space(&path) {
                metrics
                    .disk_free
                    .get_or_create(&[("store", store.to_owned())])
                    .set(i64::try_from(free).unwrap_or(i64::MAX));
            }
        }
    }

    /// What keeps the server from serving, if anything.
    pub async fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.listening.load(Ordering::SeqCst) {
            problems.push("listeners not up".to_owned());
        }
        let probe = self.health.config.get().node_file(".ready-probe");
        let writable = tokio::task::spawn_blocking(move || {
            std::fs::write(&probe, b"ready\n").and_then(|()| std::fs::remove_file(&probe))
        })
        .await;
        match writable {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(format!("data directory not writable: {e}")),
            Err(e) => problems.push(format!("data directory check failed: {e}")),
        }
        if let Some(e) = self.health.accounts_error().await {
            problems.push(format!("accounts backend: {e}"));
        }
        problems
    }
}

/// The routes.
pub fn router(status: Arc<Status>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/status", get(status_json))
        .with_state(Arc::clone(&status))
        .merge(autoconfig::router(Arc::clone(&status.health)))
        .merge(console_routes(&status))
        .merge(api::router(
            Arc::clone(&status.health),
            Arc::clone(&status.guard),
        ))
        .merge(unsubscribe::router(
            status.health.accounts.clone(),
            status.health.queue.list_links().clone(),
        ))
}

async fn metrics(State(status): State<Arc<Status>>) -> impl IntoResponse {
    status.refresh();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::get().encode(),
    )
}

async fn ready(State(status): State<Arc<Status>>) -> impl IntoResponse {
    let problems = status.problems().await;
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        tracing::warn!(problems = %problems.join("; "), "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
    }
}

/// What `mailserver status` shows: the server's own view, in JSON.
async fn status_json(State(status): State<Arc<Status>>) -> impl IntoResponse {
    let health = &status.health;
    let config = health.config.get();
    let readings = health.read().await;
    let attention = crate::health::conditions(&config.alerts, &readings);
    let metrics = crate::metrics::get();
    let listeners: serde_json::Map<String, serde_json::Value> = config
        .listen
        .named()
        .into_iter()
        .filter(|(_, a)| !a.is_empty())
        .map(|(name, addrs)| {
            let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            (name.to_owned(), serde_json::json!(addrs))
        })
        .collect();
    let sessions: serde_json::Map<String, serde_json::Value> =
        ["smtp", "submission", "imap", "pop3"]
            .into_iter()
            .map(|p| (p.to_owned(), serde_json::json!(metrics.sessions(p).get())))
            .collect();
    let now = crate::metrics::unix_now();
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": config.hostname,
        "started": metrics.started(),
        "uptime_seconds": now - metrics.started(),
        "listeners": listeners,
        "sessions": sessions,
        "readings": readings,
        "certificate_expires": health.certificates.expires(),
        "attention": attention,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// The web console's routes, sharing one set of sessions.
fn console_routes(status: &Status) -> Router {
    let console = console::Console::new(Arc::clone(&status.health), Arc::clone(&status.guard));
    console::router(Arc::clone(&console))
        .merge(console_account::router(Arc::clone(&console)))
        .merge(console_dashboard::router(Arc::clone(&console)))
        .merge(console_domains::router(Arc::clone(&console)))
        .merge(console_log::router(Arc::clone(&console)))
        .merge(console_tokens::router(Arc::clone(&console)))
        .merge(console_queue::router(console))
}

/// Serves `listener` until shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    status: Arc<Status>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(status).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the HTTP listener stopped");
    }
}
