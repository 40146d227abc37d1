//! What global admins set for a domain: its quota, its limits, its alias domains.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::forms::{answer, domain_post, size_of};
use crate::accounts::{AccountsError, human_size};
use crate::http::console::Console;
use crate::http::text::form_value;

pub(super) async fn set_domain_quota(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Quota").await
    {
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

/// A domain limit as typed: a count, `none` or empty for no limit (0), `-1` for none allowed.
fn count_of(lang: crate::http::console_i18n::Lang, typed: &str) -> Result<i64, String> {
    match typed.trim() {
        "" | "none" => Ok(0),
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= -1)
            .ok_or_else(|| lang.f("{} is not a count: use e.g. 50, none or -1.", &[n])),
    }
}

/// A global admin sets how many mailboxes and aliases the domain may have and the largest
/// quota of one mailbox (PostfixAdmin's domain limits).
pub(super) async fn set_limits(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) = match domain_post(&c, peer, &headers, &domain, &form, "Limits").await
    {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let lang = frame.lang;
    let field = |name| form_value(&form, name).unwrap_or_default();
    let typed = (
        count_of(lang, &field("mailboxes")),
        count_of(lang, &field("aliases")),
        size_of(lang, &field("maxquota")),
    );
    let done = match typed {
        _ if !admin.global => Err(lang
            .t("Only a global administrator sets a domain's limits.")
            .to_owned()),
        (Ok(mailboxes), Ok(aliases), Ok(bytes)) => {
            let mb = i64::try_from(bytes.div_ceil(1 << 20)).unwrap_or(i64::MAX);
            let accounts = &c.sources.accounts;
            accounts
                .set_domain_limits(&domain, Some(mailboxes), Some(aliases), Some(mb))
                .await
                .map(|(d, l)| {
                    let quota = match l.max_quota_mb {
                        q if q <= 0 => "none".to_owned(),
                        q => human_size(u64::try_from(q).unwrap_or(0) << 20),
                    };
                    let (m, a) = (l.mailboxes.to_string(), l.aliases.to_string());
                    lang.f(
                        "Limits of {}: {} mailboxes, {} aliases, {} per mailbox.",
                        &[&d, &m, &a, &quota],
                    )
                })
                .map_err(|e| e.to_string())
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "domain limits set",
    )
    .await
}

/// A global admin makes another domain an alias of this one (user@alias is user@domain).
pub(super) async fn add_alias_domain(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Alias domains").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let alias = form_value(&form, "alias").unwrap_or_default();
    let done = if admin.global {
        c.sources
            .accounts
            .add_alias_domain(&alias, &domain)
            .await
            .map(|(a, t)| lang.f("{} is now an alias domain of {}.", &[&a, &t]))
            .map_err(|e| e.to_string())
    } else {
        Err(lang
            .t("Only a global administrator adds alias domains.")
            .to_owned())
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "alias domain added",
    )
    .await
}

/// A global admin removes one of the domain's alias domains.
pub(super) async fn remove_alias_domain(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: String,
) -> Response {
    let (admin, frame, from) =
        match domain_post(&c, peer, &headers, &domain, &form, "Alias domains").await {
            Ok(ok) => ok,
            Err(refused) => return *refused,
        };
    let lang = frame.lang;
    let alias = form_value(&form, "alias").unwrap_or_default();
    let accounts = &c.sources.accounts;
    let done = if !admin.global {
        Err(lang
            .t("Only a global administrator removes alias domains.")
            .to_owned())
    } else {
        match accounts.remove_alias_domain(&alias, Some(&domain)).await {
            Ok(a) => Ok(lang.f("Alias domain {} removed.", &[&a])),
            Err(AccountsError::UnknownAliasDomain(_)) => {
                Err(lang.f("{} is not an alias domain of {}.", &[&alias, &domain]))
            }
            Err(e) => Err(e.to_string()),
        }
    };
    answer(
        &c,
        frame,
        (&admin, &from, &domain),
        done,
        "alias domain removed",
    )
    .await
}
