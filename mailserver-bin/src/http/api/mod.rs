//! The JSON API under `/api/`, for scripts and other tools: what the console does, with a
//! bearer token (`mailserver token add ADMIN [--write]`) in `Authorization` acting for that
//! admin, within the domains the admin manages; a read-only token may only read. Described at
//! `/api/openapi.json` (OpenAPI 3.0). Failed tokens count toward the same ban as failed logins;
//! every change is logged under target `audit`.

mod accounts;
mod caller;
mod openapi;
mod server;
mod settings;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};

use crate::guard::Guard;
use crate::health::Sources;
use caller::Api;

/// The API's routes.
pub fn router(sources: Arc<Sources>, guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/api/openapi.json", get(openapi::openapi))
        .route(
            "/api/domains",
            get(accounts::domains).post(accounts::add_domain),
        )
        .route(
            "/api/domains/{domain}",
            patch(settings::change_domain).delete(settings::remove_domain),
        )
        .route(
            "/api/domains/{domain}/mailboxes",
            get(accounts::mailboxes).post(accounts::add_mailbox),
        )
        .route(
            "/api/domains/{domain}/mailboxes/{address}",
            patch(settings::change_mailbox).delete(settings::remove_mailbox),
        )
        .route(
            "/api/domains/{domain}/aliases",
            get(accounts::aliases).post(accounts::add_alias),
        )
        .route(
            "/api/domains/{domain}/aliases/{address}",
            delete(settings::remove_alias),
        )
        .route(
            "/api/domains/{domain}/alias-domains",
            get(settings::alias_domains).post(settings::add_alias_domain),
        )
        .route(
            "/api/domains/{domain}/alias-domains/{alias}",
            delete(settings::remove_alias_domain),
        )
        .route("/api/queue", get(server::queue))
        .route("/api/queue/flush", post(server::queue_flush))
        .route("/api/queue/{id}/{action}", post(server::queue_action))
        .route("/api/bans", get(server::bans).post(server::add_ban))
        .route("/api/bans/{network}", delete(server::lift_ban))
        .route("/api/log", get(server::log))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(Arc::new(Api::new(sources, guard)))
}
