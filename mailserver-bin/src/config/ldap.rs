//! `[ldap]`: users in an LDAP directory.

use serde::Deserialize;

/// Where LDAP users are and how to read them (as Dovecot's `dovecot-ldap.conf.ext`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ldap {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// The service account that searches (empty: anonymous).
    pub bind_dn: String,
    pub bind_password: String,
    /// Where users are searched, with the subtree below it.
    pub base: String,
    /// `%u` the address, `%n` its local part, `%d` its domain; e.g.
    /// `(&(objectClass=user)(sAMAccountName=%n))` for Active Directory.
    pub user_filter: String,
    /// The attribute holding the user's own address (its first value), so a filter that also
    /// matches other addresses (`(|(mail=%u)(proxyAddresses=smtp:%u))`) delivers them into the
    /// user's mailbox; empty: the address looked up.
    pub address_attribute: String,
    /// The attribute holding the mail store path (relative paths are under the mail root);
    /// empty: `<domain>/<local part>/`.
    pub maildir_attribute: String,
    /// The attribute holding the quota in octets; empty: none.
    pub quota_attribute: String,
    /// The attribute holding how many messages the mailbox may hold (0: no limit); empty or
    /// missing: `[limits] max_messages_per_mailbox`.
    pub message_quota_attribute: String,
    /// Aliases in the directory, as Postfix's `ldap_table` finds them: entries matching this
    /// filter (`%u`, `%n`, `%d` as in `user_filter`; e.g. `(&(objectClass=group)(mail=%u))`
    /// for Active Directory distribution groups) take mail for the address. Empty: none.
    pub alias_filter: String,
    /// An alias entry's attribute holding target addresses (forwards).
    pub alias_target_attribute: String,
    /// An alias entry's attribute holding the DNs of members, whose `address_attribute` is a
    /// target (a member that is itself a group with an address expands in turn).
    pub alias_member_attribute: String,
    /// Seconds to wait for the server.
    pub timeout: u64,
    /// Upgrade an `ldap://` connection with StartTLS (RFC 4513 §3).
    pub starttls: bool,
    /// PEM file of the CA(s) the server's certificate is checked against, for an internal PKI;
    /// empty: the system's roots.
    pub ca_file: String,
}

impl Default for Ldap {
    fn default() -> Self {
        Self {
            url: String::new(),
            bind_dn: String::new(),
            bind_password: String::new(),
            base: String::new(),
            user_filter: "(mail=%u)".into(),
            address_attribute: "mail".into(),
            maildir_attribute: String::new(),
            quota_attribute: String::new(),
            message_quota_attribute: String::new(),
            alias_filter: String::new(),
            alias_target_attribute: "mailForwardingAddress".into(),
            alias_member_attribute: "member".into(),
            timeout: 5,
            starttls: false,
            ca_file: String::new(),
        }
    }
}
