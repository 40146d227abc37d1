//! The console's first page for administrators: the domains they manage with their mailboxes
//! and how full they are, and for global admins the queue, the bans and what was turned
//! away since the start; adding a domain.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::{info, warn};

use super::console::{Console, Frame, Message, framed, from_where, html, redirect, yes_no};
use super::text::form_value;
use crate::accounts::human_size;
use crate::guard::bans;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Dashboard {
    frame: Frame,
    domains: Vec<DomainLine>,
    global: bool,
    /// For global admins: the queue, the bans in force, the refusals since the start.
    server: Option<ServerLine>,
}

framed!(Dashboard);

struct DomainLine {
    name: String,
    mailboxes: usize,
    quota: String,
    /// What its mailboxes hold together, in words, and against the quota (percent, for the
    /// meter) when there is one.
    used: String,
    percent: Option<u64>,
    active: &'static str,
}

struct ServerLine {
    queued: usize,
    /// Minutes the oldest queued message has waited.
    oldest_minutes: u64,
    bans: usize,
    refusals: crate::metrics::Refusals,
}

/// The dashboard's routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/", get(dashboard))
        .route("/console/domains", post(add_domain))
        .with_state(console)
}

async fn dashboard(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (admin, csrf) = match c.admin_session(&headers).await {
        Ok(s) => s,
        Err(elsewhere) => return redirect(elsewhere),
    };
    let accounts = &c.sources.accounts;
    let listed = async {
        let mut lines = Vec::new();
        for d in accounts.list_domains().await? {
            if !admin.manages(&d.name) {
                continue;
            }
            let mailboxes = accounts.list_users(Some(&d.name)).await?.len();
            let used = accounts.domain_usage(&d.name).await?;
            lines.push(DomainLine {
                quota: match d.quota {
                    0 => "none".to_owned(),
                    q => human_size(q),
                },
                used: human_size(used),
                percent: (d.quota > 0).then(|| (used * 100 / d.quota).min(100)),
                active: yes_no(d.active),
                mailboxes,
                name: d.name,
            });
        }
        Ok::<_, crate::accounts::AccountsError>(lines)
    };
    let mut frame = c.frame(&headers, "Domains", Some((&admin.username, &csrf)));
    let domains = listed.await.unwrap_or_else(|e| {
        warn!(error = %e, "console: listing domains failed");
        frame.error = Some(frame.lang.t("The accounts database did not answer.").into());
        Vec::new()
    });
    let server = match admin.global {
        true => Some(server_line(&c).await),
        false => None,
    };
    let page = Dashboard {
        frame,
        domains,
        global: admin.global,
        server,
    };
    html(StatusCode::OK, &page)
}

/// The queue, the bans in force and the refusals since the start.
async fn server_line(c: &Console) -> ServerLine {
    let (queued, oldest) = c.sources.queue.summary();
    let file = bans::path(&c.sources.config.get().data_dir);
    let now = bans::now();
    let bans = tokio::task::spawn_blocking(move || bans::read(&file))
        .await
        .ok()
        .and_then(Result::ok)
        .map_or(0, |list| list.iter().filter(|b| b.until > now).count());
    ServerLine {
        queued,
        oldest_minutes: oldest / 60,
        bans,
        refusals: crate::metrics::get().refusals(),
    }
}

async fn add_domain(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let refusal = "Only a global administrator adds domains.";
    let (admin, mut frame) = match c
        .global_posted(&headers, &form, &from, "Add a domain", refusal)
        .await
    {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let wanted = form_value(&form, "domain").unwrap_or_default();
    match c.sources.accounts.add_domain(&wanted, false).await {
        Ok(domain) => {
            let done = format!("domain {domain} added");
            let accounts = &c.sources.accounts;
            accounts
                .audit(&admin.username, &from, &domain, "domain added", &done)
                .await;
            frame.notice = Some(frame.lang.f("Domain {} added.", &[&domain]));
            html(StatusCode::OK, &Message { frame })
        }
        Err(e) => {
            info!(admin = %admin.username, from = %from, domain = %wanted, error = %e, "console: domain not added");
            frame.error = Some(e.to_string());
            html(StatusCode::BAD_REQUEST, &Message { frame })
        }
    }
}
