//! The outbox worker: sends agents' WhatsApp messages (and read receipts, reactions) through
//! the link's WAHA, after the transaction that queued them has committed.
//!
//! Invariants:
//! - A job is claimed with `FOR UPDATE SKIP LOCKED` and a lease, so one worker (in any
//!   replica) runs it at a time; an expired lease (a crashed worker) makes it claimable again.
//! - **Never twice.** Before a retry sends again, the worker checks whether the first attempt
//!   reached WhatsApp after all: the message already carries a WhatsApp id (WAHA's echo
//!   webhook attached it), or WAHA's own history of the chat holds our text since the job was
//!   queued. Only then does it send.
//! - While WAHA is unreachable or the session not WORKING, jobs back off (1 s doubling to
//!   60 s); past the deadline the message is marked `failed` with a reason.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::chat;
use crate::core::Core;
use crate::db::chat as q;
use crate::waha::{FileSource, MessagesQuery, OutgoingFile, WahaClient, WahaError};

/// Lease of a claimed job.
const LEASE_SECS: f64 = 60.0;

pub const SEND: &str = "wa.send";
pub const SEEN: &str = "wa.seen";
pub const REACT: &str = "wa.react";

struct Job {
    id: i64,
    kind: String,
    message_id: Option<Uuid>,
    link_id: Option<Uuid>,
    payload: Value,
    attempts: i32,
    deadline_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Queue a job inside the caller's transaction.
pub async fn enqueue(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    message: Option<Uuid>,
    link: Option<Uuid>,
    payload: Value,
    deadline: Option<DateTime<Utc>>,
) -> crate::error::Result<()> {
    sqlx::query!(
        r#"insert into outbox (kind, message_id, link_id, payload, deadline_at) values ($1, $2, $3, $4, $5)
           on conflict do nothing"#,
        kind,
        message,
        link,
        payload,
        deadline
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Run the worker until shutdown.
pub fn spawn(state: Core) -> tokio::task::JoinHandle<()> {
    state.tasks.clone().spawn(async move {
        loop {
            loop {
                match claim(&state).await {
                    Ok(Some(job)) => run(&state, job).await,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox claim failed");
                        break;
                    }
                }
                if state.shutdown.is_cancelled() {
                    return;
                }
            }
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = state.outbox_wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    })
}

async fn claim(state: &Core) -> anyhow::Result<Option<Job>> {
    let row = sqlx::query!(
        r#"update outbox o set locked_until = now() + make_interval(secs => $1), attempts = o.attempts + 1
           from (select id from outbox
                 where done_at is null and next_attempt_at <= now() and (locked_until is null or locked_until < now())
                 order by next_attempt_at, id limit 1 for update skip locked) j
           where o.id = j.id
           returning o.id, o.kind, o.message_id, o.link_id, o.payload, o.attempts, o.deadline_at, o.created_at"#,
        LEASE_SECS
    )
    .fetch_optional(&state.db)
    .await?;
    Ok(row.map(|r| Job {
        id: r.id,
        kind: r.kind,
        message_id: r.message_id,
        link_id: r.link_id,
        payload: r.payload,
        attempts: r.attempts,
        deadline_at: r.deadline_at,
        created_at: r.created_at,
    }))
}

enum Failure {
    /// Try again later (unreachable, not WORKING, timeouts).
    Transient(String),
    /// Will never work (bad request, missing data).
    Permanent(String),
}

impl From<WahaError> for Failure {
    fn from(e: WahaError) -> Self {
        if e.is_transient() || matches!(e, WahaError::WrongStatus { .. }) {
            Failure::Transient(e.to_string())
        } else {
            Failure::Permanent(e.to_string())
        }
    }
}

impl From<crate::error::AppError> for Failure {
    fn from(e: crate::error::AppError) -> Self {
        match e.status().as_u16() {
            503 | 409 => Failure::Transient(e.code().to_string()),
            _ => Failure::Permanent(e.code().to_string()),
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Transient(format!("database: {e}"))
    }
}

fn backoff(attempts: i32) -> Duration {
    let n = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    Duration::from_secs(1u64 << n).min(Duration::from_secs(60))
}

async fn run(state: &Core, job: Job) {
    let result = match job.kind.as_str() {
        SEND => send(state, &job).await,
        SEEN => seen(state, &job).await,
        REACT => react(state, &job).await,
        other => Err(Failure::Permanent(format!("unknown job kind {other}"))),
    };
    let outcome = match result {
        Ok(()) => sqlx::query!("update outbox set done_at = now(), locked_until = null, last_error = null where id = $1", job.id)
            .execute(&state.db)
            .await
            .map(|_| ()),
        Err(Failure::Transient(why)) if job.deadline_at.is_none_or(|d| d > Utc::now()) => {
            let delay = backoff(job.attempts);
            tracing::info!(job = job.id, kind = %job.kind, attempts = job.attempts, retry_in_ms = delay.as_millis() as u64, why = %why, "outbox job will retry");
            sqlx::query!(
                r#"update outbox set locked_until = null, last_error = $2,
                       next_attempt_at = now() + make_interval(secs => $3) where id = $1"#,
                job.id,
                why,
                delay.as_secs_f64()
            )
            .execute(&state.db)
            .await
            .map(|_| ())
        }
        Err(Failure::Transient(why) | Failure::Permanent(why)) => {
            tracing::warn!(job = job.id, kind = %job.kind, why = %why, "outbox job failed for good");
            give_up(state, &job, &why).await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(job = job.id, error = %e, "recording an outbox outcome failed");
    }
}

async fn give_up(state: &Core, job: &Job, why: &str) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin().await?;
    sqlx::query!(
        "update outbox set done_at = now(), locked_until = null, last_error = $2 where id = $1",
        job.id,
        why
    )
    .execute(&mut *tx)
    .await?;
    if job.kind == SEND {
        if let Some(mid) = job.message_id {
            let reason =
                if why.contains("unreachable") || why.contains("link_") || why.contains("status") {
                    "link_unavailable"
                } else {
                    "send_rejected"
                };
            if q::advance_status(&mut *tx, mid, "failed", Some(reason))
                .await
                .ok()
                .flatten()
                .is_some()
            {
                if let Ok(Some(msg)) = q::message(&mut *tx, mid).await {
                    if let Ok(Some(conv)) = q::conversation(&mut *tx, msg.conversation_id).await {
                        let _ = chat::publish_message(&mut tx, &conv, mid, "message.updated").await;
                    }
                }
            }
        }
    }
    tx.commit().await
}

async fn link_client(state: &Core, link_id: Option<Uuid>) -> Result<WahaClient, Failure> {
    let link_id = link_id.ok_or_else(|| Failure::Permanent("job without a link".into()))?;
    let link = crate::db::links::find(&state.db, link_id)
        .await?
        .ok_or_else(|| Failure::Permanent("the link was deleted".into()))?;
    if link.status != "working" {
        return Err(Failure::Transient(format!("link_{}", link.status)));
    }
    Ok(crate::links::service::client(state, &link).await?)
}

async fn send(state: &Core, job: &Job) -> Result<(), Failure> {
    let mid = job
        .message_id
        .ok_or_else(|| Failure::Permanent("job without a message".into()))?;
    let msg = q::message(&state.db, mid)
        .await?
        .ok_or_else(|| Failure::Permanent("message gone".into()))?;
    if msg.wa_message_id.is_some() {
        return Ok(()); // Already reached WhatsApp (an earlier attempt, seen by its echo).
    }
    if msg.deleted_at.is_some() {
        return Ok(());
    }
    let conv = q::conversation(&state.db, msg.conversation_id)
        .await?
        .ok_or_else(|| Failure::Permanent("conversation gone".into()))?;
    let chat_id = conv
        .chat_id
        .clone()
        .ok_or_else(|| Failure::Permanent("conversation without chat".into()))?;
    let client = link_client(state, job.link_id).await?;

    if job.attempts > 1 {
        // Did an earlier attempt get through after all?
        let q = MessagesQuery {
            limit: 50,
            timestamp_gte: Some(job.created_at.timestamp() - 5),
            from_me: Some(true),
            ..MessagesQuery::default()
        };
        if let Ok(history) = client.chat_messages(&chat_id, &q).await {
            if let Some(found) = history
                .iter()
                .find(|m| m.from_me && m.body.as_deref() == msg.body.as_deref() && !m.id.is_empty())
            {
                record_sent(state, mid, &found.id).await?;
                return Ok(());
            }
        }
    }

    let reply_to = match msg.reply_to_id {
        Some(r) => q::message(&state.db, r)
            .await?
            .and_then(|m| m.wa_message_id),
        None => None,
    };
    let body = msg.body.clone().unwrap_or_default();
    let sent = match msg.kind.as_str() {
        "text" => {
            client
                .send_text(&chat_id, &body, reply_to.as_deref())
                .await?
        }
        "image" | "file" | "voice" | "audio" | "video" => {
            let file_id = msg
                .media_file_id
                .ok_or_else(|| Failure::Permanent("media message without a file".into()))?;
            let f = sqlx::query!(
                "select storage_key, mimetype, original_name from files where id = $1",
                file_id
            )
            .fetch_one(&state.db)
            .await?;
            let bytes = state
                .files
                .get(&f.storage_key)
                .await
                .map_err(|e| Failure::Permanent(format!("file store: {e}")))?;
            let file = OutgoingFile {
                mimetype: f.mimetype,
                filename: f.original_name.clone(),
                source: FileSource::Base64(STANDARD.encode(bytes)),
            };
            let caption = (!body.is_empty()).then_some(body.as_str());
            match msg.kind.as_str() {
                "image" => {
                    client
                        .send_image(&chat_id, &file, caption, reply_to.as_deref())
                        .await?
                }
                "voice" | "audio" => {
                    client
                        .send_voice(&chat_id, &file, reply_to.as_deref())
                        .await?
                }
                "video" => {
                    client
                        .send_video(&chat_id, &file, caption, reply_to.as_deref())
                        .await?
                }
                _ => {
                    client
                        .send_file(&chat_id, &file, caption, reply_to.as_deref())
                        .await?
                }
            }
        }
        other => {
            return Err(Failure::Permanent(format!(
                "cannot send a {other} message to WhatsApp"
            )))
        }
    };
    match sent.id {
        Some(id) => record_sent(state, mid, &id).await?,
        None => {
            // The engine answered without an id: sent; the echo webhook will bring the id.
            let mut tx = state.db.begin().await?;
            if q::advance_status(&mut *tx, mid, "sent", None)
                .await?
                .is_some()
            {
                let _ = chat::publish_message(&mut tx, &conv, mid, "message.updated").await;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Attach the WhatsApp id to our message and mark it sent. If WAHA's echo already created a
/// separate row for it, that copy is dropped (ours carries the client id and author).
async fn record_sent(state: &Core, mid: Uuid, wa_id: &str) -> Result<(), Failure> {
    let mut tx = state.db.begin().await?;
    let msg = q::message(&mut *tx, mid)
        .await?
        .ok_or_else(|| Failure::Permanent("message gone".into()))?;
    let link = msg
        .link_id
        .ok_or_else(|| Failure::Permanent("message without a link".into()))?;
    if let Some(dup) = q::message_by_wa(&mut *tx, link, Some(wa_id), None).await? {
        if dup.id != mid {
            sqlx::query!("delete from messages where id = $1", dup.id)
                .execute(&mut *tx)
                .await?;
            if dup.status != "sent" && dup.status != "pending" {
                q::advance_status(&mut *tx, mid, &dup.status, None).await?;
            }
        }
    }
    let raw = crate::waha::types::parse_message_id(wa_id).map(|k| k.id);
    q::set_wa_id(&mut *tx, mid, wa_id, raw.as_deref()).await?;
    q::advance_status(&mut *tx, mid, "sent", None).await?;
    // Acks that arrived before we knew the id.
    let woken = sqlx::query_scalar!(
        r#"update waha_events set status = 'pending'
           where link_id = $1 and status = 'deferred' and refers_to = any($2) returning id"#,
        link,
        &[wa_id.to_string(), raw.clone().unwrap_or_default()][..]
    )
    .fetch_all(&mut *tx)
    .await?;
    if let Some(conv) = q::conversation(&mut *tx, msg.conversation_id).await? {
        let _ = chat::publish_message(&mut tx, &conv, mid, "message.updated").await;
    }
    tx.commit().await?;
    for id in woken {
        crate::ingest::apply::apply_stored(state, id).await;
    }
    Ok(())
}

async fn seen(state: &Core, job: &Job) -> Result<(), Failure> {
    let client = link_client(state, job.link_id).await?;
    let chat = job.payload["chat_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ids: Vec<String> = job.payload["message_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    client.send_seen(&chat, &ids).await?;
    Ok(())
}

async fn react(state: &Core, job: &Job) -> Result<(), Failure> {
    let client = link_client(state, job.link_id).await?;
    let message = job.payload["message_id"].as_str().unwrap_or_default();
    let emoji = job.payload["emoji"].as_str().unwrap_or_default();
    client.reaction(message, emoji).await?;
    Ok(())
}

/// The payload of a reaction job.
pub fn reaction_payload(wa_message_id: &str, emoji: &str) -> Value {
    json!({"message_id": wa_message_id, "emoji": emoji})
}
