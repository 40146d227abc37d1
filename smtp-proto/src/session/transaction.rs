//! MAIL and RCPT: the envelope of a transaction and its parameters (SIZE, BODY, SMTPUTF8,
//! DSN), checked before the embedder is asked.

use crate::command::{Body, MailParams, RcptParams};
use crate::types::{ForwardPath, Reply, ReversePath};

use super::*;

impl ServerSession {
    pub(super) fn start_mail(&mut self, from: ReversePath, params: MailParams) {
        let fail = match () {
            _ if self.config.require_helo && self.helo.is_none() => {
                Some(Reply::fixed(503, 5, 5, 1, "Error: send HELO/EHLO first"))
            }
            _ if self.config.require_auth && !self.authenticated => {
                Some(Reply::fixed(530, 5, 7, 0, "Authentication required"))
            }
            _ if self.tx.is_some() => {
                Some(Reply::fixed(503, 5, 5, 1, "Error: nested MAIL command"))
            }
            _ => self.check_mail_params(&from, &params),
        };
        match fail {
            Some(reply) => self.error(reply),
            None => {
                self.pending = Some(Pending::Mail {
                    params: params.clone(),
                });
                self.events.push_back(Event::MailFrom { from, params });
            }
        }
    }

    pub(super) fn check_mail_params(
        &self,
        from: &ReversePath,
        params: &MailParams,
    ) -> Option<Reply> {
        let unsupported = |what: &str| {
            Some(reply_or(
                555,
                5,
                5,
                4,
                &format!("Unsupported option: {what}"),
                "Unsupported option",
            ))
        };
        if let Some((key, _)) = params.unknown.first() {
            return unsupported(key);
        }
        let has_params = params.size.is_some()
            || params.body.is_some()
            || params.smtputf8
            || params.ret.is_some()
            || params.envid.is_some()
            || params.auth.is_some();
        if has_params && !self.is_esmtp() {
            return unsupported("parameters need EHLO");
        }
        if (params.ret.is_some() || params.envid.is_some()) && !self.config.dsn {
            return unsupported("DSN");
        }
        // RFC 3461 §4.4: ENVID is at most 100 characters of xtext.
        if params
            .envid
            .as_ref()
            .is_some_and(|e| e.len() > 100 || crate::command::xtext_decode(e).is_none())
        {
            return Some(Reply::fixed(501, 5, 5, 4, "Invalid ENVID"));
        }
        if params.auth.is_some() && !self.auth_advertised() && !self.authenticated {
            return unsupported("AUTH");
        }
        if params.smtputf8 && !self.config.smtputf8 {
            return unsupported("SMTPUTF8");
        }
        if params.body == Some(Body::BinaryMime) && !self.config.chunking {
            return unsupported("BODY=BINARYMIME");
        }
        let max = self.config.limits.max_message_size;
        if max != 0 && params.size.is_some_and(|s| s > max) {
            return Some(Reply::fixed(
                552,
                5,
                3,
                4,
                "Message size exceeds fixed limit",
            ));
        }
        if let ReversePath::Mailbox(m) = from
            && m.is_utf8()
            && !params.smtputf8
        {
            return Some(Reply::fixed(553, 5, 6, 7, "Address needs SMTPUTF8"));
        }
        None
    }

    pub(super) fn start_rcpt(&mut self, to: ForwardPath, params: RcptParams) {
        let Some(tx) = &mut self.tx else {
            return self.error(Reply::fixed(503, 5, 5, 1, "Error: need MAIL command"));
        };
        if tx.body.is_some() {
            return self.error(Reply::fixed(
                503,
                5,
                5,
                1,
                "Error: message transfer in progress",
            ));
        }
        tx.rcpt_attempted += 1;
        let smtputf8 = tx.smtputf8;
        let full = tx.rcpt_accepted >= self.config.limits.max_recipients;
        let fail = if full {
            Some(Reply::fixed(452, 4, 5, 3, "Error: too many recipients"))
        } else if let Some((key, _)) = params.unknown.first() {
            Some(reply_or(
                555,
                5,
                5,
                4,
                &format!("Unsupported option: {key}"),
                "Unsupported option",
            ))
        } else if (params.notify.is_some() || params.orcpt.is_some()) && !self.config.dsn {
            Some(Reply::fixed(555, 5, 5, 4, "Unsupported option: DSN"))
        } else if params.orcpt.as_ref().is_some_and(|o| {
            o.address().len() > 500 || crate::command::xtext_decode(o.address()).is_none()
        }) {
            Some(Reply::fixed(501, 5, 5, 4, "Invalid ORCPT"))
        } else if matches!(&to, ForwardPath::Mailbox(m) if m.is_utf8()) && !smtputf8 {
            Some(Reply::fixed(553, 5, 6, 7, "Address needs SMTPUTF8"))
        } else {
            None
        };
        match fail {
            // Too many recipients is not the client's syntax error; don't count it.
            Some(reply) if full => self.queue(reply),
            Some(reply) => self.error(reply),
            None => {
                self.pending = Some(Pending::Rcpt);
                self.events.push_back(Event::RcptTo { to, params });
            }
        }
    }
}
