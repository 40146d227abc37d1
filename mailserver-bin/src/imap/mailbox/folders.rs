//! The folder commands: CREATE, DELETE, RENAME, SUBSCRIBE, LIST and STATUS.

use mailwright_imap::{
    Code, ListExtended, ListReturn, ListSelection, Mailbox, Response, ServerSession, Status,
    StatusItem,
};
use mailwright_maildir::FolderError;

use super::common::{atoms, block, delimiter, no_such_mailbox};
use super::session::User;
use super::tree::{FolderTree, display_name, matches_pattern, storage_name};
use crate::conn::Answered;

impl User {
    pub(super) fn create(
        &mut self,
        session: &mut ServerSession,
        m: &Mailbox,
        special: &[mailwright_imap::Atom],
    ) {
        if self.refuse_shared(session, m, "CREATE") {
            return;
        }
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
                    session.complete(
                        Status::No,
                        Some(Code::UseAttr),
                        "Only \\Archive, \\Drafts, \\Junk, \\Sent and \\Trash can be given here",
                    ).answered();
                    return;
                }
            }
        }
        let storage = match storage_name(m) {
            Ok(s) => s,
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
                return;
            }
        };
        if storage == "INBOX" {
            session
                .complete(Status::No, Some(Code::AlreadyExists), "INBOX always exists")
                .answered();
            return;
        }
        match block(|| self.root.create_folder_with_use(&storage, &uses)) {
            Ok(_) => {
                session
                    .complete(Status::Ok, None, "CREATE completed")
                    .answered();
            }
            Err(FolderError::Exists) => {
                session
                    .complete(
                        Status::No,
                        Some(Code::AlreadyExists),
                        "Mailbox already exists",
                    )
                    .answered();
            }
            Err(FolderError::InvalidName(why)) => {
                session
                    .complete(Status::No, Some(Code::Cannot), why)
                    .answered();
            }
            Err(e) => self.internal_error(session, "CREATE", &e),
        }
    }

    pub(super) fn delete(&mut self, session: &mut ServerSession, m: &Mailbox) {
        if self.refuse_shared(session, m, "DELETE") {
            return;
        }
        let storage = match storage_name(m) {
            Ok(s) if s != "INBOX" => s,
            Ok(_) => {
                session
                    .complete(Status::No, Some(Code::Cannot), "INBOX cannot be deleted")
                    .answered();
                return;
            }
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
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
                session
                    .complete(Status::Ok, None, "DELETE completed")
                    .answered();
            }
            Err(FolderError::NotFound) => {
                no_such_mailbox(session);
            }
            Err(FolderError::InvalidName(why)) => {
                session
                    .complete(Status::No, Some(Code::Cannot), why)
                    .answered();
            }
            Err(e) => self.internal_error(session, "DELETE", &e),
        }
    }

    pub(super) fn rename(&mut self, session: &mut ServerSession, from: &Mailbox, to: &Mailbox) {
        if self.refuse_shared(session, from, "RENAME") || self.refuse_shared(session, to, "RENAME")
        {
            return;
        }
        let names = storage_name(from).and_then(|f| Ok((f, storage_name(to)?)));
        let (from, to) = match names {
            Ok((f, _)) if f == "INBOX" => {
                session
                    .complete(
                        Status::No,
                        Some(Code::Cannot),
                        "Renaming INBOX is not supported; move its messages instead",
                    )
                    .answered();
                return;
            }
            Ok(v) => v,
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
                return;
            }
        };
        match block(|| self.root.rename_folder(&from, &to)) {
            Ok(()) => {
                session
                    .complete(Status::Ok, None, "RENAME completed")
                    .answered();
            }
            Err(FolderError::NotFound) => {
                no_such_mailbox(session);
            }
            Err(FolderError::Exists) => {
                session
                    .complete(
                        Status::No,
                        Some(Code::AlreadyExists),
                        "Target mailbox already exists",
                    )
                    .answered();
            }
            Err(FolderError::InvalidName(why)) => {
                session
                    .complete(Status::No, Some(Code::Cannot), why)
                    .answered();
            }
            Err(e) => self.internal_error(session, "RENAME", &e),
        }
    }

    pub(super) fn subscribe(&mut self, session: &mut ServerSession, m: &Mailbox, on: bool) {
        let storage = match storage_name(m) {
            Ok(s) => s,
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
                return;
            }
        };
        // The archives of the user's lists may be subscribed to, as their own folders.
        if on && !self.root.folder_exists(&storage) && self.shared_folder(m).is_none() {
            no_such_mailbox(session);
            return;
        }
        match block(|| self.root.set_subscribed(&storage, on)) {
            Ok(()) => {
                session
                    .complete(
                        Status::Ok,
                        None,
                        if on {
                            "SUBSCRIBE completed"
                        } else {
                            "UNSUBSCRIBE completed"
                        },
                    )
                    .answered();
            }
            Err(e) => self.internal_error(session, "SUBSCRIBE", &e),
        }
    }

    pub(super) fn list(
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
            session
                .send(&Response::List {
                    attributes: atoms(&["Noselect"]),
                    delimiter: Some(delimiter()),
                    mailbox: String::new(),
                    lsub,
                    extended: Vec::new(),
                })
                .answered();
            session.complete(Status::Ok, None, done).answered();
            return;
        }
        let tree = match block(|| self.folder_tree()) {
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
                while let Some((up, _)) = parent.rsplit_once(delimiter()) {
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
                session
                    .send(&Response::List {
                        attributes: atoms(&attrs),
                        delimiter: Some(delimiter()),
                        mailbox: name.clone(),
                        lsub: true,
                        extended: Vec::new(),
                    })
                    .answered();
            }
            session.complete(Status::Ok, None, done).answered();
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
            let prefix = format!("{name}{}", delimiter());
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
            session
                .send(&Response::List {
                    attributes: atoms(&attrs),
                    delimiter: Some(delimiter()),
                    mailbox: name.to_owned(),
                    lsub: false,
                    extended,
                })
                .answered();
            // RFC 5819: STATUS right after the LIST of each selectable mailbox; one that
            // cannot be read is left out rather than failing the listing.
            if exists
                && !returns.status.is_empty()
                && let Some(Some(storage)) = tree.names.get(name)
                && let Ok(items) = block(|| self.status_values(storage, &returns.status))
            {
                session
                    .send(&Response::Status {
                        mailbox: name.to_owned(),
                        items,
                    })
                    .answered();
            }
        }
        session.complete(Status::Ok, None, done).answered();
    }

    pub(super) fn status(
        &mut self,
        session: &mut ServerSession,
        m: &Mailbox,
        items: &[StatusItem],
    ) {
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
        let name = match self.shared.iter().find(|s| s.storage == storage) {
            Some(shared) => shared.name.clone(),
            None if storage == "INBOX" => storage,
            None => display_name(&storage),
        };
        session
            .send(&Response::Status {
                mailbox: name,
                items: values,
            })
            .answered();
        session
            .complete(Status::Ok, None, "STATUS completed")
            .answered();
    }

    /// The user's folders and, below `Lists`, the archives they read.
    fn folder_tree(&self) -> Result<FolderTree, mailwright_maildir::Error> {
        let mut tree = FolderTree::read(&self.root)?;
        for shared in &self.shared {
            tree.names
                .insert(shared.name.clone(), Some(shared.storage.clone()));
            tree.names
                .entry(super::shared::PREFIX.to_owned())
                .or_insert(None);
        }
        Ok(tree)
    }

    /// The STATUS values of a folder, by storage name.
    pub(super) fn status_values(
        &self,
        storage: &str,
        items: &[StatusItem],
    ) -> Result<Vec<(StatusItem, u64)>, String> {
        let listing = self
            .folder_maildir(storage)
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
}
