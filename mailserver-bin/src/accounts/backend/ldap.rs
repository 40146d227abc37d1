//! Users kept in an LDAP directory (OpenLDAP, Active Directory), as Dovecot's LDAP passdb and
//! userdb find them: a service account searches for the user with a filter, and the user is
//! authenticated by binding as the entry found. The mail store path and quota come from
//! attributes when configured. Aliases may also come from the directory (groups with members,
//! entries with forwarding addresses), as Postfix's LDAP tables find them. Domains stay in the
//! accounts database.
//!
//! Connections are kept, as Dovecot keeps them: one bound as the service account serves every
//! search (LDAP multiplexes operations on a connection), and a few more are kept for binding
//! as users, one login at a time each. A kept connection that has gone stale (the server
//! restarted or dropped it) is replaced once, within the same lookup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tracing::warn;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};

use crate::accounts::types::{
    DirectoryError, LocalMailbox, MAX_ALIAS_EXPANSIONS, display_domain, normalize_address,
};
use crate::config::Ldap as LdapConfig;

/// A user found in the directory.
#[derive(Debug, Clone)]
struct Entry {
    dn: String,
    address: Option<String>,
    maildir: Option<String>,
    quota: Option<u64>,
    message_quota: Option<u64>,
}

#[derive(Debug)]
pub struct Directory {
    config: LdapConfig,
    mail_root: PathBuf,
    /// TLS settings when `ca_file` names the CAs to trust.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The service account's connection, shared by concurrent searches, and how many had
    /// been opened before it.
    searcher: tokio::sync::Mutex<(u64, Option<ldap3::Ldap>)>,
    /// Idle connections for binding as users.
    binders: std::sync::Mutex<Vec<ldap3::Ldap>>,
}

/// Idle user-bind connections kept; more are opened while more logins run at once.
const IDLE_BINDERS: usize = 4;

/// `invalidCredentials` (RFC 4511 §4.1.9).
const INVALID_CREDENTIALS: u32 = 49;

impl Directory {
    /// Fails when `ca_file` cannot be read.
    pub fn new(config: LdapConfig, mail_root: &Path) -> Result<Self, String> {
        let plain = config.url.starts_with("ldap://") && !config.starttls;
        if plain
            && !["ldap://127.0.0.1", "ldap://localhost", "ldap://[::1]"]
                .iter()
                .any(|l| config.url.starts_with(l))
        {
            warn!(url = %config.url, "LDAP without TLS: passwords cross the network in clear; use ldaps:// or starttls = true");
        }
        let tls = if config.ca_file.is_empty() {
            None
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&config.ca_file)
                .map_err(|e| format!("[ldap] ca_file {}: {e}", config.ca_file))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("[ldap] ca_file {}: {e}", config.ca_file))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("[ldap] ca_file {}: {e}", config.ca_file))?;
            }
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("[ldap] TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Some(Arc::new(tls))
        };
        Ok(Self {
            config,
            mail_root: mail_root.to_owned(),
            tls,
            searcher: tokio::sync::Mutex::new((0, None)),
            binders: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout)
    }

    fn error(&self, source: ldap3::LdapError) -> DirectoryError {
        DirectoryError::Ldap {
            url: self.config.url.clone(),
            source: Box::new(source),
        }
    }

    async fn connect(&self) -> Result<ldap3::Ldap, DirectoryError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_secs(self.config.timeout))
            .set_starttls(self.config.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(Arc::clone(tls));
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|e| self.error(e))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// `template` for `address`: `%u` the address, `%n` its local part, `%d` its domain, each
    /// escaped (RFC 4515) so an address cannot change the filter. For an IDN (`address` holds
    /// its A-label, as every lookup does), entries with either form match: a directory may
    /// hold `bob@bücher.example` or `bob@xn--bcher-kva.example`.
    fn filter(template: &str, address: &str) -> String {
        let fill = |address: &str| {
            let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
            template
                .replace("%u", &ldap_escape(address))
                .replace("%n", &ldap_escape(local))
                .replace("%d", &ldap_escape(domain))
        };
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        let unicode = display_domain(domain);
        if unicode == domain {
            fill(address)
        } else {
            format!(
                "(|{}{})",
                fill(address),
                fill(&format!("{local}@{unicode}"))
            )
        }
    }

    /// The service account's connection and its number: the kept one, or a new one (bound)
    /// when there is none or the kept one is `stale`.
    async fn searcher(&self, stale: Option<u64>) -> Result<(u64, ldap3::Ldap), DirectoryError> {
        let mut kept = self.searcher.lock().await;
        let (number, connection) = &mut *kept;
        if let Some(ldap) = connection.as_mut()
            && !ldap.is_closed()
            && stale != Some(*number)
        {
            return Ok((*number, ldap.clone()));
        }
        *connection = None;
        let mut ldap = self.connect().await?;
        ldap.with_timeout(self.timeout())
            .simple_bind(&self.config.bind_dn, &self.config.bind_password)
            .await
            .and_then(|r| r.success())
            .map_err(|e| self.error(e))?;
        *number += 1;
        *connection = Some(ldap.clone());
        Ok((*number, ldap))
    }

    /// Searches as the service account, on the kept connection (replaced once if broken).
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[&str],
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let mut stale = None;
        loop {
            let (number, mut ldap) = self.searcher(stale).await?;
            let result = ldap
                .with_timeout(self.timeout())
                .search(base, scope, filter, attributes)
                .await;
            match result.and_then(|r| r.success()) {
                Ok((entries, _)) => {
                    return Ok(entries.into_iter().map(SearchEntry::construct).collect());
                }
                // The server's answer stands; a broken connection is replaced once.
                Err(e) if stale.is_some() || is_answer(&e) => return Err(self.error(e)),
                Err(_) => stale = Some(number),
            }
        }
    }

    /// Where mail for `address` goes when the directory has it as an alias: the targets of
    /// the entries `alias_filter` finds (forwarding addresses, and the addresses of members),
    /// or `None` when it finds none.
    pub async fn alias(&self, address: &str) -> Result<Option<Vec<String>>, DirectoryError> {
        if self.config.alias_filter.is_empty() {
            return Ok(None);
        }
        let (targets, members) = (
            self.config.alias_target_attribute.as_str(),
            self.config.alias_member_attribute.as_str(),
        );
        let attributes: Vec<&str> = [targets, members]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let entries = self
            .search(
                &self.config.base,
                Scope::Subtree,
                &Self::filter(&self.config.alias_filter, address),
                &attributes,
            )
            .await?;
        if entries.is_empty() {
            return Ok(None);
        }
        let member_address = match self.config.address_attribute.as_str() {
            "" => "mail",
            a => a,
        };
        let mut found = Vec::new();
        let mut lookups = 0;
        for entry in &entries {
            found.extend(entry.attrs.get(targets).into_iter().flatten().cloned());
            for dn in entry.attrs.get(members).into_iter().flatten() {
                // Resolution follows no more targets than this, so a huge group (or one of
                // members long gone) costs no more lookups than it could deliver to.
                lookups += 1;
                if lookups > MAX_ALIAS_EXPANSIONS {
                    warn!(%address, "LDAP alias has more members than are followed");
                    break;
                }
                // A member outside the directory's view (deleted, no access) is skipped.
                let member = self
                    .search(dn, Scope::Base, "(objectClass=*)", &[member_address])
                    .await;
                match member {
                    Ok(m) => found.extend(
                        m.into_iter()
                            .filter_map(|m| m.attrs.get(member_address)?.first().cloned()),
                    ),
                    Err(DirectoryError::Ldap { source, .. }) if is_answer(&source) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Some(
            found
                .iter()
                .filter_map(|a| normalize_address(a).ok())
                .collect(),
        ))
    }

    /// The entry for `address`, searched for as the service account.
    async fn find(&self, address: &str) -> Result<Option<Entry>, DirectoryError> {
        let mut attributes: Vec<&str> = [
            &self.config.address_attribute,
            &self.config.maildir_attribute,
            &self.config.quota_attribute,
            &self.config.message_quota_attribute,
        ]
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(String::as_str)
        .collect();
        if attributes.is_empty() {
            // RFC 4511 §4.5.1.8: no attributes, only the DN.
            attributes.push("1.1");
        }
        let entries = self
            .search(
                &self.config.base,
                Scope::Subtree,
                &Self::filter(&self.config.user_filter, address),
                &attributes,
            )
            .await?;
        if entries.len() > 1 {
            return Err(DirectoryError::Ambiguous {
                address: address.to_owned(),
                count: entries.len(),
            });
        }
        Ok(entries.into_iter().next().map(|e| {
            let first = |name: &str| {
                (!name.is_empty())
                    .then(|| e.attrs.get(name).and_then(|v| v.first()).cloned())
                    .flatten()
            };
            Entry {
                address: first(&self.config.address_attribute)
                    .and_then(|a| normalize_address(&a).ok()),
                maildir: first(&self.config.maildir_attribute),
                quota: first(&self.config.quota_attribute).and_then(|q| q.trim().parse().ok()),
                message_quota: first(&self.config.message_quota_attribute)
                    .and_then(|q| q.trim().parse().ok()),
                dn: e.dn,
            }
        }))
    }

    /// The mailbox of `address` (lower case, validated) if the directory has it; the domain's
    /// quota is the caller's to fill in.
    pub async fn mailbox(&self, address: &str) -> Result<Option<LocalMailbox>, DirectoryError> {
        Ok(self
            .find(address)
            .await?
            .map(|e| self.to_mailbox(address, &e)))
    }

    fn to_mailbox(&self, looked_up: &str, entry: &Entry) -> LocalMailbox {
        // The user's own address names the mailbox, whichever of theirs was looked up.
        let address = entry.address.as_deref().unwrap_or(looked_up);
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        let maildir = match &entry.maildir {
            // As Dovecot's `mail` attribute mapping: an absolute path as is, a relative one
            // under the mail root.
            Some(path) if Path::new(path).is_absolute() => PathBuf::from(path),
            Some(path) => self.mail_root.join(path),
            None => self.mail_root.join(format!("{domain}/{local}/")),
        };
        LocalMailbox {
            username: address.to_owned(),
            maildir,
            quota: entry.quota.unwrap_or(0),
            message_quota: entry.message_quota,
            spam_junk_tenths: None,
            domain: domain.to_owned(),
            domain_quota: 0,
        }
    }

    /// Whether `password` is `address`'s: the entry is found, then bound as. An empty password
    /// never is (it would be an anonymous bind, which succeeds).
    pub async fn authenticate(
        &self,
        address: &str,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        if password.is_empty() {
            return Ok(false);
        }
        let Some(entry) = self.find(address).await? else {
            return Ok(false);
        };
        let idle = {
            let mut binders = self.lock_binders();
            std::iter::from_fn(|| binders.pop()).find_map(|mut l| (!l.is_closed()).then_some(l))
        };
        let reused = idle.is_some();
        let mut ldap = match idle {
            Some(ldap) => ldap,
            None => self.connect().await?,
        };
        let mut result = ldap
            .with_timeout(self.timeout())
            .simple_bind(&entry.dn, password)
            .await;
        if reused && result.as_ref().is_err_and(|e| !is_answer(e)) {
            ldap = self.connect().await?;
            result = ldap
                .with_timeout(self.timeout())
                .simple_bind(&entry.dn, password)
                .await;
        }
        let result = result.map_err(|e| self.error(e))?;
        // Bound as the user (or, after a failed bind, anonymous): the next login binds again.
        let mut binders = self.lock_binders();
        if binders.len() < IDLE_BINDERS {
            binders.push(ldap);
        }
        drop(binders);
        match result.rc {
            0 => Ok(true),
            INVALID_CREDENTIALS => Ok(false),
            _ => Err(self.error(ldap3::LdapError::LdapResult { result })),
        }
    }

    fn lock_binders(&self) -> std::sync::MutexGuard<'_, Vec<ldap3::Ldap>> {
        self.binders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `e` is the server's answer (a result code), not a failed connection.
fn is_answer(e: &ldap3::LdapError) -> bool {
    matches!(e, ldap3::LdapError::LdapResult { .. })
}

#[cfg(test)]
mod tests {
    use super::Directory;

    #[test]
    fn a_filter_is_escaped_and_matches_either_form_of_an_idn() {
        let template = "(&(objectClass=inetOrgPerson)(mail=%u))";
        assert_eq!(
            Directory::filter(template, "bob*)(uid=*@example.com"),
            "(&(objectClass=inetOrgPerson)(mail=bob\\2a\\29\\28uid=\\2a@example.com))"
        );
        assert_eq!(
            Directory::filter(template, "bob@xn--bcher-kva.example"),
            "(|(&(objectClass=inetOrgPerson)(mail=bob@xn--bcher-kva.example))\
             (&(objectClass=inetOrgPerson)(mail=bob@bücher.example)))"
        );
    }
}
