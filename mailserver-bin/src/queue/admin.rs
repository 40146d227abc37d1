//! `mailserver queue ...`: the admin's view of the queue, working on the spool directly (a
//! message being delivered is locked, and the command says so) and poking the daemon's runner
//! through the trigger file.

use std::io::{BufRead, BufReader};

use super::spool::{QueuedMessage, Route, Spool, SpoolError, now};

/// Applies `change` to one message under its lock, then pokes the runner.
pub fn update(
    spool: &Spool,
    id: &str,
    change: impl FnOnce(&mut QueuedMessage),
) -> Result<(), SpoolError> {
    let _lock = spool.lock(id)?;
    let mut message = spool.load(id)?;
    change(&mut message);
    spool.save(&message)?;
    spool.trigger()
}

/// Makes message `id` due now.
pub fn retry(spool: &Spool, id: &str) -> Result<(), SpoolError> {
    update(spool, id, |m| m.next_attempt = 0)
}

/// Keeps message `id` in the queue untried until [`release`].
pub fn hold(spool: &Spool, id: &str) -> Result<(), SpoolError> {
    update(spool, id, |m| m.hold = true)
}

/// Lets a held message be tried again, now.
pub fn release(spool: &Spool, id: &str) -> Result<(), SpoolError> {
    update(spool, id, |m| {
        m.hold = false;
        m.next_attempt = 0;
    })
}

/// Makes every message not on hold due now. Returns how many there are.
pub fn flush(spool: &Spool) -> Result<usize, SpoolError> {
    let mut count = 0;
    for id in spool.list()? {
        match spool.load(&id) {
            Ok(m) if !m.hold => count += 1,
            Ok(_) | Err(SpoolError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    spool.request_flush()?;
    Ok(count)
}

pub fn remove(spool: &Spool, id: &str) -> Result<(), SpoolError> {
    let _lock = spool.lock(id)?;
    spool.remove(id)
}

/// What an admin does to the queue by name (the console's buttons, the API's paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Retry,
    Hold,
    Release,
    Remove,
}

impl Action {
    /// The action named `name` (`retry`, `hold`, `release`, `remove`).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "retry" => Self::Retry,
            "hold" => Self::Hold,
            "release" => Self::Release,
            "remove" => Self::Remove,
            _ => return None,
        })
    }

    /// Does it to message `id`.
    pub fn apply(self, spool: &Spool, id: &str) -> Result<(), SpoolError> {
        match self {
            Self::Retry => retry(spool, id),
            Self::Hold => hold(spool, id),
            Self::Release => release(spool, id),
            Self::Remove => remove(spool, id),
        }
    }
}

/// The columns of [`rows`].
pub const COLUMNS: [&str; 9] = [
    "id",
    "size",
    "age",
    "attempts",
    "next",
    "from",
    "to",
    "state",
    "last reply",
];

/// One row per message ([`COLUMNS`]): id, size, age, attempts, next attempt, sender,
/// recipients left, state, and the last answer.
pub fn rows(spool: &Spool) -> Result<Vec<Vec<String>>, SpoolError> {
    let now = now();
    let mut rows = Vec::new();
    for id in spool.list()? {
        let m = match spool.load(&id) {
            Ok(m) => m,
            Err(SpoolError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let pending: Vec<_> = m.pending().collect();
        let last = pending
            .iter()
            .map(|r| r.last_reply.as_str())
            .find(|r| !r.is_empty())
            .unwrap_or("");
        let state = if m.hold {
            "hold"
        } else if m.attempts == 0 {
            "new"
        } else {
            "deferred"
        };
        let next = if m.hold {
            "-".to_owned()
        } else {
            format!("in {}s", m.next_attempt.saturating_sub(now))
        };
        rows.push(vec![
            m.id.clone(),
            m.size.to_string(),
            format!("{}s", now.saturating_sub(m.created)),
            m.attempts.to_string(),
            next,
            if m.from.is_empty() {
                "<>".into()
            } else {
                m.from.clone()
            },
            pending
                .iter()
                .map(|r| r.address.as_str())
                .collect::<Vec<_>>()
                .join(","),
            state.into(),
            last.to_owned(),
        ]);
    }
    Ok(rows)
}

/// The envelope, every recipient's state, and the message's header.
pub fn show(spool: &Spool, id: &str) -> Result<String, SpoolError> {
    let m = spool.load(id)?;
    let mut out = format!(
        "id: {}\nfrom: {}\nsize: {}\nqueued: {}s ago\nattempts: {}\nnext attempt: {}\n",
        m.id,
        if m.from.is_empty() { "<>" } else { &m.from },
        m.size,
        now().saturating_sub(m.created),
        m.attempts,
        if m.hold {
            "on hold".to_owned()
        } else {
            format!("in {}s", m.next_attempt.saturating_sub(now()))
        },
    );
    for r in &m.recipients {
        let status = r.status.name();
        let route = match &r.route {
            Route::Local(user) => format!("mailbox {user}"),
            Route::Remote => "relay".into(),
            Route::List(list) => format!("list {list}"),
        };
        out.push_str(&format!(
            "recipient: {} ({route}): {status}{}{}\n",
            r.address,
            if r.last_reply.is_empty() { "" } else { ": " },
            r.last_reply
        ));
    }
    out.push('\n');
    let path = spool.message_path(id);
    let file = std::fs::File::open(&path).map_err(|source| SpoolError::Io {
        action: "reading",
        path: path.clone(),
        source,
    })?;
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|source| SpoolError::Io {
            action: "reading",
            path: path.clone(),
            source,
        })?;
        if line.is_empty() || line == b"\r" {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&line));
        out.push('\n');
    }
    Ok(out)
}
