//! The configuration: defaults, unknown keys, relay hosts, listeners, the accounts URL.

use super::*;

#[test]
fn embedded_default_config_matches_defaults() {
    let parsed: Config = toml::from_str(DEFAULT_CONFIG).unwrap();
    let default = Config::default();
    assert_eq!(
        format!("{:?}", parsed.listen),
        format!("{:?}", default.listen)
    );
    assert_eq!(
        format!("{:?}", parsed.limits),
        format!("{:?}", default.limits)
    );
    assert_eq!(format!("{:?}", parsed.smtp), format!("{:?}", default.smtp));
    assert_eq!(format!("{:?}", parsed.pop3), format!("{:?}", default.pop3));
    assert_eq!(format!("{:?}", parsed.imap), format!("{:?}", default.imap));
    assert_eq!(
        format!("{:?}", parsed.guard),
        format!("{:?}", default.guard)
    );
    assert_eq!(
        format!("{:?}", parsed.sender_auth),
        format!("{:?}", default.sender_auth)
    );
    assert_eq!(
        format!("{:?}", parsed.filters),
        format!("{:?}", default.filters)
    );
    assert_eq!(
        format!("{:?}", parsed.storage),
        format!("{:?}", default.storage)
    );
    assert_eq!(parsed.data_dir, default.data_dir);
    assert_eq!(
        format!("{:?}", parsed.accounts),
        format!("{:?}", default.accounts)
    );
    parsed.validate().unwrap();
}

#[test]
fn unknown_keys_and_bad_relay_hosts_are_errors() {
    assert!(toml::from_str::<Config>("hostnme = \"x\"").is_err());
    let c: Config =
        toml::from_str("hostname = \"mx.example\"\n[relay]\nhost = \"[a.example\"").unwrap();
    assert!(c.validate().is_err());
    let relay = |h: &str| Relay {
        host: h.into(),
        ..Relay::default()
    };
    assert_eq!(
        relay("[mail.example.org]:587").host_port(),
        Some(("mail.example.org".into(), 587))
    );
    assert_eq!(
        relay("[192.0.2.1]").host_port(),
        Some(("192.0.2.1".into(), 25))
    );
    assert_eq!(
        relay("relay.example").host_port(),
        Some(("relay.example".into(), 25))
    );
    assert_eq!(relay("").host_port(), None);
}

#[test]
fn the_accounts_url_is_typed_and_a_bad_one_is_a_config_error() {
    let c = |url: &str| -> Config {
        toml::from_str(&format!(
            "hostname = \"mx.example\"\n[accounts]\nurl = \"{url}\""
        ))
        .unwrap()
    };
    assert_eq!(
        c("sqlite:///var/lib/mail/a.db").accounts_url().unwrap(),
        AccountsUrl::Sqlite("/var/lib/mail/a.db".into())
    );
    assert_eq!(
        c("mariadb://u:p@db/postfix").accounts_url().unwrap(),
        AccountsUrl::MySql("mysql://u:p@db/postfix".into())
    );
    let e = c("postgres://u@db/x").validate().unwrap_err().to_string();
    assert!(
        e.contains("\"postgres://u@db/x\" is not sqlite:PATH"),
        "{e}"
    );
    assert_eq!(
        Config::default().accounts_url().unwrap(),
        AccountsUrl::Sqlite(Config::default().data_dir.join("accounts.db"))
    );
}

#[test]
fn a_missing_listener_key_is_off() {
    let c: Config =
        toml::from_str("hostname = \"mx.example\"\n[listen]\nsmtp = [\"127.0.0.1:25\"]").unwrap();
    assert!(c.listen.pop3.is_empty() && c.listen.pop3s.is_empty());
    assert_eq!(
        Config::default().listen.pop3.len(),
        1,
        "no config file: loopback defaults"
    );
}

#[test]
fn the_default_password_scheme_is_typed_and_an_unknown_one_is_named() {
    let ok: Config = toml::from_str(
        "hostname = \"mx.example\"\n[accounts]\ndefault_password_scheme = \"plain-md5\"",
    )
    .unwrap();
    assert_eq!(
        ok.accounts.default_password_scheme,
        "PLAIN-MD5".parse().unwrap()
    );
    let err = toml::from_str::<Config>(
        "hostname = \"mx.example\"\n[accounts]\ndefault_password_scheme = \"NTLM\"",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("NTLM") && err.contains("SHA512-CRYPT"),
        "{err}"
    );
}

#[test]
fn guard_values_are_checked() {
    let check = |text: &str| {
        toml::from_str::<Config>(&format!("hostname = \"mx.example\"\n[guard]\n{text}"))
            .unwrap()
            .validate()
    };
    assert!(check("trusted_networks = [\"10.0.0.0/8\", \"192.0.2.1\"]").is_ok());
    assert!(check("trusted_networks = [\"10.0.0.0/33\"]").is_err());
    assert!(check("dnsbl_zones = [\"bl.example=127.0.0.2\"]").is_ok());
    assert!(check("dnsbl_zones = [\"bl example\"]").is_err());
    assert!(check("max_auth_failures = 0").is_err());
    assert!(check("ipv6_prefix = 129").is_err());
    assert!(check("auth_failure_delay_ms = 5000\nauth_failure_delay_max_ms = 100").is_err());
}

#[test]
fn storage_sync_is_auto_or_directory() {
    let parse = |text: &str| toml::from_str::<Config>(&format!("[storage]\n{text}"));
    assert_eq!(parse("").unwrap().storage.sync, super::storage::Sync::Auto);
    assert!(parse("").unwrap().storage.link_copies);
    assert!(!parse("link_copies = false").unwrap().storage.link_copies);
    assert_eq!(
        parse("sync = \"directory\"").unwrap().storage.sync,
        super::storage::Sync::Directory
    );
    let err = parse("sync = \"never\"").unwrap_err().to_string();
    assert!(err.contains("auto") && err.contains("directory"), "{err}");
}
