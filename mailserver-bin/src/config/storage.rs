//! `[storage]`: how the mail store is written.

use serde::Deserialize;

/// How the mail store is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub sync: Sync,
    /// A message for several local mailboxes is written once and hard-linked into each, with
    /// no `Delivered-To:` (Dovecot's LMTP does so); `false`: a copy per mailbox, each with
    /// its own `Delivered-To:` (Postfix's virtual(8)), for multidrop retrievers that read it.
    pub link_copies: bool,
    /// Other nodes serve the same data directory (a shared file system): each keeps its own
    /// queue (`queue/<node>/`), owner lock and greylist, and sessions also look for the
    /// other nodes' changes every [`Storage::poll_ms`] (a file system shared over the network
    /// may not report them).
    pub shared: bool,
    /// This node's name among those sharing the data directory (default: `hostname`).
    pub node: String,
    /// With `shared`: how often an IMAP session in IDLE looks for changes made elsewhere,
    /// in milliseconds.
    pub poll_ms: u64,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            sync: Sync::default(),
            link_copies: true,
            shared: false,
            node: String::new(),
            poll_ms: 2000,
        }
    }
}

/// How a stored message's name is made durable before it is acknowledged (docs/durability.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sync {
    /// One flush per message on ext4, XFS and btrfs (the file's sync after its rename
    /// carries the name there); the directory's sync on any other file system.
    #[default]
    Auto,
    /// The directory's sync after every rename, on every file system (POSIX's rule).
    Directory,
}

impl Sync {
    /// Puts it in force for this process's Maildir writes.
    pub fn apply(self) {
        mailwright_maildir::set_name_sync(match self {
            Sync::Auto => mailwright_maildir::NameSync::Auto,
            Sync::Directory => mailwright_maildir::NameSync::Directory,
        });
    }
}
