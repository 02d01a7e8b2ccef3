//! Sending a message, as a sequence of named steps: [`send`] reads top to bottom as
//! check the writer → validate → idempotency → attachment, reply anchor and route →
//! (one transaction:) within the send rate → moderate → store → queue for WhatsApp →
//! announce → commit → render.
//!
//! Invariants:
//! - **Idempotent.** The same `client_id` from the same author returns the same message,
//!   also when two requests race (the unique key decides; the loser answers with the
//!   winner's message).
//! - **All or nothing.** The message, its outbox job (WhatsApp), the conversation's new
//!   activity and the events announcing both commit together.
//! - **Rate-limited** per author (`--sends-per-minute`), counted under a per-author lock in
//!   the same transaction, so concurrent sends and replicas agree; a retry of a message
//!   already sent is answered before the count.
//! - **Moderated** before anything is stored: the author must be able to reach everyone in
//!   the conversation, and in-app text passes the word filter.
//! - On WhatsApp a message is stored `pending` and sent after the commit by the outbox
//!   worker, within `--send-deadline-secs`; in the app it is `sent` at once.

use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::access::{self, Viewer};
use super::messages::MAX_BODY_CHARS;
use super::outbox;
use super::publish::{publish_conversation, publish_message};
use super::views::{self, MessageDto};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::chat::{self as q, ConversationRow, MessageRow, NewMessage};
use crate::error::{AppError, FieldError, Result};
use crate::model::{Channel, ConversationStatus, Direction, MessageKind, MessageStatus};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Client-chosen idempotency key (1–100 characters): the same key returns the same message.
    pub client_id: String,
    pub body: Option<String>,
    /// An uploaded file (`POST /api/v1/files`) to send; `body` becomes its caption.
    pub file_id: Option<Uuid>,
    pub reply_to: Option<Uuid>,
}

/// The message sent, or the one sent before with the same `client_id`.
#[derive(Debug)]
pub struct Sent {
    pub message: MessageDto,
    /// `false`: an earlier request with the same `client_id` had sent it.
    pub created: bool,
}

/// Send a message into a conversation (see the module docs for the steps).
pub async fn send(core: &Core, user: &AuthUser, conv_id: Uuid, req: &SendRequest) -> Result<Sent> {
    let conv = access::visible(core, user, conv_id).await?;
    ensure_open_to(user, &conv)?;
    let draft = validate(req)?;
    if let Some(earlier) = already_sent(core, user, draft.client_id).await? {
        return Ok(earlier);
    }
    let outgoing = Outgoing {
        kind: attachment_kind(core, user, req.file_id).await?,
        file: req.file_id,
        reply_to: reply_anchor(core, user, &conv, req.reply_to).await?,
        link: route(&conv)?,
    };
    link_can_send(core, &outgoing).await?;

    let mut tx = core.db.begin().await?;
    within_send_rate(&mut tx, core, user).await?;
    moderate(&mut tx, core, user, &conv, draft.body).await?;
    let Some(msg) = store(&mut tx, user, &conv, &draft, &outgoing).await? else {
        // A concurrent request with the same client id won the race.
        drop(tx);
        return already_sent(core, user, draft.client_id)
            .await?
            .ok_or(AppError::NotFound);
    };
    if let Some(link) = outgoing.link {
        queue_for_whatsapp(&mut tx, core, &msg, link).await?;
    }
    announce(&mut tx, &conv, &msg).await?;
    tx.commit().await?;
    core.outbox_wake.notify_one();

    Ok(Sent {
        message: render(core, user, msg.id).await?,
        created: true,
    })
}

/// What the request says, checked.
struct Draft<'a> {
    client_id: &'a str,
    /// Trimmed; `None` when empty (a file alone).
    body: Option<&'a str>,
}

/// What goes out besides the text: its kind, file, the message it replies to, and the link
/// it leaves through (`None`: in the app).
struct Outgoing {
    kind: MessageKind,
    file: Option<Uuid>,
    reply_to: Option<Uuid>,
    link: Option<Uuid>,
}

/// At most `--sends-per-minute` messages per author in the last minute; the author's lock is
/// held to the end of the transaction.
async fn within_send_rate(tx: &mut PgConnection, core: &Core, user: &AuthUser) -> Result<()> {
    let window = chrono::Duration::minutes(1);
    q::lock_sender(tx, user.id).await?;
    let (sent, oldest) = q::recent_sends(&mut *tx, user.id, window.num_seconds() as f64).await?;
    if sent >= core.config.sends_per_minute {
        tracing::info!(user = %user.id, sent, "send rate reached");
        return Err(AppError::window_full(oldest, window));
    }
    Ok(())
}

/// Only the conversation's participants write, and not once it is closed.
fn ensure_open_to(user: &AuthUser, conv: &ConversationRow) -> Result<()> {
    access::ensure_participant(user, conv)?;
    if conv.status == ConversationStatus::Closed {
        return Err(AppError::conflict(
            "conversation_closed",
            "This conversation is closed.",
        ));
    }
    Ok(())
}

/// A client id of 1–100 characters, and text (at most [`MAX_BODY_CHARS`]) or a file; every
/// field's error at once.
fn validate(req: &SendRequest) -> Result<Draft<'_>> {
    let client_id = req.client_id.trim();
    let mut errors = Vec::new();
    if client_id.is_empty() || client_id.chars().count() > 100 {
        errors.push(FieldError::new("client_id", "must be 1 to 100 characters"));
    }
    let body = req.body.as_deref().map(str::trim).filter(|b| !b.is_empty());
    if body.is_some_and(|b| b.chars().count() > MAX_BODY_CHARS) {
        errors.push(FieldError::new("body", "must be at most 5000 characters"));
    }
    if body.is_none() && req.file_id.is_none() {
        errors.push(FieldError::new("body", "a message needs text or a file"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Draft { client_id, body })
}

/// The message this author already sent with this client id, as they see it.
async fn already_sent(core: &Core, user: &AuthUser, client_id: &str) -> Result<Option<Sent>> {
    let Some(existing) = q::message_by_client_id(&core.db, user.id, client_id).await? else {
        return Ok(None);
    };
    Ok(Some(Sent {
        message: render(core, user, existing.id).await?,
        created: false,
    }))
}

/// The kind of message a file makes (the caller's own upload only); text without one.
async fn attachment_kind(core: &Core, user: &AuthUser, file: Option<Uuid>) -> Result<MessageKind> {
    let Some(file) = file else {
        return Ok(MessageKind::Text);
    };
    let file = crate::db::files::find(&core.db, file)
        .await?
        .filter(|f| f.owner_user_id == Some(user.id))
        .ok_or_else(|| AppError::invalid("file_id", "no such uploaded file of yours"))?;
    Ok(MessageKind::from_mime(&file.mimetype, false))
}

/// The message replied to: one of this conversation the author may see.
async fn reply_anchor(
    core: &Core,
    user: &AuthUser,
    conv: &ConversationRow,
    reply_to: Option<Uuid>,
) -> Result<Option<Uuid>> {
    let Some(id) = reply_to else {
        return Ok(None);
    };
    let mut conn = core.db.acquire().await?;
    let msg = access::visible_message(&mut conn, Viewer::of(user), conv, id)
        .await?
        .ok_or_else(|| AppError::invalid("reply_to", "no such message in this conversation"))?;
    Ok(Some(msg.id))
}

/// Where the message goes out: nowhere beyond the database in the app; on WhatsApp through
/// the conversation's link, which must still exist.
fn route(conv: &ConversationRow) -> Result<Option<Uuid>> {
    match (conv.channel, conv.link_id) {
        (Channel::InApp, _) => Ok(None),
        (Channel::Whatsapp, Some(link)) => Ok(Some(link)),
        (Channel::Whatsapp, None) => Err(AppError::conflict(
            "link_deleted",
            "This conversation's WhatsApp link was deleted.",
        )),
    }
}

/// A WhatsApp message only of a kind its link's WAHA can send (422 on `file_id` otherwise,
/// before anything is stored): Core images refuse media before 2026.6, and video always.
async fn link_can_send(core: &Core, out: &Outgoing) -> Result<()> {
    let Some(link) = out.link else {
        return Ok(());
    };
    let Some(row) = crate::db::links::find(&core.db, link).await? else {
        return Ok(());
    };
    if crate::links::can_send(&row).contains(&out.kind) {
        return Ok(());
    }
    Err(AppError::invalid(
        "file_id",
        &format!(
            "this WhatsApp link (WAHA {} {}) cannot send {} messages",
            row.waha_tier.as_deref().unwrap_or("?"),
            row.waha_version.as_deref().unwrap_or("?"),
            out.kind
        ),
    ))
}

/// Nobody in the conversation has blocked the author; in-app text passes the word filter.
async fn moderate(
    tx: &mut PgConnection,
    core: &Core,
    user: &AuthUser,
    conv: &ConversationRow,
    body: Option<&str>,
) -> Result<()> {
    crate::moderation::ensure_can_reach(tx, user.id, conv).await?;
    if conv.channel == Channel::InApp {
        if let Some(b) = body {
            crate::moderation::check_words(&core.word_filter, b)?;
        }
    }
    Ok(())
}

/// Store the message: `pending` on WhatsApp (the outbox sends it), `sent` in the app. `None`
/// when the author's client id is already taken.
async fn store(
    tx: &mut PgConnection,
    user: &AuthUser,
    conv: &ConversationRow,
    draft: &Draft<'_>,
    out: &Outgoing,
) -> Result<Option<MessageRow>> {
    let status = if out.link.is_some() {
        MessageStatus::Pending
    } else {
        MessageStatus::Sent
    };
    q::insert_message(
        tx,
        NewMessage {
            conversation: conv.id,
            direction: Direction::Out,
            author_user: Some(user.id),
            author_contact: None,
            kind: out.kind,
            body: draft.body,
            media_file: out.file,
            meta: json!({}),
            reply_to: out.reply_to,
            status,
            link: out.link,
            wa_message_id: None,
            wa_key_id: None,
            client_id: Some(draft.client_id),
            sent_at: Utc::now(),
        },
    )
    .await
}

/// Queue the send through the link's WAHA, to give up after `--send-deadline-secs`.
async fn queue_for_whatsapp(
    tx: &mut PgConnection,
    core: &Core,
    msg: &MessageRow,
    link: Uuid,
) -> Result<()> {
    let deadline = Utc::now()
        + chrono::Duration::seconds(i64::try_from(core.config.send_deadline_secs).unwrap_or(600));
    outbox::enqueue(
        tx,
        outbox::SEND,
        Some(msg.id),
        Some(link),
        json!({}),
        Some(deadline),
    )
    .await
}

/// Move the conversation's activity forward (reopening it when archived) and announce the
/// message and the conversation.
async fn announce(tx: &mut PgConnection, conv: &ConversationRow, msg: &MessageRow) -> Result<()> {
    q::touch_conversation(&mut *tx, conv.id, msg.sent_at).await?;
    publish_message(tx, conv, msg.id, "message.created").await?;
    publish_conversation(tx, conv).await
}

/// The message as its author sees it.
async fn render(core: &Core, user: &AuthUser, id: Uuid) -> Result<MessageDto> {
    let mut conn = core.db.acquire().await?;
    views::message_dto(&mut conn, Viewer::of(user), id)
        .await?
        .ok_or(AppError::NotFound)
}
