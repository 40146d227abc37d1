//! What inbound mail is judged by before it is stored: who sent it (SPF, DKIM, DMARC and
//! ARC, in [`sender`]). The verdicts become header fields and, where the sender's domain or
//! the configuration asks, a refusal or a delivery to Junk.

pub mod sender;

pub use sender::{Action, SenderAuth, SpfCheck};
