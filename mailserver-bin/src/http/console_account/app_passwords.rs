//! A user's app passwords in the console: made with their own password checked, shown once,
//! revoked one by one (see `accounts::app_passwords`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::{info, warn};

use super::page::{current_password, page, user_posted};
use crate::http::console::{Console, from_where, html};
use crate::http::text::form_value;

/// A user makes an app password: their own password checked, the new one shown once.
pub(super) async fn add(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (user, frame) = match user_posted(&c, &headers, &form, &from).await {
        Ok(ok) => ok,
        Err(elsewhere) => return *elsewhere,
    };
    let description = form_value(&form, "description").unwrap_or_default();
    let current = form_value(&form, "current").unwrap_or_default();
    let mut frame = match current_password(&c, peer, &user, current, frame).await {
        Ok(frame) => frame,
        Err(frame) => return html(StatusCode::FORBIDDEN, &page(&c, *frame, &user).await),
    };
    let config = c.sources.config.get();
    let accounts = &c.sources.accounts;
    let made = async {
        let secret = crate::password::generate().map_err(|e| e.to_string())?;
        let hash =
            crate::http::passwords::new_hash(config.accounts.password_scheme, secret.clone())
                .await
                .map_err(|e| frame.lang.t(e).to_owned())?;
        accounts
            .add_app_password(
                &user,
                &description,
                &hash,
                config.accounts.max_app_passwords,
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(secret)
    };
    match made.await {
        Ok(secret) => {
            let domain = crate::accounts::domain_of(&user);
            let name = description.trim();
            accounts
                .audit(&user, &from, domain, "app password added", name)
                .await;
            frame.notice = Some(frame.lang.f(
                "App password \"{}\" made: copy it now, it is not shown again.",
                &[name],
            ));
            let mut answer = page(&c, frame, &user).await;
            answer.new_app_password = Some(secret);
            html(StatusCode::OK, &answer)
        }
        Err(e) => {
            info!(who = %user, from = %from, error = %e, "console: app password refused");
            frame.error = Some(frame.lang.f("No app password was made: {}", &[&e]));
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await)
        }
    }
}

/// A user revokes one of their app passwords.
pub(super) async fn remove(
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
    let id = form_value(&form, "id")
        .and_then(|id| id.parse::<i64>().ok())
        .unwrap_or(-1);
    let accounts = &c.sources.accounts;
    match accounts.remove_app_password(&user, id).await {
        Ok(name) => {
            let domain = crate::accounts::domain_of(&user);
            accounts
                .audit(&user, &from, domain, "app password revoked", &name)
                .await;
            frame.notice = Some(frame.lang.f("App password \"{}\" revoked.", &[&name]));
            html(StatusCode::OK, &page(&c, frame, &user).await)
        }
        Err(e) => {
            warn!(who = %user, from = %from, error = %e, "console: app password not revoked");
            frame.error = Some(
                frame
                    .lang
                    .f("The app password was not revoked: {}", &[&e.to_string()]),
            );
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await)
        }
    }
}
