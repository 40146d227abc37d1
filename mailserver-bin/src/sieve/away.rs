//! The out-of-office reply a user sets in the console, as a Sieve script of its own
//! (`~/sieve/out-of-office.sieve`), the way Roundcube's managesieve plugin writes its rules:
//! a `vacation` action, between two dates when given, for mail not marked as spam. The
//! script the user had active (from Roundcube or ManageSieve) goes on running: the reply's
//! script includes it, and it is the active one again when the reply is switched off. The
//! form's values are kept in the script's first comment lines, so the form shows them again.

use mailwright_maildir::{ScriptError, SieveScripts};
use mailwright_sieve::{Limits, Script};

/// The name of the script the console writes.
pub const SCRIPT: &str = "out-of-office";

/// The first line of the script, which tells it is ours.
const MARK: &str =
    "# Written by the mailserver console (out-of-office); saving the form there replaces it.";

/// What the user set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutOfOffice {
    /// Whether the reply is sent (the script is the active one).
    pub on: bool,
    pub subject: String,
    pub body: String,
    /// Days before the same sender is answered again (RFC 5230 `:days`).
    pub days: u32,
    /// First and last day (`YYYY-MM-DD`) of the absence, when given.
    pub first: Option<String>,
    pub last: Option<String>,
    /// The script that was active before, which runs on and becomes active again.
    pub previous: Option<String>,
}

/// Why the reply was not set.
#[derive(Debug, thiserror::Error)]
pub enum AwayError {
    #[error("{0}")]
    Invalid(&'static str),
    /// A script of the user's own has our script's name.
    #[error("a script of yours is named \"out-of-office\"; rename it first")]
    NameTaken,
    #[error(transparent)]
    Scripts(#[from] ScriptError),
    #[error(transparent)]
    Storage(#[from] mailwright_maildir::Error),
}

/// `text` for a comment line: `%`, CR and LF percent-encoded.
fn encode(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn decode(text: &str) -> String {
    text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

/// `text` as a Sieve quoted string.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether `day` is a date as `<input type="date">` sends it.
fn is_day(day: &str) -> bool {
    let b = day.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl OutOfOffice {
    /// The form's values checked.
    pub fn check(&self) -> Result<(), AwayError> {
        if self.subject.trim().is_empty() || self.body.trim().is_empty() {
            return Err(AwayError::Invalid("The reply needs a subject and a text."));
        }
        if self.subject.chars().any(char::is_control) {
            // It becomes the reply's Subject: field; a line break would start another field.
            return Err(AwayError::Invalid("The subject is one line of text."));
        }
        if self.subject.chars().count() > 200 || self.body.len() > 8000 {
            return Err(AwayError::Invalid(
                "The subject may have 200 characters and the text 8000.",
            ));
        }
        if !(1..=30).contains(&self.days) {
            return Err(AwayError::Invalid(
                "A sender is answered again after 1 to 30 days.",
            ));
        }
        let days = [&self.first, &self.last];
        if days
            .iter()
            .any(|d| d.as_deref().is_some_and(|d| !is_day(d)))
        {
            return Err(AwayError::Invalid("Dates are written 2026-12-24."));
        }
        if let (Some(first), Some(last)) = (&self.first, &self.last)
            && last < first
        {
            return Err(AwayError::Invalid("The last day comes before the first."));
        }
        Ok(())
    }

    /// The Sieve script.
    pub fn script(&self) -> String {
        let mut out = format!("{MARK}\n");
        for (key, value) in [
            ("subject", Some(&self.subject)),
            ("body", Some(&self.body)),
            ("first", self.first.as_ref()),
            ("last", self.last.as_ref()),
            ("previous", self.previous.as_ref()),
        ] {
            if let Some(value) = value {
                out.push_str(&format!("# {key}: {}\n", encode(value)));
            }
        }
        out.push_str(&format!("# days: {}\n", self.days));
        let mut requires = vec!["vacation"];
        let mut tests = vec!["not header :is \"X-Spam-Flag\" \"YES\"".to_owned()];
        for (bound, relation) in [(&self.first, "ge"), (&self.last, "le")] {
            if let Some(day) = bound {
                if !requires.contains(&"date") {
                    requires.extend(["date", "relational"]);
                }
                tests.push(format!(
                    "currentdate :value \"{relation}\" \"date\" {}",
                    quoted(day)
                ));
            }
        }
        if self.previous.is_some() {
            requires.push("include");
        }
        let requires: Vec<String> = requires.iter().map(|r| quoted(r)).collect();
        out.push_str(&format!("require [{}];\n", requires.join(", ")));
        out.push_str(&format!(
            "if allof ({}) {{\n    vacation :days {} :subject {} {};\n}}\n",
            tests.join(", "),
            self.days,
            quoted(&self.subject),
            quoted(&self.body)
        ));
        if let Some(previous) = &self.previous {
            out.push_str(&format!("include :personal {};\n", quoted(previous)));
        }
        out
    }

    /// The values of a script of ours; `None` for any other text.
    fn read(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MARK {
            return None;
        }
        let mut away = Self::default();
        for line in lines.map_while(|l| l.strip_prefix("# ")) {
            let (key, value) = line.split_once(": ")?;
            let value = decode(value);
            match key {
                "subject" => away.subject = value,
                "body" => away.body = value,
                "first" => away.first = Some(value),
                "last" => away.last = Some(value),
                "previous" => away.previous = Some(value),
                "days" => away.days = value.parse().ok()?,
                _ => {}
            }
        }
        Some(away)
    }

    /// What `scripts` hold: the reply last saved (switched on or off), or an empty form.
    pub fn current(scripts: &SieveScripts) -> Result<Self, AwayError> {
        let text = scripts.read(SCRIPT)?;
        let saved = text.and_then(|t| Self::read(&String::from_utf8_lossy(&t)));
        let on = scripts.active()?.as_deref() == Some(SCRIPT);
        Ok(match saved {
            Some(saved) => Self { on, ..saved },
            None => Self {
                days: 7,
                ..Self::default()
            },
        })
    }

    /// Saves the reply in `scripts` and switches it on or off; `limits` as delivery
    /// compiles scripts. The script that was active before runs on through an `include`
    /// while the reply is on, and is the active one again once it is off.
    pub fn save(mut self, scripts: &SieveScripts, limits: &Limits) -> Result<Self, AwayError> {
        self.check()?;
        let existing = scripts.read(SCRIPT)?;
        let saved = match &existing {
            Some(text) => match Self::read(&String::from_utf8_lossy(text)) {
                Some(saved) => Some(saved),
                None => return Err(AwayError::NameTaken),
            },
            None => None,
        };
        let active = scripts.active()?;
        self.previous = match active.as_deref() {
            Some(SCRIPT) => saved.and_then(|s| s.previous),
            other => other.map(str::to_owned),
        };
        let text = self.script();
        if Script::compile(&text, limits).is_err() {
            return Err(AwayError::Invalid(
                "The reply is too long for a Sieve script here.",
            ));
        }
        scripts.put(SCRIPT, text.as_bytes())?;
        if self.on {
            scripts.activate(Some(SCRIPT))?;
        } else if active.as_deref() == Some(SCRIPT) {
            let previous = self.previous.as_deref();
            let still_there = previous.is_some_and(|p| matches!(scripts.read(p), Ok(Some(_))));
            scripts.activate(previous.filter(|_| still_there))?;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn away() -> OutOfOffice {
        OutOfOffice {
            on: true,
            subject: "Away \"until\" Monday".into(),
            body: "Back on the 4th.\n100% sure.\\".into(),
            days: 3,
            first: Some("2026-12-20".into()),
            last: Some("2027-01-03".into()),
            previous: None,
        }
    }

    #[test]
    fn the_script_compiles_and_gives_back_its_values() {
        let script = away().script();
        Script::compile(&script, &Limits::default()).unwrap();
        assert!(script.contains(
            "vacation :days 3 :subject \"Away \\\"until\\\" Monday\" \"Back on the 4th.\n100% sure.\\\\\";"
        ));
        assert!(script.contains("currentdate :value \"le\" \"date\" \"2027-01-03\""));
        let read = OutOfOffice::read(&script).unwrap();
        assert_eq!(
            read,
            OutOfOffice {
                on: false,
                ..away()
            }
        );
    }

    proptest::proptest! {
        /// Whatever text a user types (quotes, backslashes, `%`, line breaks in the body),
        /// the script compiles and gives back the same values.
        #[test]
        fn any_reply_compiles_and_reads_back(
            subject in "[^\\p{C}]{1,60}",
            body in "(\\PC|\n){1,200}",
            days in 1u32..=30,
        ) {
            let away = OutOfOffice { on: false, subject, body, days, ..away() };
            proptest::prop_assume!(away.check().is_ok());
            let script = away.script();
            proptest::prop_assert!(Script::compile(&script, &Limits::default()).is_ok(), "{}", script);
            proptest::prop_assert_eq!(OutOfOffice::read(&script), Some(away));
        }
    }

    #[test]
    fn a_subject_with_a_line_break_is_refused() {
        let injected = OutOfOffice {
            subject: "Away\r\nBcc: victim@example.org".into(),
            ..away()
        };
        assert!(matches!(injected.check(), Err(AwayError::Invalid(_))));
    }

    #[test]
    fn the_active_script_runs_on_and_comes_back() {
        let home = std::env::temp_dir().join(format!("away-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let scripts = SieveScripts::new(&home);
        scripts
            .put("roundcube", b"require \"fileinto\"; fileinto \"Lists\";")
            .unwrap();
        scripts.activate(Some("roundcube")).unwrap();
        let limits = Limits::default();
        let saved = away().save(&scripts, &limits).unwrap();
        assert_eq!(saved.previous.as_deref(), Some("roundcube"));
        assert_eq!(scripts.active().unwrap().as_deref(), Some(SCRIPT));
        let text = String::from_utf8(scripts.read(SCRIPT).unwrap().unwrap()).unwrap();
        assert!(
            text.ends_with("include :personal \"roundcube\";\n"),
            "{text}"
        );
        // Saved again while on: the script before it is still the one it includes.
        let again = away().save(&scripts, &limits).unwrap();
        assert_eq!(again.previous.as_deref(), Some("roundcube"));
        let current = OutOfOffice::current(&scripts).unwrap();
        assert!(current.on && current.subject == away().subject);
        let off = OutOfOffice {
            on: false,
            ..away()
        };
        off.save(&scripts, &limits).unwrap();
        assert_eq!(scripts.active().unwrap().as_deref(), Some("roundcube"));
        assert!(!OutOfOffice::current(&scripts).unwrap().on);
        // A script of the user's own with our name is left alone.
        scripts.put(SCRIPT, b"keep;").unwrap();
        assert!(matches!(
            away().save(&scripts, &limits),
            Err(AwayError::NameTaken)
        ));
        let bad = OutOfOffice {
            last: Some("2026-12-01".into()),
            ..away()
        };
        assert!(matches!(bad.check(), Err(AwayError::Invalid(_))));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
