//! What every form of a domain's page shares: the admin of a POST, the answer, the checks of
//! what was typed.

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::{info, warn};

use crate::accounts::{Admin, parse_size};
use crate::http::console::{Console, Frame, Message, from_where, html};
use crate::http::console_i18n::Lang;

/// A POST about `domain` by one of its admins: the admin, the answer's frame and where the
/// request came from; `Err`: the refusal to send.
pub(super) async fn domain_post(
    c: &Console,
    peer: SocketAddr,
    headers: &HeaderMap,
    domain: &str,
    form: &str,
    title: &str,
) -> Result<(Admin, Frame, String), Box<Response>> {
    let from = from_where(peer, headers);
    let (admin, csrf) = c.admin_posted(headers, form, &from).await?;
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
pub(super) async fn answer(
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
pub(super) fn in_domain(lang: Lang, address: &str, domain: &str) -> Result<String, String> {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, d)) if !local.is_empty() && d.eq_ignore_ascii_case(domain) => Ok(address),
        _ => Err(lang.f("{} is not an address of {}.", &[&address, domain])),
    }
}

/// `password` hashed ([`crate::http::passwords::new_hash`]), or why not in `lang`.
pub(super) async fn hashed(c: &Console, lang: Lang, password: String) -> Result<String, String> {
    let scheme = c.sources.config.get().accounts.password_scheme;
    crate::http::passwords::new_hash(scheme, password)
        .await
        .map_err(|e| lang.t(e).to_owned())
}

/// A size as typed, or why not.
pub(super) fn size_of(lang: Lang, typed: &str) -> Result<u64, String> {
    parse_size(typed)
        .ok_or_else(|| lang.f("{} is not a size: use e.g. 500M, 2G or none.", &[typed]))
}
