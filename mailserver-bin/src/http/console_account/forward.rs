//! A user sets where their mail is forwarded, with or without a copy kept.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::info;

use super::page::{page, user_posted};
use crate::http::console::{Console, from_where, html};
use crate::http::text::form_value;

/// A user sets where their mail goes.
pub(super) async fn set_forward(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (user, mut frame) = match user_posted(&c, &headers, &form, &from).await {
        Ok(ok) => ok,
        Err(elsewhere) => return *elsewhere,
    };
    let targets: Vec<String> = form_value(&form, "targets")
        .unwrap_or_default()
        .split([',', ' ', '\n', '\r'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let keep = form_value(&form, "keep").as_deref() == Some("1");
    match c
        .sources
        .accounts
        .set_forwarding(&user, &targets, keep)
        .await
    {
        Ok(()) => {
            let domain = crate::accounts::domain_of(&user);
            let done = format!("{user} to {} (a copy kept: {keep})", targets.join(", "));
            let accounts = &c.sources.accounts;
            accounts
                .audit(&user, &from, domain, "forwarding set", &done)
                .await;
            frame.notice = Some(if targets.is_empty() {
                frame.lang.t("Your mail is not forwarded.").to_owned()
            } else {
                frame
                    .lang
                    .f("Your mail goes to {}.", &[&targets.join(", ")])
            });
            html(StatusCode::OK, &page(&c, frame, &user).await)
        }
        Err(e) => {
            info!(who = %user, from = %from, error = %e, "console: forwarding refused");
            frame.error = Some(
                frame
                    .lang
                    .f("The forwarding was not changed: {}", &[&e.to_string()]),
            );
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await)
        }
    }
}
