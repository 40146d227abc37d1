//! The accounts store against SQLite: domains, users, aliases, limits and lookups.

use super::*;

async fn fresh(name: &str) -> (Accounts, PathBuf) {
    let dir = std::env::temp_dir().join(format!("accounts-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let accounts = Accounts::open(&AccountsUrl::Sqlite(dir.join("a.db")), &dir.join("mail"))
        .await
        .unwrap();
    (accounts, dir)
}

#[tokio::test]
async fn domains_users_aliases() {
    let (a, dir) = fresh("basic").await;
    a.add_domain("Example.COM", false).await.unwrap();
    assert!(matches!(
        a.add_domain("example.com", false).await,
        Err(AccountsError::DuplicateDomain(_))
    ));
    assert!(matches!(
        a.add_domain("bad_domain", false).await,
        Err(AccountsError::BadDomain(_))
    ));
    a.add_user("Alice@example.com", "{PLAIN}x").await.unwrap();
    assert!(matches!(
        a.add_user("alice@example.com", "x").await,
        Err(AccountsError::DuplicateUser(_))
    ));
    assert!(matches!(
        a.add_user("bob@nowhere.example", "x").await,
        Err(AccountsError::UnknownDomain(_))
    ));
    assert!(matches!(
        a.add_user("not an address", "x").await,
        Err(AccountsError::BadAddress(_))
    ));
    let alice = LocalMailbox {
        username: "alice@example.com".into(),
        maildir: dir.join("mail/example.com/alice/"),
        quota: 0,
        message_quota: None,
        spam_junk_tenths: None,
        domain: "example.com".into(),
        domain_quota: 0,
    };
    assert_eq!(
        a.resolve("ALICE@example.com").await.unwrap(),
        Resolution::Local(vec![alice.clone()])
    );
    assert_eq!(
        a.resolve("bob@example.com").await.unwrap(),
        Resolution::Unknown
    );
    assert_eq!(
        a.resolve("bob@other.example").await.unwrap(),
        Resolution::NotOurDomain
    );
    a.add_alias("sales@example.com", &["alice@example.com".into()])
        .await
        .unwrap();
    assert_eq!(
        a.resolve("sales@example.com").await.unwrap(),
        Resolution::Local(vec![alice.clone()])
    );
    a.add_alias("@example.com", &["alice@example.com".into()])
        .await
        .unwrap();
    assert_eq!(
        a.resolve("anyone@example.com").await.unwrap(),
        Resolution::Local(vec![alice.clone()])
    );
    let (_, external) = a
        .add_alias("fwd@example.com", &["x@elsewhere.example".into()])
        .await
        .unwrap();
    assert_eq!(external, vec!["x@elsewhere.example".to_owned()]);
    assert!(matches!(
        a.resolve("fwd@example.com").await.unwrap(),
        Resolution::Forward { local, remote } if local.is_empty() && remote == vec!["x@elsewhere.example".to_owned()]
    ));
    // A loop ends.
    a.add_alias("l1@example.com", &["l2@example.com".into()])
        .await
        .unwrap();
    a.add_alias(
        "l2@example.com",
        &["l1@example.com".into(), "alice@example.com".into()],
    )
    .await
    .unwrap();
    assert_eq!(
        a.resolve("l1@example.com").await.unwrap(),
        Resolution::Local(vec![alice])
    );
    assert!(matches!(
        a.remove_domain("example.com").await,
        Err(AccountsError::DomainNotEmpty { .. })
    ));
    // Alias domains: user@alias resolves as user@target, catch-all included.
    a.add_alias_domain("example.org", "example.com")
        .await
        .unwrap();
    assert!(matches!(
        a.add_alias_domain("example.com", "example.com").await,
        Err(AccountsError::AliasDomainIsDomain(_))
    ));
    assert!(matches!(
        a.add_alias_domain("example.org", "example.com").await,
        Err(AccountsError::DuplicateAliasDomain(_))
    ));
    assert!(a.is_local_domain("example.org").await.unwrap());
    assert_eq!(
        a.resolve("alice@example.org").await.unwrap(),
        a.resolve("alice@example.com").await.unwrap()
    );
    assert_eq!(
        a.resolve("nobody@example.org").await.unwrap(),
        a.resolve("nobody@example.com").await.unwrap()
    );
    a.remove_alias_domain("example.org", None).await.unwrap();
    assert_eq!(
        a.resolve("alice@example.org").await.unwrap(),
        Resolution::NotOurDomain
    );
    a.remove_alias("l2@example.com", &["l1@example.com".into()])
        .await
        .unwrap();
    assert!(a.remove_alias("nope@example.com", &[]).await.is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_pop3_policy_is_typed_and_a_bad_stored_one_names_its_row() {
    use crate::config::DeletePolicy;
    let (a, dir) = fresh("pop3-policy").await;
    a.add_domain("example.com", false).await.unwrap();
    a.add_user("bob@example.com", "{PLAIN}x").await.unwrap();
    assert_eq!(a.pop3_policy("bob@example.com").await.unwrap(), None);
    a.set_pop3_policy("bob@example.com", Some(DeletePolicy::Keep))
        .await
        .unwrap();
    assert_eq!(
        a.pop3_policy("bob@example.com").await.unwrap(),
        Some(DeletePolicy::Keep)
    );
    // A value written by hand (or by another tool) that is none of the policies.
    sqlx::query("UPDATE pop3_policy SET delete_policy = 'purge' WHERE username = ?")
        .bind("bob@example.com")
        .execute(&a.pool)
        .await
        .unwrap();
    let e = a.pop3_policy("bob@example.com").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "pop3_policy.delete_policy of bob@example.com holds \"purge\", which is not one of expunge, keep, seen"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_idn_has_one_stored_form_and_is_shown_as_people_write_it() {
    for written in ["Bücher.Example", "xn--bcher-kva.example", "BÜCHER.example."] {
        assert_eq!(normalize_domain(written).unwrap(), "xn--bcher-kva.example");
    }
    assert_eq!(
        normalize_address("Bob@Bücher.example").unwrap(),
        "bob@xn--bcher-kva.example"
    );
    assert_eq!(display_domain("xn--bcher-kva.example"), "bücher.example");
    assert_eq!(display_domain("example.com"), "example.com");
    assert_eq!(
        display_domain("xn--invalid-.example"),
        "xn--invalid-.example"
    );
    assert!(normalize_domain("bad_domain..example").is_err());
    assert!(
        normalize_domain("xn--a.example").is_err(),
        "not a valid A-label"
    );
}

#[tokio::test]
async fn a_database_from_before_the_archive_setting_gets_its_column() {
    let (a, dir) = fresh("old-lists").await;
    a.add_domain("example.com", false).await.unwrap();
    a.add_list("team@example.com", "Team").await.unwrap();
    drop(a);
    // The table as an earlier version made it: no `archive`.
    let url = format!("sqlite://{}", dir.join("a.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE mailing_list DROP COLUMN archive")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let a = Accounts::open(&AccountsUrl::Sqlite(dir.join("a.db")), &dir.join("mail"))
        .await
        .unwrap();
    let list = a.list("team@example.com").await.unwrap().unwrap();
    assert_eq!(list.archive, Archive::Kept, "archived by default");
    a.set_list("team@example.com", ListSetting::Archive(Archive::Members))
        .await
        .unwrap();
    let list = a.list("team@example.com").await.unwrap().unwrap();
    assert_eq!(list.archive, Archive::Members);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn app_passwords_log_in_to_mail_only_and_are_revoked_one_by_one() {
    use crate::password::StoredScheme;
    let (a, dir) = fresh("app-passwords").await;
    a.add_domain("example.com", false).await.unwrap();
    a.add_user("bob@example.com", "{PLAIN}own-password")
        .await
        .unwrap();
    let scheme = StoredScheme::CRYPT;
    let login = |password: &str| a.authenticate("bob@example.com", password.into(), scheme);
    assert!(!login("app-secret-1").await.unwrap());
    a.add_app_password("bob@example.com", "Phone", "{PLAIN}app-secret-1", 2)
        .await
        .unwrap();
    a.add_app_password("bob@example.com", "Laptop", "{PLAIN}app-secret-2", 2)
        .await
        .unwrap();
    // The limit, and a nameless one, refused.
    assert!(
        a.add_app_password("bob@example.com", "Third", "{PLAIN}x", 2)
            .await
            .is_err()
    );
    assert!(
        a.add_app_password("bob@example.com", " ", "{PLAIN}x", 9)
            .await
            .is_err()
    );
    assert!(login("own-password").await.unwrap());
    assert!(login("app-secret-1").await.unwrap());
    assert!(login("app-secret-2").await.unwrap());
    assert!(!login("app-secret-3").await.unwrap());
    // Not the console's password.
    let primary = a
        .authenticate_primary("bob@example.com", "app-secret-1".into(), scheme)
        .await;
    assert!(!primary.unwrap());
    let listed = a.app_passwords("bob@example.com").await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| p.description.as_str())
            .collect::<Vec<_>>(),
        ["Phone", "Laptop"]
    );
    assert_eq!(
        a.remove_app_password("bob@example.com", listed[0].id)
            .await
            .unwrap(),
        "Phone"
    );
    assert!(!login("app-secret-1").await.unwrap());
    assert!(login("app-secret-2").await.unwrap());
    // Another user cannot revoke bob's.
    a.add_user("eve@example.com", "{PLAIN}e").await.unwrap();
    assert!(
        a.remove_app_password("eve@example.com", listed[1].id)
            .await
            .is_err()
    );
    // A disabled mailbox's app passwords no longer log in.
    a.set_user_active("bob@example.com", false).await.unwrap();
    assert!(!login("app-secret-2").await.unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_spam_threshold_is_carried_by_lookups() {
    let (a, dir) = fresh("spam-policy").await;
    a.add_domain("example.com", false).await.unwrap();
    a.add_user("bob@example.com", "{PLAIN}x").await.unwrap();
    assert_eq!(a.spam_junk_score("bob@example.com").await.unwrap(), None);
    a.set_spam_junk_score("bob@example.com", Some(3.54))
        .await
        .unwrap();
    assert_eq!(
        a.spam_junk_score("bob@example.com").await.unwrap(),
        Some(3.5)
    );
    let Resolution::Local(found) = a.resolve("bob@example.com").await.unwrap() else {
        panic!("bob is local");
    };
    assert_eq!(found[0].spam_junk_tenths, Some(35));
    let mailbox = a.mailbox("bob@example.com").await.unwrap().unwrap();
    assert_eq!(mailbox.spam_junk_tenths, Some(35));
    for bad in [0.0, f64::NAN, 1e9] {
        assert!(
            a.set_spam_junk_score("bob@example.com", Some(bad))
                .await
                .is_err()
        );
    }
    assert!(
        a.set_spam_junk_score("nobody@example.com", Some(3.0))
            .await
            .is_err()
    );
    a.set_spam_junk_score("bob@example.com", None)
        .await
        .unwrap();
    assert_eq!(a.spam_junk_score("bob@example.com").await.unwrap(), None);
    let _ = std::fs::remove_dir_all(dir);
}
