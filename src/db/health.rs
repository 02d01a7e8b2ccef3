//! Whether the database answers (`/readyz`).

use sqlx::PgExecutor;

use crate::error::Result;

/// One round trip.
pub async fn ping(db: impl PgExecutor<'_>) -> Result<()> {
    sqlx::query_scalar!("select 1 as \"one!\"")
        .fetch_one(db)
        .await?;
    Ok(())
}
