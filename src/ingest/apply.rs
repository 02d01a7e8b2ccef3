//! Applying stored WAHA events. Each event is applied at most once: its row is locked
//! (`FOR UPDATE SKIP LOCKED`) while `pending` and marked `applied`, `skipped`, `deferred` or
//! `failed` in the same transaction as its effects. One link's events apply one at a time
//! (a transaction-scoped advisory lock per link), whichever replica runs them. An event that
//! refers to a message not seen yet is `deferred` and woken when that message arrives; one
//! that fails is retried by the supervisor's sweep, up to [`MAX_ATTEMPTS`].

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::messages::{self, Outcome};
use crate::core::Core;
use crate::links::service::{transition, Identity};
use crate::links::{map_session_status, LinkStatus};
use crate::waha::types::{SessionStatusPayload, WebhookEnvelope};

/// Attempts before an event is marked `failed` for good.
pub const MAX_ATTEMPTS: i32 = 5;

/// Apply one stored event by row id (no-op when another worker has it or it is done).
pub async fn apply_stored(state: &Core, row_id: i64) {
    match apply_locked(state, row_id).await {
        Ok(woken) => {
            for id in woken {
                Box::pin(apply_stored(state, id)).await;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, event_row = row_id, "applying a webhook event failed");
            let msg: String = e.to_string().chars().take(300).collect();
            let _ = sqlx::query!(
                r#"update waha_events set attempts = attempts + 1, error = $2,
                       status = case when attempts + 1 >= $3 then 'failed' else status end
                   where id = $1"#,
                row_id,
                msg,
                MAX_ATTEMPTS
            )
            .execute(&state.db)
            .await;
        }
    }
}

/// Stable advisory-lock key of a link.
pub fn link_lock_key(link: Uuid) -> i64 {
    let b = link.as_bytes();
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) ^ 0x5741_4841
}

/// Returns ids of deferred events woken by this one.
async fn apply_locked(state: &Core, row_id: i64) -> anyhow::Result<Vec<i64>> {
    let mut tx = state.db.begin().await?;
    let Some(row) = sqlx::query!(
        r#"select link_id, event, body from waha_events
           where id = $1 and status = 'pending' for update skip locked"#,
        row_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Vec::new());
    };
    sqlx::query!(
        "select pg_advisory_xact_lock($1)",
        link_lock_key(row.link_id)
    )
    .execute(&mut *tx)
    .await?;
    let Some(link) = crate::db::links::find(&mut *tx, row.link_id).await? else {
        finish(&mut tx, row_id, "skipped", None).await?;
        tx.commit().await?;
        return Ok(Vec::new());
    };
    let env = WebhookEnvelope::from_slice(&row.body)?;
    let mut wake_keys = Vec::new();
    let outcome = match row.event.as_deref() {
        Some("session.status") => {
            // Applied outside this transaction: the status transition takes its own (and
            // orders reports by WAHA's timestamp, so applying one twice is harmless), and
            // holding two connections per event could starve a small pool.
            let known = env
                .payload_as::<SessionStatusPayload>()
                .ok()
                .is_some_and(|p| {
                    map_session_status(p.status.as_str(), LinkStatus::Starting).is_some()
                });
            finish(
                &mut tx,
                row_id,
                if known { "applied" } else { "skipped" },
                None,
            )
            .await?;
            tx.commit().await?;
            if !known {
                return Ok(Vec::new());
            }
            if let Err(e) = apply_session_status(state, link.id, &env).await {
                sqlx::query!(
                    "update waha_events set status = 'failed', error = $2 where id = $1",
                    row_id,
                    e.to_string().chars().take(300).collect::<String>()
                )
                .execute(&state.db)
                .await?;
            }
            return Ok(Vec::new());
        }
        Some("message") | Some("message.any") => {
            let (outcome, keys) = messages::apply_message(state, &mut tx, &link, &env).await?;
            if outcome == Outcome::Applied {
                wake_keys = keys;
            }
            outcome
        }
        Some("message.ack") => messages::apply_ack(state, &mut tx, &link, &env).await?,
        Some("message.reaction") => messages::apply_reaction(state, &mut tx, &link, &env).await?,
        Some("message.revoked") => messages::apply_revoked(state, &mut tx, &link, &env).await?,
        Some("message.edited") => messages::apply_edited(state, &mut tx, &link, &env).await?,
        Some("presence.update") => messages::apply_presence(&mut tx, &link, &env).await?,
        _ => Outcome::Skipped,
    };
    match &outcome {
        Outcome::Applied => finish(&mut tx, row_id, "applied", None).await?,
        Outcome::Skipped => finish(&mut tx, row_id, "skipped", None).await?,
        Outcome::Deferred(key) => {
            sqlx::query!(
                "update waha_events set status = 'deferred', refers_to = $2, attempts = attempts + 1 where id = $1",
                row_id,
                key
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    let woken = if wake_keys.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar!(
            r#"update waha_events set status = 'pending'
               where link_id = $1 and status = 'deferred' and refers_to = any($2) returning id"#,
            link.id,
            &wake_keys
        )
        .fetch_all(&mut *tx)
        .await?
    };
    tx.commit().await?;
    Ok(woken)
}

async fn finish(
    conn: &mut sqlx::PgConnection,
    row_id: i64,
    status: &str,
    error: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "update waha_events set status = $2, error = $3, attempts = attempts + 1, applied_at = now() where id = $1",
        row_id,
        status,
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_session_status(
    state: &Core,
    link_id: Uuid,
    env: &WebhookEnvelope,
) -> anyhow::Result<bool> {
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
    let identity = me.map(|m| Identity::of(m, phone.as_deref()));
    let changed = transition(state, link_id, status, why, at, identity)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if status == LinkStatus::Working {
        // WAHA reports WORKING when a session (re)starts, even if Puente already believed it
        // was working: fetch what may have been missed while nobody was listening.
        crate::ingest::catchup::spawn(state.clone(), link_id);
    }
    Ok(changed)
}

/// Re-run events left pending (a crash between storing and applying, or a failed attempt).
pub async fn sweep(state: &Core) {
    let ids = sqlx::query_scalar!(
        r#"select id from waha_events where status = 'pending' and received_at < now() - interval '3 seconds'
           order by id limit 500"#
    )
    .fetch_all(&state.db)
    .await
    .unwrap_or_default();
    for id in ids {
        apply_stored(state, id).await;
    }
}

/// Re-apply a link's stored events (all but malformed ones), oldest first, optionally only
/// those received since a time. Safe at any time: applying is idempotent. Returns how many
/// events were replayed.
pub async fn replay(
    state: &Core,
    link: Uuid,
    since: Option<chrono::DateTime<Utc>>,
) -> anyhow::Result<usize> {
    let mut ids = sqlx::query_scalar!(
        r#"update waha_events set status = 'pending', attempts = 0, error = null, refers_to = null
           where link_id = $1 and status in ('applied', 'skipped', 'failed', 'deferred')
             and ($2::timestamptz is null or received_at >= $2)
           returning id"#,
        link,
        since
    )
    .fetch_all(&state.db)
    .await?;
    ids.sort_unstable();
    for id in &ids {
        apply_stored(state, *id).await;
    }
    Ok(ids.len())
}
