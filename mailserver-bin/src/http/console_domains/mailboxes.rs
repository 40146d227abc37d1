//! A domain's mailboxes: add one, enable or disable it, set its password, quota or POP3
//! policy.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::forms::{answer, domain_post, hashed, in_domain, size_of};
use crate::http::console::Console;
use crate::http::text::form_value;

pub(super) async fn add_mailbox(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Add a mailbox").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let local = form_value(&form, "local").unwrap_or_default();
    let address = format!("{}@{domain}", local.trim());
    let done = match hashed(&c, lang, form_value(&form, "password").unwrap_or_default()).await {
        Ok(hash) => c
            .sources
            .accounts
            .add_user(&address, &hash)
            .await
            .map(|a| lang.f("Mailbox {} added.", &[&a]))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    answer(&c, frame, (&admin, &from, &domain), done, "mailbox added").await
}

pub(super) async fn set_active(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Mailbox").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let active = form_value(&form, "active").as_deref() == Some("1");
    let done = match in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    ) {
        Ok(address) => c
            .sources
            .accounts
            .set_user_active(&address, active)
            .await
            .map(|a| {
                let text = if active {
                    "Mailbox {} enabled."
                } else {
                    "Mailbox {} disabled."
                };
                lang.f(text, &[&a])
            })
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox active set",
    )
    .await
}

pub(super) async fn set_password(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Mailbox").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let address = in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    );
    let hash = hashed(&c, lang, form_value(&form, "password").unwrap_or_default()).await;
    let done = match (address, hash) {
        (Ok(address), Ok(hash)) => c
            .sources
            .accounts
            .set_password(&address, &hash)
            .await
            .map(|a| lang.f("New password set for {}.", &[&a]))
            .map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox password set",
    )
    .await
}

pub(super) async fn set_quota(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Quota").await
    {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    let typed = form_value(&form, "quota").unwrap_or_default();
    let address = in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    );
    let done = match (address, size_of(lang, &typed)) {
        (Ok(address), Ok(bytes)) => c
            .sources
            .accounts
            .set_quota(&address, bytes)
            .await
            .map(|a| lang.f("Quota of {} set to {}.", &[&a, typed.trim()]))
            .map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox quota set",
    )
    .await
}

/// An admin of the domain sets how POP3's DELE treats one mailbox's mail (`default`: the
/// server's `[pop3] delete_policy`).
pub(super) async fn set_pop3_policy(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Mailbox").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let address = in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    );
    let chosen = form_value(&form, "policy").unwrap_or_default();
    let policy = match chosen.as_str() {
        "default" => Ok(None),
        other => crate::config::DeletePolicy::parse(other)
            .map(Some)
            .ok_or_else(|| lang.f("{} is not a POP3 policy.", &[other])),
    };
    let done = match (address, policy) {
        (Ok(address), Ok(policy)) => c
            .sources
            .accounts
            .set_pop3_policy(&address, policy)
            .await
            .map(|a| lang.f("POP3 policy of {} set to {}.", &[&a, lang.t(&chosen)]))
            .map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox pop3 policy set",
    )
    .await
}
