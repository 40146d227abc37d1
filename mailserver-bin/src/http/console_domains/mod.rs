//! The console's page of one domain, for its administrators (`page`): its mailboxes (add,
//! enable or disable, set a new password, a quota or the POP3 policy: `mailboxes`), aliases
//! (add, remove; a catch-all too: `aliases`), and for global admins its quota, limits and
//! alias domains (`settings`). Every action checks that the admin manages the domain and
//! that the address it names is in it (`forms`), and is recorded in the log of changes.

mod aliases;
mod forms;
mod mailboxes;
mod page;
mod settings;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::console::Console;

/// The routes of a domain's page and its forms.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/domains/{domain}", get(page::domain_page))
        .route("/console/domains/{domain}/dns", get(page::dns_page))
        .route(
            "/console/domains/{domain}/mailboxes",
            post(mailboxes::add_mailbox),
        )
        .route(
            "/console/domains/{domain}/mailboxes/active",
            post(mailboxes::set_active),
        )
        .route(
            "/console/domains/{domain}/mailboxes/quota",
            post(mailboxes::set_quota),
        )
        .route(
            "/console/domains/{domain}/quota",
            post(settings::set_domain_quota),
        )
        .route(
            "/console/domains/{domain}/limits",
            post(settings::set_limits),
        )
        .route(
            "/console/domains/{domain}/alias-domains",
            post(settings::add_alias_domain),
        )
        .route(
            "/console/domains/{domain}/alias-domains/remove",
            post(settings::remove_alias_domain),
        )
        .route(
            "/console/domains/{domain}/mailboxes/pop3",
            post(mailboxes::set_pop3_policy),
        )
        .route(
            "/console/domains/{domain}/mailboxes/password",
            post(mailboxes::set_password),
        )
        .route(
            "/console/domains/{domain}/aliases",
            post(aliases::add_alias),
        )
        .route(
            "/console/domains/{domain}/aliases/remove",
            post(aliases::remove_alias),
        )
        .with_state(console)
}
