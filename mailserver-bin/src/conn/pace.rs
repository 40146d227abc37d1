//! How slow a client may be, and how much it may send before logging in.

use std::time::Duration;

use tokio::time::Instant;

/// Closes clients that take too long: one waiting longer than its protocol's idle time
/// (`session.timeout()`) to start a command, and one sending a command (or a message) so
/// slowly that less than [`Pacer::PROGRESS`] octets arrive in `command_deadline` (a
/// client trickling a byte every few seconds, which a timeout per read never catches).
/// Before login, it also counts what the client sent against a budget.
#[derive(Debug)]
pub struct Pacer {
    command_deadline: Duration,
    /// When the current window started: the last answer, or the last progress.
    since: Instant,
    /// Octets received in the current window.
    received: usize,
    /// Octets the client may still send before logging in; `None` once it has.
    budget: Option<usize>,
}

/// Why a client that sent `[limits] max_bytes_before_auth` without logging in is closed.
pub const BUDGET_SPENT: &str = "Too much data before authentication";

/// What the driver does after a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Fine,
    /// The client sent more before logging in than `[limits] max_bytes_before_auth`.
    OverBudget,
}

impl Pacer {
    /// Octets that count as progress within a command deadline.
    pub const PROGRESS: usize = 4096;

    /// A pacer with `[limits] command_deadline`, and `max_bytes_before_auth` when the
    /// protocol has a login.
    pub fn from_limits(limits: &crate::config::Limits, login: bool) -> Self {
        Self::new(
            Duration::from_secs(limits.command_deadline),
            login.then_some(limits.max_bytes_before_auth),
        )
    }

    pub fn new(command_deadline: Duration, budget_before_auth: Option<usize>) -> Self {
        Self {
            command_deadline,
            since: Instant::now(),
            received: 0,
            budget: budget_before_auth,
        }
    }

    /// The session answered: the client's next command gets a fresh window.
    pub fn answered(&mut self) {
        self.since = Instant::now();
        self.received = 0;
    }

    /// The client logged in: no budget any more.
    pub fn authenticated(&mut self) {
        self.budget = None;
    }

    /// `n` octets arrived.
    pub fn received(&mut self, n: usize) -> Pace {
        self.received += n;
        if self.received >= Self::PROGRESS {
            self.since = Instant::now();
            self.received = 0;
        }
        match &mut self.budget {
            Some(left) if *left < n => Pace::OverBudget,
            Some(left) => {
                *left -= n;
                Pace::Fine
            }
            None => Pace::Fine,
        }
    }

    /// How long the next read may wait, given the session's idle timeout: the idle time when
    /// nothing of a command has arrived, else what is left of the command deadline.
    pub fn wait(&self, idle: Duration) -> Duration {
        let window = if self.received == 0 {
            idle
        } else {
            self.command_deadline.min(idle)
        };
        window.saturating_sub(self.since.elapsed())
    }
}
