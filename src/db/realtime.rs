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

/// Store many events in one statement, each user's with consecutive sequence numbers in the
/// given order ([`insert_event`]'s, numbered `n` at a time); returns each event's sequence
/// number and time, in the given order. `users`, `kinds` and `payloads` run in parallel. Call
/// inside a transaction: the users' sequence rows stay locked until it ends.
pub async fn insert_events(
    conn: &mut PgConnection,
    users: &[Uuid],
    kinds: &[String],
    payloads: &[Value],
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    let rows = sqlx::query!(
        r#"with input as (
                   select t.user_id, t.kind, t.payload, t.ord
                   from unnest($1::uuid[], $2::text[], $3::jsonb[]) with ordinality as t(user_id, kind, payload, ord)
               ), counts as (
                   select user_id, count(*) as n from input group by user_id
               ), seqs as (
                   insert into user_event_seqs (user_id, last_seq)
                   select user_id, n from counts order by user_id
                   on conflict (user_id) do update set last_seq = user_event_seqs.last_seq + excluded.last_seq
                   returning user_id, last_seq
               ), numbered as (
                   select i.ord, i.user_id, i.kind, i.payload,
                          s.last_seq - c.n + row_number() over (partition by i.user_id order by i.ord) as seq
                   from input i join counts c using (user_id) join seqs s using (user_id)
               ), ins as (
                   insert into user_events (user_id, seq, kind, payload)
                   select user_id, seq, kind, payload from numbered
                   returning user_id, seq, created_at
               )
               select ins.seq as "seq!", ins.created_at as "created_at!"
               from numbered n join ins on ins.user_id = n.user_id and ins.seq = n.seq
               order by n.ord"#,
        users,
        kinds,
        payloads
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.seq, r.created_at)).collect())
}

/// Queue every one of `payloads` on `channel`, in order, in one statement (sent on commit).
pub async fn notify_all(conn: &mut PgConnection, channel: &str, payloads: &[String]) -> Result<()> {
    sqlx::query!(
        "select pg_notify($1, payload) from unnest($2::text[]) as payload",
        channel,
        payloads
    )
    .execute(conn)
    .await?;
    Ok(())
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
