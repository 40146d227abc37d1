//! New passwords set over HTTP (the console, the JSON API): at least [`MIN_LENGTH`]
//! characters, hashed in `[accounts] password_scheme` off the async threads.

use crate::password::Scheme;

/// The fewest characters a new password may have.
pub const MIN_LENGTH: usize = 8;

/// `password`'s hash; `Err`: why not, in English (a text the console translates).
pub async fn new_hash(scheme: Scheme, password: String) -> Result<String, &'static str> {
    if password.chars().count() < MIN_LENGTH {
        return Err("The password needs at least 8 characters.");
    }
    match tokio::task::spawn_blocking(move || crate::password::hash(scheme, &password)).await {
        Ok(Ok(hash)) => Ok(hash),
        _ => Err("The password could not be hashed."),
    }
}
