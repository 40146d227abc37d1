//! One-click unsubscribe (RFC 8058): each member's copy of a post carries its own
//! `List-Unsubscribe` field, with the list's `mailto:` command address and an https URL on
//! the server's HTTP listener whose token names the list and the member, signed with the
//! server's secret (`<data_dir>/lists.secret`). A POST to that URL removes the member with
//! no further step and nothing kept per copy; the copy's DKIM signature covers both fields,
//! as RFC 8058 §4 asks.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{KeyInit as _, Mac as _};
use sha2::Sha256;

/// Where a token goes in the URL: `<base>/list/unsubscribe/<token>`.
pub const UNSUBSCRIBE_PATH: &str = "/list/unsubscribe/";

/// The octets of the signature a token keeps (128 bits).
const MAC_LENGTH: usize = 16;

/// Makes and checks the unsubscribe tokens.
#[derive(Clone)]
pub struct Links {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Links")
    }
}

impl Links {
    /// With the secret in `<data_dir>/lists.secret` (made on first use).
    pub fn from_config(config: &crate::config::Config) -> Result<Self, String> {
        let path = config.data_dir.join("lists.secret");
        crate::password::secret_file(&path)
            .map(Self::new)
            .map_err(|e| format!("cannot read or create {}: {e}", path.display()))
    }

    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self, list: &str, member: &str) -> Vec<u8> {
        // A key of any length is taken; the fallback never runs.
        let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return Vec::new();
        };
        mac.update(b"unsubscribe\n");
        mac.update(list.as_bytes());
        mac.update(b"\n");
        mac.update(member.as_bytes());
        mac.finalize().into_bytes()[..MAC_LENGTH].to_vec()
    }

    /// The token that removes `member` from `list`.
    pub fn token(&self, list: &str, member: &str) -> String {
        let (list, member) = (list.to_ascii_lowercase(), member.to_ascii_lowercase());
        format!(
            "{}.{}",
            B64.encode(format!("{list}\n{member}")),
            B64.encode(self.mac(&list, &member))
        )
    }

    /// The list and the member a token names, when this server signed it.
    pub fn verify(&self, token: &str) -> Option<(String, String)> {
        let (names, mac) = token.split_once('.')?;
        let names = String::from_utf8(B64.decode(names).ok()?).ok()?;
        let (list, member) = names.split_once('\n')?;
        let given = B64.decode(mac).ok()?;
        crate::password::constant_time_eq(&given, &self.mac(list, member))
            .then(|| (list.to_owned(), member.to_owned()))
    }

    /// `member`'s `List-Unsubscribe` field (and `List-Unsubscribe-Post`, when there is an
    /// https link: `base` is the HTTP listener's public address), lines ending in CRLF.
    pub fn fields(&self, base: Option<&str>, list: &str, member: &str) -> String {
        let mailto = format!(
            "<mailto:{}?subject=unsubscribe>",
            super::command_address(list, "unsubscribe")
        );
        match base {
            Some(base) => format!(
                "List-Unsubscribe: <{}{UNSUBSCRIBE_PATH}{}>,\r\n {mailto}\r\n\
                 List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                base.trim_end_matches('/'),
                self.token(list, member)
            ),
            None => format!("List-Unsubscribe: {mailto}\r\n"),
        }
    }
}

/// The HTTP listener's public address for links, as `[lists] url` gives it or else
/// `https://<hostname>` when there is an HTTP listener; `None`: no link.
pub fn base_url(config: &crate::config::Config) -> Option<String> {
    if !config.lists.url.is_empty() {
        return Some(config.lists.url.clone());
    }
    (!config.listen.http.is_empty()).then(|| format!("https://{}", config.hostname))
}

/// The list whose bounce address (`LIST+bounces@domain`, a post's envelope sender) is
/// `sender`.
pub fn list_of_bounces(sender: &str) -> Option<String> {
    let (local, domain) = sender.rsplit_once('@')?;
    let list = local.strip_suffix("+bounces")?;
    Some(format!("{list}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_list_and_member_and_nothing_else() {
        let links = Links::new(b"secret".to_vec());
        let token = links.token("Team@Example.com", "bob@example.org");
        assert_eq!(
            links.verify(&token),
            Some(("team@example.com".into(), "bob@example.org".into()))
        );
        assert!(!token.contains('/') && !token.contains('+') && !token.contains('='));
        // Another member's name with this signature, or another server's token: refused.
        let (_, mac) = token.split_once('.').unwrap();
        let forged = format!("{}.{mac}", B64.encode("team@example.com\neve@example.org"));
        assert_eq!(links.verify(&forged), None);
        assert_eq!(Links::new(b"other".to_vec()).verify(&token), None);
        assert_eq!(links.verify("garbage"), None);
        assert_eq!(links.verify("."), None);
    }

    #[test]
    fn each_member_gets_a_one_click_link_when_there_is_a_listener() {
        let links = Links::new(b"k".to_vec());
        let with = links.fields(
            Some("https://lists.example.com/"),
            "team@example.com",
            "a@b.c",
        );
        assert!(
            with.starts_with("List-Unsubscribe: <https://lists.example.com/list/unsubscribe/"),
            "{with}"
        );
        assert!(
            with.ends_with(
                ">,\r\n <mailto:team+unsubscribe@example.com?subject=unsubscribe>\r\n\
                 List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            ),
            "{with}"
        );
        let without = links.fields(None, "team@example.com", "a@b.c");
        assert_eq!(
            without,
            "List-Unsubscribe: <mailto:team+unsubscribe@example.com?subject=unsubscribe>\r\n"
        );
        assert_eq!(
            list_of_bounces("team+bounces@example.com").as_deref(),
            Some("team@example.com")
        );
        assert_eq!(list_of_bounces("team@example.com"), None);
    }
}
