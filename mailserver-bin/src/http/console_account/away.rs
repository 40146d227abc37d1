//! A user's out-of-office reply (a Sieve script, see `sieve::away`) and spam threshold (see
//! `accounts::spam_policy`) in the console.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::{info, warn};

use super::page::{page, scripts, user_posted};
use crate::http::console::{Console, from_where, html};
use crate::http::text::form_value;
use crate::sieve::away::{AwayError, OutOfOffice};

/// A user saves their out-of-office reply, switched on or off.
pub(super) async fn set_away(
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
    let day = |name| Some(field(name)).filter(|d| !d.is_empty());
    let away = OutOfOffice {
        on: field("on") == "1",
        subject: field("subject").trim().to_owned(),
        body: field("body").replace("\r\n", "\n"),
        days: field("days").trim().parse().unwrap_or(0),
        first: day("first"),
        last: day("last"),
        previous: None,
    };
    let limits = crate::sieve::limits(&c.sources.config.get().sieve);
    let saved = match scripts(&c, &user).await {
        Some(scripts) => tokio::task::spawn_blocking(move || away.save(&scripts, &limits))
            .await
            .unwrap_or(Err(AwayError::Invalid("The reply could not be saved."))),
        None => Err(AwayError::Invalid("Your mailbox was not found.")),
    };
    match saved {
        Ok(saved) => {
            let domain = crate::accounts::domain_of(&user);
            let done = match saved.on {
                true => "out-of-office on",
                false => "out-of-office off",
            };
            let accounts = &c.sources.accounts;
            accounts.audit(&user, &from, domain, done, &user).await;
            frame.notice = Some(
                frame
                    .lang
                    .t(match saved.on {
                        true => "Your out-of-office reply is on.",
                        false => "Your out-of-office reply is off.",
                    })
                    .to_owned(),
            );
            html(StatusCode::OK, &page(&c, frame, &user).await)
        }
        Err(e) => {
            info!(who = %user, from = %from, error = %e, "console: out-of-office refused");
            let why = match &e {
                AwayError::Invalid(text) => frame.lang.t(text).to_owned(),
                other => other.to_string(),
            };
            frame.error = Some(frame.lang.f("The reply was not saved: {}", &[&why]));
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await)
        }
    }
}

/// A user sets from which spam score their mail goes to Junk (empty: the server's).
pub(super) async fn set_spam_score(
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
    let text = form_value(&form, "score").unwrap_or_default();
    let text = text.trim().replace(',', ".");
    let score = match text.as_str() {
        "" => Ok(None),
        n => n.parse::<f64>().map(Some),
    };
    let accounts = &c.sources.accounts;
    let saved = match score {
        Ok(score) => accounts
            .set_spam_junk_score(&user, score)
            .await
            .map(|_| score)
            .map_err(|e| e.to_string()),
        Err(_) => Err(frame.lang.t("a score is a number, such as 3.5").to_owned()),
    };
    match saved {
        Ok(score) => {
            let domain = crate::accounts::domain_of(&user);
            let done = score.map_or("default".to_owned(), |s| format!("{s:.1}"));
            accounts
                .audit(&user, &from, domain, "spam threshold set", &done)
                .await;
            frame.notice = Some(frame.lang.t("Your spam threshold is saved.").to_owned());
            html(StatusCode::OK, &page(&c, frame, &user).await)
        }
        Err(e) => {
            warn!(who = %user, from = %from, error = %e, "console: spam threshold refused");
            frame.error = Some(
                frame
                    .lang
                    .f("The spam threshold was not changed: {}", &[&e]),
            );
            html(StatusCode::BAD_REQUEST, &page(&c, frame, &user).await)
        }
    }
}
