//! Sieve at delivery, as Dovecot's Pigeonhole runs it: the global `[sieve] before` scripts,
//! the user's active script (`~/.dovecot.sieve`, see `mailwright_maildir::SieveScripts`),
//! then the global `after` ones, each while the message is still to be kept (a script that
//! files or discards it ends the sequence). Scripts are compiled once and kept while their
//! file is unchanged. What they decide is a [`Plan`] for one copy of the message; a user
//! script that does not compile or fails keeps the message in the inbox, logs why and writes
//! it to `~/.dovecot.sieve.log`, where the user (and ManageSieve) can read it.

pub mod away;
pub mod outgoing;
pub mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use mailwright_maildir::{Maildir, SieveScripts};
use mailwright_sieve::{Action, Envelope, Host, Limits, Script, Vacation};
use tracing::{info, warn};

use crate::config::Config;
use crate::delivery::Placement;

/// What to do with one copy of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Keep it in the inbox, with these flags.
    pub inbox: Option<Vec<String>>,
    /// File it into these folders (Sieve names), with flags, creating them when asked.
    pub folders: Vec<(String, Vec<String>, bool)>,
    /// Forward it to these addresses.
    pub redirects: Vec<String>,
    /// Refuse it, with this reason.
    pub reject: Option<String>,
    /// Answer the sender.
    pub vacation: Option<Vacation>,
    /// What `duplicate` tests asked to remember once the copy is stored.
    pub duplicates: Vec<(String, Option<u64>, bool)>,
    /// `notify` actions (mailto URI, :from, :message).
    pub notifications: Vec<(String, Option<String>, Option<String>)>,
    /// What `addheader` and `deleteheader` made of the header (RFC 5293): the length of the
    /// header section of the message the scripts saw, and the section that replaces it in
    /// every copy stored or forwarded (all of the edits apply to each, whatever the order of
    /// the script's actions).
    pub header: Option<(u64, Vec<u8>)>,
}

impl Plan {
    /// `message` as the copy is stored and forwarded: its header as the scripts edited it.
    pub fn message<'m>(&self, message: &'m [u8]) -> std::borrow::Cow<'m, [u8]> {
        match &self.header {
            None => std::borrow::Cow::Borrowed(message),
            Some((old, new)) => {
                let rest = message.get(*old as usize..).unwrap_or_default();
                std::borrow::Cow::Owned([new.as_slice(), rest].concat())
            }
        }
    }

    /// Whether the copy is stored nowhere (discarded, rejected or only forwarded).
    pub fn stores_nothing(&self) -> bool {
        self.inbox.is_none() && self.folders.is_empty()
    }
}

/// A compiled script and the state of its file when it was read.
type Cached = ((i64, i64, u64, u64), Result<Arc<Script>, String>);

/// The delivery side of Sieve: settings, limits and compiled scripts.
pub struct Filtering {
    settings: crate::config::Sieve,
    limits: Limits,
    separator: char,
    /// `[filters]` runs spamd and clamd on port 25: their fields are the verdicts.
    spam_checked: bool,
    virus_checked: bool,
    cache: Mutex<HashMap<PathBuf, Cached>>,
}

/// What a script asks that only the store and the filters know: which folders exist, the
/// spam and virus verdicts, which messages were seen.
struct Store<'a> {
    filtering: &'a Filtering,
    home: &'a Path,
    separator: char,
    /// Our spamd's score and threshold, when it checked this message.
    spam: Option<(f64, f64)>,
    /// Our clamd scanned it (and let it through: infected mail is refused at DATA).
    virus_scanned: bool,
}

impl Host for Store<'_> {
    fn mailbox_exists(&self, name: &str) -> bool {
        crate::delivery::folder_storage_name(name, self.separator).is_ok_and(|storage| {
            mailwright_maildir::Maildir::new(self.home).folder_exists(&storage)
        })
    }

    /// The server's clock, in UTC (`currentdate`; `date` shows header dates in UTC unless a
    /// script gives `:zone` or `:originalzone`).
    fn now(&self) -> Option<mailwright_sieve::DateTime> {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(mailwright_sieve::DateTime {
            unix: i64::try_from(unix).ok()?,
            offset_minutes: 0,
        })
    }

    /// `include`: the user's own `~/sieve/NAME.sieve`, or `[sieve] global_dir`'s.
    fn include(&self, global: bool, name: &str) -> Result<Option<Arc<Script>>, String> {
        if mailwright_maildir::validate_script_name(name).is_err() {
            return Err(format!("invalid script name \"{name}\""));
        }
        let dir = match global {
            true if self.filtering.settings.global_dir.as_os_str().is_empty() => return Ok(None),
            true => self.filtering.settings.global_dir.clone(),
            false => self.home.join("sieve"),
        };
        let path = dir.join(format!("{name}.sieve"));
        if !path.is_file() {
            return Ok(None);
        }
        self.filtering.compiled(&path).map(Some)
    }

    fn spamtest(&self, percent: bool) -> Option<u8> {
        let (score, required) = self.spam?;
        let ratio = if required > 0.0 {
            score / required
        } else {
            1.0
        };
        Some(match percent {
            true => (ratio * 100.0).clamp(0.0, 100.0).round() as u8,
            false if ratio <= 0.0 => 1,
            false => (1.0 + ratio * 9.0).clamp(1.0, 10.0).round() as u8,
        })
    }

    fn virustest(&self) -> Option<u8> {
        self.virus_scanned.then_some(1)
    }

    fn duplicate_seen(&self, key: &str) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        SieveScripts::new(self.home).seen(key, now).unwrap_or(false)
    }

    fn environment(&self, name: &str) -> Option<String> {
        match name {
            "name" => Some("mailserver".into()),
            "version" => Some(env!("CARGO_PKG_VERSION").into()),
            "phase" => Some("during".into()),
            "location" => Some("MDA".into()),
            _ => None,
        }
    }
}

/// The limits of `[sieve]`, for scripts compiled at delivery and when they are stored.
pub fn limits(s: &crate::config::Sieve) -> Limits {
    Limits {
        max_script_size: s.max_script_size,
        max_actions: s.max_actions,
        max_redirects: s.max_redirects,
        ..Limits::default()
    }
}

impl Filtering {
    pub fn new(config: &Config) -> Self {
        let s = &config.sieve;
        Self {
            limits: limits(s),
            settings: s.clone(),
            separator: config.imap.separator.as_char(),
            spam_checked: !config.filters.spamd.is_empty(),
            virus_checked: !config.filters.clamd.is_empty(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any script runs for the user whose home is `home` (a quick look, before the
    /// message is read back).
    pub fn applies(&self, home: &Path) -> bool {
        self.settings.enabled
            && (!self.settings.before.is_empty()
                || !self.settings.after.is_empty()
                || SieveScripts::new(home).active_path().is_some())
    }

    /// The global scripts of `paths`: files, and the `*.sieve` files of directories in name
    /// order.
    fn global(paths: &[PathBuf]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for path in paths {
            if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map(|d| {
                        d.filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.extension().is_some_and(|x| x == "sieve"))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                out.extend(files);
            } else {
                out.push(path.clone());
            }
        }
        out
    }

    /// The script in `path`, compiled (once while the file is unchanged).
    fn compiled(&self, path: &Path) -> Result<Arc<Script>, String> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stamp = (meta.mtime(), meta.mtime_nsec(), meta.size(), meta.ino());
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((s, script)) = cache.get(path)
            && *s == stamp
        {
            return script.clone();
        }
        let script = std::fs::read(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|bytes| {
                let text =
                    String::from_utf8(bytes).map_err(|_| "the script is not UTF-8".to_owned())?;
                Script::compile(&text, &self.limits)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            });
        // A server with many users keeps their scripts, not without end.
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(path.to_owned(), (stamp, script.clone()));
        script
    }

    /// What the scripts decide for the copy of `raw` delivered to `envelope.to`, whose home
    /// (Maildir) is `home`; `None` when no script applies (the copy goes to the inbox as
    /// it is). Blocking: reads the scripts and the store.
    pub fn plan(&self, home: &Path, raw: &[u8], envelope: &Envelope) -> Option<Plan> {
        if !self.settings.enabled {
            return None;
        }
        let scripts = SieveScripts::new(home);
        let mut sequence: Vec<(PathBuf, bool)> = Self::global(&self.settings.before)
            .into_iter()
            .map(|p| (p, false))
            .collect();
        sequence.extend(scripts.active_path().map(|p| (p, true)));
        sequence.extend(
            Self::global(&self.settings.after)
                .into_iter()
                .map(|p| (p, false)),
        );
        if sequence.is_empty() {
            return None;
        }
        let first = view::View::new(raw);
        let host = Store {
            filtering: self,
            home,
            separator: self.separator,
            // Ours is the first field (the filters put theirs on top); without our spamd, a
            // field is the sender's word and is not believed.
            spam: self.spam_checked.then(|| spam_status(&first)).flatten(),
            virus_scanned: self.virus_checked
                && !mailwright_sieve::Message::header(&first, "x-virus-scanned").is_empty(),
        };
        let mut plan = Plan::default();
        let mut keep_flags = Some(Vec::new());
        // The message as the scripts so far have edited its header: the next one sees that.
        let mut current = std::borrow::Cow::Borrowed(raw);
        for (path, personal) in sequence {
            let view = view::View::new(&current);
            let outcome = self.compiled(&path).and_then(|script| {
                script
                    .run(&view, envelope, &host, &self.limits)
                    .map_err(|e| e.to_string())
            });
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    warn!(user = %envelope.to, script = %path.display(), error = %e, "sieve script failed; keeping the message in the inbox");
                    if personal {
                        let log = scripts.error_log();
                        let line = format!("{}: {e}\n", path.display());
                        if let Err(e) = std::fs::write(&log, line) {
                            warn!(file = %log.display(), error = %e, "cannot write the sieve error log");
                        }
                    }
                    plan.inbox.get_or_insert_with(Vec::new);
                    return Some(plan);
                }
            };
            let mut edits = Vec::new();
            for action in outcome.actions {
                match action {
                    Action::EditHeader(edit) => edits.push(edit),
                    action => self.take(&mut plan, action),
                }
            }
            if !edits.is_empty() {
                current =
                    std::borrow::Cow::Owned(mailwright_sieve::apply_header_edits(&current, &edits));
            }
            plan.duplicates.extend(outcome.duplicates);
            keep_flags = outcome.implicit_keep.then_some(outcome.keep_flags);
            if keep_flags.is_none() {
                break;
            }
        }
        if let Some(flags) = keep_flags
            && plan.inbox.is_none()
        {
            plan.inbox = Some(flags);
        }
        if let std::borrow::Cow::Owned(edited) = current {
            let old = crate::message::header_len(raw) as u64;
            let new = edited[..crate::message::header_len(&edited)].to_vec();
            plan.header = Some((old, new));
        }
        Some(plan)
    }

    fn take(&self, plan: &mut Plan, action: Action) {
        match action {
            Action::Keep { flags } => plan.inbox = Some(flags),
            Action::FileInto {
                mailbox,
                flags,
                create,
            } => {
                if mailbox.eq_ignore_ascii_case("INBOX") {
                    plan.inbox = Some(flags);
                } else if let Some(f) = plan.folders.iter_mut().find(|(m, _, _)| *m == mailbox) {
                    f.1 = flags;
                } else {
                    plan.folders.push((mailbox, flags, create));
                }
            }
            Action::Redirect { address } => plan.redirects.push(address),
            Action::Reject { reason, .. } => plan.reject = Some(reason),
            // Gathered by `plan`, which applies them.
            Action::Discard | Action::EditHeader(_) => {}
            Action::Notify {
                method,
                from,
                message,
                ..
            } => plan.notifications.push((method, from, message)),
            Action::Vacation(mut v) => {
                let s = &self.settings;
                let period = v
                    .period
                    .unwrap_or(s.vacation_default_period)
                    .max(s.vacation_min_period);
                v.period = Some(match s.vacation_max_period {
                    0 => period,
                    max => period.min(max),
                });
                plan.vacation.get_or_insert(v);
            }
        }
    }

    /// Where the copy for `address` (whose Maildir is `home`) goes under `plan`: folders that do
    /// not exist are made only with `:create`, else the copy stays in the inbox (logged).
    pub fn placement(&self, home: &Path, plan: &Plan, address: &str) -> Placement {
        let inbox = Maildir::new(home);
        let mut places: Vec<(Maildir, String)> = Vec::new();
        let mut keep_anyway = false;
        for (name, flags, create) in &plan.folders {
            let folder = self
                .storage_name(name)
                .map_err(str::to_owned)
                .and_then(|storage| {
                    if storage == "INBOX" {
                        return Ok(inbox.clone());
                    }
                    match (inbox.folder_exists(&storage), create) {
                        (true, _) => inbox.folder(&storage).map_err(|e| e.to_string()),
                        (false, true) => inbox.create_folder(&storage).map_err(|e| e.to_string()),
                        (false, false) => {
                            Err("the folder does not exist (and :create was not given)".into())
                        }
                    }
                });
            match folder {
                Ok(f) => places.push((f, flag_letters(flags, address))),
                Err(e) => {
                    warn!(user = %address, folder = %name, error = %e, "sieve: fileinto failed; keeping the message in the inbox");
                    keep_anyway = true;
                }
            }
        }
        if let Some(flags) = &plan.inbox {
            places.insert(0, (inbox.clone(), flag_letters(flags, address)));
        } else if keep_anyway && !places.iter().any(|(f, _)| *f == inbox) {
            places.insert(0, (inbox.clone(), String::new()));
        }
        let mut places = places.into_iter();
        Placement {
            first: places.next(),
            more: places.collect(),
        }
    }

    /// The storage folder a Sieve mailbox name means here.
    pub fn storage_name(&self, name: &str) -> Result<String, &'static str> {
        crate::delivery::folder_storage_name(name, self.separator)
    }
}

/// The score and threshold in the first `X-Spam-Status: Yes, score=7.1 required=5.0`.
fn spam_status(view: &view::View<'_>) -> Option<(f64, f64)> {
    let status = mailwright_sieve::Message::header(view, "x-spam-status")
        .into_iter()
        .next()?;
    let number = |key: &str| -> Option<f64> {
        let at = status.find(key)? + key.len();
        let rest = &status[at..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    Some((number("score=")?, number("required=")?))
}

/// IMAP system flags as Maildir letters; keywords are left out (logged), as a delivery has no
/// keyword file to write them to yet.
pub fn flag_letters(flags: &[String], user: &str) -> String {
    let mut letters = String::new();
    for flag in flags {
        let letter = match flag.to_ascii_lowercase().as_str() {
            "\\seen" => 'S',
            "\\answered" => 'R',
            "\\flagged" => 'F',
            "\\deleted" => 'T',
            "\\draft" => 'D',
            _ => {
                info!(%user, %flag, "sieve: keyword flags are not set at delivery");
                continue;
            }
        };
        letters.push(letter);
    }
    letters
}
