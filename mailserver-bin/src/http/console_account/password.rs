//! A user changes their own password, the current one checked.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::warn;

use super::page::{current_password, page, user_posted};
use crate::http::console::{Console, from_where, html};
use crate::http::text::form_value;

/// A user changes their password: the current one checked, the new one hashed in
/// `[accounts] password_scheme`; IMAP, POP3 and submission take it at once.
pub(super) async fn change_password(
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
    let field = |name| form_value(&form, name).unwrap_or_default();
    let (current, new) = (field("current"), field("new"));
    let problem = if new != field("repeat") {
        Some("The two new passwords differ.")
    } else if new.chars().count() < crate::http::passwords::MIN_LENGTH {
        Some("The new password needs at least 8 characters.")
    } else {
        None
    };
    if let Some(problem) = problem {
        frame.error = Some(frame.lang.t(problem).into());
        return html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await);
    }
    let mut frame = match current_password(&c, peer, &user, current, frame).await {
        Ok(frame) => frame,
        Err(frame) => return html(StatusCode::FORBIDDEN, &page(&c, *frame, &user).await),
    };
    let config = c.sources.config.get();
    let accounts = &c.sources.accounts;
    let hash = crate::http::passwords::new_hash(config.accounts.password_scheme, new).await;
    let saved = match hash {
        Ok(hash) => accounts
            .set_password(&user, &hash)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(frame.lang.t(e).to_owned()),
    };
    match saved {
        Ok(_) => {
            let domain = crate::accounts::domain_of(&user);
            let accounts = &c.sources.accounts;
            accounts
                .audit(&user, &from, domain, "password changed", &user)
                .await;
            frame.notice = Some(frame.lang.t("Your password is changed.").into());
            html(StatusCode::OK, &page(&c, frame, &user).await)
        }
        Err(e) => {
            warn!(%user, error = %e, "console: password not changed");
            frame.error = Some(frame.lang.f("The password was not changed: {}", &[&e]));
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                &page(&c, frame, &user).await,
            )
        }
    }
}
