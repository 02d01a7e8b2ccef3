//! The supervisor's leadership in PostgreSQL: a session advisory lock held on a dedicated
//! connection (the lock lives as long as that connection), and the NOTIFY channel on which
//! other processes ask the leader for a pass.

use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};

use crate::error::Result;

/// A connection holding the leader's advisory lock. Dropping or closing it ends leadership.
pub struct LeaderLock {
    conn: PgConnection,
}

/// Take the advisory lock `key` on a connection of its own, detached from the pool; `None`
/// when another session holds it.
pub async fn try_lock(pool: &PgPool, key: i64) -> Result<Option<LeaderLock>> {
    let mut conn = pool.acquire().await?.detach();
    let got: bool = sqlx::query_scalar!(r#"select pg_try_advisory_lock($1) as "got!""#, key)
        .fetch_one(&mut conn)
        .await?;
    if !got {
        let _ = conn.close().await;
        return Ok(None);
    }
    Ok(Some(LeaderLock { conn }))
}

impl LeaderLock {
    /// Fails when the lock's connection is gone (and with it the lock).
    pub async fn check(&mut self) -> Result<()> {
        sqlx::query!("select 1 as one")
            .fetch_one(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Release the lock by closing its connection.
    pub async fn release(self) {
        let _ = self.conn.close().await;
    }
}

/// Notifications on one channel.
pub struct Notifications {
    listener: PgListener,
}

/// Listen on `channel` (a connection of its own).
pub async fn listen(pool: &PgPool, channel: &str) -> Result<Notifications> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(Notifications { listener })
}

impl Notifications {
    /// Wait for the next notification; fails when the connection is lost.
    pub async fn next(&mut self) -> Result<()> {
        self.listener.recv().await?;
        Ok(())
    }
}
