//! The console's page of one domain, for its administrators: its mailboxes (add, enable or
//! disable, set a new password) and aliases (add, remove; a catch-all too). Every action
//! checks that the admin manages the domain and that the address it names is in it, and is
//! logged under target `audit`.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::{info, warn};

use super::console::{Console, Frame, Message, framed, from_where, html, redirect, yes_no};
use super::console_i18n::Lang;
use super::text::form_value;
use crate::accounts::{AccountsError, Admin, human_size, parse_size};

#[derive(Template)]
#[template(path = "console/domain.html")]
struct DomainPage {
    frame: Frame,
    domain: String,
    /// Address, active (as words and as a flag), quota.
    mailboxes: Vec<(String, &'static str, bool, String)>,
    aliases: Vec<(String, String)>,
    global: bool,
    domain_quota: String,
}

framed!(DomainPage);

#[derive(Template)]
#[template(path = "console/dns.html")]
struct DnsPage {
    frame: Frame,
    domain: String,
    records: String,
    findings: Vec<(bool, String)>,
}

framed!(DnsPage);

/// The routes of a domain's page and its forms.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console/domains/{domain}", get(domain_page))
        .route("/console/domains/{domain}/dns", get(dns_page))
        .route("/console/domains/{domain}/mailboxes", post(add_mailbox))
        .route(
            "/console/domains/{domain}/mailboxes/active",
            post(set_active),
        )
        .route("/console/domains/{domain}/mailboxes/quota", post(set_quota))
        .route("/console/domains/{domain}/quota", post(set_domain_quota))
        .route(
            "/console/domains/{domain}/mailboxes/password",
            post(set_password),
        )
        .route("/console/domains/{domain}/aliases", post(add_alias))
        .route(
            "/console/domains/{domain}/aliases/remove",
            post(remove_alias),
        )
        .with_state(console)
}

/// The page, for an admin of the domain; others are told it is not theirs (404: whether it
/// exists is not said).
async fn domain_page(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    let (admin, csrf) = match c.admin_session(&headers) {
        Ok(s) => s,
        Err(elsewhere) => return redirect(elsewhere),
    };
    let mut frame = c.frame(&headers, &domain, Some((&admin.username, &csrf)));
    if !admin.manages(&domain) {
        info!(admin = %admin.username, from = %from_where(peer, &headers), %domain, "console: not an admin of this domain");
        frame.error = Some(frame.lang.t("No such domain among yours.").into());
        return html(StatusCode::NOT_FOUND, &Message { frame });
    }
    let accounts = &c.sources.accounts;
    let listed = async {
        let users = accounts.list_users(Some(&domain)).await?;
        let aliases = accounts.list_aliases(Some(&domain)).await?;
        let quotas = accounts.quotas().await?;
        let domain_quota = accounts
            .list_domains()
            .await?
            .into_iter()
            .find(|d| d.name.eq_ignore_ascii_case(&domain))
            .map_or(0, |d| d.quota);
        Ok::<_, AccountsError>((users, aliases, quotas, domain_quota))
    };
    let size = |q: u64| {
        if q == 0 {
            "none".to_owned()
        } else {
            human_size(q)
        }
    };
    match listed.await {
        Ok((users, aliases, quotas, domain_quota)) => {
            let mailboxes = users
                .into_iter()
                .map(|(address, _, active)| {
                    let quota = size(quotas.get(&address).copied().unwrap_or(0));
                    (address, yes_no(active), active, quota)
                })
                .collect();
            html(
                StatusCode::OK,
                &DomainPage {
                    frame,
                    domain,
                    mailboxes,
                    aliases,
                    global: admin.global,
                    domain_quota: size(domain_quota),
                },
            )
        }
        Err(e) => {
            frame.error = Some(e.to_string());
            html(StatusCode::NOT_FOUND, &Message { frame })
        }
    }
}

/// The records the domain should publish (`mailserver dns`), and what it publishes now
/// compared with them (`mailserver status`).
async fn dns_page(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    let (admin, csrf) = match c.admin_session(&headers) {
        Ok(s) => s,
        Err(elsewhere) => return redirect(elsewhere),
    };
    let mut frame = c.frame(&headers, "", Some((&admin.username, &csrf)));
    frame.title = frame.lang.f("DNS of {}", &[&domain]);
    let ours = matches!(c.sources.accounts.is_local_domain(&domain).await, Ok(true));
    if !admin.manages(&domain) || !ours {
        info!(admin = %admin.username, from = %from_where(peer, &headers), %domain, "console: not an admin of this domain");
        frame.error = Some(frame.lang.t("No such domain among yours.").into());
        return html(StatusCode::NOT_FOUND, &Message { frame });
    }
    let config = c.sources.config.get();
    let (made_for, name) = (Arc::clone(&config), domain.clone());
    let records = tokio::task::spawn_blocking(move || crate::dns::records(&made_for, &name))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            frame.error = Some(frame.lang.f("The records could not be made: {}", &[&e]));
            String::new()
        }
    };
    let lang = frame.lang;
    let findings = match crate::resolver::resolver(&config.relay) {
        Ok(resolver) => crate::dns::check_domain(&resolver, &config, &domain).await,
        Err(e) => vec![(true, lang.f("No DNS resolver to check with: {}", &[&e]))],
    };
    let page = DnsPage {
        frame,
        domain,
        records,
        findings,
    };
    html(StatusCode::OK, &page)
}

/// A POST about `domain` by one of its admins: the admin, the answer's frame and where the
/// request came from; `Err`: the refusal to send.
fn domain_post(
    c: &Console,
    peer: SocketAddr,
    headers: &HeaderMap,
    domain: &str,
    form: &str,
    title: &str,
) -> Result<(Admin, Frame, String), Box<Response>> {
    let from = from_where(peer, headers);
    let (admin, csrf) = c.admin_posted(headers, form, &from)?;
    let mut frame = c.frame(headers, title, Some((&admin.username, &csrf)));
    if !admin.manages(domain) {
        warn!(admin = %admin.username, from = %from, %domain, what = title, "console: refused, not an admin of the domain");
        frame.error = Some(frame.lang.t("No such domain among yours.").into());
        return Err(Box::new(html(StatusCode::NOT_FOUND, &Message { frame })));
    }
    Ok((admin, frame, from))
}

/// The answer to an action on `domain`: `done` says what was done (recorded in the log of
/// changes), or why not.
async fn answer(
    c: &Console,
    mut frame: Frame,
    (admin, from, domain): (&Admin, &str, &str),
    done: Result<String, String>,
    what: &str,
) -> Response {
    match done {
        Ok(text) => {
            c.sources
                .accounts
                .audit(&admin.username, from, domain, what, &text)
                .await;
            frame.notice = Some(text);
            html(StatusCode::OK, &Message { frame })
        }
        Err(e) => {
            info!(admin = %admin.username, from = %from, what, error = %e, "console: refused");
            frame.error = Some(e);
            html(StatusCode::BAD_REQUEST, &Message { frame })
        }
    }
}

/// `address` when it is in `domain`.
fn in_domain(lang: Lang, address: &str, domain: &str) -> Result<String, String> {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, d)) if !local.is_empty() && d.eq_ignore_ascii_case(domain) => Ok(address),
        _ => Err(lang.f("{} is not an address of {}.", &[&address, domain])),
    }
}

/// `password` hashed ([`super::passwords::new_hash`]), or why not in `lang`.
async fn hashed(c: &Console, lang: Lang, password: String) -> Result<String, String> {
    let scheme = c.sources.config.get().accounts.password_scheme;
    super::passwords::new_hash(scheme, password)
        .await
        .map_err(|e| lang.t(e).to_owned())
}

async fn add_mailbox(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Add a mailbox") {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let local = form_value(&form, "local").unwrap_or_default();
    let address = format!("{}@{domain}", local.trim());
    let done = match hashed(&c, lang, form_value(&form, "password").unwrap_or_default()).await {
        Ok(hash) => c
            .sources
            .accounts
            .add_user(&address, &hash)
            .await
            .map(|a| lang.f("Mailbox {} added.", &[&a]))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    answer(&c, frame, (&admin, &from, &domain), done, "mailbox added").await
}

async fn set_active(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Mailbox") {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    let active = form_value(&form, "active").as_deref() == Some("1");
    let done = match in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    ) {
        Ok(address) => c
            .sources
            .accounts
            .set_user_active(&address, active)
            .await
            .map(|a| {
                let text = if active {
                    "Mailbox {} enabled."
                } else {
                    "Mailbox {} disabled."
                };
                lang.f(text, &[&a])
            })
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox active set",
    )
    .await
}

async fn set_password(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Mailbox") {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    let address = in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    );
    let hash = hashed(&c, lang, form_value(&form, "password").unwrap_or_default()).await;
    let done = match (address, hash) {
        (Ok(address), Ok(hash)) => c
            .sources
            .accounts
            .set_password(&address, &hash)
            .await
            .map(|a| lang.f("New password set for {}.", &[&a]))
            .map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox password set",
    )
    .await
}

async fn add_alias(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Add an alias")
    {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    // An empty local part is the domain's catch-all.
    let source = format!(
        "{}@{domain}",
        form_value(&form, "local").unwrap_or_default().trim()
    );
    let targets: Vec<String> = form_value(&form, "targets")
        .unwrap_or_default()
        .split([',', ' ', '\n', '\r'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let done = if targets.is_empty() {
        Err(lang
            .t("Give at least one address to forward to.")
            .to_owned())
    } else {
        c.sources
            .accounts
            .add_alias(&source, &targets)
            .await
            .map(|(source, _)| lang.f("Alias {} → {} added.", &[&source, &targets.join(", ")]))
            .map_err(|e| e.to_string())
    };
    answer(&c, frame, (&admin, &from, &domain), done, "alias added").await
}

async fn remove_alias(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Remove an alias") {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let source = form_value(&form, "source").unwrap_or_default();
    let in_it = source
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&domain));
    let done = if in_it {
        // Only the forwarding goes: a mailbox's own address stays among its targets.
        let accounts = &c.sources.accounts;
        let removed = async {
            let aliases = accounts.list_aliases(Some(&domain)).await?;
            let Some((_, goto)) = aliases
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(&source))
            else {
                return Err(AccountsError::UnknownAlias(source.clone()));
            };
            let targets: Vec<String> = goto
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case(&source))
                .map(str::to_owned)
                .collect();
            accounts.remove_alias(&source, &targets).await
        };
        removed
            .await
            .map(|s| lang.f("Alias {} removed.", &[&s]))
            .map_err(|e| e.to_string())
    } else {
        Err(lang.f("{} is not an alias of {}.", &[&source, &domain]))
    };
    answer(&c, frame, (&admin, &from, &domain), done, "alias removed").await
}

/// A size as typed, or why not.
fn size_of(lang: Lang, typed: &str) -> Result<u64, String> {
    parse_size(typed)
        .ok_or_else(|| lang.f("{} is not a size: use e.g. 500M, 2G or none.", &[typed]))
}

async fn set_quota(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Quota") {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    let typed = form_value(&form, "quota").unwrap_or_default();
    let address = in_domain(
        lang,
        &form_value(&form, "address").unwrap_or_default(),
        &domain,
    );
    let done = match (address, size_of(lang, &typed)) {
        (Ok(address), Ok(bytes)) => c
            .sources
            .accounts
            .set_quota(&address, bytes)
            .await
            .map(|a| lang.f("Quota of {} set to {}.", &[&a, typed.trim()]))
            .map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "mailbox quota set",
    )
    .await
}

async fn set_domain_quota(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Quota") {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    let typed = form_value(&form, "quota").unwrap_or_default();
    let done = if admin.global {
        match size_of(lang, &typed) {
            Ok(bytes) => c
                .sources
                .accounts
                .set_domain_quota(&domain, bytes)
                .await
                .map(|_| lang.f("Quota of {} set to {}.", &[&domain, typed.trim()]))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        }
    } else {
        Err(lang
            .t("Only a global administrator sets a domain's quota.")
            .to_owned())
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "domain quota set",
    )
    .await
}
