#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use thiserror::Error;

/// A value that must never show up in logs: passwords, SASL data.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a sensitive value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The sensitive value itself; the caller takes responsibility for not logging it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the sensitive value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("/* REDACTED */")
    }
}

/// The mechanisms the exchange runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// draft-murchison-sasl-login.
    Login,
}

impl Mechanism {
    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// What the client proved it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as, if the client asked for one (PLAIN only).
    pub authzid: Option<String>,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret<String>,
}

/// Why an exchange ended without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SaslError {
    /// The client sent `*`.
    #[error("authentication cancelled")]
    Cancelled,
    /// Not base64.
    #[error("invalid base64 data")]
    Base64,
    /// A PLAIN message that is not `authzid NUL authcid NUL passwd` in UTF-8.
    #[error("invalid PLAIN response")]
    Plain,
    /// A LOGIN user name that is not UTF-8.
    #[error("invalid user name")]
    Username,
    /// A LOGIN password that is not UTF-8.
    #[error("invalid password encoding")]
    Password,
}

#[derive(Debug)]
enum State {
    PlainResponse,
    LoginUser,
    LoginPassword { username: String },
}

/// An exchange waiting for the client's next response line.
#[derive(Debug)]
pub struct Exchange(State);

/// Where an exchange stands.
#[derive(Debug)]
pub enum Progress {
    /// Send this base64 challenge (possibly empty) and pass the client's line to
    /// [`Exchange::respond`].
    Challenge(Exchange, &'static str),
    /// The exchange is complete.
    Done(Credentials),
}

const USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
const PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

impl Exchange {
    /// Starts `mechanism`; `initial_response` is the base64 text from the AUTH line, `=` for
    /// an empty one.
    pub fn start(
        mechanism: Mechanism,
        initial_response: Option<&str>,
    ) -> Result<Progress, SaslError> {
        let initial = match initial_response {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(b64) => Some(BASE64.decode(b64).map_err(|_| SaslError::Base64)?),
        };
        match (mechanism, initial) {
            (Mechanism::Plain, Some(data)) => plain(&data).map(Progress::Done),
            (Mechanism::Plain, None) => Ok(Progress::Challenge(Exchange(State::PlainResponse), "")),
            (Mechanism::Login, Some(user)) => login_user(user),
            (Mechanism::Login, None) => Ok(Progress::Challenge(
                Exchange(State::LoginUser),
                USERNAME_PROMPT,
            )),
        }
    }

    /// Takes the client's response line (without CRLF).
    pub fn respond(self, line: &[u8]) -> Result<Progress, SaslError> {
        if line == b"*" {
            return Err(SaslError::Cancelled);
        }
        let data = BASE64.decode(line).map_err(|_| SaslError::Base64)?;
        match self.0 {
            State::PlainResponse => plain(&data).map(Progress::Done),
            State::LoginUser => login_user(data),
            State::LoginPassword { username } => {
                let password = String::from_utf8(data).map_err(|_| SaslError::Password)?;
                Ok(Progress::Done(Credentials {
                    authzid: None,
                    username,
                    password: Secret::new(password),
                }))
            }
        }
    }
}

/// The client's PLAIN message (RFC 4616 §2), base64-encoded: `authzid NUL authcid NUL passwd`.
pub fn plain_response(authzid: Option<&str>, username: &str, password: &str) -> Secret<String> {
    let mut raw = Vec::with_capacity(username.len() + password.len() + 2);
    raw.extend_from_slice(authzid.unwrap_or("").as_bytes());
    raw.push(0);
    raw.extend_from_slice(username.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    Secret::new(BASE64.encode(raw))
}

/// One LOGIN response (the user name, then the password), base64-encoded.
pub fn login_response(text: &str) -> Secret<String> {
    Secret::new(BASE64.encode(text))
}

fn login_user(data: Vec<u8>) -> Result<Progress, SaslError> {
    let username = String::from_utf8(data).map_err(|_| SaslError::Username)?;
    Ok(Progress::Challenge(
        Exchange(State::LoginPassword { username }),
        PASSWORD_PROMPT,
    ))
}

fn plain(data: &[u8]) -> Result<Credentials, SaslError> {
    let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let [authzid, user, pass] = parts[..] else {
        return Err(SaslError::Plain);
    };
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| SaslError::Plain)
    };
    let authzid = text(authzid)?;
    Ok(Credentials {
        authzid: (!authzid.is_empty()).then_some(authzid),
        username: text(user)?,
        password: Secret::new(text(pass)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_responses_are_what_the_exchange_reads() {
        let plain = plain_response(None, "user@example.org", "pa ss\u{e9}");
        let Ok(Progress::Done(c)) = Exchange::start(Mechanism::Plain, Some(plain.expose())) else {
            panic!("PLAIN response not accepted");
        };
        assert_eq!(
            (c.username.as_str(), c.password.expose().as_str()),
            ("user@example.org", "pa ss\u{e9}")
        );
        let Ok(Progress::Challenge(ex, _)) = Exchange::start(Mechanism::Login, None) else {
            panic!("LOGIN did not prompt");
        };
        let Ok(Progress::Challenge(ex, _)) = ex.respond(login_response("u").expose().as_bytes())
        else {
            panic!("LOGIN did not ask for the password");
        };
        let Ok(Progress::Done(c)) = ex.respond(login_response("p").expose().as_bytes()) else {
            panic!("LOGIN did not finish");
        };
        assert_eq!(
            (c.username.as_str(), c.password.expose().as_str()),
            ("u", "p")
        );
    }

    fn done(p: Result<Progress, SaslError>) -> Credentials {
        match p {
            Ok(Progress::Done(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let c = done(Exchange::start(
            Mechanism::Plain,
            Some("AGFsaWNlAHNlY3JldA=="),
        ));
        assert_eq!(
            (c.authzid, c.username.as_str(), c.password.expose().as_str()),
            (None, "alice", "secret")
        );
        let Ok(Progress::Challenge(ex, "")) = Exchange::start(Mechanism::Plain, None) else {
            panic!()
        };
        let c = done(ex.respond(b"Ym9iAGFsaWNlAHNlY3JldA=="));
        assert_eq!(c.authzid.as_deref(), Some("bob"));
        assert_eq!(
            Exchange::start(Mechanism::Plain, Some("=")).unwrap_err(),
            SaslError::Plain
        );
        assert_eq!(
            Exchange::start(Mechanism::Plain, Some("!!")).unwrap_err(),
            SaslError::Base64
        );
    }

    #[test]
    fn login_and_cancel() {
        let Ok(Progress::Challenge(ex, p)) = Exchange::start(Mechanism::Login, Some("YWxpY2U="))
        else {
            panic!()
        };
        assert_eq!(p, PASSWORD_PROMPT);
        assert_eq!(done(ex.respond(b"c2VjcmV0")).username, "alice");
        let Ok(Progress::Challenge(ex, _)) = Exchange::start(Mechanism::Login, None) else {
            panic!()
        };
        assert_eq!(ex.respond(b"*").unwrap_err(), SaslError::Cancelled);
    }

    #[test]
    fn secrets_are_redacted() {
        let c = done(Exchange::start(
            Mechanism::Plain,
            Some("AGFsaWNlAHNlY3JldA=="),
        ));
        assert!(!format!("{c:?}").contains("secret"));
    }
}
