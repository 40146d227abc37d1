//! The content scanners of `[filters]` in turn, as Amavis runs them for Postfix: ClamAV
//! (a virus is refused), then SpamAssassin (scored in `X-Spam-*` fields; spam to Junk, the
//! worst refused), then each milter, as Postfix's smtpd asks them. A scanner that cannot
//! answer acts as its failure mode says.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::headers::Edit;
use super::milter::{self, Decision, Envelope};
use super::scanner::within;
use super::verdict::Action;
use super::{clamd, spamd};
use crate::config::{Config, OnFailure};

/// The scanners configured.
pub struct ContentFilters {
    config: crate::config::Filters,
    hostname: String,
}

/// What the scanners make of a message.
#[derive(Debug, Clone)]
pub struct ContentVerdict {
    /// Fields for the header (`X-Virus-Scanned:`, `X-Spam-*:`), CRLF included.
    pub fields: String,
    /// The milters' changes to the header.
    pub edits: Vec<Edit>,
    pub action: Action,
    /// The results for the log: `virus=clean spam=1000.0`.
    pub summary: String,
    /// SpamAssassin's score, when it scored the message (users with a threshold of their
    /// own have their copy sent to Junk by it).
    pub spam_score: Option<f64>,
    /// A milter asked for the message to be quarantined (to Junk, whatever its score).
    pub quarantined: bool,
}

impl ContentFilters {
    /// The scanners `[filters]` names, or `None` when it names none.
    pub fn new(config: &Config) -> Option<Arc<Self>> {
        let f = &config.filters;
        (!f.spamd.is_empty() || !f.clamd.is_empty() || !f.milters.is_empty()).then(|| {
            Arc::new(ContentFilters {
                config: f.clone(),
                hostname: config.hostname.clone(),
            })
        })
    }

    /// Scans `message`, which came with `envelope`.
    pub async fn scan(&self, message: &[u8], envelope: &Envelope<'_>) -> ContentVerdict {
        let c = &self.config;
        let queue_id = envelope.queue_id;
        let mut verdict = ContentVerdict {
            fields: String::new(),
            edits: Vec::new(),
            action: Action::Deliver,
            summary: String::new(),
            spam_score: None,
            quarantined: false,
        };
        let size = message.len() as u64;
        if !c.clamd.is_empty() && size <= c.virus_max_size {
            let timeout = Duration::from_millis(c.clamd_timeout_ms);
            match within("clamd", &c.clamd, timeout, clamd::scan(&c.clamd, message)).await {
                Ok(clamd::VirusScan::Clean) => {
                    let _ = write!(
                        verdict.fields,
                        "X-Virus-Scanned: ClamAV at {}\r\n",
                        self.hostname
                    );
                    verdict.summary.push_str("virus=clean");
                }
                Ok(clamd::VirusScan::Infected(name)) => {
                    verdict.summary = format!("virus={name:?}");
                    verdict.action =
                        Action::Reject(format!("Message refused: virus found ({name})"));
                    return verdict;
                }
                Err(e) => {
                    warn!(%queue_id, error = %e, on_failure = ?c.clamd_on_failure, "virus scan failed ([filters] clamd)");
                    verdict.summary.push_str("virus=unscanned");
                    if c.clamd_on_failure == OnFailure::Tempfail {
                        verdict.action = Action::Tempfail("Virus scanner unavailable".into());
                        return verdict;
                    }
                }
            }
        }
        if !c.spamd.is_empty() && size <= c.spam_max_size {
            let timeout = Duration::from_millis(c.spamd_timeout_ms);
            match within("spamd", &c.spamd, timeout, spamd::scan(&c.spamd, message)).await {
                Ok(score) => self.score(&mut verdict, &score),
                Err(e) => {
                    warn!(%queue_id, error = %e, on_failure = ?c.spamd_on_failure, "spam scan failed ([filters] spamd)");
                    verdict.summary.push_str(" spam=unscanned");
                    if c.spamd_on_failure == OnFailure::Tempfail {
                        verdict.action = Action::Tempfail("Spam scanner unavailable".into());
                    }
                }
            }
        }
        if matches!(verdict.action, Action::Deliver | Action::Junk) {
            self.milters(&mut verdict, message, envelope).await;
        }
        verdict.summary = verdict.summary.trim().to_owned();
        verdict
    }

    /// Each milter in turn, until one decides more than to accept.
    async fn milters(&self, verdict: &mut ContentVerdict, message: &[u8], envelope: &Envelope<'_>) {
        let c = &self.config;
        let timeout = Duration::from_millis(c.milter_timeout_ms);
        for address in &c.milters {
            let answer = within(
                "milter",
                address,
                timeout,
                milter::check(address, envelope, message),
            )
            .await;
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    warn!(queue_id = %envelope.queue_id, error = %e, on_failure = ?c.milter_on_failure, "milter failed ([filters] milters)");
                    let _ = write!(verdict.summary, " milter=unavailable");
                    if c.milter_on_failure == OnFailure::Tempfail {
                        verdict.action = Action::Tempfail("Milter unavailable".into());
                        return;
                    }
                    continue;
                }
            };
            verdict.edits.extend(answer.edits);
            let word = match answer.decision {
                Decision::Accept => "accept",
                Decision::Quarantine(_) => {
                    verdict.action = Action::Junk;
                    verdict.quarantined = true;
                    "quarantine"
                }
                Decision::Discard => {
                    verdict.action = Action::Discard;
                    "discard"
                }
                Decision::Reject(code, text) | Decision::Tempfail(code, text) => {
                    verdict.action = Action::Reply(code, text);
                    if code >= 500 { "reject" } else { "tempfail" }
                }
            };
            let _ = write!(verdict.summary, " milter={word}");
            if matches!(verdict.action, Action::Discard | Action::Reply(..)) {
                return;
            }
        }
    }

    /// The `X-Spam-*` fields for `score`, as Amavis writes them, and what it does.
    fn score(&self, verdict: &mut ContentVerdict, score: &spamd::SpamScore) {
        let c = &self.config;
        let spam = score.score >= c.spam_junk_score;
        let stars = if score.score >= 1.0 {
            (score.score as usize).min(50)
        } else {
            0
        };
        let _ = write!(
            verdict.fields,
            "X-Spam-Flag: {}\r\nX-Spam-Score: {:.1}\r\nX-Spam-Level: {}\r\nX-Spam-Status: {}, score={:.1} required={:.1}\r\n\ttests=[{}]\r\n",
            if spam { "YES" } else { "NO" },
            score.score,
            "*".repeat(stars),
            if spam { "Yes" } else { "No" },
            score.score,
            c.spam_junk_score,
            score.tests.join(", "),
        );
        let _ = write!(verdict.summary, " spam={:.1}", score.score);
        verdict.spam_score = Some(score.score);
        if score.score >= c.spam_reject_score {
            verdict.action = Action::Reject(format!(
                "Message refused as spam (score {:.1})",
                score.score
            ));
        } else if spam {
            verdict.action = Action::Junk;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict_for(score: f64) -> ContentVerdict {
        let filters = ContentFilters {
            config: crate::config::Filters::default(),
            hostname: "mx.example.com".into(),
        };
        let mut verdict = ContentVerdict {
            fields: String::new(),
            edits: Vec::new(),
            action: Action::Deliver,
            summary: String::new(),
            spam_score: None,
            quarantined: false,
        };
        let score = spamd::SpamScore {
            score,
            required: 5.0,
            tests: vec!["A".into(), "B".into()],
        };
        filters.score(&mut verdict, &score);
        verdict
    }

    #[test]
    fn scores_mark_file_to_junk_and_refuse_at_their_thresholds() {
        let ham = verdict_for(-0.4);
        assert_eq!(ham.action, Action::Deliver);
        assert_eq!(
            ham.fields,
            "X-Spam-Flag: NO\r\nX-Spam-Score: -0.4\r\nX-Spam-Level: \r\nX-Spam-Status: No, score=-0.4 required=5.0\r\n\ttests=[A, B]\r\n"
        );
        let spam = verdict_for(7.2);
        assert_eq!(spam.action, Action::Junk);
        assert!(spam.fields.contains("X-Spam-Level: *******\r\n"));
        assert_eq!(
            verdict_for(15.0).action,
            Action::Reject("Message refused as spam (score 15.0)".into())
        );
    }
}
