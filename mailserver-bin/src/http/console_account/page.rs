//! The user's page itself: what it shows, and what every form of it shares (the user of a
//! POST, the page drawn again with the answer).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mailwright_maildir::SieveScripts;

use crate::accounts::AppPassword;
use crate::http::console::{Console, Frame, Who, framed, html, redirect};
use crate::http::console_i18n::Lang;
use crate::sieve::away::OutOfOffice;

#[derive(Template)]
#[template(path = "console/account.html")]
pub(super) struct AccountPage {
    frame: Frame,
    usage: String,
    /// Where the mail is forwarded, comma-separated.
    forward: String,
    keep: bool,
    app_passwords: Vec<AppPassword>,
    /// An app password just made, shown this once.
    pub(super) new_app_password: Option<String>,
    away: OutOfOffice,
    /// Whether SpamAssassin scores incoming mail (`[filters] spamd`): the spam form is shown.
    spam_checked: bool,
    /// The user's own spam threshold ("" for the server's), and the server's.
    spam_score: String,
    spam_default: String,
}

framed!(AccountPage);

/// A user's page, in `frame`, with what their mailbox holds, where it forwards, their app
/// passwords, their out-of-office reply and spam threshold.
pub(super) async fn page(c: &Console, frame: Frame, user: &str) -> AccountPage {
    let usage = usage(c, frame.lang, user).await;
    let accounts = &c.sources.accounts;
    let (targets, keep) = accounts
        .forwarding(user)
        .await
        .unwrap_or((Vec::new(), true));
    let config = c.sources.config.get();
    let away = current_away(c, user).await.unwrap_or_default();
    let spam_score = accounts
        .spam_junk_score(user)
        .await
        .ok()
        .flatten()
        .map_or(String::new(), |s| format!("{s:.1}"));
    AccountPage {
        frame,
        usage,
        forward: targets.join(", "),
        keep,
        app_passwords: accounts.app_passwords(user).await.unwrap_or_default(),
        new_app_password: None,
        away,
        spam_checked: !config.filters.spamd.is_empty(),
        spam_score,
        spam_default: format!("{:.1}", config.filters.spam_junk_score),
    }
}

/// A user's own page: their usage and the password form.
pub(super) async fn account_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let (user, csrf) = match c.session(&headers).await {
        Some((Who::User(user), csrf)) => (user, csrf),
        Some((Who::Admin(_), _)) => return redirect("/console/"),
        None => return redirect("/console/login"),
    };
    let frame = c.frame(&headers, "Your account", Some((&user, &csrf)));
    html(StatusCode::OK, &page(&c, frame, &user).await)
}

/// A mail user's POST with its CSRF token: the user and the answer's frame; `Err`: the
/// refusal, or an admin sent to their own pages.
pub(super) async fn user_posted(
    c: &Console,
    headers: &HeaderMap,
    form: &str,
    from: &str,
) -> Result<(String, Frame), Box<Response>> {
    match c.posted(headers, form, from).await? {
        (Who::User(user), csrf) => {
            let frame = c.frame(headers, "Your account", Some((&user, &csrf)));
            Ok((user, frame))
        }
        (Who::Admin(_), _) => Err(Box::new(redirect("/console/"))),
    }
}

/// What `user`'s mailbox holds, against its quota, in words.
async fn usage(c: &Console, lang: Lang, user: &str) -> String {
    let config = c.sources.config.get();
    let mailbox = match c.sources.accounts.mailbox(user).await {
        Ok(Some(m)) => m,
        _ => return lang.t("Usage unknown.").into(),
    };
    let account = crate::delivery::QuotaAccount::of(&config, &mailbox);
    let limits = account.limits;
    let counted = tokio::task::spawn_blocking(move || account.maildir.quota_usage(limits))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let used = u64::try_from(counted.bytes).unwrap_or(0);
    let messages = counted.messages.to_string();
    match limits.bytes {
        0 => lang.f("{} messages, {} (no quota).", &[&messages, &mb(used)]),
        q => lang.f(
            "{} messages, {} of {} ({}%).",
            &[&messages, &mb(used), &mb(q), &(used * 100 / q).to_string()],
        ),
    }
}

/// The scripts of `user`'s mailbox, when it has one.
pub(super) async fn scripts(c: &Console, user: &str) -> Option<SieveScripts> {
    let mailbox = c.sources.accounts.mailbox(user).await.ok()??;
    Some(SieveScripts::new(&mailbox.maildir))
}

/// `user`'s out-of-office reply as last saved.
async fn current_away(c: &Console, user: &str) -> Option<OutOfOffice> {
    let scripts = scripts(c, user).await?;
    tokio::task::spawn_blocking(move || OutOfOffice::current(&scripts).ok())
        .await
        .ok()
        .flatten()
}

/// Whether `current` is `user`'s own password (as the console checks it before a change); a
/// wrong one counts toward the ban like a failed login, waits, and comes back as `frame` with
/// the error.
pub(super) async fn current_password(
    c: &Console,
    peer: std::net::SocketAddr,
    user: &str,
    current: String,
    mut frame: Frame,
) -> Result<Frame, Box<Frame>> {
    let scheme = c.sources.config.get().accounts.default_password_scheme;
    let accounts = &c.sources.accounts;
    if matches!(
        accounts.authenticate_primary(user, current, scheme).await,
        Ok(true)
    ) {
        return Ok(frame);
    }
    let wait = c.guard.failed(peer.ip(), "console", user);
    tokio::time::sleep(wait).await;
    frame.error = Some(frame.lang.t("The current password is wrong.").into());
    Err(Box::new(frame))
}
