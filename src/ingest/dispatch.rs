//! Applying one stored event, in its own transaction.
//!
//! Invariants:
//! - **At most once.** The row is locked (`FOR UPDATE SKIP LOCKED`) while `pending` and marked
//!   `applied`, `skipped` or `deferred` in the same transaction as its effects; a row another
//!   worker holds, or one already done, is left alone.
//! - **One link at a time.** A transaction-scoped advisory lock per link serialises a link's
//!   events across replicas (the catch-up takes the same lock).
//! - **Deferred, then woken.** An event about a message not seen yet is `deferred` on that
//!   message's id; when the message arrives, the events waiting on it are made pending again
//!   and applied right after the commit.
//! - **Failures are retried.** An error rolls the transaction back and counts an attempt: the
//!   supervisor's sweep retries the event, up to [`MAX_ATTEMPTS`], then it is `failed`.
//!
//! This module never starts a catch-up: when a `session.status` report says the session is
//! WORKING, [`apply`] returns the link and the caller (`ingest::apply`) starts it.

use uuid::Uuid;

use super::messages::{self, Outcome};
use super::session;
use crate::core::Core;
use crate::db::events::{self, Finished};
use crate::waha::types::WebhookEnvelope;

/// Attempts before an event is marked `failed` for good.
pub const MAX_ATTEMPTS: i32 = 5;

/// Apply one stored event by row id (a no-op when another worker has it or it is done), then
/// the events it woke. Returns the link whose session this event reported WORKING, if any.
pub async fn apply(core: &Core, row_id: i64) -> Option<Uuid> {
    match apply_locked(core, row_id).await {
        Ok(Applied { woken, working }) => {
            for id in woken {
                // Woken events are message events (acks, reactions, edits, revokes): they never
                // report a session status.
                Box::pin(apply(core, id)).await;
            }
            working
        }
        Err(e) => {
            tracing::warn!(error = %e, event_row = row_id, "applying a webhook event failed");
            let msg: String = e.to_string().chars().take(300).collect();
            let _ = events::record_failure(&core.db, row_id, &msg, MAX_ATTEMPTS).await;
            None
        }
    }
}

/// What committing one event left to do.
struct Applied {
    /// Deferred events this one woke, to apply now.
    woken: Vec<i64>,
    /// The link, when this event reported its session WORKING.
    working: Option<Uuid>,
}

impl Applied {
    const NOTHING: Applied = Applied {
        woken: Vec::new(),
        working: None,
    };
}

async fn apply_locked(core: &Core, row_id: i64) -> anyhow::Result<Applied> {
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
    let env = WebhookEnvelope::from_slice(&row.body)?;
    let mut wake_keys = Vec::new();
    let outcome = match row.event.as_deref() {
        Some("session.status") => {
            // Applied outside this transaction: the status transition takes its own (and
            // orders reports by WAHA's timestamp, so applying one twice is harmless), and
            // holding two connections per event could starve a small pool.
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
                    let error: String = e.to_string().chars().take(300).collect();
                    events::mark_failed(&core.db, row_id, &error).await?;
                    None
                }
            };
            return Ok(Applied {
                woken: Vec::new(),
                working,
            });
        }
        Some("message") | Some("message.any") => {
            let (outcome, keys) = messages::apply_message(core, &mut tx, &link, &env).await?;
            if outcome == Outcome::Applied {
                wake_keys = keys;
            }
            outcome
        }
        Some("message.ack") => messages::apply_ack(core, &mut tx, &link, &env).await?,
        Some("message.reaction") => messages::apply_reaction(core, &mut tx, &link, &env).await?,
        Some("message.revoked") => messages::apply_revoked(core, &mut tx, &link, &env).await?,
        Some("message.edited") => messages::apply_edited(core, &mut tx, &link, &env).await?,
        Some("presence.update") => messages::apply_presence(&mut tx, &link, &env).await?,
        _ => Outcome::Skipped,
    };
    match &outcome {
        Outcome::Applied => events::finish(&mut tx, row_id, Finished::Applied, None).await?,
        Outcome::Skipped => events::finish(&mut tx, row_id, Finished::Skipped, None).await?,
        Outcome::Deferred(key) => events::defer(&mut tx, row_id, key).await?,
    }
    let woken = if wake_keys.is_empty() {
        Vec::new()
    } else {
        events::wake_deferred(&mut tx, link.id, &wake_keys).await?
    };
    tx.commit().await?;
    Ok(Applied {
        woken,
        working: None,
    })
}
