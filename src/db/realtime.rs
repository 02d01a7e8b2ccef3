//! Per-user event streams (`user_events`, numbered by `user_event_seqs`) and the
//! `NOTIFY`/`LISTEN` plumbing that carries them, and realtime signals and control notices,
//! between replicas.
//!
//! Invariants: a user's sequence numbers are allocated under the row lock of their
//! `user_event_seqs` row ([`insert_event`]), so within a user they commit in order and without
//! gaps; `pg_notify` inside a transaction is delivered only if and when it commits.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::Result;

/// One stored event, as the table holds it.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub kind: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// Store one event for `user` with their next sequence number; returns it and the event's
/// time. Call inside a transaction: the sequence row stays locked until it ends.
pub async fn insert_event(
    conn: &mut PgConnection,
    user: Uuid,
    kind: &str,
    data: &Value,
) -> Result<(i64, DateTime<Utc>)> {
    let row = sqlx::query!(
        r#"with s as (
                   insert into user_event_seqs (user_id, last_seq) values ($1, 1)
                   on conflict (user_id) do update set last_seq = user_event_seqs.last_seq + 1
                   returning last_seq
               )
               insert into user_events (user_id, seq, kind, payload)
               select $1, s.last_seq, $2, $3 from s
               returning seq, created_at"#,
        user,
        kind,
        data
    )
    .fetch_one(conn)
    .await?;
    Ok((row.seq, row.created_at))
}

/// Queue `payload` on `channel` (sent on commit inside a transaction, otherwise at once).
pub async fn notify(conn: &mut PgConnection, channel: &str, payload: &str) -> Result<()> {
    sqlx::query!("select pg_notify($1, $2)", channel, payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// A dedicated connection LISTENing on `channels`.
pub async fn listen(pool: &PgPool, channels: &[&str]) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen_all(channels.iter().copied()).await?;
    Ok(listener)
}

/// Events of a user after `after`, oldest first, at most `limit`.
pub async fn events_after(
    db: impl PgExecutor<'_>,
    user: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRow>> {
    Ok(sqlx::query_as!(
        EventRow,
        r#"select seq, kind, payload, created_at from user_events
           where user_id = $1 and seq > $2 order by seq limit $3"#,
        user,
        after,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The user's newest sequence number (0 when none).
pub async fn last_seq(db: impl PgExecutor<'_>, user: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        "select last_seq from user_event_seqs where user_id = $1",
        user
    )
    .fetch_optional(db)
    .await?
    .unwrap_or(0))
}

/// Active operators (the audience of fleet events).
pub async fn operator_ids(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar!("select id from users where role = 'operator' and active")
            .fetch_all(db)
            .await?,
    )
}

/// Drop events older than `keep_days`; returns how many were removed.
pub async fn prune(db: impl PgExecutor<'_>, keep_days: i32) -> Result<u64> {
    let done = sqlx::query!(
        "delete from user_events where created_at < now() - make_interval(days => $1)",
        keep_days
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Overwrite fields of the message `message` in every stored `message.created` /
/// `message.updated` event of `user` (`fields`: a JSON object merged into each event's
/// `message`), so an edited or deleted text survives in no stored copy.
pub async fn rewrite_message_events(
    db: impl PgExecutor<'_>,
    user: Uuid,
    message: Uuid,
    fields: &serde_json::Value,
) -> Result<u64> {
    let done = sqlx::query!(
        r#"update user_events set payload = jsonb_set(payload, '{message}', (payload -> 'message') || $3::jsonb)
           where user_id = $1 and kind in ('message.created', 'message.updated')
             and (payload -> 'message' ->> 'id') = $2::uuid::text"#,
        user,
        message,
        fields
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
