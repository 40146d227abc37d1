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

pub(super) async fn has_smtp_active(pool: &AnyPool) -> bool {
    sqlx::query("SELECT smtp_active FROM mailbox LIMIT 0")
        .execute(pool)
        .await
        .is_ok()
}
