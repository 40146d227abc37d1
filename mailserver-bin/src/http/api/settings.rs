//! Changes to what exists, through the API, as the console's domain pages make them: a
//! domain's state, quota and limits and its alias domains (global admins), a mailbox's state,
//! password, quota and POP3 policy, and removals.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::caller::{Api, Caller, Writer, error, not_managed, reply};
use crate::accounts::{AccountsError, parse_size};

/// Why a request is refused before anything is changed: its status and the reason.
struct Refusal(StatusCode, String);

impl Refusal {
    fn bad(text: &str) -> Self {
        Refusal(StatusCode::BAD_REQUEST, text.to_owned())
    }

    fn send(self) -> Response {
        error(self.0, &self.1)
    }
}

/// The JSON object of a body.
fn object(body: &str) -> Result<serde_json::Map<String, Value>, Refusal> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal::bad("the body is not a JSON object")),
    }
}

/// An optional field of `body`: `Ok(None)` when absent, `Err` when it is not what `read`
/// takes.
fn optional<T>(
    body: &serde_json::Map<String, Value>,
    name: &str,
    what: &str,
    read: impl FnOnce(&Value) -> Option<T>,
) -> Result<Option<T>, Refusal> {
    match body.get(name) {
        None => Ok(None),
        Some(v) => read(v)
            .map(Some)
            .ok_or_else(|| Refusal::bad(&format!("{name} must be {what}"))),
    }
}

fn size(v: &Value) -> Option<u64> {
    parse_size(v.as_str()?)
}

/// What a change answers: 200 with `done`, or the refusal.
async fn answer(
    api: &Api,
    caller: &Caller,
    domain: &str,
    action: &str,
    done: Result<Vec<String>, AccountsError>,
) -> Response {
    match done {
        Ok(changes) if changes.is_empty() => error(StatusCode::BAD_REQUEST, "nothing to change"),
        Ok(changes) => {
            let text = changes.join("; ");
            caller.audit(api, domain, action, &text).await;
            reply(StatusCode::OK, &json!({ "done": changes }))
        }
        Err(
            e @ (AccountsError::UnknownDomain(_)
            | AccountsError::UnknownUser(_)
            | AccountsError::UnknownAliasDomain(_)),
        ) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// Changes a domain: `active`, `quota` (a size, `none`), `limits` (`mailboxes`, `aliases`:
/// counts, 0 no limit, -1 none; `max_quota`: a size).
pub(super) async fn change_domain(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path(domain): Path<String>,
    body: String,
) -> Response {
    if let Some(refused) = caller.global_only("only a global administrator changes a domain") {
        return refused;
    }
    let read = || -> Result<_, Refusal> {
        let body = object(&body)?;
        let limits = body.get("limits").cloned().unwrap_or(json!({}));
        let Value::Object(limits) = limits else {
            return Err(Refusal::bad("limits must be an object"));
        };
        let count = |v: &Value| v.as_i64().filter(|n| *n >= -1);
        Ok((
            optional(&body, "active", "true or false", Value::as_bool)?,
            optional(&body, "quota", "a size such as 2G or none", size)?,
            optional(
                &limits,
                "mailboxes",
                "a count (0: no limit, -1: none)",
                count,
            )?,
            optional(&limits, "aliases", "a count (0: no limit, -1: none)", count)?,
            optional(&limits, "max_quota", "a size such as 1G or none", size)?,
        ))
    };
    let (active, quota, mailboxes, aliases, max_quota) = match read() {
        Ok(fields) => fields,
        Err(refused) => return refused.send(),
    };
    let accounts = &api.sources.accounts;
    let done = async {
        let mut done = Vec::new();
        if let Some(active) = active {
            accounts.set_domain_active(&domain, active).await?;
            done.push(format!("active: {active}"));
        }
        if let Some(bytes) = quota {
            let (_, set) = accounts.set_domain_quota(&domain, bytes).await?;
            done.push(format!("quota: {set} octets"));
        }
        if mailboxes.is_some() || aliases.is_some() || max_quota.is_some() {
            let mb = max_quota.map(|b| i64::try_from(b.div_ceil(1 << 20)).unwrap_or(i64::MAX));
            let (_, l) = accounts
                .set_domain_limits(&domain, mailboxes, aliases, mb)
                .await?;
            done.push(format!(
                "limits: {} mailboxes, {} aliases, {} MB per mailbox",
                l.mailboxes, l.aliases, l.max_quota_mb
            ));
        }
        Ok(done)
    };
    answer(&api, &caller, &domain, "api: domain changed", done.await).await
}

/// Removes a domain (it must have no mailboxes or aliases left).
pub(super) async fn remove_domain(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path(domain): Path<String>,
) -> Response {
    if let Some(refused) = caller.global_only("only a global administrator removes a domain") {
        return refused;
    }
    let done = api.sources.accounts.remove_domain(&domain).await;
    let done = done.map(|d| vec![format!("domain {d} removed")]);
    answer(&api, &caller, &domain, "api: domain removed", done).await
}

/// The domains that are aliases of `domain`.
pub(super) async fn alias_domains(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(domain): Path<String>,
) -> Response {
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    match api.sources.accounts.list_alias_domains().await {
        Ok(all) => {
            let list: Vec<Value> = all
                .into_iter()
                .filter(|(_, target, _)| target.eq_ignore_ascii_case(&domain))
                .map(|(alias, _, active)| json!({"alias_domain": alias, "active": active}))
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Makes another domain an alias of `domain`: `{"alias_domain": "..."}`.
pub(super) async fn add_alias_domain(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path(domain): Path<String>,
    body: String,
) -> Response {
    if let Some(refused) = caller.global_only("only a global administrator adds alias domains") {
        return refused;
    }
    let Some(alias) = super::caller::field(&body, "alias_domain") else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body needs {\"alias_domain\": \"...\"}",
        );
    };
    match api.sources.accounts.add_alias_domain(&alias, &domain).await {
        Ok((alias, target)) => {
            let done = format!("{alias} is an alias domain of {target}");
            caller
                .audit(&api, &target, "api: alias domain added", &done)
                .await;
            reply(StatusCode::CREATED, &json!({ "alias_domain": alias }))
        }
        Err(e @ AccountsError::UnknownDomain(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// Removes one of `domain`'s alias domains.
pub(super) async fn remove_alias_domain(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path((domain, alias)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = caller.global_only("only a global administrator removes alias domains") {
        return refused;
    }
    let accounts = &api.sources.accounts;
    let done = accounts.remove_alias_domain(&alias, Some(&domain)).await;
    let done = done.map(|a| vec![format!("alias domain {a} removed")]);
    answer(&api, &caller, &domain, "api: alias domain removed", done).await
}

/// `address` when it is a mailbox or alias address of `domain`.
fn in_domain(address: &str, domain: &str) -> Result<String, Refusal> {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((_, d)) if d.eq_ignore_ascii_case(domain) => Ok(address),
        _ => Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("{address} is not an address of {domain}"),
        )),
    }
}

/// Changes a mailbox: `active`, `password`, `quota` (a size, `none`), `pop3_policy`
/// (`expunge`, `keep`, `seen` or `default`).
pub(super) async fn change_mailbox(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path((domain, address)): Path<(String, String)>,
    body: String,
) -> Response {
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    let read = || -> Result<_, Refusal> {
        let body = object(&body)?;
        let policy = |v: &Value| match v.as_str()? {
            "default" => Some(None),
            p => crate::config::DeletePolicy::parse(p).map(Some),
        };
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Ok((
            in_domain(&address, &domain)?,
            optional(&body, "active", "true or false", Value::as_bool)?,
            optional(&body, "password", "a string", text)?,
            optional(&body, "quota", "a size such as 2G or none", size)?,
            optional(
                &body,
                "pop3_policy",
                "expunge, keep, seen or default",
                policy,
            )?,
        ))
    };
    let (address, active, password, quota, policy) = match read() {
        Ok(fields) => fields,
        Err(refused) => return refused.send(),
    };
    let hash = match password {
        Some(p) => {
            let scheme = api.sources.config.get().accounts.password_scheme;
            match crate::http::passwords::new_hash(scheme, p).await {
                Ok(h) => Some(h),
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            }
        }
        None => None,
    };
    let accounts = &api.sources.accounts;
    let done = async {
        let mut done = Vec::new();
        if let Some(active) = active {
            accounts.set_user_active(&address, active).await?;
            done.push(format!("{address} active: {active}"));
        }
        if let Some(hash) = hash {
            accounts.set_password(&address, &hash).await?;
            done.push(format!("{address}: new password"));
        }
        if let Some(bytes) = quota {
            accounts.set_quota(&address, bytes).await?;
            done.push(format!("{address} quota: {bytes} octets"));
        }
        if let Some(policy) = policy {
            accounts.set_pop3_policy(&address, policy).await?;
            let named = policy.map_or("default", crate::config::DeletePolicy::as_str);
            done.push(format!("{address} POP3 policy: {named}"));
        }
        Ok(done)
    };
    answer(&api, &caller, &domain, "api: mailbox changed", done.await).await
}

/// Removes a mailbox's account; its mail stays on disk (as PostfixAdmin leaves it), where the
/// answer says.
pub(super) async fn remove_mailbox(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path((domain, address)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    let address = match in_domain(&address, &domain) {
        Ok(a) => a,
        Err(refused) => return refused.send(),
    };
    let done = api.sources.accounts.remove_user(&address).await;
    let done = done.map(|(a, maildir)| {
        vec![format!(
            "mailbox {a} removed; its mail is kept in {}",
            maildir.display()
        )]
    });
    answer(&api, &caller, &domain, "api: mailbox removed", done).await
}

/// Removes an alias's forwarding (a mailbox's own address stays).
pub(super) async fn remove_alias(
    State(api): State<Arc<Api>>,
    Writer(caller): Writer,
    Path((domain, address)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = not_managed(&caller, &domain) {
        return refused;
    }
    let address = match in_domain(&address, &domain) {
        Ok(a) => a,
        Err(refused) => return refused.send(),
    };
    let done = api.sources.accounts.remove_forwarding(&address).await;
    let done = done.map(|a| vec![format!("alias {a} removed")]);
    answer(&api, &caller, &domain, "api: alias removed", done).await
}
