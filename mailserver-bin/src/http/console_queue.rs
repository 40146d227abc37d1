//! The console's view of the outbound queue, for global administrators (it holds every
//! domain's mail): each message with its state and last answer, and the CLI's actions on it
//! (retry, hold, release, remove, try everything now) through the same `queue::admin` layer,
//! on the spool directly as `mailserver queue` works.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::{info, warn};

use super::console::{Console, Frame, Message, from_where, html, redirect};
use super::text::form_value;
use crate::queue::admin;
use crate::queue::spool::Spool;

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    frame: Frame,
    columns: [&'static str; 9],
    rows: Vec<Vec<String>>,
}

impl std::ops::Deref for QueuePage {
    type Target = Frame;
    fn deref(&self) -> &Frame {
        &self.frame
    }
}

/// The queue's routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/queue", get(queue_page))
        .route("/console/queue/{action}", post(act))
        .with_state(console)
}

fn spool(c: &Console) -> Spool {
    Spool::at(&c.sources.config.get().data_dir.join("queue"))
}

async fn queue_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (admin, csrf) = match c.admin_session(&headers) {
        Ok(s) => s,
        Err(elsewhere) => return redirect(elsewhere),
    };
    let mut frame = c.frame("Queue", Some((&admin.username, &csrf)));
    if !admin.global {
        frame.error = Some("The queue is for global administrators.".into());
        return html(StatusCode::FORBIDDEN, &Message { frame });
    }
    let spool = spool(&c);
    let rows = match tokio::task::spawn_blocking(move || admin::rows(&spool)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            frame.error = Some(format!("The queue could not be read: {e}"));
            Vec::new()
        }
        Err(_) => Vec::new(),
    };
    let page = QueuePage {
        frame,
        columns: admin::COLUMNS,
        rows,
    };
    html(StatusCode::OK, &page)
}

async fn act(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(action): Path<String>,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (admin, csrf) = match c.admin_posted(&headers, &form, &from) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let mut frame = c.frame("Queue", Some((&admin.username, &csrf)));
    if !admin.global {
        warn!(admin = %admin.username, from = %from, %action, "console: queue action refused, not a global admin");
        frame.error = Some("The queue is for global administrators.".into());
        return html(StatusCode::FORBIDDEN, &Message { frame });
    }
    let id = form_value(&form, "id").unwrap_or_default();
    let spool = spool(&c);
    let which = action.clone();
    let done = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let result = match which.as_str() {
            "retry" => admin::retry(&spool, &id).map(|()| format!("{id} will be tried now.")),
            "hold" => admin::hold(&spool, &id).map(|()| format!("{id} is on hold.")),
            "release" => admin::release(&spool, &id).map(|()| format!("{id} released.")),
            "remove" => admin::remove(&spool, &id).map(|()| format!("{id} removed.")),
            "flush" => admin::flush(&spool).map(|n| format!("{n} messages to be tried now.")),
            _ => return Err(format!("There is no queue action {which:?}.")),
        };
        result.map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err("The queue action failed.".into()));
    match done {
        Ok(text) => {
            info!(target: "audit", admin = %admin.username, from = %from, done = %text, "queue {action}");
            frame.notice = Some(text);
            html(StatusCode::OK, &Message { frame })
        }
        Err(e) => {
            info!(admin = %admin.username, from = %from, %action, error = %e, "console: refused");
            frame.error = Some(e);
            html(StatusCode::BAD_REQUEST, &Message { frame })
        }
    }
}
