//! Commands counted by verb, for a disconnect summary like Postfix's.

/// The verbs [`CommandCounts`] counts, in the order its summary lists them (Postfix's).
const COUNTED_VERBS: [&str; 14] = [
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
    "expn", "help", "quit",
];

/// How many commands of each kind a client sent, for a summary like the one Postfix logs at
/// disconnect: its [`Display`](std::fmt::Display) gives `ehlo=1 mail=1 rcpt=2 data=1 quit=1
/// commands=6` (only the verbs used; lines that were not commands count as `unknown`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandCounts {
    counts: [u32; COUNTED_VERBS.len()],
    pub(super) unknown: u32,
}

impl CommandCounts {
    pub(super) fn count(&mut self, verb: &str) {
        match COUNTED_VERBS
            .iter()
            .position(|v| v.eq_ignore_ascii_case(verb))
        {
            Some(i) => self.counts[i] += 1,
            None => self.unknown += 1,
        }
    }

    /// Commands of `verb` (case-insensitive; `"unknown"` for lines that were not commands).
    pub fn get(&self, verb: &str) -> u32 {
        if verb.eq_ignore_ascii_case("unknown") {
            return self.unknown;
        }
        COUNTED_VERBS
            .iter()
            .position(|v| v.eq_ignore_ascii_case(verb))
            .map_or(0, |i| self.counts[i])
    }

    /// All commands, unknown ones included.
    pub fn total(&self) -> u32 {
        self.counts.iter().sum::<u32>() + self.unknown
    }
}

impl std::fmt::Display for CommandCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (verb, n) in COUNTED_VERBS.iter().zip(self.counts) {
            if n > 0 {
                write!(f, "{verb}={n} ")?;
            }
        }
        if self.unknown > 0 {
            write!(f, "unknown={} ", self.unknown)?;
        }
        write!(f, "commands={}", self.total())
    }
}
