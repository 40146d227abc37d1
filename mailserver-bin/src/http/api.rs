//! The JSON API under `/api/`, for scripts and other tools: what the console does, with a
//! bearer token (`mailserver token add ADMIN [--write]`) in `Authorization` acting for that
//! admin, within the domains the admin manages; a read-only token may only read. Described at
//! `/api/openapi.json` (OpenAPI 3.0). Failed tokens count toward the same ban as failed logins;
//! every change is logged under target `audit`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::accounts::Admin;
use crate::guard::Guard;
use crate::health::Sources;

/// What the handlers share.
pub struct Api {
    sources: Arc<Sources>,
    guard: Arc<Guard>,
}

/// The API's routes.
pub fn router(sources: Arc<Sources>, guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/domains", get(domains).post(add_domain))
        .route(
            "/api/domains/{domain}/mailboxes",
            get(mailboxes).post(add_mailbox),
        )
        .route(
            "/api/domains/{domain}/aliases",
            get(aliases).post(add_alias),
        )
        .route("/api/queue", get(queue))
        .route("/api/log", get(log))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(Arc::new(Api { sources, guard }))
}

fn reply(status: StatusCode, body: &Value) -> Response {
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

fn error(status: StatusCode, text: &str) -> Response {
    reply(status, &json!({ "error": text }))
}

/// Who a request acts for, and whether it may write.
struct Caller {
    admin: Admin,
    write: bool,
    from: String,
}

impl Caller {
    /// Records a change this caller made to `domain` in the log of changes.
    async fn audit(&self, api: &Api, domain: &str, action: &str, done: &str) {
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

    /// [`Api::caller`] for a change: the token must be allowed to write.
    async fn writer(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<Caller, Response> {
        let caller = self.caller(peer, headers).await?;
        if !caller.write {
            info!(admin = %caller.admin.username, from = %caller.from, "api: read-only token refused a change");
            return Err(error(StatusCode::FORBIDDEN, "this token may only read"));
        }
        Ok(caller)
    }
}

/// The 404 for a domain the caller does not manage (whether it exists is not said).
fn not_managed(caller: &Caller, domain: &str) -> Option<Response> {
    if caller.admin.manages(domain) {
        return None;
    }
    info!(admin = %caller.admin.username, from = %caller.from, %domain, "api: not an admin of this domain");
    Some(error(StatusCode::NOT_FOUND, "no such domain among yours"))
}

/// A field of a JSON body.
fn field(body: &str, name: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.get(name)?.as_str().map(str::to_owned)
}

async fn domains(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let caller = match api.caller(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match api.sources.accounts.list_domains().await {
        Ok(list) => {
            let list: Vec<Value> = list
                .into_iter()
                .filter(|d| caller.admin.manages(&d.name))
                .map(|d| json!({"domain": d.name, "active": d.active, "quota_bytes": d.quota, "backup_mx": d.backup_mx}))
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn add_domain(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let caller = match api.writer(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !caller.admin.global {
        return error(
            StatusCode::FORBIDDEN,
            "only a global administrator adds domains",
        );
    }
    let Some(wanted) = field(&body, "domain") else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body needs {\"domain\": \"...\"}",
        );
    };
    match api.sources.accounts.add_domain(&wanted, false).await {
        Ok(domain) => {
            let done = format!("domain {domain} added");
            caller
                .audit(&api, &domain, "api: domain added", &done)
                .await;
            reply(StatusCode::CREATED, &json!({ "domain": domain }))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn mailboxes(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    let caller = match api.caller(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    match api.sources.accounts.list_users(Some(&domain)).await {
        Ok(users) => {
            let list: Vec<Value> = users
                .into_iter()
                .map(|(address, _, active)| json!({"address": address, "active": active}))
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => error(StatusCode::NOT_FOUND, &e.to_string()),
    }
}

async fn add_mailbox(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    body: String,
) -> Response {
    let caller = match api.writer(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    let (Some(local), Some(password)) = (field(&body, "local"), field(&body, "password")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body needs {\"local\": \"...\", \"password\": \"...\"}",
        );
    };
    let scheme = api.sources.config.get().accounts.password_scheme;
    let hash = match super::passwords::new_hash(scheme, password).await {
        Ok(h) => h,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let address = format!("{}@{domain}", local.trim());
    match api.sources.accounts.add_user(&address, &hash).await {
        Ok(address) => {
            let done = format!("mailbox {address} added");
            caller
                .audit(&api, &domain, "api: mailbox added", &done)
                .await;
            reply(StatusCode::CREATED, &json!({ "address": address }))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn aliases(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    let caller = match api.caller(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    match api.sources.accounts.list_aliases(Some(&domain)).await {
        Ok(list) => {
            let list: Vec<Value> = list
                .into_iter()
                .map(|(address, goto)| {
                    let goto: Vec<&str> = goto.split(',').map(str::trim).collect();
                    json!({"address": address, "goto": goto})
                })
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => error(StatusCode::NOT_FOUND, &e.to_string()),
    }
}

async fn add_alias(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    body: String,
) -> Response {
    let caller = match api.writer(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    let parsed: Option<(String, Vec<String>)> =
        serde_json::from_str::<Value>(&body).ok().and_then(|v| {
            let local = v.get("local")?.as_str()?.to_owned();
            let targets = v.get("goto")?.as_array()?;
            let targets: Option<Vec<String>> = targets
                .iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect();
            Some((local, targets?))
        });
    let Some((local, targets)) = parsed.filter(|(_, t)| !t.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body needs {\"local\": \"...\", \"goto\": [\"...\"]} (local empty: catch-all)",
        );
    };
    let source = format!("{}@{domain}", local.trim());
    match api.sources.accounts.add_alias(&source, &targets).await {
        Ok((source, _)) => {
            let done = format!("alias {source} to {} added", targets.join(", "));
            caller.audit(&api, &domain, "api: alias added", &done).await;
            reply(
                StatusCode::CREATED,
                &json!({ "address": source, "goto": targets }),
            )
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn queue(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let caller = match api.caller(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !caller.admin.global {
        return error(
            StatusCode::FORBIDDEN,
            "the queue is for global administrators",
        );
    }
    let spool = crate::queue::spool::Spool::at(&api.sources.config.get().data_dir.join("queue"));
    match tokio::task::spawn_blocking(move || crate::queue::admin::rows(&spool)).await {
        Ok(Ok(rows)) => {
            let list: Vec<Value> = rows
                .into_iter()
                .map(|row| {
                    let pairs = crate::queue::admin::COLUMNS.iter().zip(row);
                    Value::Object(
                        pairs
                            .map(|(k, v)| ((*k).to_owned(), Value::String(v)))
                            .collect(),
                    )
                })
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the queue could not be read",
        ),
    }
}

/// The last changes the caller's admin may see (the console's log of changes).
async fn log(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let caller = match api.caller(peer, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match api.sources.accounts.recent_changes(&caller.admin).await {
        Ok(changes) => {
            let list: Vec<Value> = changes
                .into_iter()
                .map(|c| {
                    json!({"at": c.at, "who": c.who, "domain": c.domain,
                           "action": c.action, "data": c.data})
                })
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => {
            warn!(error = %e, "api: the log of changes could not be read");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log of changes could not be read",
            )
        }
    }
}

/// The OpenAPI 3.0 description of these routes.
async fn openapi() -> Response {
    let domain_param =
        json!([{"name": "domain", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let list = |what: &str| json!({"200": {"description": what, "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}, "401": {"description": "no valid bearer token"}});
    let created = |what: &str| json!({"201": {"description": what}, "400": {"description": "refused, with the reason"}, "401": {"description": "no valid bearer token"}, "403": {"description": "a read-only token, or not allowed"}});
    let body = |props: Value, required: Value| json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": props, "required": required}}}});
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "mailserver API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Domains, mailboxes, aliases, the queue and the log of changes, as the web console manages them. Each token acts for one administrator (`mailserver token add`)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/domains": {
                "get": {"summary": "The domains the token's admin manages", "responses": list("domains")},
                "post": {"summary": "Add a domain (global admins, write tokens)",
                         "requestBody": body(json!({"domain": {"type": "string"}}), json!(["domain"])),
                         "responses": created("the domain added")}
            },
            "/api/domains/{domain}/mailboxes": {
                "parameters": domain_param,
                "get": {"summary": "A domain's mailboxes", "responses": list("mailboxes")},
                "post": {"summary": "Add a mailbox (write tokens)",
                         "requestBody": body(json!({"local": {"type": "string"}, "password": {"type": "string", "minLength": super::passwords::MIN_LENGTH}}), json!(["local", "password"])),
                         "responses": created("the mailbox added")}
            },
            "/api/domains/{domain}/aliases": {
                "parameters": domain_param,
                "get": {"summary": "A domain's aliases and forwardings", "responses": list("aliases")},
                "post": {"summary": "Add targets to an alias, making it if needed (write tokens; an empty local part is the catch-all)",
                         "requestBody": body(json!({"local": {"type": "string"}, "goto": {"type": "array", "items": {"type": "string"}}}), json!(["local", "goto"])),
                         "responses": created("the alias")}
            },
            "/api/queue": {
                "get": {"summary": "The outbound queue (global admins)", "responses": list("queued messages")}
            },
            "/api/log": {
                "get": {"summary": "The last changes made in the console and through the API, newest first (a domain admin's: their domains')", "responses": list("changes")}
            }
        }
    });
    reply(StatusCode::OK, &doc)
}
