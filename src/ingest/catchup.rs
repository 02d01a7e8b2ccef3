//! Catch-up after downtime. WAHA retries a webhook for about 30 s, so anything sent while
//! Puente was away longer is lost to webhooks. When a link comes (back) to WORKING — and on
//! every Puente start, through the supervisor — the chats active since the link's watermark
//! (the newest WhatsApp time applied, minus a safety margin) are read through WAHA's chats API
//! and their messages fed through the same idempotent path as webhooks
//! ([`messages::apply_message_payload`], under the link's advisory lock): nothing is lost, and
//! nothing already stored is stored again. Each page's `@lid` phones are asked before its
//! messages' transactions ([`LidPhones::ask`]).
//!
//! At most one catch-up runs per link per process: [`spawn`] takes the link's slot in
//! `core.catchups` ([`super::running::RunningCatchups`]) for as long as it runs.

use chrono::Utc;
use uuid::Uuid;

use super::dispatch;
use super::effects::{Ctx, Effects};
use super::lookups::{self, LidPhones};
use super::messages::{self, Outcome};
use crate::core::Core;
use crate::db;
use crate::links::LinkStatus;
use crate::waha::MessagesQuery;

/// Seconds subtracted from the watermark: WAHA's per-chat clocks and reordering.
const MARGIN_SECS: i64 = 120;
const PAGE: u32 = 100;
/// Upper bound of chats read per catch-up.
const MAX_CHATS: u32 = 2000;

/// Run a catch-up for a link in the background (at most one per link per process).
pub fn spawn(core: Core, link: Uuid) {
    let Some(slot) = core.catchups.claim(link) else {
        return;
    };
    core.tasks.clone().spawn(async move {
        match run(&core, link).await {
            Ok(n) if n > 0 => {
                tracing::info!(link = %link, recovered = n, "catch-up recovered messages")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(link = %link, error = %e, "catch-up failed"),
        }
        drop(slot);
    });
}

/// Returns how many messages were newly stored.
pub async fn run(core: &Core, link_id: Uuid) -> anyhow::Result<usize> {
    let Some(link) = db::links::find(&core.db, link_id).await? else {
        return Ok(0);
    };
    if link.status != LinkStatus::Working.as_str() {
        return Ok(0);
    }
    let watermark = db::whatsapp::watermark(&core.db, link.id).await?;
    let since = watermark.unwrap_or(link.created_at).timestamp() - MARGIN_SECS;
    let client = crate::links::service::client(core, &link).await?;
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
                let phones = LidPhones::ask(
                    core,
                    link.id,
                    msgs.iter().filter_map(lookups::lid_of_message),
                )
                .await;
                let cx = Ctx {
                    core,
                    link: &link,
                    phones: &phones,
                };
                for m in &msgs {
                    let mut tx = core.db.begin().await?;
                    db::events::lock_link(&mut tx, link.id).await?;
                    let mut fx = Effects::default();
                    let outcome = messages::apply_message_payload(&cx, &mut tx, &mut fx, m).await?;
                    if outcome == Outcome::Applied {
                        recovered += 1;
                    }
                    let woken = fx.finish(&mut tx, link.id).await?;
                    tx.commit().await?;
                    for id in woken {
                        // Message events: they never report a session status (and this link's
                        // catch-up is the one running).
                        dispatch::apply(core, id).await;
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
    db::whatsapp::record_catchup(
        &core.db,
        link.id,
        Utc::now(),
        i32::try_from(recovered).unwrap_or(i32::MAX),
    )
    .await?;
    Ok(recovered)
}
