//! `[sieve]`: filtering at delivery, as Dovecot's Pigeonhole does it (see the daemon's
//! `sieve` module): global scripts before and after each user's active one.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sieve {
    /// Run users' scripts (and the global ones) at delivery.
    pub enabled: bool,
    /// Scripts run before the user's (Pigeonhole's `sieve_before`): files, or directories
    /// whose `*.sieve` files run in name order. iRedMail's files spam into Junk here.
    pub before: Vec<PathBuf>,
    /// Scripts run after the user's (`sieve_after`), while the message is still to be kept.
    pub after: Vec<PathBuf>,
    /// Where `include :global "name"` finds `name.sieve` (Pigeonhole's `sieve_global`);
    /// empty: nowhere.
    pub global_dir: PathBuf,
    /// The largest script, in octets (`sieve_max_script_size`).
    pub max_script_size: usize,
    /// Actions one run may take (`sieve_max_actions`).
    pub max_actions: usize,
    /// Redirects one message may cause (`sieve_max_redirects`).
    pub max_redirects: usize,
    /// Seconds between two vacation replies to one sender when the script says nothing
    /// (RFC 5230: 7 days), and the bounds a script's `:days`/`:seconds` is held to.
    pub vacation_default_period: u64,
    pub vacation_min_period: u64,
    /// 0: no upper bound.
    pub vacation_max_period: u64,
}

impl Default for Sieve {
    fn default() -> Self {
        Self {
            enabled: true,
            before: Vec::new(),
            after: Vec::new(),
            global_dir: PathBuf::new(),
            max_script_size: 1 << 20,
            max_actions: 32,
            max_redirects: 4,
            vacation_default_period: 7 * 86_400,
            vacation_min_period: 86_400,
            vacation_max_period: 0,
        }
    }
}
