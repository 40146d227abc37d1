//! A logged-in user: their folders, the selected mailbox's view (sequence numbers, flags,
//! what this session has told the client), and every command that works on them.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use imap_proto::types::{decode_mutf7, encode_mutf7};
use imap_proto::{
    AppendHead, Code, Command, DateTime, FetchAttr, FetchValue, Flag, ListExtended, ListReturn,
    ListSelection, Mailbox, Response, SearchKey, SectionText, SelectParams, SequenceSet,
    ServerSession, Status, StatusItem, StoreMode, Tag,
};
use maildir::{Delivery, FolderError, FolderStamp, ListingCache, Maildir};
use tracing::warn;

use super::headers::{self, HeaderCache};
use super::{ImapService, WRITE_BATCH, flush, mime, ranges, search};
use crate::accounts::Accounts;
use crate::conn::Conn;

mod sync;

/// Folders a new mailbox starts with, and their RFC 6154 special use.
pub const DEFAULT_FOLDERS: [(&str, &str); 5] = [
    ("Drafts", "Drafts"),
    ("Sent", "Sent"),
    ("Junk", "Junk"),
    ("Trash", "Trash"),
    ("Archive", "Archive"),
];

const DELIMITER: char = '.';

/// Messages at least this large, asked for whole, are streamed rather than read into memory.
const STREAM_ABOVE: u64 = 1 << 20;
/// Octets read per step of a streamed message.
const STREAM_CHUNK: u64 = 256 << 10;

type Refusal = (Option<Code>, &'static str);

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Tells the shared listings what this session changed in a folder itself, so other sessions
/// (and this one) need not match `cur/` file by file to see it, and has the folder checked
/// again once its times settle (see [`recheck_later`]).
fn note_changes(
    listings: &Arc<ListingCache>,
    recheck: &mut Option<tokio::task::JoinHandle<()>>,
    maildir: &Maildir,
    renamed: &[maildir::Message],
    removed: &[u32],
) {
    if renamed.is_empty() && removed.is_empty() {
        return;
    }
    if let Err(e) = block(|| listings.note_changes(maildir, renamed, removed)) {
        warn!(error = %e, "imap: noting changes to the folder listing failed");
    }
    recheck_later(recheck, listings, maildir);
}

/// Reads `maildir` again through `listings` after this session changed it, once that read is
/// due ([`ListingCache::own_change_check`]): the shared listing was patched with the change, and
/// this read checks that nothing else changed the folder in the same clock tick (reading a
/// large `cur/` takes tens of milliseconds, better spent here than in the client's next
/// command). A change made before the wait ends restarts it (`slot` holds the pending read).
fn recheck_later(
    slot: &mut Option<tokio::task::JoinHandle<()>>,
    listings: &Arc<ListingCache>,
    maildir: &Maildir,
) {
    if let Some(pending) = slot.take() {
        pending.abort();
    }
    let listings = Arc::clone(listings);
    let maildir = maildir.clone();
    *slot = Some(tokio::spawn(async move {
        tokio::time::sleep(listings.own_change_check() + maildir::SETTLE).await;
        let read = tokio::task::spawn_blocking(move || listings.scan(&maildir)).await;
        if let Ok(Err(e)) = read {
            warn!(error = %e, "imap: reading a folder again after a change failed");
        }
    }));
}

/// A message as this session has shown it.
#[derive(Debug)]
pub(super) struct View {
    entry: Entry,
    pub recent: bool,
    /// Expunged by someone else while we could not say so yet.
    pub gone: bool,
}

/// The messages a session shows: the listing it shares, as it is (the common case, which a
/// SELECT makes without touching each message), or one view per message once any differs.
#[derive(Debug)]
enum Views {
    /// Message `i` is the listing's message `i`, neither recent nor gone.
    Listing(usize),
    Each(Vec<View>),
}

/// Where a session's message is: in the listing it shares with every session that opened the
/// folder (so opening a large folder copies no messages), or, once this session changed it or
/// must keep showing it after others expunged it, in a copy of its own.
#[derive(Debug)]
enum Entry {
    Shared(u32),
    Own(Box<maildir::Message>),
}

impl View {
    fn shared(index: usize, recent: bool) -> Self {
        View {
            entry: Entry::Shared(index as u32),
            recent,
            gone: false,
        }
    }
}

/// STORE's change: how, which flags, and whether to answer with them.
pub(super) struct FlagUpdate<'a> {
    mode: StoreMode,
    flags: &'a [Flag],
    silent: bool,
}

/// FETCH's CHANGEDSINCE modifier, and VANISHED with it (RFC 7162).
#[derive(Clone, Copy)]
pub(super) struct ChangedSince {
    modseq: u64,
    vanished: bool,
}

/// The selected mailbox.
#[derive(Debug)]
pub(super) struct Selected {
    pub maildir: Maildir,
    pub read_only: bool,
    pub uid_validity: u32,
    pub next_uid: u32,
    /// The listing the shared views point into.
    listing: Arc<maildir::Listing>,
    /// The messages shown, in sequence-number order (which is UID order).
    views: Views,
    /// Whether message `i` shown is the listing's message `i` for every `i` (none removed
    /// from the view alone, none kept after the listing lost it): a sync may then look only
    /// at what changed in the listing.
    aligned: bool,
    pub keywords: Vec<(u32, String)>,
    stamp: FolderStamp,
    /// The UIDs `SEARCH RETURN (SAVE)` saved, in order: what `$` stands for (RFC 5182).
    pub saved: Vec<u32>,
    /// This session's place in the folder: what is cached for it is let go once nobody is.
    _seat: super::seats::Seat,
}

impl Selected {
    /// The listing, when the session shows it as it is (no message of it changed or gone for
    /// this session).
    pub fn shared_listing(&self) -> Option<&Arc<maildir::Listing>> {
        matches!(self.views, Views::Listing(n) if n == self.listing.messages.len())
            .then_some(&self.listing)
    }

    /// How many messages the session shows.
    pub fn len(&self) -> usize {
        match &self.views {
            Views::Listing(n) => *n,
            Views::Each(v) => v.len(),
        }
    }

    /// The message at index `i` (sequence number `i + 1`).
    pub fn msg(&self, i: usize) -> &maildir::Message {
        match &self.views {
            Views::Listing(_) => &self.listing.messages[i],
            Views::Each(v) => match &v[i].entry {
                Entry::Shared(k) => &self.listing.messages[*k as usize],
                Entry::Own(m) => m,
            },
        }
    }

    /// Whether the message at `i` is `\Recent` to this session.
    pub fn is_recent(&self, i: usize) -> bool {
        matches!(&self.views, Views::Each(v) if v[i].recent)
    }

    /// Whether the message at `i` was expunged by someone else and is shown until it may be
    /// announced.
    pub fn is_gone(&self, i: usize) -> bool {
        matches!(&self.views, Views::Each(v) if v[i].gone)
    }

    /// One view per message, made now if the session still shows the listing as it is.
    fn each(&mut self) -> &mut Vec<View> {
        if let Views::Listing(n) = self.views {
            self.views = Views::Each((0..n).map(|k| View::shared(k, false)).collect());
        }
        match &mut self.views {
            Views::Each(v) => v,
            Views::Listing(_) => unreachable!("made above"),
        }
    }

    /// The message at `i`, to change: this session's own copy from now on.
    fn msg_mut(&mut self, i: usize) -> &mut maildir::Message {
        let listing = Arc::clone(&self.listing);
        let view = &mut self.each()[i];
        if let Entry::Shared(k) = view.entry {
            view.entry = Entry::Own(Box::new(listing.messages[k as usize].clone()));
        }
        match &mut view.entry {
            Entry::Own(m) => m,
            Entry::Shared(_) => unreachable!("made own above"),
        }
    }

    fn set_msg(&mut self, i: usize, m: maildir::Message) {
        self.each()[i].entry = Entry::Own(Box::new(m));
    }

    /// The messages in sequence-number order.
    pub fn messages(&self) -> impl Iterator<Item = &maildir::Message> {
        (0..self.len()).map(|i| self.msg(i))
    }

    /// The highest UID shown (0 when empty).
    pub fn last_uid(&self) -> u32 {
        self.len().checked_sub(1).map_or(0, |i| self.msg(i).uid)
    }

    /// Whether UID `uid` is in the saved search result.
    pub fn is_saved(&self, uid: u32) -> bool {
        self.saved.binary_search(&uid).is_ok()
    }

    /// The index of the first message whose UID is at least `uid`.
    fn first_at_or_above(&self, uid: u32) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.msg(mid).uid < uid {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub fn flags(&self, i: usize) -> Vec<Flag> {
        letters_to_flags(&self.msg(i).flags, &self.keywords, self.is_recent(i))
    }

    /// Removes the messages at `indices` (ascending) from the view, telling the client when
    /// `announce`: by sequence number, or by UID to a QRESYNC client (RFC 7162 §3.2.10).
    fn remove(&mut self, session: &mut ServerSession, indices: &[usize], announce: bool) {
        let qresync = announce && session.is_enabled("QRESYNC");
        if qresync {
            let uids: Vec<u32> = indices.iter().map(|&i| self.msg(i).uid).collect();
            if let Ok(uids) = SequenceSet::from_numbers(&uids) {
                let _ = session.send(&Response::Vanished {
                    earlier: false,
                    uids,
                });
            }
        }
        if announce && !qresync {
            // From the end, so each number is still right when the client reads it.
            for &i in indices.iter().rev() {
                let _ = session.send(&Response::Expunge(i as u32 + 1));
            }
        }
        let mut doomed = vec![false; self.len()];
        for &i in indices {
            doomed[i] = true;
        }
        let mut index = 0;
        self.aligned = false;
        self.each().retain(|_| {
            index += 1;
            !doomed[index - 1]
        });
    }

    /// Logs the flags just stored on the messages at `indices` and gives their views the new
    /// MODSEQs (a log of another UIDVALIDITY is left to the next rescan).
    fn record_modseqs(&mut self, modseqs: &maildir::ModSeqs, indices: &[usize]) {
        if indices.is_empty() {
            return;
        }
        let changes: Vec<(u32, Arc<str>)> = indices
            .iter()
            .map(|&i| (self.msg(i).uid, Arc::clone(&self.msg(i).flags)))
            .collect();
        match block(|| modseqs.record_flags(&self.maildir, self.uid_validity, &changes)) {
            Ok(Some(recorded)) => {
                for (&i, modseq) in indices.iter().zip(recorded) {
                    self.msg_mut(i).modseq = modseq;
                }
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "imap: logging MODSEQs failed"),
        }
    }
}

fn letters_to_flags(letters: &str, keywords: &[(u32, String)], recent: bool) -> Vec<Flag> {
    let mut flags = Vec::new();
    for c in letters.chars() {
        let f = match c {
            'D' => Flag::Draft,
            'F' => Flag::Flagged,
            'R' => Flag::Answered,
            'S' => Flag::Seen,
            'T' => Flag::Deleted,
            'a'..='z' => {
                let i = u32::from(c) - u32::from('a');
                match keywords
                    .iter()
                    .find(|(k, _)| *k == i)
                    .and_then(|(_, n)| imap_proto::Atom::new(n.clone()).ok())
                {
                    Some(a) => Flag::Keyword(a),
                    None => continue,
                }
            }
            _ => continue,
        };
        flags.push(f);
    }
    if recent {
        flags.push(Flag::Recent);
    }
    flags
}

/// `* FLAGS` and `* OK [PERMANENTFLAGS]` for a folder with `keywords`: at SELECT, and again
/// whenever a keyword is added, before any FETCH shows it (RFC 3501 §7.2.6).
fn send_flag_list(session: &mut ServerSession, keywords: &[(u32, String)], read_only: bool) {
    let mut flags: Vec<Flag> = Flag::SYSTEM.to_vec();
    flags.extend(
        keywords
            .iter()
            .filter_map(|(_, k)| imap_proto::Atom::new(k.clone()).ok())
            .map(Flag::Keyword),
    );
    let _ = session.send(&Response::Flags(flags.clone()));
    let permanent = if read_only { Vec::new() } else { flags };
    let _ = session.send(&Response::ok(
        Some(Code::PermanentFlags(permanent, !read_only)),
        "Flags permitted",
    ));
}

/// The file-name letters for `flags` in `md` (keywords get letters from `dovecot-keywords`).
fn flags_to_letters(flags: &[Flag], md: &Maildir) -> Result<String, Refusal> {
    let mut out = String::new();
    for f in flags {
        match f {
            Flag::Draft => out.push('D'),
            Flag::Flagged => out.push('F'),
            Flag::Answered => out.push('R'),
            Flag::Seen => out.push('S'),
            Flag::Deleted => out.push('T'),
            Flag::Recent => {}
            Flag::Extension(_) => return Err((None, "Unknown system flag")),
            Flag::Keyword(k) => match md.keyword_letter(k.as_str()) {
                Ok(l) => out.push(l),
                Err(e) => {
                    warn!(error = %e, "keyword");
                    return Err((Some(Code::Limit), "Too many keywords in this mailbox"));
                }
            },
        }
    }
    Ok(out)
}

fn sorted(letters: impl Iterator<Item = char>) -> String {
    let mut v: Vec<char> = letters.collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().collect()
}

/// An APPEND in progress.
struct Append {
    delivery: Option<Delivery>,
    folder: Maildir,
    head: AppendHead,
    failed: Option<String>,
}

/// A logged-in user.
pub struct User {
    pub username: String,
    root: Maildir,
    quota: maildir::QuotaLimits,
    /// The domain, and the quota of all its mailboxes together (octets; 0: none).
    domain: String,
    domain_quota: u64,
    accounts: Accounts,
    hostname: String,
    /// Space the file system keeps free (`[limits] min_free_space`).
    disk_reserve: crate::disk::Reserve,
    pub(super) selected: Option<Selected>,
    append: Option<Append>,
    listings: Arc<ListingCache>,
    headers: Arc<HeaderCache>,
    seats: Arc<super::seats::Seats>,
    /// Where the line ends of the last message read in chunks fall.
    line_ends: Option<ranges::LineEnds>,
    /// The pending read of a folder this session changed (see [`recheck_later`]).
    recheck: Option<tokio::task::JoinHandle<()>>,
}

/// Checks credentials and opens the user's mail store.
pub async fn login(
    service: &ImapService,
    username: &str,
    authzid: Option<&str>,
    password: String,
) -> Result<User, Refusal> {
    let accounts = &service.accounts;
    const FAILED: Refusal = (Some(Code::AuthenticationFailed), "Authentication failed");
    const TEMP: Refusal = (
        Some(Code::Unavailable),
        "Temporary authentication failure, try again later",
    );
    let default_scheme = service.config.accounts.default_password_scheme.clone();
    let ok = accounts
        .authenticate(username, password, default_scheme)
        .await
        .map_err(|e| {
            warn!(error = %e, "imap login: account lookup failed");
            TEMP
        })?;
    if !ok {
        return Err(FAILED);
    }
    let mailbox = accounts
        .mailbox(username)
        .await
        .map_err(|e| {
            warn!(error = %e, "imap login: mailbox lookup failed");
            TEMP
        })?
        .ok_or(FAILED)?;
    if let Some(a) = authzid
        && !a.eq_ignore_ascii_case(&mailbox.username)
    {
        return Err((
            Some(Code::AuthorizationFailed),
            "Not authorized to act as that user",
        ));
    }
    let root = Maildir::new(mailbox.maildir.clone());
    // Reading does not depend on writing: a store that cannot be made now (a full disk) is
    // read as empty, and made at the next login or delivery.
    if let Err(e) = block(|| prepare(&root)) {
        warn!(user = %mailbox.username, error = %e, "cannot create the mail store; reading it as it is");
    }
    Ok(User {
        username: mailbox.username,
        root,
        quota: service
            .config
            .quota_limits(mailbox.quota, mailbox.message_quota),
        domain: mailbox.domain,
        domain_quota: mailbox.domain_quota,
        accounts: accounts.clone(),
        hostname: service.config.hostname.clone(),
        disk_reserve: service.config.disk_reserve(),
        selected: None,
        append: None,
        listings: Arc::clone(&service.listings),
        headers: Arc::clone(&service.headers),
        seats: Arc::clone(&service.seats),
        line_ends: None,
        recheck: None,
    })
}

/// Creates the mail store and, for a mailbox never opened before, the default folders.
fn prepare(root: &Maildir) -> Result<(), maildir::Error> {
    root.create()?;
    if root.subscriptions()?.is_none() {
        for (name, _) in DEFAULT_FOLDERS {
            match root.create_folder(name) {
                Ok(_) | Err(FolderError::Exists) => {}
                Err(FolderError::Storage(e)) => return Err(e),
                Err(e) => warn!(folder = name, error = %e, "default folder"),
            }
        }
        root.set_subscribed("INBOX", true)?;
        for (name, _) in DEFAULT_FOLDERS {
            root.set_subscribed(name, true)?;
        }
    }
    Ok(())
}

/// How a message that could not be stored is refused: a full disk (or file-system quota) as
/// Dovecot says it (`NO [OVERQUOTA] Not enough disk space`), anything else as our fault. The
/// partly written file is gone by then (the delivery removes its tmp file).
fn store_refusal(error: &str) -> (Code, &'static str) {
    if error.starts_with("no space left on device") {
        (Code::OverQuota, "Not enough disk space")
    } else {
        (Code::ServerBug, "Could not store the message")
    }
}

/// The storage name of an IMAP mailbox name (`INBOX`, or modified UTF-7 with `.` levels).
fn storage_name(m: &Mailbox) -> Result<String, Refusal> {
    if m.is_inbox() {
        return Ok("INBOX".into());
    }
    let name = m.as_str();
    let name = name.strip_suffix(DELIMITER).unwrap_or(name);
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    let storage = encode_mutf7(name);
    maildir::validate_folder_name(&storage)
        .map_err(|_| (Some(Code::Cannot), "Invalid mailbox name"))?;
    Ok(storage)
}

fn display_name(storage: &str) -> String {
    decode_mutf7(storage).unwrap_or_else(|| storage.to_owned())
}

/// The folder hierarchy as LIST shows it, by display name.
struct FolderTree {
    /// Every name, with its storage name when the folder exists; parents implied by deeper
    /// names have none.
    names: BTreeMap<String, Option<String>>,
    /// Special-use attributes of existing folders.
    uses: HashMap<String, Vec<String>>,
    /// Subscribed names, in the file's order.
    subscribed: Vec<String>,
}

impl FolderTree {
    fn read(root: &Maildir) -> Result<Self, maildir::Error> {
        let mut names = BTreeMap::new();
        let mut uses = HashMap::new();
        names.insert("INBOX".to_owned(), Some("INBOX".to_owned()));
        for storage in root.list_folders()? {
            let name = display_name(&storage);
            let mut special = root.special_use(&storage)?;
            // Folders made without CREATE (USE ...) get the use their name suggests.
            if special.is_empty()
                && let Some((_, u)) = DEFAULT_FOLDERS.iter().find(|(n, _)| *n == name)
            {
                special.push((*u).to_owned());
            }
            uses.insert(name.clone(), special);
            names.insert(name, Some(storage));
        }
        let implied: Vec<String> = names
            .keys()
            .flat_map(|n| n.match_indices(DELIMITER).map(|(i, _)| n[..i].to_owned()))
            .collect();
        for parent in implied {
            names.entry(parent).or_insert(None);
        }
        let subscribed = root
            .subscriptions()?
            .unwrap_or_default()
            .iter()
            .map(|s| {
                if s == "INBOX" {
                    s.clone()
                } else {
                    display_name(s)
                }
            })
            .collect();
        Ok(Self {
            names,
            uses,
            subscribed,
        })
    }

    fn exists(&self, name: &str) -> bool {
        matches!(self.names.get(name), Some(Some(_)))
    }

    fn is_subscribed(&self, name: &str) -> bool {
        self.subscribed.iter().any(|s| s == name)
    }

    fn has_children(&self, name: &str) -> bool {
        let prefix = format!("{name}{DELIMITER}");
        self.names
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(n, _)| n.starts_with(&prefix))
    }

    fn special_use(&self, name: &str) -> &[String] {
        self.uses.get(name).map_or(&[], Vec::as_slice)
    }
}

/// LIST pattern matching: `*` matches anything, `%` anything but the delimiter. Dynamic
/// programming over one row, so a hostile pattern costs pattern × name steps, not more.
fn pattern_match(pattern: &[char], name: &[char]) -> bool {
    // row[j]: whether the pattern from the current position on matches name[j..].
    let mut row: Vec<bool> = (0..=name.len()).map(|j| j == name.len()).collect();
    for &p in pattern.iter().rev() {
        let mut next = vec![false; name.len() + 1];
        for j in (0..=name.len()).rev() {
            next[j] = match p {
                '*' => row[j] || (j < name.len() && next[j + 1]),
                '%' => row[j] || (j < name.len() && name[j] != DELIMITER && next[j + 1]),
                c => j < name.len() && name[j] == c && row[j + 1],
            };
        }
        row = next;
    }
    row[0]
}

fn matches_pattern(pattern: &str, name: &str) -> bool {
    // INBOX matches case-insensitively.
    let pattern =
        if name == "INBOX" && pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case("INBOX") {
            format!("INBOX{}", &pattern[5..])
        } else {
            pattern.to_owned()
        };
    let n: Vec<char> = name.chars().collect();
    // Runs of wildcards match what their widest member matches; after folding them, a
    // pattern with more literal characters than the name cannot match it.
    let mut p: Vec<char> = Vec::new();
    let mut literals = 0;
    for c in pattern.chars() {
        match (c, p.last_mut()) {
            ('*' | '%', Some(last @ ('*' | '%'))) => {
                if c == '*' {
                    *last = '*';
                }
            }
            ('*' | '%', _) => p.push(c),
            _ => {
                literals += 1;
                if literals > n.len() {
                    return false;
                }
                p.push(c);
            }
        }
    }
    pattern_match(&p, &n)
}

impl User {
    /// The storage name of `m` when that folder exists; otherwise answers NO and gives `None`.
    fn existing_folder(&self, session: &mut ServerSession, m: &Mailbox) -> Option<String> {
        match storage_name(m) {
            Ok(s) if self.root.folder_exists(&s) => Some(s),
            Ok(_) => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::NonExistent),
                    "Mailbox does not exist",
                );
                None
            }
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                None
            }
        }
    }

    fn internal_error(&self, session: &mut ServerSession, what: &str, e: &dyn std::fmt::Display) {
        warn!(user = %self.username, error = %e, "imap {what} failed");
        let _ = session.complete(
            Status::No,
            Some(Code::ServerBug),
            "Internal error, see the server log",
        );
    }

    /// Whether what the session last saw of its selected folder was settled (see
    /// [`FolderStamp::is_settled`]); if not, a session in IDLE looks again soon, since a change
    /// in the same clock tick would not wake it a second time.
    pub fn folder_settled(&self) -> bool {
        self.selected.as_ref().is_none_or(|s| s.stamp.is_settled())
    }

    /// The directory of the selected folder, if any.
    pub fn selected_folder(&self) -> Option<std::path::PathBuf> {
        self.selected.as_ref().map(|s| s.maildir.path().to_owned())
    }

    /// Runs one command and completes it.
    pub async fn command(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
        tag: &Tag,
        command: Command,
    ) -> io::Result<()> {
        match command {
            Command::Noop | Command::Check => {
                self.sync(session, true);
                let _ = session.complete(Status::Ok, None, "NOOP completed");
            }
            Command::Select(m, params) => self.select(session, &m, &params, false),
            Command::Examine(m, params) => self.select(session, &m, &params, true),
            Command::Create {
                mailbox,
                special_use,
            } => self.create(session, &mailbox, &special_use),
            Command::Delete(m) => self.delete(session, &m),
            Command::Rename { from, to } => self.rename(session, &from, &to),
            Command::Subscribe(m) => self.subscribe(session, &m, true),
            Command::Unsubscribe(m) => self.subscribe(session, &m, false),
            Command::List {
                reference,
                patterns,
                selection,
                returns,
                lsub,
            } => self.list(session, &reference, &patterns, selection, &returns, lsub),
            Command::Namespace => {
                let _ = session.send(&Response::Namespace {
                    prefix: String::new(),
                    delimiter: DELIMITER,
                });
                let _ = session.complete(Status::Ok, None, "NAMESPACE completed");
            }
            Command::Status { mailbox, items } => self.status(session, &mailbox, &items),
            Command::Close => {
                if let Some(sel) = self.selected.as_ref()
                    && !sel.read_only
                {
                    let all: Vec<usize> = (0..sel.len()).collect();
                    self.expunge(session, all, false);
                }
                self.selected = None;
                let _ = session.complete(Status::Ok, None, "CLOSE completed");
            }
            Command::Unselect => {
                self.selected = None;
                let _ = session.complete(Status::Ok, None, "UNSELECT completed");
            }
            Command::Expunge => {
                let all: Vec<usize> = self
                    .selected
                    .as_ref()
                    .map(|s| (0..s.len()).collect())
                    .unwrap_or_default();
                if self.writable(session) {
                    self.expunge(session, all, true);
                    self.sync(session, true);
                    let _ = session.complete(Status::Ok, None, "EXPUNGE completed");
                }
            }
            Command::UidExpunge(set) => {
                if self.writable(session) {
                    match self.resolve(&set, true) {
                        Ok(idx) => {
                            self.expunge(session, idx, true);
                            self.sync(session, true);
                            let _ = session.complete(Status::Ok, None, "UID EXPUNGE completed");
                        }
                        Err(e) => {
                            let _ = session.complete(Status::Bad, None, e);
                        }
                    }
                }
            }
            Command::Search {
                uid,
                charset,
                criteria,
                return_options,
            } => self.search(
                session,
                tag,
                uid,
                charset.as_deref(),
                &criteria,
                return_options.as_deref(),
            ),
            Command::Fetch {
                uid,
                set,
                attributes,
                changed_since,
                vanished,
            } => {
                let since = changed_since.map(|modseq| ChangedSince { modseq, vanished });
                self.fetch(session, conn, uid, &set, &attributes, since)
                    .await?
            }
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => {
                let update = FlagUpdate {
                    mode,
                    flags: &flags,
                    silent,
                };
                self.store(session, uid, &set, update, unchanged_since)
            }
            Command::Copy { uid, set, mailbox } => {
                self.copy(session, uid, &set, &mailbox, false).await
            }
            Command::Move { uid, set, mailbox } => {
                self.copy(session, uid, &set, &mailbox, true).await
            }
            Command::Sort {
                uid,
                criteria,
                charset,
                search,
            } => self.sort(session, uid, &criteria, &charset, &search),
            Command::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => self.thread(session, uid, algorithm.as_str(), &charset, &search),
            Command::GetQuotaRoot(m) => {
                if self.existing_folder(session, &m).is_none() {
                    return Ok(());
                }
                // One quota root, "", covers every folder of the mailbox (Maildir++ counts
                // them together).
                let roots = if self.quota.any() {
                    vec![String::new()]
                } else {
                    Vec::new()
                };
                let _ = session.send(&Response::QuotaRoot {
                    mailbox: m.as_str().to_owned(),
                    roots,
                });
                if self.quota.any() {
                    self.send_quota(session);
                }
                let _ = session.complete(Status::Ok, None, "GETQUOTAROOT completed");
            }
            Command::GetQuota(root) => {
                if root.is_empty() && self.quota.any() {
                    self.send_quota(session);
                    let _ = session.complete(Status::Ok, None, "GETQUOTA completed");
                } else {
                    let _ =
                        session.complete(Status::No, Some(Code::NonExistent), "No such quota root");
                }
            }
            Command::SetQuota { .. } => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::NoPerm),
                    "Quotas are set by the administrator",
                );
            }
            other => {
                let _ = session.complete(
                    Status::Bad,
                    None,
                    &format!("{} is not supported", other.name()),
                );
            }
        }
        Ok(())
    }

    fn writable(&self, session: &mut ServerSession) -> bool {
        match &self.selected {
            Some(s) if !s.read_only => true,
            _ => {
                let _ = session.complete(Status::No, Some(Code::ReadOnly), "Mailbox is read-only");
                false
            }
        }
    }

    /// Message indices a set names. Sequence numbers beyond the mailbox are an error; UIDs
    /// that do not exist are skipped (RFC 9051 §6.4.9).
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, &'static str> {
        let Some(sel) = &self.selected else {
            return Err("No mailbox selected");
        };
        if set.is_saved() {
            // `$`: whichever saved messages are still here (RFC 5182 §2.1).
            return Ok((0..sel.len())
                .filter(|&i| sel.is_saved(sel.msg(i).uid))
                .collect());
        }
        let len = sel.len();
        let mut out = Vec::new();
        for &(a, b) in set.ranges() {
            if uid {
                let largest = sel.last_uid();
                let val = |n: imap_proto::SeqNumber| match n {
                    imap_proto::SeqNumber::Value(v) => v,
                    imap_proto::SeqNumber::Largest => largest,
                };
                let (lo, hi) = (val(a).min(val(b)), val(a).max(val(b)));
                let start = sel.first_at_or_above(lo);
                let end = sel.first_at_or_above(hi.saturating_add(1));
                out.extend(start..end);
            } else {
                if len == 0 {
                    return Err("No messages in the mailbox");
                }
                let val = |n: imap_proto::SeqNumber| match n {
                    imap_proto::SeqNumber::Value(v) => v as usize,
                    imap_proto::SeqNumber::Largest => len,
                };
                let (lo, hi) = (val(a).min(val(b)), val(a).max(val(b)));
                if hi > len {
                    return Err("Invalid message sequence number");
                }
                out.extend(lo - 1..hi);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn select(
        &mut self,
        session: &mut ServerSession,
        m: &Mailbox,
        params: &SelectParams,
        read_only: bool,
    ) {
        if params.qresync.is_some() && !session.is_enabled("QRESYNC") {
            let _ = session.complete(Status::Bad, None, "ENABLE QRESYNC first");
            return;
        }
        if params.condstore {
            session.enable("CONDSTORE");
        }
        // RFC 7162 §3.2.11: the end of the previous mailbox's answers, whatever follows.
        if self.selected.take().is_some() {
            let _ = session.send(&Response::ok(Some(Code::Closed), "Previous mailbox closed"));
        }
        let Some(storage) = self.existing_folder(session, m) else {
            return;
        };
        let md = match self.root.folder(&storage) {
            Ok(md) => md,
            Err(e) => return self.internal_error(session, "SELECT", &e),
        };
        let listings = &self.listings;
        let rev2 = session.is_enabled("IMAP4rev2");
        let opened = block(|| -> Result<_, maildir::Error> {
            let (stamp, listing) = listings.scan_stamped(&md)?;
            let mut views = Views::Listing(listing.messages.len());
            let mut renamed = Vec::new();
            // Messages in new/ are \Recent to the first session that selects them.
            if !read_only && listing.summary.in_new > 0 {
                let mut each: Vec<View> = (0..listing.messages.len())
                    .map(|k| View::shared(k, false))
                    .collect();
                for (k, m) in listing.messages.iter().enumerate() {
                    // Only the session whose rename moves it claims it.
                    if let Some(moved) = md.claim_new(m)? {
                        renamed.push(moved.clone());
                        each[k] = View {
                            entry: Entry::Own(Box::new(moved)),
                            recent: !rev2,
                            gone: false,
                        };
                    }
                }
                views = Views::Each(each);
            }
            let keywords = listing.keywords.clone();
            Ok((stamp, listing, views, keywords, renamed))
        });
        let (stamp, listing, views, keywords, renamed) = match opened {
            Ok(v) => v,
            Err(e) => return self.internal_error(session, "SELECT", &e),
        };
        note_changes(&self.listings, &mut self.recheck, &md, &renamed, &[]);
        send_flag_list(session, &keywords, read_only);
        let (exists, recent) = match &views {
            Views::Listing(n) => (*n, 0),
            Views::Each(v) => (v.len(), v.iter().filter(|v| v.recent).count()),
        };
        let _ = session.send(&Response::Exists(exists as u32));
        // RFC 9051 dropped RECENT and the UNSEEN code.
        if !rev2 {
            let _ = session.send(&Response::Recent(recent as u32));
        }
        if !rev2 && let Some(first) = listing.summary.first_unseen {
            let _ = session.send(&Response::ok(
                Some(Code::Unseen(first as u32 + 1)),
                "First unseen",
            ));
        }
        let _ = session.send(&Response::ok(
            Some(Code::UidValidity(listing.uid_validity)),
            "UIDs valid",
        ));
        let _ = session.send(&Response::ok(
            Some(Code::UidNext(listing.next_uid)),
            "Predicted next UID",
        ));
        let _ = session.send(&Response::ok(
            Some(Code::HighestModSeq(listing.highest_modseq)),
            "Highest",
        ));
        let selected = Selected {
            stamp,
            _seat: self.seats.take(md.path()),
            maildir: md,
            read_only,
            uid_validity: listing.uid_validity,
            next_uid: listing.next_uid,
            listing,
            views,
            aligned: true,
            keywords,
            saved: Vec::new(),
        };
        if let Some(q) = &params.qresync
            && q.uid_validity == selected.uid_validity
        {
            self.resync(session, &selected, q);
        }
        self.selected = Some(selected);
        let (code, text) = if read_only {
            (Code::ReadOnly, "EXAMINE completed")
        } else {
            (Code::ReadWrite, "SELECT completed")
        };
        let _ = session.complete(Status::Ok, Some(code), text);
    }

    /// Turns CONDSTORE on for a command that uses it (RFC 7162 §3.1); a mailbox selected
    /// before gets its HIGHESTMODSEQ now, as SELECT would have said.
    fn condstore_enabled(&self, session: &mut ServerSession) {
        if session.enable("CONDSTORE")
            && let Some(sel) = &self.selected
        {
            let highest = sel.messages().map(|m| m.modseq).max().unwrap_or(0);
            let _ = session.send(&Response::ok(Some(Code::HighestModSeq(highest)), "Highest"));
        }
    }

    /// QRESYNC (RFC 7162 §3.2.5): what changed since the client's MODSEQ, among the UIDs it
    /// knows: the expunged as `VANISHED (EARLIER)`, the rest as FETCH with flags and MODSEQ.
    fn resync(&self, session: &mut ServerSession, sel: &Selected, q: &imap_proto::QResync) {
        let largest = sel.next_uid.saturating_sub(1);
        let known = |uid: u32| {
            q.known_uids
                .as_ref()
                .is_none_or(|k| k.contains(uid, largest))
        };
        let vanished = self.vanished(sel, q.modseq, &known);
        if let Some(uids) = vanished {
            let _ = session.send(&Response::Vanished {
                earlier: true,
                uids,
            });
        }
        for (i, m) in sel.messages().enumerate() {
            if m.modseq > q.modseq && known(m.uid) {
                let _ = session.send(&Response::Fetch {
                    seq: i as u32 + 1,
                    items: vec![
                        FetchValue::Uid(m.uid),
                        FetchValue::Flags(sel.flags(i)),
                        FetchValue::ModSeq(m.modseq),
                    ],
                });
            }
        }
    }

    /// The UIDs `known` to the client that were expunged after `modseq`; when the MODSEQ log
    /// does not reach back that far, every known UID below UIDNEXT that is not in the mailbox
    /// (RFC 7162 §3.2.5.2 lets a server name more than it must). `None` when there are none.
    fn vanished(
        &self,
        sel: &Selected,
        modseq: u64,
        known: &dyn Fn(u32) -> bool,
    ) -> Option<SequenceSet> {
        let logged = block(|| {
            self.listings
                .modseqs()
                .vanished_since(&sel.maildir, sel.uid_validity, modseq)
        });
        let uids: Vec<u32> = match logged {
            Ok(Some(uids)) => uids.into_iter().filter(|&u| known(u)).collect(),
            Ok(None) | Err(_) => {
                let present: std::collections::HashSet<u32> =
                    sel.messages().map(|m| m.uid).collect();
                (1..sel.next_uid)
                    .filter(|u| known(*u) && !present.contains(u))
                    .collect()
            }
        };
        SequenceSet::from_numbers(&uids).ok()
    }

    fn create(&mut self, session: &mut ServerSession, m: &Mailbox, special: &[imap_proto::Atom]) {
        // RFC 6154 §3: the uses a plain folder can serve; \All and \Flagged would need
        // virtual mailboxes, which this server does not have.
        let mut uses: Vec<&str> = Vec::new();
        for attr in special {
            let known = ["Archive", "Drafts", "Junk", "Sent", "Trash"]
                .into_iter()
                .find(|u| {
                    attr.as_str()
                        .trim_start_matches('\\')
                        .eq_ignore_ascii_case(u)
                });
            match known {
                Some(u) if !uses.contains(&u) => uses.push(u),
                Some(_) => {}
                None => {
                    let _ = session.complete(
                        Status::No,
                        Some(Code::UseAttr),
                        "Only \\Archive, \\Drafts, \\Junk, \\Sent and \\Trash can be given here",
                    );
                    return;
                }
            }
        }
        let storage = match storage_name(m) {
            Ok(s) => s,
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                return;
            }
        };
        if storage == "INBOX" {
            let _ = session.complete(Status::No, Some(Code::AlreadyExists), "INBOX always exists");
            return;
        }
        match block(|| self.root.create_folder_with_use(&storage, &uses)) {
            Ok(_) => {
                let _ = session.complete(Status::Ok, None, "CREATE completed");
            }
            Err(FolderError::Exists) => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::AlreadyExists),
                    "Mailbox already exists",
                );
            }
            Err(FolderError::InvalidName(why)) => {
                let _ = session.complete(Status::No, Some(Code::Cannot), why);
            }
            Err(e) => self.internal_error(session, "CREATE", &e),
        }
    }

    fn delete(&mut self, session: &mut ServerSession, m: &Mailbox) {
        let storage = match storage_name(m) {
            Ok(s) if s != "INBOX" => s,
            Ok(_) => {
                let _ = session.complete(Status::No, Some(Code::Cannot), "INBOX cannot be deleted");
                return;
            }
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                return;
            }
        };
        if self
            .selected
            .as_ref()
            .is_some_and(|s| s.maildir.path() == self.root.path().join(format!(".{storage}")))
        {
            self.selected = None;
        }
        match block(|| self.root.delete_folder(&storage)) {
            Ok(()) => {
                let _ = session.complete(Status::Ok, None, "DELETE completed");
            }
            Err(FolderError::NotFound) => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::NonExistent),
                    "Mailbox does not exist",
                );
            }
            Err(FolderError::InvalidName(why)) => {
                let _ = session.complete(Status::No, Some(Code::Cannot), why);
            }
            Err(e) => self.internal_error(session, "DELETE", &e),
        }
    }

    fn rename(&mut self, session: &mut ServerSession, from: &Mailbox, to: &Mailbox) {
        let names = storage_name(from).and_then(|f| Ok((f, storage_name(to)?)));
        let (from, to) = match names {
            Ok((f, _)) if f == "INBOX" => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::Cannot),
                    "Renaming INBOX is not supported; move its messages instead",
                );
                return;
            }
            Ok(v) => v,
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                return;
            }
        };
        match block(|| self.root.rename_folder(&from, &to)) {
            Ok(()) => {
                let _ = session.complete(Status::Ok, None, "RENAME completed");
            }
            Err(FolderError::NotFound) => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::NonExistent),
                    "Mailbox does not exist",
                );
            }
            Err(FolderError::Exists) => {
                let _ = session.complete(
                    Status::No,
                    Some(Code::AlreadyExists),
                    "Target mailbox already exists",
                );
            }
            Err(FolderError::InvalidName(why)) => {
                let _ = session.complete(Status::No, Some(Code::Cannot), why);
            }
            Err(e) => self.internal_error(session, "RENAME", &e),
        }
    }

    fn subscribe(&mut self, session: &mut ServerSession, m: &Mailbox, on: bool) {
        let storage = match storage_name(m) {
            Ok(s) => s,
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                return;
            }
        };
        if on && !self.root.folder_exists(&storage) {
            let _ = session.complete(
                Status::No,
                Some(Code::NonExistent),
                "Mailbox does not exist",
            );
            return;
        }
        match block(|| self.root.set_subscribed(&storage, on)) {
            Ok(()) => {
                let _ = session.complete(
                    Status::Ok,
                    None,
                    if on {
                        "SUBSCRIBE completed"
                    } else {
                        "UNSUBSCRIBE completed"
                    },
                );
            }
            Err(e) => self.internal_error(session, "SUBSCRIBE", &e),
        }
    }

    fn list(
        &mut self,
        session: &mut ServerSession,
        reference: &str,
        patterns: &[String],
        selection: ListSelection,
        returns: &ListReturn,
        lsub: bool,
    ) {
        let done = if lsub {
            "LSUB completed"
        } else {
            "LIST completed"
        };
        if patterns.len() == 1 && patterns[0].is_empty() {
            // LIST "" "": the hierarchy delimiter and root.
            let _ = session.send(&Response::List {
                attributes: atoms(&["Noselect"]),
                delimiter: Some(DELIMITER),
                mailbox: String::new(),
                lsub,
                extended: Vec::new(),
            });
            let _ = session.complete(Status::Ok, None, done);
            return;
        }
        let tree = match block(|| FolderTree::read(&self.root)) {
            Ok(t) => t,
            Err(e) => return self.internal_error(session, "LIST", &e),
        };
        let full_patterns: Vec<String> =
            patterns.iter().map(|p| format!("{reference}{p}")).collect();
        let matches = |name: &str| full_patterns.iter().any(|p| matches_pattern(p, name));
        if lsub {
            // RFC 3501 §6.3.9: a subscribed name the pattern does not reach (`%` stops at a
            // level) brings its unsubscribed parent that it does reach, as \Noselect.
            let mut names: Vec<(String, bool)> = Vec::new();
            for name in &tree.subscribed {
                if matches(name) {
                    names.push((name.clone(), false));
                    continue;
                }
                let mut parent = name.as_str();
                while let Some((up, _)) = parent.rsplit_once(DELIMITER) {
                    parent = up;
                    if matches(parent) && !tree.is_subscribed(parent) {
                        if !names.iter().any(|(n, _)| n == parent) {
                            names.push((parent.to_owned(), true));
                        }
                        break;
                    }
                }
            }
            for (name, parent_only) in &names {
                let mut attrs: Vec<&str> = Vec::new();
                if *parent_only || !tree.exists(name) {
                    attrs.push("Noselect");
                }
                attrs.extend(tree.special_use(name).iter().map(String::as_str));
                let _ = session.send(&Response::List {
                    attributes: atoms(&attrs),
                    delimiter: Some(DELIMITER),
                    mailbox: name.clone(),
                    lsub: true,
                    extended: Vec::new(),
                });
            }
            let _ = session.complete(Status::Ok, None, done);
            return;
        }
        // RFC 5258 §3: the names that meet the selection, and with RECURSIVEMATCH the parents
        // of such names too (marked with CHILDINFO).
        let meets = |name: &str| {
            (!selection.subscribed || tree.is_subscribed(name))
                && (!selection.special_use || !tree.special_use(name).is_empty())
        };
        let mut candidates: Vec<&str> = tree.names.keys().map(String::as_str).collect();
        if selection.subscribed {
            candidates.extend(
                tree.subscribed
                    .iter()
                    .filter(|s| !tree.names.contains_key(*s))
                    .map(String::as_str),
            );
            candidates.sort_unstable();
            candidates.dedup();
        }
        let descendants = |name: &str| {
            let prefix = format!("{name}{DELIMITER}");
            candidates
                .iter()
                .copied()
                .filter(move |c| c.starts_with(&prefix))
        };
        for &name in &candidates {
            if !matches(name) {
                continue;
            }
            let child_meets = selection.recursive_match && descendants(name).any(meets);
            let listed = meets(name)
                || (selection.recursive_match
                    && descendants(name).any(|d| meets(d) && !matches(d)));
            if !listed {
                continue;
            }
            let exists = tree.exists(name);
            let mut attrs: Vec<&str> = Vec::new();
            if !exists {
                // A parent implied by deeper names is \Noselect in a plain listing; anything
                // else listed but absent is \NonExistent (RFC 5258 §3.4).
                attrs.push(if tree.names.contains_key(name) && !selection.filters() {
                    "Noselect"
                } else {
                    "NonExistent"
                });
            }
            attrs.push(if tree.has_children(name) {
                "HasChildren"
            } else {
                "HasNoChildren"
            });
            if returns.marks_subscribed(&selection) && tree.is_subscribed(name) {
                attrs.push("Subscribed");
            }
            attrs.extend(tree.special_use(name).iter().map(String::as_str));
            let extended = if child_meets {
                vec![ListExtended::ChildInfo(ListSelection {
                    recursive_match: false,
                    remote: false,
                    ..selection
                })]
            } else {
                Vec::new()
            };
            let _ = session.send(&Response::List {
                attributes: atoms(&attrs),
                delimiter: Some(DELIMITER),
                mailbox: name.to_owned(),
                lsub: false,
                extended,
            });
            // RFC 5819: STATUS right after the LIST of each selectable mailbox; one that
            // cannot be read is left out rather than failing the listing.
            if exists
                && !returns.status.is_empty()
                && let Some(Some(storage)) = tree.names.get(name)
                && let Ok(items) = block(|| self.status_values(storage, &returns.status))
            {
                let _ = session.send(&Response::Status {
                    mailbox: name.to_owned(),
                    items,
                });
            }
        }
        let _ = session.complete(Status::Ok, None, done);
    }

    fn status(&mut self, session: &mut ServerSession, m: &Mailbox, items: &[StatusItem]) {
        let Some(storage) = self.existing_folder(session, m) else {
            return;
        };
        if items.contains(&StatusItem::HighestModSeq) {
            self.condstore_enabled(session);
        }
        let values = match block(|| self.status_values(&storage, items)) {
            Ok(v) => v,
            Err(e) => return self.internal_error(session, "STATUS", &e),
        };
        let name = if storage == "INBOX" {
            storage
        } else {
            display_name(&storage)
        };
        let _ = session.send(&Response::Status {
            mailbox: name,
            items: values,
        });
        let _ = session.complete(Status::Ok, None, "STATUS completed");
    }

    /// The STATUS values of a folder, by storage name.
    fn status_values(
        &self,
        storage: &str,
        items: &[StatusItem],
    ) -> Result<Vec<(StatusItem, u64)>, String> {
        let listing = self
            .root
            .folder(storage)
            .map_err(|e| e.to_string())
            .and_then(|md| self.listings.scan(&md).map_err(|e| e.to_string()))?;
        let summary = listing.summary;
        Ok(items
            .iter()
            .map(|&item| {
                let v = match item {
                    StatusItem::Messages => listing.messages.len() as u64,
                    StatusItem::Recent => summary.in_new as u64,
                    StatusItem::UidNext => u64::from(listing.next_uid),
                    StatusItem::UidValidity => u64::from(listing.uid_validity),
                    StatusItem::Unseen => summary.unseen as u64,
                    StatusItem::Deleted => summary.deleted as u64,
                    StatusItem::Size => summary.vsize,
                    StatusItem::HighestModSeq => listing.highest_modseq,
                };
                (item, v)
            })
            .collect())
    }

    /// Removes the `\Deleted` messages among `indices`, telling the client when `announce`.
    fn expunge(&mut self, session: &mut ServerSession, indices: Vec<usize>, announce: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let targets: Vec<usize> = indices
            .into_iter()
            .filter(|&i| sel.msg(i).has_flag('T') && !sel.is_gone(i))
            .collect();
        if targets.is_empty() {
            return;
        }
        let removed = block(|| -> Result<(i64, i64), maildir::Error> {
            let mut freed = (0i64, 0i64);
            for &i in &targets {
                // Counted by whoever removed it: sessions expunging the same message at
                // once take it off the quota once.
                if sel.maildir.expunge(sel.msg(i))? {
                    freed = (freed.0 + sel.msg(i).size as i64, freed.1 + 1);
                }
            }
            sel.maildir.sync()?;
            Ok(freed)
        });
        if removed.is_ok() {
            let uids: Vec<u32> = targets.iter().map(|&i| sel.msg(i).uid).collect();
            note_changes(&self.listings, &mut self.recheck, &sel.maildir, &[], &uids);
        }
        match removed {
            Ok(freed) => {
                sel.remove(session, &targets, announce);
                self.account_usage(-freed.0, -freed.1);
            }
            Err(e) => warn!(user = %self.username, error = %e, "imap expunge failed"),
        }
    }

    /// Records a change of stored octets and messages in `maildirsize` and `quota2`.
    fn account_usage(&self, bytes: i64, messages: i64) {
        if let Err(e) = block(|| self.root.quota_add(bytes, messages, self.quota)) {
            warn!(user = %self.username, error = %e, "maildirsize update failed");
        }
        let accounts = self.accounts.clone();
        let user = self.username.clone();
        tokio::spawn(async move {
            if let Err(e) = accounts.record_usage(&user, bytes, messages).await {
                warn!(%user, error = %e, "could not update quota2");
            }
        });
    }

    /// `* QUOTA "" (STORAGE used limit MESSAGE used limit)`, each resource that is limited;
    /// STORAGE in units of 1024 octets as RFC 9208 counts it.
    fn send_quota(&self, session: &mut ServerSession) {
        let usage = match block(|| self.root.quota_usage(self.quota)) {
            Ok(usage) => usage,
            Err(e) => {
                warn!(user = %self.username, error = %e, "reading quota usage failed");
                return;
            }
        };
        let mut resources = Vec::new();
        if self.quota.bytes > 0 {
            let used = usage.bytes.max(0) as u64;
            resources.extend(
                imap_proto::Atom::new("STORAGE")
                    .map(|a| (a, used.div_ceil(1024), self.quota.bytes / 1024)),
            );
        }
        if self.quota.messages > 0 {
            let used = usage.messages.max(0) as u64;
            resources
                .extend(imap_proto::Atom::new("MESSAGE").map(|a| (a, used, self.quota.messages)));
        }
        let _ = session.send(&Response::Quota {
            root: String::new(),
            resources,
        });
    }

    /// Whether adding `messages` messages of `bytes` octets in all would pass a limit.
    fn over_quota(&self, bytes: u64, messages: u64) -> bool {
        if self.domain_quota > 0 {
            let usage = block(|| {
                tokio::runtime::Handle::current().block_on(self.accounts.domain_usage(&self.domain))
            });
            match usage {
                Ok(used) if used.saturating_add(bytes) > self.domain_quota => return true,
                Ok(_) => {}
                Err(e) => {
                    warn!(domain = %self.domain, error = %e, "domain usage unreadable; allowing")
                }
            }
        }
        if !self.quota.any() {
            return false;
        }
        match block(|| self.root.quota_usage(self.quota)) {
            Ok(usage) => self.quota.exceeded(usage, (bytes, messages)),
            Err(e) => {
                warn!(user = %self.username, error = %e, "quota check failed; allowing");
                false
            }
        }
    }

    fn search(
        &mut self,
        session: &mut ServerSession,
        tag: &Tag,
        uid: bool,
        charset: Option<&str>,
        key: &SearchKey,
        return_options: Option<&[imap_proto::Atom]>,
    ) {
        // RFC 4731: MIN, MAX, COUNT, ALL; an empty list means ALL. RFC 5182: SAVE keeps the
        // result for `$`, and alone asks for no answer.
        let want =
            |o: &str| return_options.is_some_and(|opts| opts.iter().any(|a| a.as_str() == o));
        let save = want("SAVE");
        // RFC 9051 §7.3.4: an IMAP4rev2 client gets ESEARCH, ALL by default.
        let return_options = match return_options {
            None if session.is_enabled("IMAP4rev2") => Some(&[][..]),
            other => other,
        };
        let esearch = return_options.map(|opts| {
            (
                want("MIN"),
                want("MAX"),
                want("COUNT"),
                want("ALL") || opts.is_empty(),
            )
        });
        if save && let Some(sel) = self.selected.as_mut() {
            // A SEARCH that fails leaves `$` empty.
            sel.saved.clear();
        }
        if let Some(opts) = return_options
            && let Some(bad) = opts
                .iter()
                .find(|a| !matches!(a.as_str(), "MIN" | "MAX" | "COUNT" | "ALL" | "SAVE"))
        {
            let _ = session.complete(
                Status::Bad,
                None,
                &format!("Unsupported SEARCH return option {bad}"),
            );
            return;
        }
        if let Some(cs) = charset
            && !self.charset_ok(session, cs)
        {
            return;
        }
        if search::uses_modseq(key) {
            self.condstore_enabled(session);
        }
        let Some(sel) = &self.selected else { return };
        let cache = search::uses_cache(key).then(|| {
            block(|| {
                self.headers
                    .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
            })
        });
        let found = block(|| {
            let found = search::run(sel, key, cache.as_deref());
            if let Some(c) = &cache {
                headers::lock_folder(c).flush(&sel.maildir);
            }
            found
        });
        // RFC 7162 §3.1.5: the highest MODSEQ of the messages returned; with only MIN and/or
        // MAX, those are the one or two messages named, not every match.
        let returned: Vec<usize> = match esearch {
            Some((min, max, false, false)) if min || max => {
                let mut ends: Vec<usize> = Vec::new();
                ends.extend(found.first().filter(|_| min));
                ends.extend(found.last().filter(|_| max));
                ends
            }
            _ => found.clone(),
        };
        let modseq = search::uses_modseq(key)
            .then(|| returned.iter().map(|&i| sel.msg(i).modseq).max())
            .flatten();
        let saved: Option<Vec<u32>> = save.then(|| {
            let uids: Vec<u32> = found.iter().map(|&i| sel.msg(i).uid).collect();
            match esearch {
                // RFC 5182 §2.4: SAVE with only MIN and/or MAX keeps just those.
                Some((min, max, false, false)) if min || max => {
                    let mut kept: Vec<u32> = Vec::new();
                    kept.extend(uids.first().filter(|_| min));
                    kept.extend(uids.last().filter(|_| max));
                    kept.dedup();
                    kept
                }
                _ => uids,
            }
        });
        let numbers: Vec<u32> = found
            .into_iter()
            .map(|i| if uid { sel.msg(i).uid } else { i as u32 + 1 })
            .collect();
        match esearch {
            None => {
                let _ = session.send(&Response::Search(numbers, modseq));
            }
            Some((false, false, false, false)) => {}
            Some((min, max, count, all)) => {
                let _ = session.send(&Response::ESearch {
                    tag: tag.clone(),
                    uid,
                    min: numbers.iter().min().copied().filter(|_| min),
                    max: numbers.iter().max().copied().filter(|_| max),
                    count: count.then_some(numbers.len() as u32),
                    all: (all && !numbers.is_empty())
                        .then(|| SequenceSet::from_numbers(&numbers).ok())
                        .flatten(),
                    modseq,
                });
            }
        }
        if let (Some(saved), Some(sel)) = (saved, self.selected.as_mut()) {
            sel.saved = saved;
        }
        self.sync(session, uid);
        let _ = session.complete(Status::Ok, None, "SEARCH completed");
    }

    fn thread(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        algorithm: &str,
        charset: &str,
        key: &SearchKey,
    ) {
        let by_references = match algorithm {
            "ORDEREDSUBJECT" => false,
            "REFERENCES" => true,
            _ => {
                let _ = session.complete(
                    Status::Bad,
                    None,
                    "Unsupported threading algorithm (ORDEREDSUBJECT and REFERENCES are)",
                );
                return;
            }
        };
        if !self.charset_ok(session, charset) {
            return;
        }
        let Some(sel) = &self.selected else { return };
        let cache = block(|| {
            self.headers
                .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
        });
        let threads = block(|| {
            let found = search::run(sel, key, Some(&cache));
            let threads = if by_references {
                search::thread_by_references(sel, found, Some(&cache))
            } else {
                search::thread_by_subject(sel, found, Some(&cache))
            };
            headers::lock_folder(&cache).flush(&sel.maildir);
            threads
        });
        let id = |i: usize| {
            if uid { sel.msg(i).uid } else { i as u32 + 1 }
        };
        fn node(t: search::Thread, id: &dyn Fn(usize) -> u32) -> imap_proto::ThreadNode {
            imap_proto::ThreadNode {
                id: t.message.map(id),
                children: t.replies.into_iter().map(|r| node(r, id)).collect(),
            }
        }
        let threads = threads.into_iter().map(|t| node(t, &id)).collect();
        let _ = session.send(&Response::Thread(threads));
        self.sync(session, uid);
        let _ = session.complete(Status::Ok, None, "THREAD completed");
    }

    /// Whether SEARCH, SORT or THREAD strings in `charset` can be matched; answers NO
    /// [BADCHARSET] if not.
    fn charset_ok(&self, session: &mut ServerSession, charset: &str) -> bool {
        if matches!(charset, "UTF-8" | "US-ASCII") {
            return true;
        }
        let charsets = ["UTF-8", "US-ASCII"]
            .iter()
            .filter_map(|c| imap_proto::Atom::new(*c).ok())
            .collect();
        let _ = session.complete(
            Status::No,
            Some(Code::BadCharset(charsets)),
            "Unsupported charset",
        );
        false
    }

    fn sort(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        criteria: &[imap_proto::SortCriterion],
        charset: &str,
        key: &SearchKey,
    ) {
        if !self.charset_ok(session, charset) {
            return;
        }
        let Some(sel) = &self.selected else { return };
        let by_cached = criteria.iter().any(|c| c.key != imap_proto::SortKey::Size);
        let cache = (by_cached || search::uses_cache(key)).then(|| {
            block(|| {
                self.headers
                    .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
            })
        });
        let sorted = block(|| {
            let found = search::run(sel, key, cache.as_deref());
            let sorted = search::sort(sel, found, criteria, cache.as_deref());
            if let Some(c) = &cache {
                headers::lock_folder(c).flush(&sel.maildir);
            }
            sorted
        });
        let numbers = sorted
            .into_iter()
            .map(|i| if uid { sel.msg(i).uid } else { i as u32 + 1 })
            .collect();
        let _ = session.send(&Response::Sort(numbers));
        self.sync(session, uid);
        let _ = session.complete(Status::Ok, None, "SORT completed");
    }

    fn store(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        set: &SequenceSet,
        update: FlagUpdate<'_>,
        unchanged_since: Option<u64>,
    ) {
        let FlagUpdate {
            mode,
            flags,
            silent,
        } = update;
        if !self.writable(session) {
            return;
        }
        if unchanged_since.is_some() {
            self.condstore_enabled(session);
        }
        let condstore = session.is_enabled("CONDSTORE");
        let indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                let _ = session.complete(Status::Bad, None, e);
                return;
            }
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let letters = match block(|| flags_to_letters(flags, &sel.maildir)) {
            Ok(l) => {
                // New keywords got letters: the client must see them by name.
                if flags.iter().any(|f| matches!(f, Flag::Keyword(_))) {
                    match block(|| sel.maildir.keywords()) {
                        Ok(k) if k != sel.keywords => {
                            send_flag_list(session, &k, sel.read_only);
                            sel.keywords = k;
                        }
                        Ok(_) => {}
                        Err(e) => warn!(error = %e, "reading dovecot-keywords"),
                    }
                }
                l
            }
            Err((None, text)) => {
                let _ = session.complete(Status::Bad, None, text);
                return;
            }
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                return;
            }
        };
        let mut failed = false;
        // RFC 7162 §3.1.3: messages changed after UNCHANGEDSINCE are left alone and named.
        let mut modified: Vec<u32> = Vec::new();
        let mut stored: Vec<usize> = Vec::new();
        // Each message to answer for, and whether its flags changed.
        let mut answer: Vec<(usize, bool)> = Vec::new();
        let mut renamed = Vec::new();
        for i in indices {
            if sel.is_gone(i) {
                continue;
            }
            let v = sel.msg(i);
            if unchanged_since.is_some_and(|n| v.modseq > n) {
                modified.push(if uid { v.uid } else { i as u32 + 1 });
                continue;
            }
            // The change, applied to the flags the file carries when it is renamed (another
            // session may have changed them since this one looked): no change is lost.
            let change = |current: &str| match mode {
                StoreMode::Replace => sorted(letters.chars()),
                StoreMode::Add => sorted(current.chars().chain(letters.chars())),
                StoreMode::Remove => sorted(current.chars().filter(|c| !letters.contains(*c))),
            };
            // Even a STORE that changes nothing by this session's view looks at the file: the
            // view may be behind another session's change.
            let changed = match block(|| sel.maildir.update_flags(v, change)) {
                Ok(Some(m)) => {
                    let changed = m.flags != v.flags;
                    if changed {
                        stored.push(i);
                    }
                    if changed || m.name != v.name {
                        renamed.push(m.clone());
                        sel.set_msg(i, m);
                    }
                    changed
                }
                // Expunged by another session meanwhile: reported at the next sync.
                Ok(None) => continue,
                Err(e) => {
                    warn!(user = %self.username, error = %e, "imap store failed");
                    failed = true;
                    continue;
                }
            };
            answer.push((i, changed));
        }
        sel.record_modseqs(self.listings.modseqs(), &stored);
        note_changes(
            &self.listings,
            &mut self.recheck,
            &sel.maildir,
            &renamed,
            &[],
        );
        for (i, changed) in answer {
            // With CONDSTORE even a silent STORE tells the new MODSEQ of what it changed.
            let mut items = Vec::new();
            if uid || (silent && condstore) {
                items.push(FetchValue::Uid(sel.msg(i).uid));
            }
            if !silent {
                items.push(FetchValue::Flags(sel.flags(i)));
            }
            if condstore && (!silent || changed) {
                items.push(FetchValue::ModSeq(sel.msg(i).modseq));
            }
            if !silent || (condstore && changed) {
                let _ = session.send(&Response::Fetch {
                    seq: i as u32 + 1,
                    items,
                });
            }
        }
        // The shared listing has our own renames (note_changes), so only others' changes are
        // reported.
        self.sync(session, uid);
        if !modified.is_empty() && !failed {
            let code = SequenceSet::from_numbers(&modified)
                .ok()
                .map(Code::Modified);
            let _ = session.complete(Status::Ok, code, "Conditional STORE failed for some");
        } else if failed {
            let _ = session.complete(
                Status::No,
                Some(Code::ServerBug),
                "Some flags could not be stored",
            );
        } else {
            let _ = session.complete(Status::Ok, None, "STORE completed");
        }
    }

    async fn copy(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        set: &SequenceSet,
        dest: &Mailbox,
        is_move: bool,
    ) {
        let verb = if is_move { "MOVE" } else { "COPY" };
        if is_move && !self.writable(session) {
            return;
        }
        let indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                let _ = session.complete(Status::Bad, None, e);
                return;
            }
        };
        let storage = match storage_name(dest) {
            Ok(s) => s,
            Err((code, text)) => {
                let _ = session.complete(Status::No, code, text);
                return;
            }
        };
        if !self.root.folder_exists(&storage) {
            let _ = session.complete(Status::No, Some(Code::TryCreate), "Mailbox does not exist");
            return;
        }
        let Some(sel) = self.selected.as_ref() else {
            return;
        };
        let indices: Vec<usize> = indices.into_iter().filter(|&i| !sel.is_gone(i)).collect();
        if indices.is_empty() {
            let _ = session.complete(
                Status::Ok,
                None,
                &format!("{verb} completed, nothing to do"),
            );
            return;
        }
        let bytes: u64 = indices.iter().map(|&i| sel.msg(i).size).sum();
        if !is_move && self.over_quota(bytes, indices.len() as u64) {
            let _ = session.complete(Status::No, Some(Code::OverQuota), "Quota exceeded");
            return;
        }
        let host = self.hostname.clone();
        type Copied = (Maildir, Vec<String>, Vec<usize>, Arc<maildir::Listing>);
        let copied = block(|| -> Result<Copied, maildir::Error> {
            let target = self.root.folder(&storage).map_err(|e| maildir::Error::Io {
                action: "opening",
                path: self.root.path().to_owned(),
                source: io::Error::other(e.to_string()),
            })?;
            let mut names = Vec::new();
            // The messages copied: one another session expunged meanwhile is not.
            let mut done = Vec::new();
            for &i in &indices {
                let m = &sel.msg(i);
                // Keyword letters are per folder: translate them by name.
                let mut letters = String::new();
                for c in m.flags.chars() {
                    if c.is_ascii_lowercase() {
                        let idx = u32::from(c) - u32::from('a');
                        if let Some((_, name)) = sel.keywords.iter().find(|(k, _)| *k == idx) {
                            letters.push(target.keyword_letter(name)?);
                        }
                    } else {
                        letters.push(c);
                    }
                }
                let flags = sorted(letters.chars());
                if let Some(name) = sel.maildir.copy_into(m, &target, &flags, &host)? {
                    names.push(name);
                    done.push(i);
                }
            }
            target.sync_cur()?;
            let listing = self.listings.scan_adding(&target, &names)?;
            Ok((target, names, done, listing))
        });
        let (target, names, indices, listing) = match copied {
            Ok(v) => v,
            Err(e) => return self.internal_error(session, verb, &e),
        };
        if indices.is_empty() {
            // RFC 5530: all of them were expunged by another session meanwhile.
            self.sync(session, false);
            let _ = session.complete(
                Status::No,
                Some(Code::ExpungeIssued),
                "The messages were expunged meanwhile",
            );
            return;
        }
        recheck_later(&mut self.recheck, &self.listings, &target);
        let validity = listing.uid_validity;
        // The copies are among the newest messages, at the end (unless another writer
        // numbered many files at the same time).
        let uids_in = |messages: maildir::Iter<'_>| -> Vec<u32> {
            let by_name: HashMap<&str, u32> = messages.map(|m| (&*m.name, m.uid)).collect();
            names
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).copied())
                .collect()
        };
        let recent = listing.messages.len().saturating_sub(2 * names.len() + 16);
        let mut dest_uids = uids_in(listing.messages.iter_from(recent));
        if dest_uids.len() < names.len() {
            dest_uids = uids_in(listing.messages.iter());
        }
        let src_uids: Vec<u32> = indices.iter().map(|&i| sel.msg(i).uid).collect();
        let copied_bytes: u64 = indices.iter().map(|&i| sel.msg(i).size).sum();
        let copyuid = match (
            SequenceSet::from_numbers(&src_uids),
            SequenceSet::from_numbers(&dest_uids),
        ) {
            (Ok(a), Ok(b)) if dest_uids.len() == src_uids.len() && ordered(&dest_uids) => {
                Some(Code::CopyUid(validity, a, b))
            }
            _ => None,
        };
        if is_move {
            if let Some(code) = copyuid.clone() {
                let _ = session.send(&Response::ok(Some(code), "Moved"));
            }
            // The copies count, and each source this session removed; one another session
            // expunged meanwhile was taken off the quota by that session.
            let mut change = (copied_bytes as i64, indices.len() as i64);
            if let Some(sel) = self.selected.as_mut() {
                for &i in &indices {
                    let m = sel.msg(i).clone();
                    match block(|| sel.maildir.expunge(&m)) {
                        Ok(true) => change = (change.0 - m.size as i64, change.1 - 1),
                        Ok(false) => {}
                        Err(e) => {
                            warn!(user = %self.username, error = %e, "imap move: removing the source failed");
                        }
                    }
                }
                if let Err(e) = block(|| sel.maildir.sync()) {
                    warn!(user = %self.username, error = %e, "imap move: sync failed");
                }
                note_changes(
                    &self.listings,
                    &mut self.recheck,
                    &sel.maildir,
                    &[],
                    &src_uids,
                );
                sel.remove(session, &indices, true);
            }
            if change != (0, 0) {
                self.account_usage(change.0, change.1);
            }
            self.sync(session, true);
            let _ = session.complete(Status::Ok, None, "MOVE completed");
        } else {
            self.account_usage(copied_bytes as i64, indices.len() as i64);
            self.sync(session, true);
            let _ = session.complete(Status::Ok, copyuid, "COPY completed");
        }
    }

    pub fn append_start(&mut self, session: &mut ServerSession, head: AppendHead) {
        let storage = match storage_name(&head.mailbox) {
            Ok(s) => s,
            Err((code, text)) => {
                let _ = session.reject_append(code, text);
                return;
            }
        };
        if !self.root.folder_exists(&storage) {
            let _ = session.reject_append(Some(Code::TryCreate), "Mailbox does not exist");
            return;
        }
        if self.over_quota(head.size, 1) {
            let _ = session.reject_append(Some(Code::OverQuota), "Quota exceeded");
            return;
        }
        if !self.disk_reserve.room_for(self.root.path(), head.size) {
            let _ = session.reject_append(Some(Code::OverQuota), "Not enough disk space");
            return;
        }
        let begun = block(|| -> Result<(Maildir, Delivery), String> {
            let folder = self.root.folder(&storage).map_err(|e| e.to_string())?;
            let d = Delivery::begin(&folder, &self.hostname).map_err(|e| e.to_string())?;
            Ok((folder, d))
        });
        match begun {
            Ok((folder, delivery)) => {
                self.append = Some(Append {
                    delivery: Some(delivery),
                    folder,
                    head,
                    failed: None,
                });
                let _ = session.accept_append();
            }
            Err(e) => {
                warn!(user = %self.username, error = %e, "imap append could not start");
                let _ = session
                    .reject_append(Some(Code::ServerBug), "Internal error, see the server log");
            }
        }
    }

    pub fn append_chunk(&mut self, chunk: &Bytes) {
        let Some(a) = self.append.as_mut() else {
            return;
        };
        if a.failed.is_some() {
            return;
        }
        if let Some(d) = a.delivery.as_mut()
            && let Err(e) = block(|| d.write(chunk))
        {
            a.failed = Some(e.to_string());
        }
    }

    pub fn append_abort(&mut self) {
        if let Some(mut a) = self.append.take()
            && let Some(d) = a.delivery.take()
        {
            d.abort();
        }
    }

    pub async fn append_end(&mut self, session: &mut ServerSession) {
        let Some(mut a) = self.append.take() else {
            let _ = session.complete(Status::No, Some(Code::ServerBug), "No APPEND in progress");
            return;
        };
        if let Some(e) = a.failed {
            warn!(user = %self.username, error = %e, "imap append failed");
            let (code, text) = store_refusal(&e);
            let _ = session.complete(Status::No, Some(code), text);
            return;
        }
        let Some(delivery) = a.delivery.take() else {
            return;
        };
        let size = delivery.size();
        let date = a.head.date.map(|d| {
            let secs = d.to_unix();
            if secs >= 0 {
                UNIX_EPOCH + Duration::from_secs(secs as u64)
            } else {
                UNIX_EPOCH
            }
        });
        let stored = block(|| -> Result<(u32, Option<u32>), String> {
            let letters =
                flags_to_letters(&a.head.flags, &a.folder).map_err(|(_, t)| t.to_owned())?;
            let name = delivery
                .commit_to_cur(&letters, date)
                .map_err(|e| e.to_string())?;
            let listing = self
                .listings
                .scan_adding(&a.folder, std::slice::from_ref(&name))
                .map_err(|e| e.to_string())?;
            // The newest messages are last (unless another writer numbered many files at
            // the same time).
            let recent = listing.messages.len().saturating_sub(64);
            let uid = listing
                .messages
                .iter_from(recent)
                .chain(listing.messages.iter().take(recent))
                .find(|m| *m.name == *name)
                .map(|m| m.uid);
            Ok((listing.uid_validity, uid))
        });
        match stored {
            Ok((validity, uid)) => {
                recheck_later(&mut self.recheck, &self.listings, &a.folder);
                self.account_usage(size as i64, 1);
                self.sync(session, true);
                let code = uid.map(|u| Code::AppendUid(validity, u));
                let _ = session.complete(Status::Ok, code, "APPEND completed");
            }
            Err(e) => {
                warn!(user = %self.username, error = %e, "imap append failed");
                let (code, text) = store_refusal(&e);
                let _ = session.complete(Status::No, Some(code), text);
            }
        }
    }

    async fn fetch(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
        uid: bool,
        set: &SequenceSet,
        attrs: &[FetchAttr],
        since: Option<ChangedSince>,
    ) -> io::Result<()> {
        let changed_since = since.map(|c| c.modseq);
        let vanished = since.is_some_and(|c| c.vanished);
        if vanished && !session.is_enabled("QRESYNC") {
            let _ = session.complete(Status::Bad, None, "ENABLE QRESYNC first");
            return Ok(());
        }
        let mut indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                let _ = session.complete(Status::Bad, None, e);
                return Ok(());
            }
        };
        // RFC 7162 §3.1.4: CHANGEDSINCE narrows to the changed messages and reports MODSEQ.
        let mut with_modseq;
        let mut attrs = attrs;
        if attrs.contains(&FetchAttr::ModSeq) || changed_since.is_some() {
            self.condstore_enabled(session);
        }
        if let (Some(since), Some(sel)) = (changed_since, &self.selected) {
            indices.retain(|&i| sel.msg(i).modseq > since);
            if vanished {
                let largest = sel.next_uid.saturating_sub(1);
                if let Some(uids) = self.vanished(sel, since, &|u| {
                    if set.is_saved() {
                        sel.is_saved(u)
                    } else {
                        set.contains(u, largest)
                    }
                }) {
                    let _ = session.send(&Response::Vanished {
                        earlier: true,
                        uids,
                    });
                }
            }
            if !attrs.contains(&FetchAttr::ModSeq) {
                with_modseq = attrs.to_vec();
                with_modseq.push(FetchAttr::ModSeq);
                attrs = &with_modseq;
            }
        }
        let is_structure = |a: &FetchAttr| matches!(a, FetchAttr::Body | FetchAttr::BodyStructure);
        let needs_whole = |a: &FetchAttr| {
            matches!(
                a,
                FetchAttr::Rfc822
                    | FetchAttr::Rfc822Text
                    | FetchAttr::Binary { .. }
                    | FetchAttr::BinarySize { .. }
            ) || matches!(a, FetchAttr::BodySection { section, .. }
                    if !section.part.is_empty() || !matches!(section.text, Some(SectionText::Header | SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_))))
        };
        let wants_structure = attrs.iter().any(is_structure);
        // Without a cached BODYSTRUCTURE the whole message is read for it.
        let needs_body_always = attrs.iter().any(needs_whole);
        let needs_header_fields = attrs.iter().any(|a| {
            matches!(
                a,
                FetchAttr::Envelope | FetchAttr::Rfc822Header | FetchAttr::BodySection { .. }
            )
        });
        // ENVELOPE and the usual HEADER.FIELDS lists come from the header cache.
        let fields_cacheable = !needs_body_always && attrs.iter().all(|a| match a {
            FetchAttr::Rfc822Header => false,
            FetchAttr::BodySection { section, .. } => {
                matches!(&section.text, Some(SectionText::HeaderFields(n)) if headers::covers(n))
            }
            _ => true,
        });
        // Thunderbird downloads a large message in chunks (`BODY.PEEK[]<0.65536>`, then the
        // next): such a chunk is read alone, not the whole message each time.
        let whole_message_chunks = attrs
            .iter()
            .filter_map(|a| match a {
                FetchAttr::BodySection {
                    section,
                    partial: Some(range),
                    ..
                } if section.part.is_empty() && section.text.is_none() => Some(Some(*range)),
                FetchAttr::Uid
                | FetchAttr::Flags
                | FetchAttr::Rfc822Size
                | FetchAttr::InternalDate
                | FetchAttr::ModSeq => None,
                _ => Some(None),
            })
            .try_fold(None, |window: Option<(u64, u64)>, range| {
                let (offset, len) = range?;
                let (offset, end) = (u64::from(offset), u64::from(offset) + u64::from(len));
                Some(Some(window.map_or((offset, end), |(lo, hi)| {
                    (lo.min(offset), hi.max(end))
                })))
            })
            .flatten();
        // A large message asked for whole (`BODY.PEEK[]` from mbsync or a client opening it,
        // `BODY[TEXT]`) is streamed a chunk at a time, when nothing else needs its content.
        let streamable = {
            let mut content_items = attrs.iter().filter(|a| {
                !matches!(
                    a,
                    FetchAttr::Uid
                        | FetchAttr::Flags
                        | FetchAttr::Rfc822Size
                        | FetchAttr::InternalDate
                        | FetchAttr::ModSeq
                )
            });
            match (content_items.next(), content_items.next()) {
                (
                    Some(FetchAttr::BodySection {
                        section,
                        partial: None,
                        ..
                    }),
                    None,
                ) if section.part.is_empty()
                    && matches!(section.text, None | Some(SectionText::Text)) =>
                {
                    Some(section)
                }
                _ => None,
            }
        };
        let cache = match &self.selected {
            Some(sel)
                if (needs_header_fields && fields_cacheable)
                    || wants_structure
                    || attrs.contains(&FetchAttr::InternalDate) =>
            {
                Some(block(|| {
                    self.headers
                        .folder(&sel.maildir, || sel.messages().map(|m| &*m.base).collect())
                }))
            }
            _ => None,
        };
        let mut expunged = false;
        let mut unknown_cte = false;
        let root = self.selected.as_ref().map(|sel| sel.maildir.clone());
        let may_read = streamable.is_some()
            || whole_message_chunks.is_some()
            || needs_body_always
            || wants_structure
            || needs_header_fields;
        for i in indices {
            let (Some(sel), Some(root)) = (self.selected.as_mut(), root.as_ref()) else {
                break;
            };
            if sel.is_gone(i) {
                expunged = true;
                continue;
            }
            // Made only when the file is read (looking at each message's name costs a cache
            // miss, noticeable over 100,000 of them when only FLAGS are asked for).
            let file = may_read.then(|| (sel.msg(i).subdir, Arc::clone(&sel.msg(i).name)));
            let path_cell = std::sync::OnceLock::new();
            let path = || {
                path_cell.get_or_init(|| {
                    file.as_ref()
                        .map(|(subdir, name)| root.file_path(*subdir, name))
                        .unwrap_or_default()
                })
            };
            let structure = cache
                .as_ref()
                .filter(|_| wants_structure)
                .and_then(|c| headers::lock_folder(c).structure(&sel.msg(i).base));
            let window = whole_message_chunks;
            let (crlf, vsize) = (sel.msg(i).size == sel.msg(i).vsize, sel.msg(i).vsize);
            // The streamed range of the CRLF form, its length read from the file.
            let streamed = match streamable.filter(|_| vsize >= STREAM_ABOVE) {
                Some(section) => {
                    let base = Arc::clone(&sel.msg(i).base);
                    let line_ends = &mut self.line_ends;
                    let bounds = block(|| -> io::Result<(u64, u64)> {
                        let total = ranges::crlf_len(path(), &base, crlf, line_ends)?;
                        let start = match section.text {
                            Some(_) => header_length(&read_message(path(), true)?) as u64,
                            None => 0,
                        };
                        Ok((start.min(total), total))
                    });
                    let Some(bounds) = readable(path(), bounds) else {
                        expunged = true;
                        continue;
                    };
                    Some(bounds)
                }
                None => None,
            };
            let plain_read = window.is_none() && streamed.is_none();
            let needs_body =
                plain_read && (needs_body_always || (wants_structure && structure.is_none()));
            let needs_header = plain_read && (needs_body || needs_header_fields);
            let cached = cache
                .as_ref()
                .filter(|_| needs_header && !needs_body && fields_cacheable)
                .and_then(|c| headers::lock_folder(c).get(&sel.msg(i).base));
            let hit = cached.is_some();
            let content = if let Some(fields) = cached {
                Some(fields.to_vec())
            } else if let Some(range) = window {
                let base = Arc::clone(&sel.msg(i).base);
                let line_ends = &mut self.line_ends;
                let chunk = block(|| ranges::read(path(), &base, crlf, range, line_ends));
                let Some(c) = readable(path(), chunk) else {
                    expunged = true;
                    continue;
                };
                Some(c)
            } else if needs_header {
                let Some(c) = readable(path(), block(|| read_message(path(), !needs_body))) else {
                    expunged = true;
                    continue;
                };
                Some(c)
            } else {
                None
            };
            if let (Some(c), Some(data), false, None) = (&cache, &content, hit, window) {
                let mut folder = headers::lock_folder(c);
                if folder.get(&sel.msg(i).base).is_none() {
                    let fields = headers::extract(&data[..header_length(data)]);
                    folder.insert(&sel.msg(i).base, fields);
                }
            }
            let parsed = content
                .as_ref()
                .filter(|_| needs_body)
                .map(|c| mime::parse(c));
            let structure = match (structure, &parsed, &content) {
                (Some(s), _, _) => Some(s),
                (None, Some(p), Some(data)) if wants_structure => {
                    let s = mime::body_structure(data, p);
                    if let Some(c) = &cache {
                        headers::lock_folder(c).insert_structure(&sel.msg(i).base, &s);
                    }
                    Some(s)
                }
                _ => None,
            };
            let header_len = content.as_ref().map(|c| header_length(c)).unwrap_or(0);
            let mut items = Vec::with_capacity(attrs.len() + 1);
            if uid && !attrs.contains(&FetchAttr::Uid) {
                items.push(FetchValue::Uid(sel.msg(i).uid));
            }
            let mut set_seen = false;
            for attr in attrs {
                let v = sel.msg(i);
                let data = content.as_deref().unwrap_or(&[]);
                items.push(match attr {
                    FetchAttr::Flags => FetchValue::Flags(sel.flags(i)),
                    FetchAttr::Uid => FetchValue::Uid(v.uid),
                    FetchAttr::Rfc822Size => FetchValue::Rfc822Size(v.vsize),
                    FetchAttr::InternalDate => {
                        FetchValue::InternalDate(DateTime::from_unix(block(|| {
                            headers::internal_time(cache.as_deref(), &sel.maildir, v)
                        })))
                    }
                    FetchAttr::Envelope => {
                        FetchValue::Envelope(Box::new(mime::envelope(&data[..header_len])))
                    }
                    FetchAttr::Body | FetchAttr::BodyStructure => {
                        let Some(s) = structure.as_ref() else {
                            continue;
                        };
                        let bs = Box::new(s.clone());
                        if *attr == FetchAttr::Body {
                            FetchValue::Body(bs)
                        } else {
                            FetchValue::BodyStructure(bs)
                        }
                    }
                    FetchAttr::BodySection {
                        peek,
                        section,
                        partial,
                    } => {
                        set_seen |= !peek;
                        if let Some((start, end)) = streamed {
                            items.push(FetchValue::BodySectionStreamed {
                                section: section.clone(),
                                origin: None,
                                len: end - start,
                            });
                            continue;
                        }
                        let octets = match (window, parsed.as_ref()) {
                            (Some((start, _)), _) => {
                                // The chunk of the window read; the range below is within it.
                                let (offset, len) = partial.unwrap_or_default();
                                let from = (u64::from(offset) - start) as usize;
                                let to = from.saturating_add(len as usize).min(data.len());
                                let chunk = data.get(from..to).unwrap_or_default().to_vec();
                                items.push(FetchValue::BodySection {
                                    section: section.clone(),
                                    origin: Some(offset),
                                    data: Some(Bytes::from(chunk)),
                                });
                                continue;
                            }
                            (None, Some(p)) => mime::section(data, p, section),
                            (None, None) => match &section.text {
                                Some(SectionText::Header) => Some(data[..header_len].to_vec()),
                                Some(SectionText::HeaderFields(n)) => {
                                    Some(mime::header_fields(&data[..header_len], n, false))
                                }
                                Some(SectionText::HeaderFieldsNot(n)) => {
                                    Some(mime::header_fields(&data[..header_len], n, true))
                                }
                                _ => None,
                            },
                        };
                        let octets = octets.unwrap_or_default();
                        let (origin, octets) = match partial {
                            Some((offset, len)) => {
                                let start = (*offset as usize).min(octets.len());
                                let end = start.saturating_add(*len as usize).min(octets.len());
                                (Some(*offset), octets[start..end].to_vec())
                            }
                            None => (None, octets),
                        };
                        FetchValue::BodySection {
                            section: section.clone(),
                            origin,
                            data: Some(Bytes::from(octets)),
                        }
                    }
                    FetchAttr::Rfc822 => {
                        set_seen = true;
                        FetchValue::Rfc822(Some(Bytes::copy_from_slice(data)))
                    }
                    FetchAttr::Rfc822Header => {
                        FetchValue::Rfc822Header(Some(Bytes::copy_from_slice(&data[..header_len])))
                    }
                    FetchAttr::Rfc822Text => {
                        set_seen = true;
                        FetchValue::Rfc822Text(Some(Bytes::copy_from_slice(&data[header_len..])))
                    }
                    FetchAttr::ModSeq => FetchValue::ModSeq(v.modseq),
                    FetchAttr::Binary {
                        peek,
                        part,
                        partial,
                    } => {
                        set_seen |= !peek;
                        let Some(p) = parsed.as_ref() else { continue };
                        let decoded = match mime::binary(data, p, part) {
                            Ok(d) => d,
                            Err(mime::UnknownCte) => {
                                unknown_cte = true;
                                continue;
                            }
                        };
                        let (origin, decoded) = match (partial, decoded) {
                            (Some((offset, len)), Some(d)) => {
                                let start = (*offset as usize).min(d.len());
                                let end = start.saturating_add(*len as usize).min(d.len());
                                (Some(*offset), Some(d[start..end].to_vec()))
                            }
                            (_, d) => (None, d),
                        };
                        FetchValue::Binary {
                            part: part.clone(),
                            origin,
                            data: decoded.map(Bytes::from),
                        }
                    }
                    FetchAttr::BinarySize { part } => {
                        let Some(p) = parsed.as_ref() else { continue };
                        match mime::binary(data, p, part) {
                            Ok(d) => FetchValue::BinarySize {
                                part: part.clone(),
                                size: d.map_or(0, |d| d.len() as u64),
                            },
                            Err(mime::UnknownCte) => {
                                unknown_cte = true;
                                continue;
                            }
                        }
                    }
                });
            }
            if set_seen && !sel.read_only && !sel.msg(i).has_flag('S') {
                let m = sel.msg(i).clone();
                // Added to whatever flags the file carries now (another session's included).
                match block(|| sel.maildir.add_flags(&m, "S")) {
                    Ok(m) => {
                        sel.set_msg(i, m.clone());
                        sel.record_modseqs(self.listings.modseqs(), &[i]);
                        note_changes(&self.listings, &mut self.recheck, &sel.maildir, &[m], &[]);
                        if !attrs.contains(&FetchAttr::Flags) {
                            items.push(FetchValue::Flags(sel.flags(i)));
                        }
                        if session.is_enabled("CONDSTORE") {
                            items.retain(|item| !matches!(item, FetchValue::ModSeq(_)));
                            items.push(FetchValue::ModSeq(sel.msg(i).modseq));
                        }
                    }
                    Err(e) => warn!(error = %e, "imap fetch: setting \\Seen failed"),
                }
            }
            let _ = session.send(&Response::Fetch {
                seq: i as u32 + 1,
                items,
            });
            if let Some((mut at, end)) = streamed {
                let base = Arc::clone(&sel.msg(i).base);
                // Where the file is now: setting \Seen above renamed it.
                let path = root.message_path(sel.msg(i));
                while at < end {
                    let to = (at + STREAM_CHUNK).min(end);
                    let line_ends = &mut self.line_ends;
                    let chunk = block(|| ranges::read(&path, &base, crlf, (at, to), line_ends))?;
                    if chunk.len() as u64 != to - at {
                        // The literal's length is promised: the connection cannot go on.
                        return Err(io::Error::other(format!(
                            "{} changed while being sent",
                            path.display()
                        )));
                    }
                    let _ = session.stream_literal(&chunk);
                    at = to;
                    if session.pending_output() >= WRITE_BATCH {
                        flush(session, conn).await?;
                    }
                }
            }
            if session.pending_output() >= WRITE_BATCH {
                flush(session, conn).await?;
            }
        }
        if let (Some(c), Some(sel)) = (&cache, &self.selected) {
            block(|| headers::lock_folder(c).flush(&sel.maildir));
        }
        self.sync(session, uid);
        if unknown_cte {
            let _ = session.complete(
                Status::No,
                Some(Code::UnknownCte),
                "A part has a transfer encoding this server cannot undo; fetch it with BODY",
            );
        } else if expunged {
            // RFC 2180 §4.1.2 leaves the choice: OK with what could be fetched, as Dovecot
            // answers (a NO makes clients retry the whole FETCH), the code telling the
            // client to look (RFC 5530).
            let _ = session.complete(
                Status::Ok,
                Some(Code::ExpungeIssued),
                "Some messages were expunged meanwhile",
            );
        } else {
            let _ = session.complete(Status::Ok, None, "FETCH completed");
        }
        Ok(())
    }
}

fn ordered(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

fn atoms(names: &[&str]) -> Vec<imap_proto::Atom> {
    names
        .iter()
        .filter_map(|n| imap_proto::Atom::new(*n).ok())
        .collect()
}

/// Where the header ends in CRLF data (after the blank line).
fn header_length(data: &[u8]) -> usize {
    if data.starts_with(b"\r\n") {
        return 2;
    }
    memchr::memmem::find(data, b"\r\n\r\n").map_or(data.len(), |i| i + 4)
}

/// The message with CRLF line ends; with `header_only`, only as far as the header needs
/// (whole messages are read only when the body is asked for).
/// What was read, or `None` when the message is gone (expunged meanwhile) or unreadable
/// (logged).
fn readable<T>(path: &std::path::Path, read: io::Result<T>) -> Option<T> {
    match read {
        Ok(v) => Some(v),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "imap fetch: message unreadable");
            None
        }
    }
}

pub(crate) fn read_message(path: &std::path::Path, header_only: bool) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    if header_only {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&chunk[..n]);
            if memchr::memmem::find(&data, b"\n\r\n").is_some()
                || memchr::memmem::find(&data, b"\n\n").is_some()
                || data.starts_with(b"\r\n")
                || data.starts_with(b"\n")
            {
                break;
            }
        }
    } else {
        file.read_to_end(&mut data)?;
    }
    Ok(mime::to_crlf(data))
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn list_patterns() {
        assert!(matches_pattern("*", "Archive.2024"));
        assert!(!matches_pattern("%", "Archive.2024"));
        assert!(matches_pattern("Archive.%", "Archive.2024"));
        assert!(matches_pattern("inbox", "INBOX"));
        assert!(matches_pattern("%*%", "a.b"));
        assert!(!matches_pattern("Arc", "Archive"));
        // Backtracking would take ages on this; the table takes microseconds.
        let hostile = "*a".repeat(200) + "b";
        assert!(!matches_pattern(&hostile, &"a".repeat(300)));
    }
}
