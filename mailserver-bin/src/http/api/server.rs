//! The server's own state through the API, for global admins: the queue, the bans; and the
//! log of changes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tracing::warn;

use super::caller::{Api, Caller, Writer, error, reply};
use crate::guard::bans;
use crate::queue::admin;
use crate::queue::spool::{Spool, SpoolError};

pub(super) async fn queue(State(api): State<Arc<Api>>, caller: Caller) -> Response {
    if let Some(refused) = caller.global_only("the queue is for global administrators") {
        return refused;
    }
    let spool = spool(&api);
    match tokio::task::spawn_blocking(move || admin::rows(&spool)).await {
        Ok(Ok(rows)) => {
            let list: Vec<Value> = rows
                .into_iter()
                .map(|row| {
                    let pairs = admin::COLUMNS.iter().zip(row);
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
pub(super) async fn log(State(api): State<Arc<Api>>, caller: Caller) -> Response {
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

/// Acts on one queued message: `retry`, `hold`, `release` or `remove` (undelivered and
/// without a bounce).
pub(super) async fn queue_action(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = caller.global_only("the queue's messages are for global administrators")
    {
        return refused;
    }
    let Some(act) = admin::Action::named(&action) else {
        return error(
            StatusCode::NOT_FOUND,
            "the actions are retry, hold, release and remove",
        );
    };
    let spool = spool(&api);
    let target = id.clone();
    let done = tokio::task::spawn_blocking(move || act.apply(&spool, &target)).await;
    match done {
        Ok(Ok(())) => {
            let what = format!("queue {action}");
            caller.audit(&api, "", &what, &id).await;
            reply(StatusCode::OK, &json!({ "id": id, "done": action }))
        }
        Ok(Err(e @ SpoolError::NotFound(_))) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Ok(Err(e)) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the queue action failed"),
    }
}

/// Makes every message not on hold due now.
pub(super) async fn queue_flush(State(api): State<Arc<Api>>, Writer(caller): Writer) -> Response {
    if let Some(refused) = caller.global_only("the queue's messages are for global administrators")
    {
        return refused;
    }
    let spool = spool(&api);
    match tokio::task::spawn_blocking(move || admin::flush(&spool)).await {
        Ok(Ok(count)) => {
            let done = format!("{count} messages to be tried now");
            caller.audit(&api, "", "queue flush", &done).await;
            reply(StatusCode::OK, &json!({ "due": count }))
        }
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the queue could not be flushed",
        ),
    }
}

fn spool(api: &Api) -> Spool {
    Spool::at(&api.sources.config.get().queue_dir())
}

/// The bans in force.
pub(super) async fn bans(State(api): State<Arc<Api>>, caller: Caller) -> Response {
    if let Some(refused) = caller.global_only("the bans are for global administrators") {
        return refused;
    }
    let file = bans::path(&api.sources.config.get().data_dir);
    let now = bans::now();
    match tokio::task::spawn_blocking(move || bans::read(&file)).await {
        Ok(Ok(list)) => {
            let list: Vec<Value> = list
                .into_iter()
                .filter(|b| b.until > now)
                .map(|b| {
                    json!({"network": b.net.to_string(), "seconds_left": b.until - now,
                           "reason": b.reason})
                })
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ban list could not be read",
        ),
    }
}

/// Bans an address or network: `{"network": "192.0.2.7", "seconds": 3600, "reason": "..."}`
/// (seconds: `[guard] ban_time` when left out).
pub(super) async fn add_ban(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    body: String,
) -> Response {
    if let Some(refused) = caller.global_only("the bans are for global administrators") {
        return refused;
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let net = body
        .get("network")
        .and_then(Value::as_str)
        .and_then(bans::parse_network);
    let Some(net) = net else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body needs {\"network\": \"192.0.2.7\" or \"2001:db8::/64\"}",
        );
    };
    let config = api.sources.config.get();
    let seconds = match body.get("seconds") {
        None => config.guard.ban_time,
        Some(v) => match v.as_u64().filter(|s| *s > 0) {
            Some(s) => s,
            None => return error(StatusCode::BAD_REQUEST, "seconds must be a positive number"),
        },
    };
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("banned by the admin")
        .to_owned();
    let dir = config.data_dir.clone();
    match tokio::task::spawn_blocking(move || bans::add(&dir, net, seconds, reason)).await {
        Ok(Ok(())) => {
            let done = format!("{net} banned for {seconds} seconds");
            caller.audit(&api, "", "ban added", &done).await;
            reply(
                StatusCode::CREATED,
                &json!({"network": net.to_string(), "seconds": seconds}),
            )
        }
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the ban list could not be changed",
        ),
    }
}

/// Lifts the bans on a network, or the ban that holds an address (`/` written `%2F`).
pub(super) async fn lift_ban(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path(network): Path<String>,
) -> Response {
    if let Some(refused) = caller.global_only("the bans are for global administrators") {
        return refused;
    }
    let Some(net) = bans::parse_network(&network) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("{network} is not an address or network"),
        );
    };
    let dir = api.sources.config.get().data_dir.clone();
    match tokio::task::spawn_blocking(move || bans::lift(&dir, net)).await {
        Ok(Ok(lifted)) if !lifted.is_empty() => {
            let lifted: Vec<String> = lifted.iter().map(ToString::to_string).collect();
            let done = format!("ban on {} lifted", lifted.join(", "));
            caller.audit(&api, "", "ban lifted", &done).await;
            reply(StatusCode::OK, &json!({ "lifted": lifted }))
        }
        Ok(Ok(_)) => error(StatusCode::NOT_FOUND, &format!("{net} is not banned")),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the ban list could not be changed",
        ),
    }
}
