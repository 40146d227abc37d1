//! A mail user's own page in the console: what their mailbox holds against its quota, where
//! their mail is forwarded (with or without a copy kept, as PostfixAdmin's users' page keeps
//! it), and their password (the current one checked).

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::{info, warn};

use super::console::{Console, Frame, Who, framed, from_where, html, redirect};
use super::console_i18n::Lang;
use super::text::form_value;

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    frame: Frame,
    usage: String,
    /// Where the mail is forwarded, comma-separated.
    forward: String,
    keep: bool,
}

framed!(AccountPage);

/// The user pages' routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/account/", get(account_page))
        .route("/console/account/password", post(change_password))
        .route("/console/account/forward", post(set_forward))
        .with_state(console)
}

/// A user's page, in `frame`, with what their mailbox holds and where it forwards.
async fn page(c: &Console, frame: Frame, user: &str) -> AccountPage {
    let usage = usage(c, frame.lang, user).await;
    let (targets, keep) = c
        .sources
        .accounts
        .forwarding(user)
        .await
        .unwrap_or((Vec::new(), true));
    AccountPage {
        frame,
        usage,
        forward: targets.join(", "),
        keep,
    }
}

/// A user's own page: their usage and the password form.
async fn account_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (user, csrf) = match c.session(&headers) {
        Some((Who::User(user), csrf)) => (user, csrf),
        Some((Who::Admin(_), _)) => return redirect("/console/"),
        None => return redirect("/console/login"),
    };
    let frame = c.frame(&headers, "Your account", Some((&user, &csrf)));
    html(StatusCode::OK, &page(&c, frame, &user).await)
}

/// A mail user's POST with its CSRF token: the user and the answer's frame; `Err`: the
/// refusal, or an admin sent to their own pages.
fn user_posted(
    c: &Console,
    headers: &HeaderMap,
    form: &str,
    from: &str,
) -> Result<(String, Frame), Box<Response>> {
    match c.posted(headers, form, from)? {
        (Who::User(user), csrf) => {
            let frame = c.frame(headers, "Your account", Some((&user, &csrf)));
            Ok((user, frame))
        }
        (Who::Admin(_), _) => Err(Box::new(redirect("/console/"))),
    }
}

/// What `user`'s mailbox holds, against its quota, in words.
async fn usage(c: &Console, lang: Lang, user: &str) -> String {
    let config = c.sources.config.get();
    let mailbox = match c.sources.accounts.mailbox(user).await {
        Ok(Some(m)) => m,
        _ => return lang.t("Usage unknown.").into(),
    };
    let account = crate::delivery::QuotaAccount::of(&config, &mailbox);
    let limits = account.limits;
    let counted = tokio::task::spawn_blocking(move || account.maildir.quota_usage(limits))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let used = u64::try_from(counted.bytes).unwrap_or(0);
    let messages = counted.messages.to_string();
    match limits.bytes {
        0 => lang.f("{} messages, {} (no quota).", &[&messages, &mb(used)]),
        q => lang.f(
            "{} messages, {} of {} ({}%).",
            &[&messages, &mb(used), &mb(q), &(used * 100 / q).to_string()],
        ),
    }
}

/// A user changes their password: the current one checked, the new one hashed in
/// `[accounts] password_scheme`; IMAP, POP3 and submission take it at once.
async fn change_password(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (user, mut frame) = match user_posted(&c, &headers, &form, &from) {
        Ok(ok) => ok,
        Err(elsewhere) => return *elsewhere,
    };
    let field = |name| form_value(&form, name).unwrap_or_default();
    let (current, new) = (field("current"), field("new"));
    let problem = if new != field("repeat") {
        Some("The two new passwords differ.")
    } else if new.chars().count() < super::passwords::MIN_LENGTH {
        Some("The new password needs at least 8 characters.")
    } else {
        None
    };
    if let Some(problem) = problem {
        frame.error = Some(frame.lang.t(problem).into());
        return html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await);
    }
    let config = c.sources.config.get();
    let accounts = &c.sources.accounts;
    let scheme = config.accounts.default_password_scheme;
    if !matches!(
        accounts.authenticate(&user, current, scheme).await,
        Ok(true)
    ) {
        let wait = c.guard.failed(peer.ip(), "console", &user);
        tokio::time::sleep(wait).await;
        frame.error = Some(frame.lang.t("The current password is wrong.").into());
        return html(StatusCode::FORBIDDEN, &page(&c, frame, &user).await);
    }
    let hash = super::passwords::new_hash(config.accounts.password_scheme, new).await;
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

/// A user sets where their mail goes.
async fn set_forward(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (user, mut frame) = match user_posted(&c, &headers, &form, &from) {
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
