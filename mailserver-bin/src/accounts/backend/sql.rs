//! What the SQL backends share: the pools they open, and the steps of opening that are the
//! same in both dialects.

use sqlx::AnyPool;

/// The pools of an opened SQL store.
pub(crate) struct Pools {
    /// Lookups and admin writes.
    pub main: AnyPool,
    /// The usage tally's writes (see `sqlite`); the main pool for MariaDB.
    pub tally: AnyPool,
    /// Whether `mailbox.smtp_active` exists (PostfixAdmin 3.3 has it; older databases not).
    pub smtp_active_column: bool,
}

pub(super) async fn create_tables(
    pool: &AnyPool,
    schema: &'static [&'static str],
) -> Result<(), sqlx::Error> {
    for statement in schema {
        sqlx::query(*statement).execute(pool).await?;
    }
    Ok(())
}

/// Adds the columns of our own tables that a database made by an earlier version lacks
/// (`table`, `column`, its definition, the same in SQLite and MariaDB).
pub(super) async fn add_missing_columns(pool: &AnyPool) -> Result<(), sqlx::Error> {
    const ADDED: &[(&str, &str, &str)] =
        &[("mailing_list", "archive", "INTEGER NOT NULL DEFAULT 1")];
    for (table, column, definition) in ADDED {
        let probe = format!("SELECT {column} FROM {table} LIMIT 0");
        // The names are the constants above, never anyone's text.
        if sqlx::query(sqlx::AssertSqlSafe(probe))
            .execute(pool)
            .await
            .is_err()
        {
            let add = format!("ALTER TABLE {table} ADD COLUMN {column} {definition}");
            sqlx::query(sqlx::AssertSqlSafe(add)).execute(pool).await?;
        }
    }
    Ok(())
}

pub(super) async fn has_smtp_active(pool: &AnyPool) -> bool {
    sqlx::query("SELECT smtp_active FROM mailbox LIMIT 0")
        .execute(pool)
        .await
        .is_ok()
}
