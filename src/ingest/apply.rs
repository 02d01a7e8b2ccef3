//! Applying stored WAHA events: the entry points.
//!
//! - [`apply_queued`]: a link's events as the writer's applier takes them off its queue, in
//!   batches ([`super::batch`]), and the catch-up a WORKING report asks for
//!   ([`super::catchup::spawn`]).
//! - [`apply_stored`]: one event (by row id) and what it asks for — the events it woke
//!   ([`super::dispatch`] applies those) and the catch-up. Called by the outbox for acks that
//!   arrived before their message's id.
//! - [`sweep`]: the supervisor's retry of events left pending, a link's in batches.
//! - [`replay`]: an operator's re-apply of a link's events, in batches.
//!
//! Each event is applied at most once and one link's events one at a time: see
//! [`super::dispatch`] and [`super::batch`].

use chrono::Utc;
use uuid::Uuid;

use super::{batch, catchup, dispatch};
use crate::core::Core;
use crate::db;

/// Apply one stored event by row id (no-op when another worker has it or it is done).
pub async fn apply_stored(core: &Core, row_id: i64) {
    if let Some(link) = dispatch::apply(core, row_id).await {
        catchup::spawn(core.clone(), link);
    }
}

/// Apply a link's events (row ids, in arrival order), many to a transaction where they may be.
pub async fn apply_queued(core: &Core, link: Uuid, ids: &[i64]) {
    if let Some(link) = batch::apply(core, link, ids).await {
        catchup::spawn(core.clone(), link);
    }
}

/// Re-run events left pending (a crash between storing and applying, or a failed attempt),
/// each link's oldest first.
pub async fn sweep(core: &Core) {
    let stale = db::events::stale_pending(&core.db)
        .await
        .unwrap_or_default();
    let mut links: Vec<(Uuid, Vec<i64>)> = Vec::new();
    for e in stale {
        match links.iter_mut().find(|(l, _)| *l == e.link_id) {
            Some((_, ids)) => ids.push(e.id),
            None => links.push((e.link_id, vec![e.id])),
        }
    }
    for (link, ids) in links {
        apply_queued(core, link, &ids).await;
    }
}

/// Re-apply a link's stored events (all but malformed ones), oldest first, optionally only
/// those received since a time. Safe at any time: applying is idempotent. Returns how many
/// events were replayed.
pub async fn replay(
    core: &Core,
    link: Uuid,
    since: Option<chrono::DateTime<Utc>>,
) -> anyhow::Result<usize> {
    let mut ids = db::events::reset_for_replay(&core.db, link, since).await?;
    ids.sort_unstable();
    for chunk in ids.chunks(batch::MAX_BATCH) {
        apply_queued(core, link, chunk).await;
    }
    Ok(ids.len())
}
