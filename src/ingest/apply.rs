//! Applying stored WAHA events: the entry points.
//!
//! - [`apply_stored`]: one event (by row id) and what it asks for — the events it woke
//!   ([`super::dispatch`] applies those) and, when it reported the session WORKING, a catch-up
//!   ([`super::catchup::spawn`]). Called by the writer's per-link appliers for every new row,
//!   by the outbox for acks that arrived before their message's id, and by the two below.
//! - [`sweep`]: the supervisor's retry of events left pending.
//! - [`replay`]: an operator's re-apply of a link's events.
//!
//! Each event is applied at most once and one link's events one at a time: see
//! [`super::dispatch`].

use chrono::Utc;
use uuid::Uuid;

use super::{catchup, dispatch};
use crate::core::Core;
use crate::db;

/// Apply one stored event by row id (no-op when another worker has it or it is done).
pub async fn apply_stored(core: &Core, row_id: i64) {
    if let Some(link) = dispatch::apply(core, row_id).await {
        catchup::spawn(core.clone(), link);
    }
}

/// Re-run events left pending (a crash between storing and applying, or a failed attempt).
pub async fn sweep(core: &Core) {
    let ids = db::events::stale_pending(&core.db)
        .await
        .unwrap_or_default();
    for id in ids {
        apply_stored(core, id).await;
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
    for id in &ids {
        apply_stored(core, *id).await;
    }
    Ok(ids.len())
}
