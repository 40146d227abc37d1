//! The web console at `/console/`: administrators (PostfixAdmin's `admin` and `domain_admins`,
//! see `accounts::Admin`) log in, see the domains they manage, add domains (global admins) and
//! mailboxes; mail users log in with their address to see their usage and change their
//! password. Server-rendered pages (askama templates in `templates/console/`), forms that work
//! without JavaScript.
//!
//! Security: a session is a random 256-bit token in a `Secure; HttpOnly; SameSite=Strict`
//! cookie, kept for [`IDLE`] after its last use (in memory; in the accounts database, as a
//! hash of the token, when nodes share the store, so that each of them knows it); every form carries the session's
//! CSRF token (the login form a token of its own cookie), and a POST without it is refused;
//! pages forbid framing, inline script and style (`Content-Security-Policy`); failed logins
//! count toward the same ban as the mail protocols' (`guard`); every change is logged with
//! who, what and from where (`audit`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::{info, warn};

use super::console_i18n::{LANG_COOKIE, Lang};
use super::text::form_value;
use crate::accounts::Admin;
use crate::guard::Guard;
use crate::health::Sources;

/// How long a session lasts without use.
const IDLE: Duration = Duration::from_secs(2 * 3600);
const SESSION_COOKIE: &str = "mw_session";
const LOGIN_COOKIE: &str = "mw_login";

/// Who a session is for: an administrator, or a mail user managing their own mailbox.
#[derive(Clone)]
pub(super) enum Who {
    Admin(Admin),
    User(String),
}

impl Who {
    fn name(&self) -> &str {
        match self {
            Who::Admin(a) => &a.username,
            Who::User(u) => u,
        }
    }
}

struct Session {
    who: Who,
    csrf: String,
    last: Instant,
}

/// Where the sessions are kept: in this process, or, when nodes share the store
/// (`[storage] shared`), in the accounts database, so that any node behind the console's
/// address knows them.
enum Sessions {
    Memory(Mutex<HashMap<String, Session>>),
    Shared,
}

/// What the handlers share.
pub struct Console {
    pub(super) sources: Arc<Sources>,
    pub(super) guard: Arc<Guard>,
    sessions: Sessions,
}

impl Console {
    pub fn new(sources: Arc<Sources>, guard: Arc<Guard>) -> Arc<Self> {
        let sessions = match sources.config.get().node() {
            Some(_) => Sessions::Shared,
            None => Sessions::Memory(Mutex::new(HashMap::new())),
        };
        Arc::new(Console {
            sources,
            guard,
            sessions,
        })
    }
}

/// What a shared session is stored under: the SHA-256 of its token, as hex.
fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Now, in Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The console's routes but a domain's page (`console_domains`).
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console", get(|| async { redirect("/console/") }))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/lang/{lang}", get(choose_language))
        .route("/console/style.css", get(style))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(console)
}

/// 32 random octets as hex.
fn token() -> String {
    let mut bytes = [0u8; 32];
    if let Err(e) = crate::password::random_bytes(&mut bytes) {
        // Without randomness no session may be made: a fixed token would be guessable.
        warn!(error = %e, "console: no randomness for a session token");
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
}

fn set_cookie(name: &str, value: &str, max_age: u64) -> String {
    format!("{name}={value}; Path=/console; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict")
}

/// The headers every console answer carries.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

pub(super) fn redirect(to: &'static str) -> Response {
    secured((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response())
}

pub(super) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => secured(
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response(),
        ),
        Err(e) => {
            warn!(error = %e, "console: a page could not be rendered");
            secured((StatusCode::INTERNAL_SERVER_ERROR, "Internal error\n").into_response())
        }
    }
}

impl Frame {
    /// `text` in the page's language (for the templates).
    pub(super) fn t<'a>(&self, text: &'a str) -> &'a str {
        self.lang.t(text)
    }
}

/// What every page shows around its content.
pub(super) struct Frame {
    pub(super) lang: Lang,
    pub(super) title: String,
    pub(super) hostname: String,
    pub(super) user: Option<String>,
    pub(super) csrf: String,
    pub(super) notice: Option<String>,
    pub(super) error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    frame: Frame,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub(super) struct Message {
    pub(super) frame: Frame,
}

// The templates reach the frame's fields by these names.
macro_rules! framed {
    ($($page:ty),*) => {$(
        impl std::ops::Deref for $page {
            type Target = $crate::http::console::Frame;
            fn deref(&self) -> &Self::Target {
                &self.frame
            }
        }
    )*};
}
pub(super) use framed;
framed!(LoginPage, Message);

pub(super) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Who made a request: the peer, and what a proxy in front says.
pub(super) fn from_where(peer: SocketAddr, headers: &HeaderMap) -> String {
    match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(forwarded) => format!("{} (for {forwarded})", peer.ip()),
        None => peer.ip().to_string(),
    }
}

impl Console {
    /// A page's frame, in the request's language; `session`: who is logged in and their
    /// CSRF token.
    pub(super) fn frame(
        &self,
        headers: &HeaderMap,
        title: &str,
        session: Option<(&str, &str)>,
    ) -> Frame {
        let lang = Lang::of(headers, cookie(headers, LANG_COOKIE).as_deref());
        Frame {
            lang,
            title: lang.t(title).to_owned(),
            hostname: self.sources.config.get().hostname.clone(),
            user: session.map(|(who, _)| who.to_owned()),
            csrf: session.map(|(_, c)| c.to_owned()).unwrap_or_default(),
            notice: None,
            error: None,
        }
    }

    /// Who `username` is when `password` is theirs: an administrator first, else a mailbox
    /// user (an address that is both logs in as its admin).
    async fn authenticate(&self, username: &str, password: String) -> Option<Who> {
        let accounts = &self.sources.accounts;
        let scheme = self.sources.config.get().accounts.default_password_scheme;
        let answer = async {
            if let Some(admin) = accounts
                .authenticate_admin(username, password.clone(), scheme)
                .await?
            {
                return Ok(Some(Who::Admin(admin)));
            }
            let user = crate::accounts::normalize_address(username)?;
            Ok::<_, crate::accounts::AccountsError>(
                accounts
                    .authenticate_primary(&user, password, scheme)
                    .await?
                    .then_some(Who::User(user)),
            )
        };
        match answer.await {
            Ok(who) => who,
            Err(crate::accounts::AccountsError::BadAddress(_)) => None,
            Err(e) => {
                warn!(error = %e, "console: the accounts backend did not answer a login");
                None
            }
        }
    }

    /// The session the request's cookie names, renewed; `None` when there is none or it
    /// lapsed.
    pub(super) async fn session(&self, headers: &HeaderMap) -> Option<(Who, String)> {
        let token = cookie(headers, SESSION_COOKIE)?;
        let Sessions::Memory(sessions) = &self.sessions else {
            return self.shared_session(&token).await;
        };
        let mut sessions = sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last) < IDLE);
        let session = sessions.get_mut(&token)?;
        session.last = now;
        Some((session.who.clone(), session.csrf.clone()))
    }

    /// [`Console::session`] from the accounts database: an admin's rights read again (an
    /// admin made inactive or removed meanwhile has no session any more).
    async fn shared_session(&self, token: &str) -> Option<(Who, String)> {
        let hash = token_hash(token);
        let accounts = &self.sources.accounts;
        let stored = match accounts.console_session(&hash).await {
            Ok(stored) => stored?,
            Err(e) => {
                warn!(error = %e, "console: the sessions could not be read");
                return None;
            }
        };
        let now = unix_now();
        if now - stored.last >= IDLE.as_secs() as i64 {
            return None;
        }
        // Written again at most once a minute: the idle time counts in minutes anyway.
        if now - stored.last >= 60 {
            let _ = accounts.touch_console_session(&hash, now).await;
        }
        let who = match stored.admin {
            true => Who::Admin(accounts.admin(&stored.who).await.ok()??),
            false => Who::User(stored.who),
        };
        Some((who, stored.csrf))
    }

    /// Keeps a new session under the token `session`.
    async fn begin_session(&self, session: &str, who: Who) -> Result<(), String> {
        let csrf = token();
        match &self.sessions {
            Sessions::Memory(sessions) => {
                let kept = Session {
                    who,
                    csrf,
                    last: Instant::now(),
                };
                sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(session.to_owned(), kept);
                Ok(())
            }
            Sessions::Shared => {
                let accounts = &self.sources.accounts;
                let now = unix_now();
                let stored = crate::accounts::StoredSession {
                    admin: matches!(who, Who::Admin(_)),
                    who: who.name().to_owned(),
                    csrf,
                    last: now,
                };
                // Lapsed sessions go as new ones come.
                let lapsed = now - IDLE.as_secs() as i64;
                let _ = accounts.drop_console_sessions("", lapsed).await;
                accounts
                    .put_console_session(&token_hash(session), &stored)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Ends the session under `token`.
    async fn end_session(&self, token: &str) {
        match &self.sessions {
            Sessions::Memory(sessions) => {
                sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(token);
            }
            Sessions::Shared => {
                let lapsed = unix_now() - IDLE.as_secs() as i64;
                let accounts = &self.sources.accounts;
                if let Err(e) = accounts
                    .drop_console_sessions(&token_hash(token), lapsed)
                    .await
                {
                    warn!(error = %e, "console: a session could not be ended");
                }
            }
        }
    }

    /// An administrator's session; `Err`: where anyone else is sent (their own page).
    pub(super) async fn admin_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Admin, String), &'static str> {
        match self.session(headers).await {
            Some((Who::Admin(admin), csrf)) => Ok((admin, csrf)),
            Some((Who::User(_), _)) => Err("/console/account/"),
            None => Err("/console/login"),
        }
    }

    /// The session of a POST whose form carries its CSRF token; a refusal page otherwise.
    pub(super) async fn posted(
        &self,
        headers: &HeaderMap,
        form: &str,
        peer: &str,
    ) -> Result<(Who, String), Box<Response>> {
        let Some((who, csrf)) = self.session(headers).await else {
            info!(peer, "console: POST without a session refused");
            return Err(Box::new(redirect("/console/login")));
        };
        let sent = form_value(form, "csrf").unwrap_or_default();
        if !crate::password::constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
            warn!(peer, who = %who.name(), "console: POST without its CSRF token refused");
            let mut frame = self.frame(headers, "Refused", Some((who.name(), &csrf)));
            frame.error = Some(
                frame
                    .lang
                    .t("This form has expired: open the page again.")
                    .into(),
            );
            return Err(Box::new(html(StatusCode::FORBIDDEN, &Message { frame })));
        }
        Ok((who, csrf))
    }

    /// A global administrator's page: the admin and its frame; `Err`: where anyone else is
    /// sent, or the refusal (`refusal`, for domain admins).
    pub(super) async fn global_page(
        &self,
        headers: &HeaderMap,
        title: &str,
        refusal: &'static str,
    ) -> Result<(Admin, Frame), Box<Response>> {
        let (admin, csrf) = self
            .admin_session(headers)
            .await
            .map_err(|elsewhere| Box::new(redirect(elsewhere)))?;
        let mut frame = self.frame(headers, title, Some((&admin.username, &csrf)));
        if !admin.global {
            frame.error = Some(frame.lang.t(refusal).into());
            return Err(Box::new(html(StatusCode::FORBIDDEN, &Message { frame })));
        }
        Ok((admin, frame))
    }

    /// [`Console::admin_posted`] for a global administrator, with the answer's frame; a
    /// domain admin's POST is refused with `refusal`, and logged.
    pub(super) async fn global_posted(
        &self,
        headers: &HeaderMap,
        form: &str,
        from: &str,
        title: &str,
        refusal: &'static str,
    ) -> Result<(Admin, Frame), Box<Response>> {
        let (admin, csrf) = self.admin_posted(headers, form, from).await?;
        let mut frame = self.frame(headers, title, Some((&admin.username, &csrf)));
        if !admin.global {
            warn!(admin = %admin.username, from, what = title, "console: refused, not a global admin");
            frame.error = Some(frame.lang.t(refusal).into());
            return Err(Box::new(html(StatusCode::FORBIDDEN, &Message { frame })));
        }
        Ok((admin, frame))
    }

    /// [`Console::posted`] for an administrator.
    pub(super) async fn admin_posted(
        &self,
        headers: &HeaderMap,
        form: &str,
        peer: &str,
    ) -> Result<(Admin, String), Box<Response>> {
        match self.posted(headers, form, peer).await? {
            (Who::Admin(admin), csrf) => Ok((admin, csrf)),
            (Who::User(user), _) => {
                warn!(peer, %user, "console: a user's POST to an admin page refused");
                Err(Box::new(redirect("/console/account/")))
            }
        }
    }
}

/// The language switch: kept in a cookie for a year.
async fn choose_language(axum::extract::Path(lang): axum::extract::Path<String>) -> Response {
    let Some(lang) = Lang::named(&lang) else {
        return secured((StatusCode::NOT_FOUND, "No such language.\n").into_response());
    };
    let mut response = redirect("/console/");
    let cookie = set_cookie(LANG_COOKIE, lang.tag(), 365 * 86400);
    if let Ok(value) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn style() -> Response {
    secured(
        (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            include_str!("../../templates/console/style.css"),
        )
            .into_response(),
    )
}

async fn login_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if c.session(&headers).await.is_some() {
        return redirect("/console/");
    }
    let csrf = token();
    let page = LoginPage {
        frame: Frame {
            csrf: csrf.clone(),
            ..c.frame(&headers, "Log in", None)
        },
    };
    let mut response = html(StatusCode::OK, &page);
    if let Ok(value) = header::HeaderValue::from_str(&set_cookie(LOGIN_COOKIE, &csrf, 3600)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn login(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let sent = form_value(&form, "csrf").unwrap_or_default();
    if expected.is_empty()
        || !crate::password::constant_time_eq(sent.as_bytes(), expected.as_bytes())
    {
        warn!(peer = %from, "console: login without its CSRF token refused");
        let mut frame = c.frame(&headers, "Log in", None);
        frame.error = Some(
            frame
                .lang
                .t("This form has expired: open the page again.")
                .into(),
        );
        return html(StatusCode::FORBIDDEN, &Message { frame });
    }
    if c.guard.admit(peer.ip()).is_err() {
        info!(peer = %from, "console: login from a banned address refused");
        return secured((StatusCode::FORBIDDEN, "Too many failed logins.\n").into_response());
    }
    let username = form_value(&form, "username").unwrap_or_default();
    let password = form_value(&form, "password").unwrap_or_default();
    let Some(who) = c.authenticate(&username, password).await else {
        let wait = c.guard.failed(peer.ip(), "console", &username);
        tokio::time::sleep(wait).await;
        let mut frame = c.frame(&headers, "Log in", None);
        frame.csrf = expected;
        frame.error = Some(frame.lang.t("Wrong address or password.").into());
        return html(StatusCode::UNAUTHORIZED, &LoginPage { frame });
    };
    c.guard.succeeded(peer.ip(), "console");
    let session = token();
    if session.is_empty() {
        return secured((StatusCode::INTERNAL_SERVER_ERROR, "Internal error\n").into_response());
    }
    info!(target: "audit", who = %who.name(), from = %from, "console login");
    let home = match who {
        Who::Admin(_) => "/console/",
        Who::User(_) => "/console/account/",
    };
    if let Err(e) = c.begin_session(&session, who).await {
        warn!(error = %e, "console: a session could not be kept");
        return secured((StatusCode::INTERNAL_SERVER_ERROR, "Internal error\n").into_response());
    }
    let mut response = redirect(home);
    for value in [
        set_cookie(SESSION_COOKIE, &session, IDLE.as_secs()),
        set_cookie(LOGIN_COOKIE, "", 0),
    ] {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn logout(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: String,
) -> Response {
    let from = from_where(peer, &headers);
    let (who, _) = match c.posted(&headers, &form, &from).await {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        c.end_session(&token).await;
    }
    info!(target: "audit", who = %who.name(), from = %from, "console logout");
    let mut response = redirect("/console/login");
    if let Ok(value) = header::HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
