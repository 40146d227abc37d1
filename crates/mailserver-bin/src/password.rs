//! Password hashes in Dovecot's `{SCHEME}hash` form, as PostfixAdmin stores them.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha_crypt::ShaCrypt;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheme {
    /// `{ARGON2ID}$argon2id$v=19$...` (Dovecot 2.3+, the default).
    Argon2id,
    /// `{SHA512-CRYPT}$6$...` (PostfixAdmin's default, every Dovecot).
    Sha512Crypt,
}

#[derive(Debug, Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

pub fn hash(scheme: Scheme, password: &str) -> Result<String, HashError> {
    match scheme {
        Scheme::Argon2id => Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| format!("{{ARGON2ID}}{h}"))
            .map_err(|e| HashError(e.to_string())),
        Scheme::Sha512Crypt => ShaCrypt::default()
            .hash_password(password.as_bytes())
            .map(|h| format!("{{SHA512-CRYPT}}{}", h.as_str()))
            .map_err(|e| HashError(e.to_string())),
    }
}

/// Checks `password` against a stored hash. The `{SCHEME}` prefix is read case-insensitively;
/// a bare crypt string is recognised by its `$id$`.
pub fn verify(stored: &str, password: &str) -> bool {
    let (scheme, hash) = match stored.strip_prefix('{').and_then(|s| s.split_once('}')) {
        Some((scheme, hash)) => (scheme.to_ascii_uppercase(), hash),
        None => (String::new(), stored),
    };
    match scheme.as_str() {
        "PLAIN" | "CLEAR" | "CLEARTEXT" => constant_time_eq(hash.as_bytes(), password.as_bytes()),
        "ARGON2ID" | "ARGON2I" | "SHA512-CRYPT" | "SHA256-CRYPT" | "CRYPT" | "" => {
            verify_crypt(hash, password)
        }
        _ => false,
    }
}

fn verify_crypt(hash: &str, password: &str) -> bool {
    if hash.starts_with("$argon2") {
        Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok()
    } else if hash.starts_with("$6$") || hash.starts_with("$5$") {
        ShaCrypt::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok()
    } else {
        false
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random password of 20 characters from the kernel's CSPRNG.
pub fn generate() -> std::io::Result<String> {
    use std::io::Read;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_roundtrip() {
        let h = hash(Scheme::Argon2id, "hunter2").unwrap();
        assert!(h.starts_with("{ARGON2ID}$argon2id$"));
        assert!(verify(&h, "hunter2"));
        assert!(!verify(&h, "hunter3"));
    }

    #[test]
    fn sha512_crypt_roundtrip_and_dovecot_forms() {
        let h = hash(Scheme::Sha512Crypt, "pw").unwrap();
        assert!(h.starts_with("{SHA512-CRYPT}$6$"));
        assert!(verify(&h, "pw"));
        // Lower-case scheme and bare crypt, as PostfixAdmin writes them.
        assert!(verify(&h.replace("{SHA512-CRYPT}", "{sha512-crypt}"), "pw"));
        assert!(verify(h.trim_start_matches("{SHA512-CRYPT}"), "pw"));
        // Produced by glibc crypt(3), which is what `doveadm pw -s SHA512-CRYPT` uses.
        let dovecot = "{SHA512-CRYPT}$6$saltsalt$JcVDtuB6d1BHhCd5RPBh8g8xX/1CbY8EU2PN0MTaj2/Mypw4P./C6dN4j0HALhzBDTocyW1Jm.gYaTPjFGCV40";
        assert!(verify(dovecot, "test"));
        assert!(verify("{PLAIN}x", "x"));
        assert!(!verify("{MD5}x", "x"));
    }

    #[test]
    fn generated_passwords_differ() {
        assert_ne!(generate().unwrap(), generate().unwrap());
    }
}
