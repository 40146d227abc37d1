//! The console's server pages, for global administrators: the outbound queue (it holds every
//! domain's mail), each message with its state and last answer and the CLI's actions on it
//! (retry, hold, release, remove, try everything now) through the same `queue::admin` layer,
//! on the spool directly as `mailserver queue` works; and the bans (`guard::bans`), listed and
//! lifted in the file the daemon reads again within a second, as `mailserver ban` does.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::info;

use super::console::{Console, Frame, Message, framed, from_where, html};
use super::text::form_value;
use crate::guard::bans;
use crate::queue::admin;
use crate::queue::spool::Spool;

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    frame: Frame,
    columns: [&'static str; 9],
    rows: Vec<Vec<String>>,
}

framed!(QueuePage);

#[derive(Template)]
#[template(path = "console/bans.html")]
struct BansPage {
    frame: Frame,
    bans: Vec<(String, u64, String)>,
}

framed!(BansPage);

/// The queue's and the bans' routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/queue", get(queue_page))
        .route("/console/queue/{action}", post(act))
        .route("/console/bans", get(bans_page))
        .route("/console/bans/lift", post(lift))
        .with_state(console)
}

async fn bans_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (_, mut frame) = match c.global_page(&headers, "Bans", BANS_REFUSAL).await {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let file = bans::path(&c.sources.config.get().data_dir);
    let now = bans::now();
    let bans = match tokio::task::spawn_blocking(move || bans::read(&file)).await {
        Ok(Ok(list)) => list
            .into_iter()
            .filter(|b| b.until > now)
            .map(|b| (b.net.to_string(), (b.until - now).div_ceil(60), b.reason))
            .collect(),
        _ => {
            frame.error = Some(frame.lang.t("The ban list could not be read.").into());
            Vec::new()
        }
    };
    html(StatusCode::OK, &BansPage { frame, bans })
}

async fn lift(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (admin, mut frame) = match c
        .global_posted(&headers, &form, &from, "Bans", BANS_REFUSAL)
        .await
    {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let network = form_value(&form, "network").unwrap_or_default();
    let Ok(net) = network.parse::<ipnet::IpNet>() else {
        frame.error = Some(frame.lang.f("{} is not a network.", &[&network]));
        return html(StatusCode::BAD_REQUEST, &Message { frame });
    };
    let dir = c.sources.config.get().data_dir.clone();
    match tokio::task::spawn_blocking(move || bans::lift(&dir, net)).await {
        Ok(Ok(lifted)) if !lifted.is_empty() => {
            let done = format!("ban on {net} lifted");
            let accounts = &c.sources.accounts;
            accounts
                .audit(&admin.username, &from, "", "ban lifted", &done)
                .await;
            frame.notice = Some(
                frame
                    .lang
                    .f("The ban on {} is lifted.", &[&net.to_string()]),
            );
            html(StatusCode::OK, &Message { frame })
        }
        Ok(Ok(_)) => {
            frame.error = Some(frame.lang.f("{} is not banned.", &[&net.to_string()]));
            html(StatusCode::BAD_REQUEST, &Message { frame })
        }
        _ => {
            frame.error = Some(frame.lang.t("The ban list could not be changed.").into());
            html(StatusCode::INTERNAL_SERVER_ERROR, &Message { frame })
        }
    }
}

const QUEUE_REFUSAL: &str = "The queue is for global administrators.";
const BANS_REFUSAL: &str = "The bans are for global administrators.";

fn spool(c: &Console) -> Spool {
    Spool::at(&c.sources.config.get().queue_dir())
}

async fn queue_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (_, mut frame) = match c.global_page(&headers, "Queue", QUEUE_REFUSAL).await {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let spool = spool(&c);
    let rows = match tokio::task::spawn_blocking(move || admin::rows(&spool)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            frame.error = Some(
                frame
                    .lang
                    .f("The queue could not be read: {}", &[&e.to_string()]),
            );
            Vec::new()
        }
        Err(_) => Vec::new(),
    };
    let page = QueuePage {
        frame,
        columns: admin::COLUMNS,
        rows,
    };
    html(StatusCode::OK, &page)
}

async fn act(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(action): Path<String>,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (admin, mut frame) = match c
        .global_posted(&headers, &form, &from, "Queue", QUEUE_REFUSAL)
        .await
    {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let id = form_value(&form, "id").unwrap_or_default();
    let spool = spool(&c);
    let which = action.clone();
    let lang = frame.lang;
    let done = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let text = match admin::Action::named(&which) {
            Some(admin::Action::Retry) => "{} will be tried now.",
            Some(admin::Action::Hold) => "{} is on hold.",
            Some(admin::Action::Release) => "{} released.",
            Some(admin::Action::Remove) => "{} removed.",
            None if which == "flush" => {
                return admin::flush(&spool)
                    .map(|n| lang.f("{} messages to be tried now.", &[&n.to_string()]))
                    .map_err(|e| e.to_string());
            }
            None => return Err(lang.f("There is no queue action {}.", &[&which])),
        };
        let result = admin::Action::named(&which)
            .map_or(Ok(()), |action| action.apply(&spool, &id))
            .map(|()| lang.f(text, &[&id]));
        result.map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err(lang.t("The queue action failed.").into()));
    match done {
        Ok(text) => {
            let what = format!("queue {action}");
            let accounts = &c.sources.accounts;
            accounts
                .audit(&admin.username, &from, "", &what, &text)
                .await;
            frame.notice = Some(text);
            html(StatusCode::OK, &Message { frame })
        }
        Err(e) => {
            info!(admin = %admin.username, from = %from, %action, error = %e, "console: refused");
            frame.error = Some(e);
            html(StatusCode::BAD_REQUEST, &Message { frame })
        }
    }
}
