//! Applying one stored event, in its own transaction, and what every way of applying shares:
//! which events may go in a batch ([`way`]) and the routing of an event to its handler
//! ([`route`]).
//!
//! Invariants:
//! - **At most once.** The row is locked (`FOR UPDATE SKIP LOCKED`) while `pending` and marked
//!   `applied`, `skipped` or `deferred` in the same transaction as its effects; a row another
//!   worker holds, or one already done, is left alone.
//! - **One link at a time.** A transaction-scoped advisory lock per link serialises a link's
//!   events across replicas (the batcher and the catch-up take the same lock).
//! - **Asked before, not during.** The row is read before the transaction, so the phones behind
//!   its `@lid` ids are asked of WAHA with no transaction open ([`super::lookups`]).
//! - **Deferred, then woken.** An event about a message not seen yet is `deferred` on that
//!   message's id; when the message arrives, the events waiting on it are made pending again
//!   and applied right after the commit.
//! - **Failures are retried.** An error rolls the transaction back and counts an attempt: the
//!   supervisor's sweep retries the event, up to [`MAX_ATTEMPTS`], then it is `failed`.
//!
//! This module never starts a catch-up: when a `session.status` report says the session is
//! WORKING, [`apply`] returns the link and the caller (`ingest::apply`) starts it.

use sqlx::PgConnection;
use uuid::Uuid;

use super::effects::{Ctx, Effects};
use super::lookups::{self, LidPhones};
use super::messages::{self, Outcome};
use super::session;
use crate::core::Core;
use crate::db::events::{self, Finished, StoredEvent};
use crate::waha::types::{MessagePayload, WebhookEnvelope};

/// Attempts before an event is marked `failed` for good.
pub const MAX_ATTEMPTS: i32 = 5;

/// How an event is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// With others of its link, a savepoint each, in one transaction ([`super::batch`]).
    Batched,
    /// In a transaction of its own ([`apply`]): a `session.status` report (its transition
    /// takes its own transaction and may start a catch-up), or a message with media (its
    /// download is a network call made inside the transaction, which a batch must not hold
    /// open for everyone else's events).
    Alone,
}

/// How the event `event` (its envelope `env`) is applied.
pub fn way(event: Option<&str>, env: &WebhookEnvelope) -> Way {
    match event {
        Some("session.status") => Way::Alone,
        Some("message") | Some("message.any") => {
            let media = env
                .payload_as::<MessagePayload>()
                .is_ok_and(|m| m.has_media);
            if media {
                Way::Alone
            } else {
                Way::Batched
            }
        }
        _ => Way::Batched,
    }
}

/// Apply an event that is not a `session.status` report, in the caller's transaction (or
/// savepoint), leaving what it publishes and wakes in `fx`.
pub async fn route(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    event: Option<&str>,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    match event {
        Some("message") | Some("message.any") => messages::apply_message(cx, conn, fx, env).await,
        Some("message.ack") => messages::apply_ack(cx, conn, fx, env).await,
        Some("message.reaction") => messages::apply_reaction(cx, conn, fx, env).await,
        Some("message.revoked") => messages::apply_revoked(cx, conn, fx, env).await,
        Some("message.edited") => messages::apply_edited(cx, conn, fx, env).await,
        Some("presence.update") => messages::apply_presence(cx, conn, fx, env).await,
        _ => Ok(Outcome::Skipped),
    }
}

/// Apply one stored event by row id (a no-op when another worker has it or it is done), then
/// the events it woke. Returns the link whose session this event reported WORKING, if any.
pub async fn apply(core: &Core, row_id: i64) -> Option<Uuid> {
    apply_once(core, row_id, true).await
}

/// [`apply`]; `recheck`: when the event is deferred, whether to look once more, after the
/// commit, for a message that became known meanwhile. Not for events such a re-check woke:
/// one that defers again stays deferred (its message may be known by an id its own lookup
/// does not use) instead of looping.
pub async fn apply_once(core: &Core, row_id: i64, recheck: bool) -> Option<Uuid> {
    let stored = match events::pending_events(&core.db, &[row_id]).await {
        Ok(rows) => rows.into_iter().next()?,
        Err(e) => {
            tracing::warn!(error = %e, event_row = row_id, "reading a webhook event failed");
            return None;
        }
    };
    apply_read(core, stored, recheck).await
}

/// [`apply_once`] for an event already read (pending, when it was read).
pub async fn apply_read(core: &Core, stored: StoredEvent, recheck: bool) -> Option<Uuid> {
    let row_id = stored.id;
    match apply_locked(core, stored, recheck).await {
        Ok(Applied {
            woken,
            rechecked,
            working,
        }) => {
            // Woken events are message events (acks, reactions, edits, revokes): they never
            // report a session status.
            for id in woken {
                Box::pin(apply_once(core, id, recheck)).await;
            }
            for id in rechecked {
                Box::pin(apply_once(core, id, false)).await;
            }
            working
        }
        Err(e) => {
            tracing::warn!(error = %e, event_row = row_id, "applying a webhook event failed");
            let _ = events::record_failure(&core.db, row_id, &failure_text(&e), MAX_ATTEMPTS).await;
            None
        }
    }
}

/// What an event's failure is recorded as (`waha_events.error`).
pub fn failure_text(e: &anyhow::Error) -> String {
    e.to_string().chars().take(300).collect()
}

/// What committing one event left to do.
struct Applied {
    /// Deferred events this one woke, to apply now.
    woken: Vec<i64>,
    /// Deferred events a re-check after the commit woke (this one among them, maybe).
    rechecked: Vec<i64>,
    /// The link, when this event reported its session WORKING.
    working: Option<Uuid>,
}

impl Applied {
    const NOTHING: Applied = Applied {
        woken: Vec::new(),
        rechecked: Vec::new(),
        working: None,
    };
}

async fn apply_locked(core: &Core, stored: StoredEvent, recheck: bool) -> anyhow::Result<Applied> {
    let row_id = stored.id;
    let env = WebhookEnvelope::from_slice(&stored.body)?;
    // Before the transaction: what applying will want to know from WAHA.
    let lid = lookups::lid_of_event(stored.event.as_deref(), &env);
    let phones = LidPhones::ask(core, stored.link_id, lid).await;

    let mut tx = core.db.begin().await?;
    let Some(row) = events::claim_pending(&mut tx, row_id).await? else {
        return Ok(Applied::NOTHING);
    };
    events::lock_link(&mut tx, row.link_id).await?;
    let Some(link) = crate::db::links::find(&mut *tx, row.link_id).await? else {
        events::finish(&mut tx, row_id, Finished::Skipped, None).await?;
        tx.commit().await?;
        return Ok(Applied::NOTHING);
    };
    if row.event.as_deref() == Some("session.status") {
        // Applied outside this transaction: the status transition takes its own (and orders
        // reports by WAHA's timestamp, so applying one twice is harmless), and holding two
        // connections per event could starve a small pool.
        let known = session::is_known(&env);
        let finished = if known {
            Finished::Applied
        } else {
            Finished::Skipped
        };
        events::finish(&mut tx, row_id, finished, None).await?;
        tx.commit().await?;
        if !known {
            return Ok(Applied::NOTHING);
        }
        let working = match session::apply(core, link.id, &env).await {
            Ok(working) => working.then_some(link.id),
            Err(e) => {
                events::mark_failed(&core.db, row_id, &failure_text(&e)).await?;
                None
            }
        };
        return Ok(Applied {
            working,
            ..Applied::NOTHING
        });
    }
    let cx = Ctx {
        core,
        link: &link,
        phones: &phones,
    };
    let mut fx = Effects::default();
    let mut deferred = None;
    match route(&cx, &mut tx, &mut fx, row.event.as_deref(), &env).await? {
        Outcome::Applied => events::finish(&mut tx, row_id, Finished::Applied, None).await?,
        Outcome::Skipped => events::finish(&mut tx, row_id, Finished::Skipped, None).await?,
        Outcome::Deferred(key) => {
            events::defer(&mut tx, row_id, &key).await?;
            deferred = Some(key);
        }
    }
    let woken = fx.finish(&mut tx, link.id).await?;
    tx.commit().await?;
    let mut rechecked = Vec::new();
    if let (Some(key), true) = (deferred, recheck) {
        // The message may have become known meanwhile (the outbox recording our own send's id
        // wakes only what was deferred when it committed).
        match events::wake_if_known(&core.db, link.id, &[key]).await {
            Ok(ids) => rechecked = ids,
            Err(e) => {
                tracing::warn!(error = %e, event_row = row_id, "re-checking a deferred webhook event failed")
            }
        }
    }
    Ok(Applied {
        woken,
        rechecked,
        working: None,
    })
}
