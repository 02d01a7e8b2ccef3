//! `outbox`: work for WhatsApp queued inside the transaction that decided it, run by the
//! outbox worker after commit.
//!
//! A row is a job: its `kind` (text) and `payload` (jsonb) — what to do, in the form the
//! domain's typed job is stored in (`crate::chat::outbox::Job`; this module only moves the
//! text and the JSON) — the `message_id` it delivers, if any (unique with `kind`, so a message
//! is queued for sending once), its link, and the bookkeeping of attempts: a lease while a
//! worker holds it (`locked_until`), the next attempt, a deadline, the last error, `done_at`.
//!
//! Functions return the driver's error: the worker retries database failures.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Queue a job inside the caller's transaction; a second send job for the same message is
/// ignored.
pub async fn insert(
    conn: &mut PgConnection,
    kind: &str,
    message: Option<Uuid>,
    link: Option<Uuid>,
    payload: &Value,
    deadline: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into outbox (kind, message_id, link_id, payload, deadline_at) values ($1, $2, $3, $4, $5)
           on conflict do nothing"#,
        kind,
        message,
        link,
        payload,
        deadline
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A claimed job, as stored.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub message_id: Option<Uuid>,
    pub link_id: Option<Uuid>,
    pub payload: Value,
    /// Including this one.
    pub attempts: i32,
    pub deadline_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Lease the next due job, leaving out `busy` links (in flight in this process) and links
/// with a job leased by any process: one job per link at a time, so one link that does not
/// answer holds only itself, and its messages leave in order.
pub async fn claim(
    db: impl PgExecutor<'_>,
    lease_secs: f64,
    busy: &[Uuid],
) -> sqlx::Result<Option<OutboxRow>> {
    sqlx::query_as!(
        OutboxRow,
        r#"update outbox o set locked_until = now() + make_interval(secs => $1), attempts = o.attempts + 1
           from (select c.id from outbox c
                 where c.done_at is null and c.next_attempt_at <= now()
                   and (c.locked_until is null or c.locked_until < now())
                   and not coalesce(c.link_id = any($2), false)
                   and not exists (select 1 from outbox b
                                   where b.link_id = c.link_id and b.id <> c.id and b.done_at is null
                                     and b.locked_until >= now())
                 order by c.next_attempt_at, c.id limit 1 for update skip locked) j
           where o.id = j.id
           returning o.id, o.kind, o.message_id, o.link_id, o.payload, o.attempts, o.deadline_at, o.created_at"#,
        lease_secs,
        busy
    )
    .fetch_optional(db)
    .await
}

/// The link did not answer: its other waiting jobs wait at least `delay_secs` too, instead of
/// each spending a worker's time on the same silence.
pub async fn defer_link(
    db: impl PgExecutor<'_>,
    link: Uuid,
    except: i64,
    delay_secs: f64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"update outbox set next_attempt_at = greatest(next_attempt_at, now() + make_interval(secs => $3))
           where link_id = $1 and id <> $2 and done_at is null
             and (locked_until is null or locked_until < now())"#,
        link,
        except,
        delay_secs
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The job succeeded.
pub async fn mark_done(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update outbox set done_at = now(), locked_until = null, last_error = null where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Release the lease and try again in `delay_secs`.
pub async fn retry_later(
    db: impl PgExecutor<'_>,
    id: i64,
    error: &str,
    delay_secs: f64,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update outbox set locked_until = null, last_error = $2,
                       next_attempt_at = now() + make_interval(secs => $3) where id = $1"#,
        id,
        error,
        delay_secs
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The job failed for good: done, with why.
pub async fn give_up(conn: &mut PgConnection, id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update outbox set done_at = now(), locked_until = null, last_error = $2 where id = $1",
        id,
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Delete at most `batch` jobs finished (sent or given up) more than `keep_days` ago.
pub async fn prune_done(db: impl PgExecutor<'_>, keep_days: i32, batch: i64) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"delete from outbox where id in (
               select id from outbox
               where done_at < now() - make_interval(days => $1)
               order by done_at limit $2)"#,
        keep_days,
        batch
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
