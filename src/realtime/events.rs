//! The stored half of realtime: each user's numbered event stream, written by [`publish`] and
//! read back by sockets that resume ([`events_after`], [`last_seq`]).
//!
//! Invariants:
//! - **Persist, then announce.** [`publish`] runs inside the caller's transaction: it takes the
//!   user's next sequence number (under a row lock, so one user's events commit in sequence
//!   order), stores the event, and queues a [`Notice`] on [`CHANNEL`], which PostgreSQL
//!   delivers to every replica's [`super::listener`] only if and when the transaction commits.
//!   A rolled-back event was never seen by anyone.
//! - **Many at once, same order.** [`publish_all`] stores a batch of events in one statement
//!   and queues their notices in one more, each user's numbered in the order given, as that
//!   many [`publish`] calls would.
//! - **A notice fits.** PostgreSQL caps NOTIFY payloads (8000 bytes); a notice whose event
//!   would exceed [`INLINE_LIMIT`] carries only the event's key and the listener reads the
//!   event from the table.
//! - Events are kept for a retention window ([`prune`], run by the supervisor); a client
//!   resuming from further back is told to resync.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::protocol::Event;
use crate::db::realtime::{self as db, EventRow};
use crate::error::Result;

/// The NOTIFY channel carrying new events.
pub const CHANNEL: &str = "puente_events";
/// NOTIFY payloads above this size carry only the event's key; listeners fetch the rest.
pub const INLINE_LIMIT: usize = 7000;

/// What travels over [`CHANNEL`]: the addressee and the event, or only its key when large.
#[derive(Debug, Serialize, Deserialize)]
pub struct Notice {
    pub user: Uuid,
    pub seq: i64,
    #[serde(default)]
    pub event: Option<Event>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            seq: r.seq,
            kind: r.kind,
            data: r.payload,
            at: r.created_at,
        }
    }
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
        let (seq, at) = db::insert_event(&mut *conn, user, kind, data).await?;
        let event = Event {
            seq,
            kind: kind.to_string(),
            data: data.clone(),
            at,
        };
        db::notify(&mut *conn, CHANNEL, &notice_text(user, seq, event)).await?;
    }
    Ok(())
}

/// The [`Notice`] announcing `event`, as sent: inline unless it would not fit.
fn notice_text(user: Uuid, seq: i64, event: Event) -> String {
    let mut notice = Notice {
        user,
        seq,
        event: Some(event),
    };
    let mut text = serde_json::to_string(&notice).unwrap_or_default();
    if text.len() > INLINE_LIMIT {
        notice.event = None;
        text = serde_json::to_string(&notice).unwrap_or_default();
    }
    text
}

/// One user's event, waiting to be published with others by [`publish_all`].
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub user: Uuid,
    pub kind: String,
    pub data: Value,
}

/// [`publish`] many events at once: stored in one statement (each user's in the given order,
/// with consecutive sequence numbers) and announced in one more (a notice each, on commit).
/// Call inside a transaction.
pub async fn publish_all(conn: &mut PgConnection, events: Vec<Outgoing>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut users = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for e in events {
        users.push(e.user);
        kinds.push(e.kind);
        payloads.push(e.data);
    }
    let stored = db::insert_events(&mut *conn, &users, &kinds, &payloads).await?;
    let notices: Vec<String> = stored
        .into_iter()
        .zip(users.into_iter().zip(kinds.into_iter().zip(payloads)))
        .map(|((seq, at), (user, (kind, data)))| {
            notice_text(
                user,
                seq,
                Event {
                    seq,
                    kind,
                    data,
                    at,
                },
            )
        })
        .collect();
    db::notify_all(&mut *conn, CHANNEL, &notices).await
}

/// Events of a user after `after`, oldest first, at most `limit`.
pub async fn events_after(db: &PgPool, user: Uuid, after: i64, limit: i64) -> Result<Vec<Event>> {
    Ok(db::events_after(db, user, after, limit)
        .await?
        .into_iter()
        .map(Event::from)
        .collect())
}

/// The one event `seq` of `user`, if it is still stored.
pub async fn event(db: &PgPool, user: Uuid, seq: i64) -> Result<Option<Event>> {
    Ok(events_after(db, user, seq - 1, 1)
        .await?
        .into_iter()
        .find(|e| e.seq == seq))
}

/// The user's newest sequence number (0 when none).
pub async fn last_seq(db: &PgPool, user: Uuid) -> Result<i64> {
    db::last_seq(db, user).await
}

/// Active operators: they receive fleet events (link status).
pub async fn operator_ids(conn: &mut PgConnection) -> Result<Vec<Uuid>> {
    db::operator_ids(conn).await
}

/// Drop events older than the retention window; returns how many were removed.
pub async fn prune(db: &PgPool, keep_days: i32) -> Result<u64> {
    db::prune(db, keep_days).await
}
