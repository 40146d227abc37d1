//! A domain's page and its DNS page.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::info;

use crate::accounts::{AccountsError, human_size};
use crate::http::console::{Console, Frame, Message, framed, from_where, html, redirect, yes_no};

/// A mailbox as its domain's page lists it.
struct MailboxRow {
    address: String,
    /// Whether it is active, and that in words.
    active: bool,
    active_word: &'static str,
    quota: String,
    /// Its own POP3 policy, or `default`.
    pop3: String,
}

#[derive(Template)]
#[template(path = "console/domain.html")]
struct DomainPage {
    frame: Frame,
    domain: String,
    mailboxes: Vec<MailboxRow>,
    aliases: Vec<(String, String)>,
    global: bool,
    domain_quota: String,
    /// PostfixAdmin's limits as the form shows them: mailboxes, aliases, largest quota.
    limits: (String, String, String),
    /// The domains that are aliases of this one.
    alias_domains: Vec<String>,
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

/// The page, for an admin of the domain; others are told it is not theirs (404: whether it
/// exists is not said).
pub(super) async fn domain_page(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    let (admin, csrf) = match c.admin_session(&headers).await {
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
        let policies = accounts.pop3_policies().await?;
        let domain_quota = accounts
            .list_domains()
            .await?
            .into_iter()
            .find(|d| d.name.eq_ignore_ascii_case(&domain))
            .map_or(0, |d| d.quota);
        let limits = accounts.domain_limits(&domain).await?;
        let alias_domains = accounts
            .list_alias_domains()
            .await?
            .into_iter()
            .filter(|(_, target, _)| target.eq_ignore_ascii_case(&domain))
            .map(|(alias, _, _)| alias)
            .collect();
        let mailboxes = users
            .into_iter()
            .map(|(address, _, active)| MailboxRow {
                quota: size(quotas.get(&address).copied().unwrap_or(0)),
                pop3: policies
                    .get(&address)
                    .cloned()
                    .unwrap_or_else(|| "default".into()),
                address,
                active,
                active_word: yes_no(active),
            })
            .collect();
        let max_quota = u64::try_from(limits.max_quota_mb).unwrap_or(0) << 20;
        let limits = (
            limits.mailboxes.to_string(),
            limits.aliases.to_string(),
            size(max_quota),
        );
        Ok::<_, AccountsError>((mailboxes, aliases, domain_quota, limits, alias_domains))
    };
    match listed.await {
        Ok((mailboxes, aliases, domain_quota, limits, alias_domains)) => {
            let page = DomainPage {
                frame,
                domain,
                mailboxes,
                aliases,
                global: admin.global,
                domain_quota: size(domain_quota),
                limits,
                alias_domains,
            };
            html(StatusCode::OK, &page)
        }
        Err(e) => {
            frame.error = Some(e.to_string());
            html(StatusCode::NOT_FOUND, &Message { frame })
        }
    }
}

/// A size for a form: `none` for no limit.
fn size(octets: u64) -> String {
    match octets {
        0 => "none".to_owned(),
        q => human_size(q),
    }
}

/// The records the domain should publish (`mailserver dns`), and what it publishes now
/// compared with them (`mailserver status`).
pub(super) async fn dns_page(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    let (admin, csrf) = match c.admin_session(&headers).await {
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
