//! `[lists]`: mailing lists (see the daemon's `lists` module).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lists {
    /// The public address of the HTTP listener (`https://lists.example.com`, no trailing
    /// slash), for the one-click unsubscribe link in each member's copy (RFC 8058). Empty:
    /// `https://<hostname>` when an HTTP listener is configured, else no link (the
    /// `mailto:` address only).
    pub url: String,
    /// Bounces from a member's address after which the member is removed and the owners
    /// told (mlmmj's bounce handling).
    pub bounce_limit: u32,
    /// Seconds between two digests of a list (mlmmj's `digestinterval`; a day here).
    pub digest_interval: u64,
    /// A digest goes out sooner once this many posts wait, and holds at most this many
    /// (mlmmj's `digestmaxmails`).
    pub digest_max_posts: usize,
}

impl Default for Lists {
    fn default() -> Self {
        Self {
            url: String::new(),
            bounce_limit: 3,
            digest_interval: 86_400,
            digest_max_posts: 50,
        }
    }
}
