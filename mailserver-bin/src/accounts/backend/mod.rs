//! Where the accounts live: our SQLite file or PostfixAdmin's MariaDB (both through one
//! `sqlx::Any` pool; the queries are written for both and only the tables' DDL differs), and an
//! LDAP directory for users and groups. The lookups and writes above this use the pools the
//! SQL backends open; nothing here knows of them.

use crate::config::AccountsUrl;

pub mod ldap;
mod mysql;
mod sql;
mod sqlite;

pub(super) use sql::Pools;

/// Opens the SQL store `url` names.
pub(super) async fn open(
    url: &AccountsUrl,
) -> Result<Pools, crate::accounts::types::AccountsError> {
    sqlx::any::install_default_drivers();
    let pools = match url {
        AccountsUrl::Sqlite(path) => {
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|source| {
                    crate::accounts::types::AccountsError::CreateDir {
                        path: parent.to_owned(),
                        source,
                    }
                })?;
            }
            sqlite::open(&format!("sqlite:{}?mode=rwc", path.display())).await?
        }
        AccountsUrl::MySql(url) => mysql::open(url).await?,
    };
    Ok(pools)
}
