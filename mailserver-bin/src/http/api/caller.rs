//! What every handler of the API shares: who calls ([`Caller`], [`Writer`]: extractors that
//! check the bearer token), the JSON answers and refusals.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::accounts::Admin;
use crate::guard::Guard;
use crate::health::Sources;

/// What the handlers share.
pub struct Api {
    pub(super) sources: Arc<Sources>,
    guard: Arc<Guard>,
}

impl Api {
    pub(super) fn new(sources: Arc<Sources>, guard: Arc<Guard>) -> Self {
        Self { sources, guard }
    }
}

pub(super) fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

pub(super) fn error(status: StatusCode, text: &str) -> Response {
    reply(status, &json!({ "error": text }))
}

/// Who a request acts for, and whether it may write.
pub(super) struct Caller {
    pub(super) admin: Admin,
    write: bool,
    from: String,
}

impl Caller {
    /// Records a change this caller made to `domain` in the log of changes.
    pub(super) async fn audit(&self, api: &Api, domain: &str, action: &str, done: &str) {
        let accounts = &api.sources.accounts;
        accounts
            .audit(&self.admin.username, &self.from, domain, action, done)
            .await;
    }
}

impl Api {
    /// The caller its bearer token names; `Err`: the 401 to send.
    async fn caller(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<Caller, Response> {
        let from = peer.ip().to_string();
        let unauthorized = || {
            let mut r = error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        };
        if self.guard.admit(peer.ip()).is_err() {
            info!(peer = %from, "api: request from a banned address refused");
            return Err(error(StatusCode::FORBIDDEN, "too many failed logins"));
        }
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = token else {
            return Err(unauthorized());
        };
        match self.sources.accounts.token_admin(token).await {
            Ok(Some((admin, write))) => Ok(Caller { admin, write, from }),
            Ok(None) => {
                let id = token.split('_').nth(1).unwrap_or("");
                let wait = self.guard.failed(peer.ip(), "api", id);
                tokio::time::sleep(wait).await;
                Err(unauthorized())
            }
            Err(e) => {
                warn!(error = %e, "api: the accounts backend did not answer");
                Err(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "accounts backend unavailable",
                ))
            }
        }
    }
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = Response;

    /// The caller its bearer token names, from an address that is not banned.
    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, api)
            .await
            .map_err(IntoResponse::into_response)?;
        api.caller(peer, &parts.headers).await
    }
}

/// A [`Caller`] whose token may write.
pub(super) struct Writer(pub(super) Caller);

impl FromRequestParts<Arc<Api>> for Writer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, api).await?;
        if !caller.write {
            info!(admin = %caller.admin.username, from = %caller.from, "api: read-only token refused a change");
            return Err(error(StatusCode::FORBIDDEN, "this token may only read"));
        }
        Ok(Writer(caller))
    }
}

impl Caller {
    /// The 403 `refusal` for what only global admins may do, when the caller is not one.
    pub(super) fn global_only(&self, refusal: &str) -> Option<Response> {
        (!self.admin.global).then(|| error(StatusCode::FORBIDDEN, refusal))
    }
}

/// The 404 for a domain the caller does not manage (whether it exists is not said).
pub(super) fn not_managed(caller: &Caller, domain: &str) -> Option<Response> {
    if caller.admin.manages(domain) {
        return None;
    }
    info!(admin = %caller.admin.username, from = %caller.from, %domain, "api: not an admin of this domain");
    Some(error(StatusCode::NOT_FOUND, "no such domain among yours"))
}

/// A field of a JSON body.
pub(super) fn field(body: &str, name: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.get(name)?.as_str().map(str::to_owned)
}
