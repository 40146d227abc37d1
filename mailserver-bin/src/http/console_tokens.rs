//! The console's page of API tokens: an admin makes bearer tokens acting for themselves
//! (read-only, or writing too), sees each once, and revokes them; a global admin sees and
//! revokes everyone's (as `mailserver token`).

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::{info, warn};

use super::console::{Console, Frame, framed, from_where, html, redirect};
use super::text::form_value;
use crate::accounts::{Admin, ApiToken};

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct TokensPage {
    frame: Frame,
    tokens: Vec<ApiToken>,
    /// A token just made, shown this once.
    new_token: Option<String>,
}

framed!(TokensPage);

/// The tokens page's routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/tokens", get(tokens_page).post(add_token))
        .route("/console/tokens/remove", post(remove_token))
        .with_state(console)
}

/// The tokens `admin` may see: their own, or everyone's for a global admin.
async fn page(c: &Console, mut frame: Frame, admin: &Admin) -> TokensPage {
    let tokens = match c.sources.accounts.list_tokens().await {
        Ok(all) => all
            .into_iter()
            .filter(|t| admin.global || t.admin.eq_ignore_ascii_case(&admin.username))
            .collect(),
        Err(e) => {
            warn!(admin = %admin.username, error = %e, "console: the tokens could not be read");
            frame.error = Some(frame.lang.t("The accounts database did not answer.").into());
            Vec::new()
        }
    };
    TokensPage {
        frame,
        tokens,
        new_token: None,
    }
}

async fn tokens_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (admin, csrf) = match c.admin_session(&headers).await {
        Ok(ok) => ok,
        Err(elsewhere) => return redirect(elsewhere),
    };
    let frame = c.frame(&headers, "API tokens", Some((&admin.username, &csrf)));
    html(StatusCode::OK, &page(&c, frame, &admin).await)
}

/// An admin makes a token acting for themselves.
async fn add_token(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (admin, csrf) = match c.admin_posted(&headers, &form, &from).await {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let mut frame = c.frame(&headers, "API tokens", Some((&admin.username, &csrf)));
    let name = form_value(&form, "name").unwrap_or_default();
    let name = name.trim();
    let write = form_value(&form, "write").as_deref() == Some("1");
    if name.is_empty() || name.chars().count() > 100 {
        frame.error = Some(
            frame
                .lang
                .t("A token needs a name of 1 to 100 characters.")
                .into(),
        );
        return html(StatusCode::BAD_REQUEST, &page(&c, frame, &admin).await);
    }
    let accounts = &c.sources.accounts;
    match accounts.add_token(&admin.username, name, write).await {
        Ok(token) => {
            let id = token.split('_').nth(1).unwrap_or_default();
            let done = format!("token {id} ({name}) for {}, write: {write}", admin.username);
            accounts
                .audit(&admin.username, &from, "", "token added", &done)
                .await;
            frame.notice = Some(frame.lang.f(
                "Token \"{}\" made: copy it now, it is not shown again.",
                &[name],
            ));
            let mut answer = page(&c, frame, &admin).await;
            answer.new_token = Some(token);
            html(StatusCode::OK, &answer)
        }
        Err(e) => {
            info!(admin = %admin.username, from = %from, error = %e, "console: token refused");
            frame.error = Some(frame.lang.f("No token was made: {}", &[&e.to_string()]));
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &admin).await)
        }
    }
}

/// An admin revokes one of their tokens (a global admin, anyone's).
async fn remove_token(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (admin, csrf) = match c.admin_posted(&headers, &form, &from).await {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let mut frame = c.frame(&headers, "API tokens", Some((&admin.username, &csrf)));
    let id = form_value(&form, "id").unwrap_or_default();
    let accounts = &c.sources.accounts;
    let theirs = accounts.list_tokens().await.is_ok_and(|all| {
        all.iter()
            .any(|t| t.id == id && (admin.global || t.admin.eq_ignore_ascii_case(&admin.username)))
    });
    let removed = match theirs {
        true => accounts.remove_token(&id).await.map_err(|e| e.to_string()),
        false => Err(frame.lang.f("There is no token {} of yours.", &[&id])),
    };
    match removed {
        Ok(()) => {
            let done = format!("token {id} revoked");
            accounts
                .audit(&admin.username, &from, "", "token removed", &done)
                .await;
            frame.notice = Some(frame.lang.f("Token {} revoked.", &[&id]));
            html(StatusCode::OK, &page(&c, frame, &admin).await)
        }
        Err(e) => {
            warn!(admin = %admin.username, from = %from, error = %e, "console: token not revoked");
            frame.error = Some(e);
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &admin).await)
        }
    }
}
