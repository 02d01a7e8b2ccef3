//! Realtime delivery to users: persisted per-user event streams, fanned out over WebSockets,
//! plus ephemeral signals (typing, presence) that are delivered live and never stored.
//!
//! Invariants:
//! - **Persist, then publish.** [`publish`] runs inside the caller's transaction: it allocates
//!   the user's next sequence number (under a row lock, so one user's events commit in
//!   sequence order), stores the event, and queues a `NOTIFY`, which PostgreSQL delivers only
//!   if and when the transaction commits.
//! - **Signals are not events.** [`signal`] sends a frame without a sequence number
//!   (`typing`, `presence`): it is not stored, not replayed on reconnect, not counted in the
//!   user's sequence, and dropped rather than resynced when a socket's queue is full. It is
//!   only meaningful now; a client that missed it loses nothing it could act on later.
//! - **Any replica can hold any socket.** Every process LISTENs ([`listener`]) and hands what
//!   it hears to its in-process [`hub::Hub`], which routes by user to the sockets it holds.
//! - **No silent loss.** Socket queues are bounded; a socket that falls behind is told to
//!   `resync`. A client reconnecting with the last `seq` it saw gets every later event from
//!   the table, then the live stream, without gaps or duplicates ([`ws`]).
//!
//! - **A socket ends with its account.** Deactivation, a password change or an ended session
//!   close the user's sockets on every replica ([`control`]); a socket also closes when the
//!   access token it was opened with expires, unless the client refreshes it ([`ws`]).
//!
//! Layout: [`hub`] (in-process routing), [`control`] (closing sockets whose account or
//! session ended), [`listener`] (the NOTIFY bridge), [`ws`] (the
//! `/api/v1/ws` endpoint, its per-socket task, `POST /api/v1/ws/ticket`), [`tickets`]
//! (single-use socket tickets), [`presence`] (online/offline across replicas),
//! [`notifications`] (the stored events a user has not cleared yet).

pub mod control;
pub mod hub;
pub mod listener;
pub mod notifications;
pub mod presence;
pub mod protocol;
pub mod tickets;
pub mod ws;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;

/// The NOTIFY channel carrying new events.
pub const CHANNEL: &str = "puente_events";
/// The NOTIFY channel carrying signals (not stored, no sequence number).
pub const SIGNAL_CHANNEL: &str = "puente_signals";
/// NOTIFY payloads above this size carry only the event's key; listeners fetch the rest.
const INLINE_LIMIT: usize = 7000;

/// One event as stored and as sent to the client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// What travels over NOTIFY: the addressee and the event, or only its key when large.
#[derive(Debug, Serialize, Deserialize)]
pub struct Notice {
    pub user: Uuid,
    pub seq: i64,
    #[serde(default)]
    pub event: Option<Event>,
}

/// A live-only frame: `{"type","data","at"}`, no `seq`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Signal {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// What travels over the signal channel: the addressees and the signal.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignalNotice {
    pub users: Vec<Uuid>,
    pub signal: Signal,
}

/// Send a signal to every socket of `users`, on whichever replica it is. Not stored; within a
/// transaction it goes out on commit, otherwise at once. Large audiences are split over
/// several notifications to stay under PostgreSQL's payload limit.
pub async fn signal(
    conn: &mut PgConnection,
    users: &[Uuid],
    kind: &str,
    data: &Value,
) -> Result<()> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    if users.is_empty() {
        return Ok(());
    }
    let signal = Signal {
        kind: kind.to_string(),
        data: data.clone(),
        at: Utc::now(),
    };
    let base = serde_json::to_string(&signal).unwrap_or_default().len() + 32;
    if base > INLINE_LIMIT {
        tracing::warn!(kind, size = base, "signal too large to send; dropped");
        return Ok(());
    }
    // A UUID takes 39 bytes in the JSON list.
    let per_notice = ((INLINE_LIMIT - base) / 39).max(1);
    for chunk in users.chunks(per_notice) {
        let notice = SignalNotice {
            users: chunk.to_vec(),
            signal: signal.clone(),
        };
        let text = serde_json::to_string(&notice).unwrap_or_default();
        sqlx::query!("select pg_notify($1, $2)", SIGNAL_CHANNEL, text)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Store an event for each user and announce it on commit. Call inside a transaction.
pub async fn publish(
    conn: &mut PgConnection,
    users: &[Uuid],
    kind: &str,
    data: &Value,
) -> Result<()> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    for user in users {
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
        .fetch_one(&mut *conn)
        .await?;
        let event = Event {
            seq: row.seq,
            kind: kind.to_string(),
            data: data.clone(),
            at: row.created_at,
        };
        let mut notice = Notice {
            user,
            seq: row.seq,
            event: Some(event),
        };
        let mut text = serde_json::to_string(&notice).unwrap_or_default();
        if text.len() > INLINE_LIMIT {
            notice.event = None;
            text = serde_json::to_string(&notice).unwrap_or_default();
        }
        sqlx::query!("select pg_notify($1, $2)", CHANNEL, text)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Events of a user after `after`, oldest first, at most `limit`.
pub async fn events_after(
    db: &sqlx::PgPool,
    user: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<Event>> {
    let rows = sqlx::query!(
        r#"select seq, kind, payload, created_at from user_events
           where user_id = $1 and seq > $2 order by seq limit $3"#,
        user,
        after,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Event {
            seq: r.seq,
            kind: r.kind,
            data: r.payload,
            at: r.created_at,
        })
        .collect())
}

/// The user's newest sequence number (0 when none).
pub async fn last_seq(db: &sqlx::PgPool, user: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        "select last_seq from user_event_seqs where user_id = $1",
        user
    )
    .fetch_optional(db)
    .await?
    .unwrap_or(0))
}

/// Active operators: they receive fleet events (link status).
pub async fn operator_ids(conn: &mut PgConnection) -> Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar!("select id from users where role = 'operator' and active")
            .fetch_all(conn)
            .await?,
    )
}

/// Drop events older than the retention window; returns how many were removed.
pub async fn prune(db: &sqlx::PgPool, keep_days: i32) -> Result<u64> {
    let done = sqlx::query!(
        "delete from user_events where created_at < now() - make_interval(days => $1)",
        keep_days
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
