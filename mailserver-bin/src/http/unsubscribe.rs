//! One-click unsubscribe (RFC 8058) at `/list/unsubscribe/<token>`, the link in each list
//! member's copy (`crate::lists::Links`): a POST (what a mail client's "Unsubscribe" button
//! sends, with `List-Unsubscribe=One-Click`) removes the member with no further step; a GET
//! (a person following the link, or a scanner that follows every link) only shows a page
//! with the button, so that nothing is removed by looking.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::accounts::{Accounts, Role};
use crate::lists::Links;

use super::text::escape;

/// What the handlers use.
struct Lists {
    accounts: Accounts,
    links: Links,
}

/// The route of the links.
pub fn router(accounts: Accounts, links: Links) -> Router {
    Router::new()
        .route(
            &format!("{}{{token}}", crate::lists::UNSUBSCRIBE_PATH),
            get(page).post(post),
        )
        .with_state(Arc::new(Lists { accounts, links }))
}

/// The page a GET shows: what the button does.
async fn page(State(lists): State<Arc<Lists>>, Path(token): Path<String>) -> impl IntoResponse {
    let Some((list, member)) = lists.links.verify(&token) else {
        return html(StatusCode::NOT_FOUND, "This unsubscribe link is not valid.");
    };
    let body = format!(
        "<p>Stop the mail of <b>{}</b> to <b>{}</b>?</p>\n\
         <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" \
         value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>",
        escape(&list),
        escape(&member)
    );
    html(StatusCode::OK, &body)
}

/// A POST: the member leaves the list.
async fn post(
    State(lists): State<Arc<Lists>>,
    Path(token): Path<String>,
    body: String,
) -> impl IntoResponse {
    let Some((list, member)) = lists.links.verify(&token) else {
        tracing::info!("one-click unsubscribe refused: bad token");
        return html(StatusCode::NOT_FOUND, "This unsubscribe link is not valid.");
    };
    if !body.is_empty() && !body.contains("One-Click") {
        tracing::info!(%list, %member, "one-click unsubscribe refused: not a one-click POST");
        return html(
            StatusCode::BAD_REQUEST,
            "The request does not say List-Unsubscribe=One-Click.",
        );
    }
    match lists
        .accounts
        .unsubscribe(&list, &member, Some(Role::Member))
        .await
    {
        Ok(removed) => {
            tracing::info!(%list, %member, removed, "list member unsubscribed by one-click link");
            let text = format!(
                "{} no longer receives the mail of {}.",
                escape(&member),
                escape(&list)
            );
            html(StatusCode::OK, &text)
        }
        Err(e) => {
            tracing::warn!(%list, %member, error = %e, "one-click unsubscribe failed");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                "The list cannot be changed now; try again later.",
            )
        }
    }
}

fn html(
    status: StatusCode,
    body: &str,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Unsubscribe</title>\
             </head><body>\n{body}\n</body></html>\n"
        ),
    )
}
