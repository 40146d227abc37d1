//! `[imap]`: the IMAP server's settings.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    pub allow_plaintext_auth: bool,
    pub timeout: u64,
    pub timeout_before_auth: u64,
    pub max_auth_failures: u32,
    pub max_line: usize,
    pub max_literal: usize,
    pub listing_cache: usize,
    pub header_cache_mb: usize,
    /// MIME parts of a message looked into (the rest is one opaque part).
    pub max_mime_parts: usize,
    /// Sessions of one user from one address (Dovecot's `mail_max_userip_connections`).
    pub max_connections_per_user: usize,
    /// MIME nesting looked into.
    pub max_mime_depth: usize,
    /// Header fields read per header.
    pub max_header_fields: usize,
    /// Seconds what is cached for a folder (its listing, MODSEQ log and header fields) stays
    /// in memory after the last session leaves it.
    pub folder_linger: u64,
    /// The hierarchy separator clients see; folders stay Maildir++ (`.`) on disk.
    pub separator: Separator,
}

/// The IMAP hierarchy separator: `.` (Dovecot's default over Maildir++) or `/` (iRedMail's
/// Dovecot, `separator = /`). Written `"."` or `"/"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Separator {
    #[default]
    #[serde(rename = ".")]
    Dot,
    #[serde(rename = "/")]
    Slash,
}

impl Separator {
    pub fn as_char(self) -> char {
        match self {
            Separator::Dot => '.',
            Separator::Slash => '/',
        }
    }
}

impl Default for Imap {
    fn default() -> Self {
        Self {
            allow_plaintext_auth: false,
            timeout: 30 * 60,
            timeout_before_auth: 60,
            max_auth_failures: 3,
            max_line: 64 * 1024,
            listing_cache: 500_000,
            header_cache_mb: 128,
            max_mime_parts: 10_000,
            max_connections_per_user: 10,
            max_mime_depth: 24,
            max_header_fields: 1_000,
            max_literal: 64 * 1024,
            folder_linger: 30,
            separator: Separator::Dot,
        }
    }
}
