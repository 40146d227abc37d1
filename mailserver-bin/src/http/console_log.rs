//! The console's log of changes (PostfixAdmin's "View Log"): the last changes made in the
//! console and through the API, from the accounts layer's `log` table; a domain admin sees
//! those of their domains only.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use tracing::warn;

use super::console::{Console, Frame, framed, html, redirect};
use crate::accounts::Change;

#[derive(Template)]
#[template(path = "console/log.html")]
struct LogPage {
    frame: Frame,
    changes: Vec<Change>,
}

framed!(LogPage);

/// The log's route.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/log", get(log_page))
        .with_state(console)
}

async fn log_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (admin, csrf) = match c.admin_session(&headers).await {
        Ok(ok) => ok,
        Err(elsewhere) => return redirect(elsewhere),
    };
    let mut frame = c.frame(&headers, "Log of changes", Some((&admin.username, &csrf)));
    let changes = match c.sources.accounts.recent_changes(&admin).await {
        Ok(changes) => changes,
        Err(e) => {
            warn!(admin = %admin.username, error = %e, "console: the log of changes could not be read");
            frame.error = Some(frame.lang.t("The log of changes could not be read.").into());
            Vec::new()
        }
    };
    html(StatusCode::OK, &LogPage { frame, changes })
}
