//! Applying stored WAHA events. Each event is applied at most once: the row is claimed with
//! `FOR UPDATE SKIP LOCKED` while `pending`, and marked `applied`, `skipped` or `failed`.

use chrono::{TimeZone, Utc};

use crate::app::AppState;
use crate::links::service::transition;
use crate::links::{map_session_status, LinkStatus};
use crate::waha::types::{SessionStatusPayload, WebhookEnvelope};

/// Apply one stored event by row id (no-op when another worker has it or it is done).
/// The row stays locked while it is applied, so two workers never apply it twice.
pub async fn apply_stored(state: &AppState, row_id: i64) {
    if let Err(e) = apply_locked(state, row_id).await {
        tracing::warn!(error = %e, event_row = row_id, "applying a webhook event failed");
    }
}

async fn apply_locked(state: &AppState, row_id: i64) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await?;
    let Some(row) = sqlx::query!(
        r#"select link_id, event, body from waha_events
           where id = $1 and status = 'pending' for update skip locked"#,
        row_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(());
    };
    let outcome = match row.event.as_deref() {
        Some("session.status") => apply_session_status(state, row.link_id, &row.body).await,
        // Message events are kept for the message pipeline.
        _ => return Ok(()),
    };
    let (status, error) = match outcome {
        Ok(true) => ("applied", None),
        Ok(false) => ("skipped", None),
        Err(e) => ("failed", Some(e.to_string())),
    };
    sqlx::query!(
        "update waha_events set status = $2, error = $3, attempts = attempts + 1, applied_at = now() where id = $1",
        row_id,
        status,
        error
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn apply_session_status(
    state: &AppState,
    link_id: uuid::Uuid,
    body: &[u8],
) -> anyhow::Result<bool> {
    let env = WebhookEnvelope::from_slice(body)?;
    let payload: SessionStatusPayload = env.payload_as()?;
    let link = crate::db::links::find(&state.db, link_id)
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
    let identity = me.map(|m| crate::links::service::Identity::of(m, phone.as_deref()));
    transition(state, link_id, status, why, at, identity)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
