//! Catch-up after downtime. WAHA retries a webhook for about 30 s, so anything sent while
//! Puente was away longer is lost to webhooks. When a link comes (back) to WORKING — and on
//! every Puente start, through the supervisor — the chats active since the link's watermark
//! (the newest WhatsApp time applied, minus a safety margin) are read through WAHA's chats API
//! and their messages fed through the same idempotent path as webhooks: nothing is lost, and
//! nothing already stored is stored again.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use chrono::Utc;
use uuid::Uuid;

use super::messages::{apply_message_payload, Outcome};
use crate::core::Core;
use crate::waha::MessagesQuery;

/// Seconds subtracted from the watermark: WAHA's per-chat clocks and reordering.
const MARGIN_SECS: i64 = 120;
const PAGE: u32 = 100;
/// Upper bound of chats read per catch-up.
const MAX_CHATS: u32 = 2000;

fn running() -> &'static Mutex<HashSet<Uuid>> {
    static RUNNING: OnceLock<Mutex<HashSet<Uuid>>> = OnceLock::new();
    RUNNING.get_or_init(Default::default)
}

/// Run a catch-up for a link in the background (at most one per link per process).
pub fn spawn(state: Core, link: Uuid) {
    {
        let mut set = running().lock().unwrap_or_else(|e| e.into_inner());
        if !set.insert(link) {
            return;
        }
    }
    state.tasks.clone().spawn(async move {
        match run(&state, link).await {
            Ok(n) if n > 0 => {
                tracing::info!(link = %link, recovered = n, "catch-up recovered messages")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(link = %link, error = %e, "catch-up failed"),
        }
        running()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&link);
    });
}

/// Returns how many messages were newly stored.
pub async fn run(state: &Core, link_id: Uuid) -> anyhow::Result<usize> {
    let Some(link) = crate::db::links::find(&state.db, link_id).await? else {
        return Ok(0);
    };
    if link.status != "working" {
        return Ok(0);
    }
    let watermark = sqlx::query_scalar!(
        "select watermark_at from whatsapp_links where id = $1",
        link.id
    )
    .fetch_one(&state.db)
    .await?;
    let since = watermark.unwrap_or(link.created_at).timestamp() - MARGIN_SECS;
    let client = crate::links::service::client(state, &link).await?;
    let mut recovered = 0usize;
    let mut offset = 0;
    'chats: while offset < MAX_CHATS {
        let chats = client.chats(PAGE, offset).await?;
        if chats.is_empty() {
            break;
        }
        for chat in &chats {
            // Chats come newest first: once one is older than the watermark, so are the rest.
            if chat.timestamp.is_some_and(|t| t < since) {
                break 'chats;
            }
            let mut m_offset = 0;
            loop {
                let q = MessagesQuery {
                    limit: PAGE,
                    offset: m_offset,
                    timestamp_gte: Some(since),
                    download_media: true,
                    ascending: true,
                    ..MessagesQuery::default()
                };
                let msgs = client.chat_messages(&chat.id, &q).await?;
                for m in &msgs {
                    let mut tx = state.db.begin().await?;
                    sqlx::query!(
                        "select pg_advisory_xact_lock($1)",
                        super::apply::link_lock_key(link.id)
                    )
                    .execute(&mut *tx)
                    .await?;
                    let (outcome, keys) = apply_message_payload(state, &mut tx, &link, m).await?;
                    let woken = if outcome == Outcome::Applied {
                        recovered += 1;
                        sqlx::query_scalar!(
                            r#"update waha_events set status = 'pending'
                               where link_id = $1 and status = 'deferred' and refers_to = any($2) returning id"#,
                            link.id,
                            &keys
                        )
                        .fetch_all(&mut *tx)
                        .await?
                    } else {
                        Vec::new()
                    };
                    tx.commit().await?;
                    for id in woken {
                        super::apply::apply_stored(state, id).await;
                    }
                }
                if msgs.len() < PAGE as usize {
                    break;
                }
                m_offset += PAGE;
            }
        }
        if chats.len() < PAGE as usize {
            break;
        }
        offset += PAGE;
    }
    sqlx::query!(
        "update whatsapp_links set last_catchup_at = $2, last_catchup_count = $3 where id = $1",
        link.id,
        Utc::now(),
        i32::try_from(recovered).unwrap_or(i32::MAX)
    )
    .execute(&state.db)
    .await?;
    Ok(recovered)
}
