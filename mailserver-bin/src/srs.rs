//! The Sender Rewriting Scheme, as postsrsd and libsrs2 spell it: a message forwarded to
//! another server leaves with `SRS0=HHHH=TT=domain=local@<our domain>` as its envelope sender,
//! so SPF at the destination checks our servers, not the original sender's; a bounce to that
//! address is accepted (when the hash is ours and the timestamp recent) and goes back to the
//! original sender.
//!
//! Mail that arrives already forwarded under another server's SRS0 address leaves under an
//! SRS1 address that names that server (`SRS1=HHHH=first.example==HHHH=TT=domain=local@<our
//! domain>`): a bounce to it goes to the first forwarder, which checks its own timestamp. An
//! SRS1 address keeps naming the first forwarder however many follow.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::Sha1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Days a rewritten address stays valid, libsrs2's default.
const MAX_AGE_DAYS: u64 = 21;
const HASH_LENGTH: usize = 4;

#[derive(Clone)]
pub struct Srs {
    secret: Vec<u8>,
    domain: String,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Srs").field("domain", &self.domain).finish()
    }
}

impl Srs {
    /// The rewriter `[srs]` asks for (its secret made once in the data directory, for the
    /// `[srs] domain` or else the hostname), or none when SRS is off.
    pub fn from_config(config: &crate::config::Config) -> Result<Option<Self>, String> {
        if !config.srs.enabled {
            return Ok(None);
        }
        let domain = match config.srs.domain.is_empty() {
            true => &config.hostname,
            false => &config.srs.domain,
        };
        let path = config.data_dir.join("srs.secret");
        Self::load_or_create(&path, domain)
            .map(Some)
            .map_err(|e| format!("cannot read or create {}: {e}", path.display()))
    }

    pub fn new(secret: Vec<u8>, domain: &str) -> Self {
        Self {
            secret,
            domain: domain.to_lowercase(),
        }
    }

    /// The secret in `<data_dir>/srs.secret`, made on first use. Keep it across restarts and
    /// servers: addresses rewritten with another secret no longer take bounces.
    pub fn load_or_create(path: &Path, domain: &str) -> std::io::Result<Self> {
        Ok(Self::new(crate::password::secret_file(path)?, domain))
    }

    /// The rewritten sender for a forward of mail from `sender` (`local@domain`), at day `day`
    /// (seconds since the epoch / 86400).
    pub fn forward(&self, sender: &str, day: u64) -> Option<String> {
        let (local, domain) = sender.rsplit_once('@')?;
        if let Some(rest) = srs_tag(local, "SRS0") {
            // `rest` keeps its separator: `=HHHH=TT=domain=local`.
            let hash = self.hash(&[domain, rest]);
            return Some(format!("SRS1={hash}={domain}={rest}@{}", self.domain));
        }
        if let Some(rest) = srs_tag(local, "SRS1") {
            // `=oldhash=first.example==...`: the first forwarder stays, our hash replaces its.
            let (_, after_hash) = rest[1..].split_once('=')?;
            let (first, srs0_rest) = after_hash.split_once('=')?;
            let hash = self.hash(&[first, srs0_rest]);
            return Some(format!("SRS1={hash}={first}={srs0_rest}@{}", self.domain));
        }
        let tt = timestamp(day);
        let hash = self.hash(&[&tt, domain, local]);
        Some(format!("SRS0={hash}={tt}={domain}={local}@{}", self.domain))
    }

    /// The original sender behind one of our SRS0 addresses (or, for one of our SRS1
    /// addresses, the first forwarder's SRS0 address); `None` when it is not one, and `Err`
    /// when it is forged or too old.
    pub fn reverse(&self, address: &str, day: u64) -> Option<Result<String, &'static str>> {
        let (local, domain) = address.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        if let Some(rest) = srs_tag(local, "SRS1") {
            let Some((hash, (first, srs0_rest))) = rest[1..]
                .split_once('=')
                .and_then(|(h, r)| Some((h, r.split_once('=')?)))
            else {
                return Some(Err("malformed SRS address"));
            };
            if !self.hash_matches(hash, &[first, srs0_rest]) {
                return Some(Err("SRS hash does not match"));
            }
            return Some(Ok(format!("SRS0{srs0_rest}@{first}")));
        }
        let rest = srs_tag(local, "SRS0").map(|r| &r[1..])?;
        let mut parts = rest.splitn(4, '=');
        let (Some(hash), Some(tt), Some(orig_domain), Some(orig_local)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Some(Err("malformed SRS address"));
        };
        if !self.hash_matches(hash, &[tt, orig_domain, orig_local]) {
            return Some(Err("SRS hash does not match"));
        }
        let Some(stamp) = decode_timestamp(tt) else {
            return Some(Err("malformed SRS timestamp"));
        };
        // Days wrap at 1024 (a 10-bit stamp).
        let age = (day % 1024 + 1024 - stamp) % 1024;
        if age > MAX_AGE_DAYS {
            return Some(Err("SRS address has expired"));
        }
        Some(Ok(format!("{orig_local}@{orig_domain}")))
    }

    /// Whether `hash` is ours for `fields`, whatever case it came back in.
    fn hash_matches(&self, hash: &str, fields: &[&str]) -> bool {
        let expected = self.hash(fields).to_ascii_lowercase();
        crate::password::constant_time_eq(hash.to_ascii_lowercase().as_bytes(), expected.as_bytes())
    }

    /// libsrs2's hash: HMAC-SHA1 over the lower-cased fields, base64, the first four characters.
    fn hash(&self, fields: &[&str]) -> String {
        let mut data = Vec::new();
        for f in fields {
            data.extend(f.bytes().map(|b| b.to_ascii_lowercase()));
        }
        let mac = hmac_sha1(&self.secret, &data);
        BASE64.encode(mac)[..HASH_LENGTH].to_owned()
    }
}

/// What follows `tag` (`SRS0`, `SRS1`, any case) in a local part, from its separator on
/// (`=`, `+` or `-`, as libsrs2 accepts).
fn srs_tag<'a>(local: &'a str, tag: &str) -> Option<&'a str> {
    let head = local.get(..4)?;
    let rest = &local[4..];
    (head.eq_ignore_ascii_case(tag) && rest.starts_with(['=', '+', '-'])).then_some(rest)
}

pub fn today() -> u64 {
    crate::queue::spool::now() / 86_400
}

fn timestamp(day: u64) -> String {
    let t = day % 1024;
    let chars = [BASE32[(t >> 5) as usize], BASE32[(t & 31) as usize]];
    String::from_utf8_lossy(&chars).into_owned()
}

fn decode_timestamp(tt: &str) -> Option<u64> {
    let value = |c: u8| {
        BASE32
            .iter()
            .position(|&b| b == c.to_ascii_uppercase())
            .map(|p| p as u64)
    };
    match tt.as_bytes() {
        [a, b] => Some(value(*a)? << 5 | value(*b)?),
        _ => None,
    }
}

/// HMAC-SHA1 (RFC 2104), as libsrs2 signs.
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    use hmac::{KeyInit as _, Mac as _};
    // HMAC takes a key of any length.
    let Ok(mut mac) = hmac::Hmac::<Sha1>::new_from_slice(key) else {
        return [0; 20];
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        let mac = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        let long_key = [0xaau8; 80];
        let mac = hmac_sha1(
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    }

    #[test]
    fn forward_then_reverse() {
        let srs = Srs::new(b"secret".to_vec(), "mx.example.com");
        let day = 20_000;
        let rewritten = srs.forward("Sender@Outside.example", day).unwrap();
        assert!(rewritten.starts_with("SRS0="), "{rewritten}");
        assert!(rewritten.ends_with("=Outside.example=Sender@mx.example.com"));
        assert_eq!(
            srs.reverse(&rewritten, day + 3),
            Some(Ok("Sender@Outside.example".to_owned()))
        );
        // Case changes on the way (some MTAs lower-case addresses) do not matter.
        assert_eq!(
            srs.reverse(&rewritten.to_lowercase(), day),
            Some(Ok("sender@outside.example".to_owned()))
        );
        assert_eq!(
            srs.reverse(&rewritten, day + 30),
            Some(Err("SRS address has expired"))
        );
        let forged = rewritten.replacen("SRS0=", "SRS0=x", 1);
        assert!(matches!(srs.reverse(&forged, day), Some(Err(_))));
        assert_eq!(srs.reverse("postmaster@mx.example.com", day), None);
        assert_eq!(
            srs.reverse(&rewritten.replace("mx.example.com", "other.example"), day),
            None
        );
        // A forward of mail another server already forwarded: SRS1, naming that server; a
        // bounce to it goes back there, and a third hop keeps naming the first.
        let first = Srs::new(b"other".to_vec(), "first.example");
        let srs0 = first.forward("user@origin.example", day).unwrap();
        let srs1 = srs.forward(&srs0, day).unwrap();
        let srs0_rest = srs0
            .strip_prefix("SRS0")
            .unwrap()
            .split('@')
            .next()
            .unwrap();
        assert!(
            srs1.starts_with("SRS1=")
                && srs1.ends_with(&format!("=first.example={srs0_rest}@mx.example.com")),
            "{srs1}"
        );
        assert_eq!(srs.reverse(&srs1, day + 100), Some(Ok(srs0.clone())));
        assert_eq!(
            first.reverse(&srs0, day + 1),
            Some(Ok("user@origin.example".to_owned()))
        );
        let third = Srs::new(b"third".to_vec(), "third.example");
        let again = third.forward(&srs1, day).unwrap();
        assert!(
            again.contains("=first.example==") && again.ends_with("@third.example"),
            "{again}"
        );
        assert_eq!(third.reverse(&again, day), Some(Ok(srs0.clone())));
        let forged1 = srs1.replacen("SRS1=", "SRS1=x", 1);
        assert_eq!(
            srs.reverse(&forged1, day),
            Some(Err("SRS hash does not match"))
        );
        assert_eq!(
            srs.reverse("SRS1=abcd@mx.example.com", day),
            Some(Err("malformed SRS address"))
        );
        // The 10-bit day stamp wraps.
        let at_wrap = srs.forward("a@b.example", 1023).unwrap();
        assert_eq!(
            srs.reverse(&at_wrap, 1025),
            Some(Ok("a@b.example".to_owned()))
        );
    }
}
