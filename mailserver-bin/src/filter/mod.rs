//! What inbound mail is judged by before it is stored: who sent it (SPF, DKIM, DMARC and
//! ARC, in [`sender`]) and what it holds (ClamAV, SpamAssassin and milters, in [`content`]).
//! The verdicts become header fields (`headers`) and, where the sender's domain or the
//! configuration asks, a refusal or a delivery to Junk.

mod clamd;
pub mod content;
pub mod headers;
pub mod milter;
mod scanner;
pub mod sender;
mod spamd;
mod verdict;

pub use content::{ContentFilters, ContentVerdict};
pub use sender::{SenderAuth, SpfCheck};
pub use verdict::Action;
