//! Domains, mailboxes and aliases through the API, as the console's domain pages manage them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::caller::{Api, Caller, Writer, error, field, not_managed, reply};

pub(super) async fn domains(State(api): State<Arc<Api>>, caller: Caller) -> Response {
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

pub(super) async fn add_domain(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    body: String,
) -> Response {
    if let Some(refused) = caller.global_only("only a global administrator adds domains") {
        return refused;
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

pub(super) async fn mailboxes(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(domain): Path<String>,
) -> Response {
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

pub(super) async fn add_mailbox(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path(domain): Path<String>,
    body: String,
) -> Response {
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
    let hash = match crate::http::passwords::new_hash(scheme, password).await {
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

pub(super) async fn aliases(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(domain): Path<String>,
) -> Response {
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

pub(super) async fn add_alias(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path(domain): Path<String>,
    body: String,
) -> Response {
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
