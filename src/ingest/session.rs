//! `session.status`: WAHA reporting the session's status, applied as a link status transition.
//!
//! Reports are ordered by WAHA's timestamp in the transition (an older report than the one
//! applied changes nothing), so applying one twice is harmless. A status Puente does not know
//! leaves the link unchanged.

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::core::Core;
use crate::links::service::{transition, Identity};
use crate::links::{map_session_status, LinkStatus};
use crate::waha::types::{SessionStatusPayload, WebhookEnvelope};

/// Whether the report names a status Puente knows (otherwise the event is skipped).
pub fn is_known(env: &WebhookEnvelope) -> bool {
    env.payload_as::<SessionStatusPayload>()
        .ok()
        .is_some_and(|p| map_session_status(p.status.as_str(), LinkStatus::Starting).is_some())
}

/// Apply the report to the link. Returns whether the session is now WORKING: WAHA reports
/// WORKING whenever a session (re)starts, even if Puente already believed it was working, so
/// the caller then catches up what may have been missed while nobody was listening.
pub async fn apply(core: &Core, link_id: Uuid, env: &WebhookEnvelope) -> anyhow::Result<bool> {
    let payload: SessionStatusPayload = env.payload_as()?;
    let link = crate::db::links::find(&core.db, link_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(link) = link else { return Ok(false) };
    let previous: LinkStatus = link.status.parse().unwrap_or(LinkStatus::Starting);
    let waha = payload.status.as_str().to_string();
    let Some((status, why)) = map_session_status(&waha, previous) else {
        tracing::info!(link = %link_id, status = %waha, "unknown WAHA session status; link unchanged");
        return Ok(false);
    };
    let at = env
        .timestamp
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    let me = env.me.as_ref().filter(|_| status == LinkStatus::Working);
    let phone = me.and_then(|m| m.phone());
    let identity = me.map(|m| Identity::of(m, phone.as_deref()));
    transition(core, link_id, status, why, at, identity)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(status == LinkStatus::Working)
}
