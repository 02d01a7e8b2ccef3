//! `waha_events`: every webhook delivery WAHA made, stored before it is acknowledged, and the
//! state of applying it.
//!
//! A row's `status` moves `pending` → `applied` | `skipped` | `deferred` (waiting for the
//! message it refers to, `refers_to`) | `failed` (after too many attempts); `malformed` rows
//! (a verified body that is not JSON) are kept for inspection and never applied. Applying
//! happens under a transaction-scoped advisory lock per link ([`lock_link`]), so one link's
//! events apply one at a time whichever replica runs them. A link's queued events may be
//! applied many to a transaction: read first without a lock ([`pending_events`], so what they
//! ask of the network is asked before the transaction), then claimed together
//! ([`claim_pending_many`]) and settled together ([`settle_all`]) in the transaction holding
//! their effects.
//!
//! Functions return the driver's error: callers decide what a failure means.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Keep a verified body that is not a WAHA event (`status = 'malformed'`); its row id.
pub async fn insert_malformed(
    db: impl PgExecutor<'_>,
    link: Uuid,
    body: &[u8],
    error: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into waha_events (link_id, body, status, error) values ($1, $2, 'malformed', $3) returning id",
        link,
        body,
        error
    )
    .fetch_one(db)
    .await
}

/// One event of a batch, as [`insert_batch`] stores it.
pub struct NewEventRow<'a> {
    pub link_id: Uuid,
    /// The envelope id (or the body's hash): unique per link.
    pub event_id: &'a str,
    pub event: &'a str,
    /// The exact bytes WAHA signed.
    pub body: &'a [u8],
    pub payload: &'a Value,
}

/// A row [`insert_batch`] inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertedEvent {
    pub id: i64,
    pub link_id: Uuid,
    pub event_id: String,
}

/// One statement, hence one transaction and one commit: insert the events (a conflict with an
/// existing row inserts nothing) and touch the `last_event_at` of the links that got a new
/// one. The events must be distinct by (link, event id). Returns the rows inserted.
pub async fn insert_batch(
    conn: &mut PgConnection,
    events: &[NewEventRow<'_>],
) -> sqlx::Result<Vec<InsertedEvent>> {
    let mut links = Vec::with_capacity(events.len());
    let mut event_ids = Vec::with_capacity(events.len());
    let mut names = Vec::with_capacity(events.len());
    let mut bodies = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for e in events {
        links.push(e.link_id);
        event_ids.push(e.event_id.to_string());
        names.push(e.event.to_string());
        bodies.push(e.body.to_vec());
        payloads.push(e.payload.clone());
    }
    let rows = sqlx::query!(
        r#"with ins as (
               insert into waha_events (link_id, event_id, event, body, payload)
               select * from unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[])
               on conflict (link_id, event_id) where event_id is not null do nothing
               returning id, link_id, event_id
           ), touched as (
               update whatsapp_links set last_event_at = now()
               where id in (select link_id from ins)
           )
           select id as "id!", link_id as "link_id!", event_id as "event_id!" from ins"#,
        &links,
        &event_ids,
        &names,
        &bodies,
        &payloads
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| InsertedEvent {
            id: r.id,
            link_id: r.link_id,
            event_id: r.event_id,
        })
        .collect())
}

/// A `pending` event, locked for this transaction.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub link_id: Uuid,
    /// The envelope's `event` (`message`, `message.ack`, `session.status`, …).
    pub event: Option<String>,
    pub body: Vec<u8>,
}

/// Lock a `pending` event for this transaction (`FOR UPDATE SKIP LOCKED`); `None` when it is
/// not pending or another transaction holds it.
pub async fn claim_pending(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<PendingEvent>> {
    sqlx::query_as!(
        PendingEvent,
        r#"select link_id, event, body from waha_events
           where id = $1 and status = 'pending' for update skip locked"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// A stored event as [`pending_events`] reads it, before any transaction.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub link_id: Uuid,
    /// The envelope's `event` (`message`, `message.ack`, `session.status`, …).
    pub event: Option<String>,
    pub body: Vec<u8>,
}

/// Those of the events `ids` that are `pending`, unlocked (a snapshot: claim them before
/// applying), in no particular order.
pub async fn pending_events(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> sqlx::Result<Vec<StoredEvent>> {
    sqlx::query_as!(
        StoredEvent,
        r#"select id, link_id, event, body from waha_events
           where id = any($1) and status = 'pending'"#,
        ids
    )
    .fetch_all(db)
    .await
}

/// Lock those of the link's events `ids` that are still `pending` for this transaction
/// (`FOR UPDATE SKIP LOCKED`: rows another transaction holds are left to it); their ids.
pub async fn claim_pending_many(
    conn: &mut PgConnection,
    link: Uuid,
    ids: &[i64],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"select id from waha_events
           where id = any($1) and link_id = $2 and status = 'pending'
           order by id for update skip locked"#,
        ids,
        link
    )
    .fetch_all(conn)
    .await
}

/// Stable advisory-lock key of a link.
fn link_lock_key(link: Uuid) -> i64 {
    let b = link.as_bytes();
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) ^ 0x5741_4841
}

/// Take the link's applying lock until the end of this transaction (waits for the holder).
pub async fn lock_link(conn: &mut PgConnection, link: Uuid) -> sqlx::Result<()> {
    sqlx::query!("select pg_advisory_xact_lock($1)", link_lock_key(link))
        .execute(conn)
        .await?;
    Ok(())
}

/// How applying an event ended, when it ended (see [`finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Applied,
    /// Nothing to do: a duplicate, an ignored chat or event, the link gone.
    Skipped,
}

impl Finished {
    fn as_str(self) -> &'static str {
        match self {
            Finished::Applied => "applied",
            Finished::Skipped => "skipped",
        }
    }
}

/// Mark an event done (in the transaction holding its effects); counts an attempt.
pub async fn finish(
    conn: &mut PgConnection,
    id: i64,
    status: Finished,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update waha_events set status = $2, error = $3, attempts = attempts + 1, applied_at = now() where id = $1",
        id,
        status.as_str(),
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Park an event until the message `key` (its serialized or raw WhatsApp id) arrives
/// ([`wake_deferred`]); counts an attempt.
pub async fn defer(conn: &mut PgConnection, id: i64, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update waha_events set status = 'deferred', refers_to = $2, attempts = attempts + 1 where id = $1",
        id,
        key
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How applying one event of a batch ended, for [`settle_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Done (see [`Finished`]).
    Finished(Finished),
    /// Waiting for the message with this (serialized or raw) WhatsApp id (see [`defer`]).
    Deferred(String),
}

/// [`finish`] or [`defer`] many events in one statement (in the transaction holding their
/// effects); counts an attempt for each.
pub async fn settle_all(conn: &mut PgConnection, events: &[(i64, Settled)]) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut statuses = Vec::with_capacity(events.len());
    let mut refers = Vec::with_capacity(events.len());
    for (id, settled) in events {
        ids.push(*id);
        match settled {
            Settled::Finished(f) => {
                statuses.push(f.as_str().to_string());
                refers.push(None);
            }
            Settled::Deferred(key) => {
                statuses.push("deferred".to_string());
                refers.push(Some(key.clone()));
            }
        }
    }
    sqlx::query!(
        r#"update waha_events w set
               status = u.status,
               refers_to = case when u.status = 'deferred' then u.refers_to else w.refers_to end,
               error = case when u.status = 'deferred' then w.error else null end,
               applied_at = case when u.status = 'deferred' then w.applied_at else now() end,
               attempts = w.attempts + 1
           from unnest($1::bigint[], $2::text[], $3::text[]) as u(id, status, refers_to)
           where w.id = u.id"#,
        &ids,
        &statuses,
        &refers as &[Option<String>]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Make the link's events deferred on any of `keys` (a message's serialized and raw ids)
/// pending again; their ids, for the caller to apply once its transaction committed.
pub async fn wake_deferred(
    conn: &mut PgConnection,
    link: Uuid,
    keys: &[String],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"update waha_events set status = 'pending'
               where link_id = $1 and status = 'deferred' and refers_to = any($2) returning id"#,
        link,
        keys
    )
    .fetch_all(conn)
    .await
}

/// Those of `keys` (messages' serialized and raw ids) that some of the link's events are
/// deferred on.
pub async fn deferred_among(
    conn: &mut PgConnection,
    link: Uuid,
    keys: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"select distinct refers_to as "refers_to!" from waha_events
           where link_id = $1 and status = 'deferred' and refers_to = any($2)"#,
        link,
        keys
    )
    .fetch_all(conn)
    .await
}

/// [`wake_deferred`] for the link's events deferred on any of `keys` whose message is known
/// by now: a message that became known while they were being deferred (the outbox recording
/// our own send's id wakes only what was deferred when it committed). Their ids.
pub async fn wake_if_known(
    db: impl PgExecutor<'_>,
    link: Uuid,
    keys: &[String],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"update waha_events w set status = 'pending'
           where w.link_id = $1 and w.status = 'deferred' and w.refers_to = any($2)
             and exists (select 1 from messages m where m.link_id = $1
                         and (m.wa_message_id = w.refers_to or m.wa_key_id = w.refers_to))
           returning w.id"#,
        link,
        keys
    )
    .fetch_all(db)
    .await
}

/// Count a failed attempt (outside the failed transaction, or in a batch's once the event's
/// savepoint was rolled back): the event stays pending for the sweep, or becomes `failed` at
/// `max_attempts`.
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    id: i64,
    error: &str,
    max_attempts: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update waha_events set attempts = attempts + 1, error = $2,
                       status = case when attempts + 1 >= $3 then 'failed' else status end
                   where id = $1"#,
        id,
        error,
        max_attempts
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Mark an event `failed` for good, with why.
pub async fn mark_failed(db: impl PgExecutor<'_>, id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update waha_events set status = 'failed', error = $2 where id = $1",
        id,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// An event [`stale_pending`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleEvent {
    pub id: i64,
    pub link_id: Uuid,
}

/// Events left pending for more than 3 s (a crash between storing and applying, or a failed
/// attempt), oldest first, at most 500.
pub async fn stale_pending(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<StaleEvent>> {
    sqlx::query_as!(
        StaleEvent,
        r#"select id, link_id from waha_events where status = 'pending' and received_at < now() - interval '3 seconds'
           order by id limit 500"#
    )
    .fetch_all(db)
    .await
}

/// Make a link's stored events (all but malformed ones, optionally only those received since
/// a time) pending again, attempts and errors cleared; their ids, in no particular order.
pub async fn reset_for_replay(
    db: impl PgExecutor<'_>,
    link: Uuid,
    since: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"update waha_events set status = 'pending', attempts = 0, error = null, refers_to = null
           where link_id = $1 and status in ('applied', 'skipped', 'failed', 'deferred')
             and ($2::timestamptz is null or received_at >= $2)
           returning id"#,
        link,
        since
    )
    .fetch_all(db)
    .await
}

/// Delete at most `batch` settled events (applied, skipped, failed, malformed) received more
/// than `keep_days` ago; pending and deferred ones are never removed. Returns how many went.
/// WAHA retries a delivery for minutes, so its duplicate check needs nothing this old.
pub async fn prune_settled(
    db: impl PgExecutor<'_>,
    keep_days: i32,
    batch: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"delete from waha_events where id in (
               select id from waha_events
               where status in ('applied', 'skipped', 'failed', 'malformed')
                 and received_at < now() - make_interval(days => $1)
               order by received_at limit $2)"#,
        keep_days,
        batch
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
