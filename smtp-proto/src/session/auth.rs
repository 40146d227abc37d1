//! STARTTLS and AUTH (the SASL exchange runs in the `sasl` crate).

use crate::types::{Reply, Secret};
use mailwright_line_session::Line;

use super::*;

impl ServerSession {
    pub(super) fn start_tls(&mut self) {
        if self.tls {
            return self.error(Reply::fixed(503, 5, 5, 1, "Error: TLS already active"));
        }
        if !self.config.starttls {
            return self.error(Reply::fixed(502, 5, 5, 1, "Error: command not implemented"));
        }
        if !self.io.input.is_empty() {
            // Anything pipelined after STARTTLS would be taken as if it came over TLS.
            self.queue(Reply::fixed(
                554,
                5,
                5,
                1,
                "Error: input pipelined after STARTTLS",
            ));
            return self.close_for(CloseReason::PipelinedAfterStartTls);
        }
        self.queue(Reply::fixed(220, 2, 0, 0, "Ready to start TLS"));
        self.phase = Phase::AwaitingTls { announced: false };
    }

    pub(super) fn start_auth(&mut self, mechanism: &str, initial: Option<Secret<String>>) {
        if self.config.auth_mechanisms.is_empty() {
            return self.error(Reply::fixed(
                502,
                5,
                5,
                1,
                "Error: authentication not enabled",
            ));
        }
        if !self.tls && !self.config.allow_plaintext_auth {
            return self.error(Reply::fixed(
                530,
                5,
                7,
                0,
                "Must issue a STARTTLS command first",
            ));
        }
        if self.helo.is_none() {
            return self.error(Reply::fixed(503, 5, 5, 1, "Error: send EHLO first"));
        }
        if self.authenticated {
            return self.error(Reply::fixed(503, 5, 5, 1, "Error: already authenticated"));
        }
        if self.tx.is_some() {
            return self.error(Reply::fixed(
                503,
                5,
                5,
                1,
                "Error: MAIL transaction in progress",
            ));
        }
        let mech = self
            .config
            .auth_mechanisms
            .iter()
            .copied()
            .find(|m| m.name() == mechanism);
        let Some(mech) = mech else {
            return self.error(Reply::fixed(
                504,
                5,
                5,
                4,
                "Unsupported authentication mechanism",
            ));
        };
        match mailwright_sasl::Exchange::start(mech, initial.as_ref().map(|s| s.expose().as_str()))
        {
            Ok(progress) => self.sasl_progress(progress),
            Err(e) => self.sasl_error(e),
        }
    }

    pub(super) fn sasl_progress(&mut self, progress: mailwright_sasl::Progress) {
        match progress {
            mailwright_sasl::Progress::Challenge(exchange, text) => {
                self.queue_raw(Reply::new(334, None, text).unwrap_or_else(|_| unreachable_reply()));
                self.phase = Phase::Sasl(exchange);
            }
            mailwright_sasl::Progress::Done(c) => {
                self.pending = Some(Pending::Auth);
                self.events.push_back(Event::Authenticate {
                    authzid: c.authzid,
                    username: c.username,
                    password: c.password,
                });
            }
        }
    }

    pub(super) fn sasl_error(&mut self, error: mailwright_sasl::SaslError) {
        let reply = match error {
            mailwright_sasl::SaslError::Cancelled => {
                Reply::fixed(501, 5, 7, 0, "Authentication aborted")
            }
            mailwright_sasl::SaslError::Base64 => Reply::fixed(501, 5, 5, 2, "Invalid base64 data"),
            mailwright_sasl::SaslError::Plain => {
                Reply::fixed(501, 5, 5, 2, "Invalid PLAIN response")
            }
            mailwright_sasl::SaslError::Username => Reply::fixed(501, 5, 5, 2, "Invalid user name"),
            mailwright_sasl::SaslError::Password => {
                Reply::fixed(501, 5, 5, 2, "Invalid password encoding")
            }
        };
        self.error(reply);
    }

    pub(super) fn step_sasl(&mut self) -> bool {
        let line = match self.io.take_line(self.config.limits.max_sasl_line) {
            Line::Incomplete => return false,
            Line::TooLong => {
                self.phase = Phase::Command;
                self.line_too_long();
                return true;
            }
            Line::Complete(line) => line,
        };
        let Phase::Sasl(exchange) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return false;
        };
        match exchange.respond(&line) {
            Ok(progress) => self.sasl_progress(progress),
            Err(e) => self.sasl_error(e),
        }
        true
    }
}
