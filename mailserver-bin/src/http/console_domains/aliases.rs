//! A domain's aliases: add one (a catch-all too), remove one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::forms::{answer, domain_post};
use crate::http::console::Console;
use crate::http::text::form_value;

pub(super) async fn add_alias(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Add an alias").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    // An empty local part is the domain's catch-all.
    let source = format!(
        "{}@{domain}",
        form_value(&form, "local").unwrap_or_default().trim()
    );
    let targets: Vec<String> = form_value(&form, "targets")
        .unwrap_or_default()
        .split([',', ' ', '\n', '\r'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let done = if targets.is_empty() {
        Err(lang
            .t("Give at least one address to forward to.")
            .to_owned())
    } else {
        c.sources
            .accounts
            .add_alias(&source, &targets)
            .await
            .map(|(source, _)| lang.f("Alias {} → {} added.", &[&source, &targets.join(", ")]))
            .map_err(|e| e.to_string())
    };
    answer(&c, frame, (&admin, &from, &domain), done, "alias added").await
}

pub(super) async fn remove_alias(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Remove an alias").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let source = form_value(&form, "source").unwrap_or_default();
    let in_it = source
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&domain));
    let done = if in_it {
        let removed = c.sources.accounts.remove_forwarding(&source);
        removed
            .await
            .map(|s| lang.f("Alias {} removed.", &[&s]))
            .map_err(|e| e.to_string())
    } else {
        Err(lang.f("{} is not an alias of {}.", &[&source, &domain]))
    };
    answer(&c, frame, (&admin, &from, &domain), done, "alias removed").await
}
