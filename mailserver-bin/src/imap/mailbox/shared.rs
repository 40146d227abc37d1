//! The archives of the user's mailing lists, read-only under `Lists<delimiter><list>` (as a
//! Dovecot public namespace with read rights for the members would show them): a list whose
//! `archive` setting is `members` lists its archive to its members, owners and moderators.
//! The folders are selected read-only, and nothing may be stored, copied, created, renamed
//! or deleted there (`NO [NOPERM]`). A shared folder's storage name is `/lists/<address>`,
//! which no folder of the user's own can have (a storage name holds no `/`). The session
//! (`session`) finds them by name and refuses changes to them.

use mailwright_maildir::Maildir;
use tracing::warn;

use crate::accounts::Accounts;
use crate::imap::service::delimiter;

/// The name above every list's archive.
pub(super) const PREFIX: &str = "Lists";

/// Where the storage names of shared folders begin.
const STORAGE_PREFIX: &str = "/lists/";

/// One list archive the user reads.
#[derive(Debug, Clone)]
pub(super) struct SharedFolder {
    /// The IMAP name: `Lists/team`, or `Lists/team@example_com` when two lists share a local
    /// part (the domain's dots would be levels with `.` as the delimiter).
    pub(super) name: String,
    /// `/lists/<address>`.
    pub(super) storage: String,
    pub(super) maildir: Maildir,
}

/// The list archives `user` reads (none when they cannot be looked up: logged, and the
/// session goes on with the user's own folders).
pub(super) async fn load(accounts: &Accounts, user: &str) -> Vec<SharedFolder> {
    let lists = match accounts.readable_archives(user).await {
        Ok(l) => l,
        Err(e) => {
            warn!(%user, error = %e, "cannot look up the list archives; not shown");
            return Vec::new();
        }
    };
    let d = delimiter();
    let local = |a: &str| a.rsplit_once('@').map_or(a, |(l, _)| l).to_owned();
    lists
        .iter()
        .map(|address| {
            let shared = lists.iter().filter(|o| local(o) == local(address)).count() > 1;
            let leaf = match shared {
                true => address.replace(d, "_"),
                false => local(address).replace(d, "_"),
            };
            SharedFolder {
                name: format!("{PREFIX}{d}{leaf}"),
                storage: format!("{STORAGE_PREFIX}{address}"),
                maildir: Maildir::new(accounts.list_archive(address)),
            }
        })
        .collect()
}

/// Whether `storage` names a shared folder.
pub(super) fn is_shared(storage: &str) -> bool {
    storage.starts_with(STORAGE_PREFIX)
}
