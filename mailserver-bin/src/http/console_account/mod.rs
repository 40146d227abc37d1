//! A mail user's own page in the console (`page`): what their mailbox holds against its
//! quota, their password (`password`), where their mail is forwarded (`forward`), their app
//! passwords (`app_passwords`), their out-of-office reply and spam threshold (`away`).

mod app_passwords;
mod away;
mod forward;
mod page;
mod password;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::console::Console;

/// The user pages' routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/account/", get(page::account_page))
        .route("/console/account/password", post(password::change_password))
        .route("/console/account/forward", post(forward::set_forward))
        .route("/console/account/app-passwords", post(app_passwords::add))
        .route(
            "/console/account/app-passwords/remove",
            post(app_passwords::remove),
        )
        .route("/console/account/away", post(away::set_away))
        .route("/console/account/spam", post(away::set_spam_score))
        .with_state(console)
}
