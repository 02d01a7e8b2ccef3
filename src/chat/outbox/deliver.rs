//! Doing one outbox job against the link's WAHA, and [`Failure`]: why it did not complete,
//! which decides whether it is tried again.
//!
//! A send is never made twice: a message that already carries a WhatsApp id is done, and on
//! a retry WAHA's history of the chat is asked first whether an earlier attempt got through.
//! Recording a send attaches the WhatsApp id, marks the message `sent`, drops the copy WAHA's
//! echo may have created, applies the acks that arrived before the id was known, and publishes
//! `message.updated`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::chat;
use crate::core::Core;
use crate::db;
use crate::db::chat as q;
use crate::error::AppError;
use crate::links::{self, LinkStatus};
use crate::model::{MessageKind, MessageStatus};
use crate::waha::{self, Fault, FileSource, MessagesQuery, OutgoingFile, WahaClient};

/// Why a job did not complete. The variant decides: retried (until the job's deadline) or
/// not, and the reason a send that fails for good shows on its message ([`Failure::reason`]).
#[derive(Debug)]
pub enum Failure {
    /// The link cannot carry it now: not WORKING in Puente, its container not reachable, WAHA
    /// unreachable or reporting the session not WORKING ([`Fault::Unavailable`]). Retried; a
    /// send then fails with `link_unavailable`.
    LinkUnavailable(String),
    /// Something that may pass: WAHA failing or overloaded ([`Fault::Busy`]), the database
    /// failing or busy. Retried; a send then fails with `send_rejected`.
    Transient(String),
    /// It can never work: WAHA refused the call ([`Fault::Refused`]), data is missing, the job
    /// is not one the worker knows. Not retried: `send_rejected`.
    Permanent(String),
    /// The link's engine cannot send this kind of message (media on Core before 2026.6, video
    /// on any Core engine). Not retried: `not_supported_by_link`.
    Unsupported(String),
}

impl Failure {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Failure::Permanent(_) | Failure::Unsupported(_))
    }

    /// `messages.failure_reason` of a send that fails for good.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::LinkUnavailable(_) => "link_unavailable",
            Failure::Transient(_) | Failure::Permanent(_) => "send_rejected",
            Failure::Unsupported(_) => "not_supported_by_link",
        }
    }

    /// What is kept as the job's `last_error`.
    pub fn why(&self) -> &str {
        match self {
            Failure::LinkUnavailable(why)
            | Failure::Transient(why)
            | Failure::Permanent(why)
            | Failure::Unsupported(why) => why,
        }
    }

    /// The link's client could not be had (`crate::links::service::client`): an engine or
    /// container that cannot be reached now is the link being unavailable, the database is
    /// judged as below, anything else will not pass.
    fn of_link(e: links::Error) -> Self {
        match e {
            e if e.is_transient() => Failure::LinkUnavailable(e.code().to_string()),
            links::Error::App(e) => e.into(),
            other => Failure::Permanent(other.code().to_string()),
        }
    }
}

impl From<waha::Error> for Failure {
    fn from(e: waha::Error) -> Self {
        match e.fault() {
            Fault::Unavailable => Failure::LinkUnavailable(e.to_string()),
            Fault::Busy => Failure::Transient(e.to_string()),
            Fault::Refused => Failure::Permanent(e.to_string()),
        }
    }
}

/// Errors of the chat queries (`crate::db::chat`): busy or conflicting may pass, anything
/// else will not.
impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unavailable { code, .. } | AppError::Conflict { code, .. } => {
                Failure::Transient(code.to_string())
            }
            other => Failure::Permanent(other.code().to_string()),
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Transient(format!("database: {e}"))
    }
}

/// The job's link's WAHA client, when the link is WORKING.
async fn link_client(core: &Core, link_id: Option<Uuid>) -> Result<WahaClient, Failure> {
    let link_id = link_id.ok_or_else(|| Failure::Permanent("job without a link".into()))?;
    let link = db::links::find(&core.db, link_id)
        .await?
        .ok_or_else(|| Failure::Permanent("the link was deleted".into()))?;
    if link.status != LinkStatus::Working.as_str() {
        return Err(Failure::LinkUnavailable(format!("link_{}", link.status)));
    }
    crate::links::service::client(core, &link)
        .await
        .map_err(Failure::of_link)
}

/// What [`send`] needs of the claimed row.
pub struct SendJob {
    pub message_id: Option<Uuid>,
    pub link_id: Option<Uuid>,
    /// Including this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Among our own recent messages in the chat, the one an earlier attempt of `msg` left:
/// the same text (or none), media or not as `msg` is, not one WAHA says the phone sent, and
/// not already another stored message's (two captionless photos are two messages).
async fn earlier_copy(
    core: &Core,
    msg: &crate::db::chat::MessageRow,
    history: &[waha::types::MessagePayload],
) -> Result<Option<String>, Failure> {
    let Some(link) = msg.link_id else {
        return Ok(None);
    };
    let text = |b: Option<&str>| b.filter(|t| !t.is_empty()).map(str::to_string);
    let ours = text(msg.body.as_deref());
    let with_media = msg.media_file_id.is_some();
    for m in history.iter().filter(|m| {
        m.from_me
            && !m.id.is_empty()
            && m.has_media == with_media
            && m.source.as_deref() != Some("app")
            && text(m.body.as_deref()) == ours
    }) {
        let taken = q::message_by_wa(&core.db, link, Some(&m.id), None)
            .await?
            .is_some_and(|other| other.id != msg.id);
        if !taken {
            return Ok(Some(m.id.clone()));
        }
    }
    Ok(None)
}

/// A media send WAHA refused because its engine cannot do it — Core's "available only in
/// Plus" (422) or "not implemented" (501) — fails for good with a reason the agent can read;
/// anything else as any WAHA failure.
fn media_failure(kind: MessageKind, e: waha::Error) -> Failure {
    match &e {
        waha::Error::Unprocessable(m) if m.contains("only in Plus") => Failure::Unsupported(
            format!("this WhatsApp engine cannot send {kind} messages: {m}"),
        ),
        waha::Error::Http { status: 501, .. } => {
            Failure::Unsupported(format!("this WhatsApp engine cannot send {kind} messages"))
        }
        _ => e.into(),
    }
}

/// [`super::Job::Send`]: deliver the message, once.
pub async fn send(core: &Core, job: &SendJob) -> Result<(), Failure> {
    let mid = job
        .message_id
        .ok_or_else(|| Failure::Permanent("job without a message".into()))?;
    let msg = q::message(&core.db, mid)
        .await?
        .ok_or_else(|| Failure::Permanent("message gone".into()))?;
    if msg.wa_message_id.is_some() {
        return Ok(()); // Already reached WhatsApp (an earlier attempt, seen by its echo).
    }
    if msg.deleted_at.is_some() {
        return Ok(());
    }
    let conv = q::conversation(&core.db, msg.conversation_id)
        .await?
        .ok_or_else(|| Failure::Permanent("conversation gone".into()))?;
    let chat_id = conv
        .chat_id
        .clone()
        .ok_or_else(|| Failure::Permanent("conversation without chat".into()))?;
    let client = link_client(core, job.link_id).await?;

    if job.attempts > 1 {
        // Did an earlier attempt get through after all?
        let q = MessagesQuery {
            limit: 50,
            timestamp_gte: Some(job.created_at.timestamp() - 5),
            from_me: Some(true),
            ..MessagesQuery::default()
        };
        if let Ok(history) = client.chat_messages(&chat_id, &q).await {
            if let Some(found) = earlier_copy(core, &msg, &history).await? {
                record_sent(core, mid, &found).await?;
                return Ok(());
            }
        }
    }

    let reply_to = match msg.reply_to_id {
        Some(r) => q::message(&core.db, r).await?.and_then(|m| m.wa_message_id),
        None => None,
    };
    let body = msg.body.clone().unwrap_or_default();
    let kind: MessageKind = msg.kind;
    let sent = match kind {
        MessageKind::Text => {
            client
                .send_text(&chat_id, &body, reply_to.as_deref())
                .await?
        }
        MessageKind::Image
        | MessageKind::File
        | MessageKind::Voice
        | MessageKind::Audio
        | MessageKind::Video => {
            let file_id = msg
                .media_file_id
                .ok_or_else(|| Failure::Permanent("media message without a file".into()))?;
            let f = db::whatsapp::stored_file(&core.db, file_id).await?;
            let bytes = core
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
            let reply = reply_to.as_deref();
            match kind {
                MessageKind::Image => client.send_image(&chat_id, &file, caption, reply).await,
                MessageKind::Voice | MessageKind::Audio => {
                    client.send_voice(&chat_id, &file, reply).await
                }
                MessageKind::Video => client.send_video(&chat_id, &file, caption, reply).await,
                _ => client.send_file(&chat_id, &file, caption, reply).await,
            }
            .map_err(|e| media_failure(kind, e))?
        }
        other => {
            return Err(Failure::Permanent(format!(
                "cannot send a {other} message to WhatsApp"
            )))
        }
    };
    match sent.id {
        Some(id) => record_sent(core, mid, &id).await?,
        None => {
            // The engine answered without an id: sent; the echo webhook will bring the id.
            let mut tx = core.db.begin().await?;
            if q::advance_status(&mut *tx, mid, MessageStatus::Sent, None)
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
async fn record_sent(core: &Core, mid: Uuid, wa_id: &str) -> Result<(), Failure> {
    let mut tx = core.db.begin().await?;
    let msg = q::message(&mut *tx, mid)
        .await?
        .ok_or_else(|| Failure::Permanent("message gone".into()))?;
    let link = msg
        .link_id
        .ok_or_else(|| Failure::Permanent("message without a link".into()))?;
    if let Some(dup) = q::message_by_wa(&mut *tx, link, Some(wa_id), None).await? {
        if dup.id != mid {
            db::whatsapp::delete_message(&mut tx, dup.id).await?;
            // The copy may know more already (delivered, read): ours takes that status.
            if !matches!(dup.status, MessageStatus::Sent | MessageStatus::Pending) {
                q::advance_status(&mut *tx, mid, dup.status, None).await?;
            }
        }
    }
    let raw = crate::waha::types::parse_message_id(wa_id).map(|k| k.id);
    q::set_wa_id(&mut *tx, mid, wa_id, raw.as_deref()).await?;
    q::advance_status(&mut *tx, mid, MessageStatus::Sent, None).await?;
    // Acks that arrived before we knew the id.
    let woken = db::events::wake_deferred(
        &mut tx,
        link,
        &[wa_id.to_string(), raw.clone().unwrap_or_default()],
    )
    .await?;
    if let Some(conv) = q::conversation(&mut *tx, msg.conversation_id).await? {
        let _ = chat::publish_message(&mut tx, &conv, mid, "message.updated").await;
    }
    tx.commit().await?;
    for id in woken {
        crate::ingest::apply::apply_stored(core, id).await;
    }
    Ok(())
}

/// [`super::Job::Seen`]: mark the messages read on WhatsApp.
pub async fn seen(
    core: &Core,
    link_id: Option<Uuid>,
    chat_id: &str,
    message_ids: &[String],
) -> Result<(), Failure> {
    let client = link_client(core, link_id).await?;
    client.send_seen(chat_id, message_ids).await?;
    Ok(())
}

/// [`super::Job::React`]: set (or remove) the agent's reaction.
pub async fn react(
    core: &Core,
    link_id: Option<Uuid>,
    message_id: &str,
    emoji: &str,
) -> Result<(), Failure> {
    let client = link_client(core, link_id).await?;
    client.reaction(message_id, emoji).await?;
    Ok(())
}
