//! Messages once written: reading a conversation's timeline (or the merged timeline of one
//! person on both channels), editing and deleting one's own in-app message while unread,
//! reactions, internal notes, and full-text search. Sending is [`super::send`].
//!
//! Invariants:
//! - Every message id a client sends goes through [`access::visible_message`]: a note is as
//!   unknown to a buyer as a wrong id.
//! - Edits, reactions and notes are announced (`message.created` / `message.updated`) in the
//!   transaction that makes them; whatever reaches the other side first passes moderation
//!   (`ensure_can_reach`, the in-app word filter).
//! - A message may change only while the other side has not read it, and only in the app
//!   (or as a note): WhatsApp messages cannot be changed from here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::access::{self, Viewer};
use super::outbox;
use super::publish::publish_message;
use super::views::{self, MessageDto};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::chat::{self as q, ConversationRow, MessageRow, NewMessage};
use crate::db::{chat_views, reads};
use crate::error::{AppError, FieldError, Result};
use crate::model::{Channel, Direction, MessageKind, MessageStatus};

/// Longest message an agent or buyer may send (or edit, or note), in characters.
pub const MAX_BODY_CHARS: usize = 5000;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQueryParams {
    /// Messages older than this message id.
    pub before: Option<Uuid>,
    /// Messages newer than this message id (then oldest first).
    pub after: Option<Uuid>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// Staff: include the related conversations on the other channel (one timeline for the
    /// same person on WhatsApp and in the app).
    pub merged: Option<bool>,
}

/// A conversation's messages, newest first (or oldest first after `after`).
pub async fn list(
    core: &Core,
    user: &AuthUser,
    conv_id: Uuid,
    query: &MessagesQueryParams,
) -> Result<Vec<MessageDto>> {
    let conv = access::visible(core, user, conv_id).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 200"));
    }
    if query.before.is_some() && query.after.is_some() {
        return Err(AppError::invalid("after", "use either before or after"));
    }
    let viewer = Viewer::of(user);
    let internal_ok = viewer.sees_internal();
    let mut conn = core.db.acquire().await?;
    let mut convs = vec![conv.id];
    if query.merged == Some(true) && internal_ok {
        convs.extend(
            chat_views::related_conversations(
                &mut *conn,
                conv.channel,
                conv.agent_id,
                conv.buyer_id,
                conv.contact_id,
            )
            .await?,
        );
    }
    // A cursor the viewer may not see (a note, for a buyer) is as unknown as a wrong id.
    let anchor = match query.before.or(query.after) {
        Some(m) => Some(
            chat_views::message_position(&mut *conn, m, &convs, internal_ok)
                .await?
                .ok_or_else(|| {
                    let field = if query.after.is_some() {
                        "after"
                    } else {
                        "before"
                    };
                    AppError::invalid(field, "no such message in this conversation")
                })?,
        ),
        None => None,
    };
    let ids = chat_views::message_page(
        &mut *conn,
        &convs,
        internal_ok,
        anchor,
        query.after.is_some(),
        limit,
    )
    .await?;
    views::message_dtos(&mut conn, viewer, &ids).await
}

/// Has the other side read this message? (Edits and deletes are allowed only until then.)
async fn read_by_other(
    core: &Core,
    conv: &ConversationRow,
    author: Uuid,
    sent_at: DateTime<Utc>,
) -> Result<bool> {
    let Some(other) = access::other_side(conv, author) else {
        return Ok(false);
    };
    let read_up_to = reads::read_up_to(&core.db, conv.id, other).await?;
    Ok(read_up_to.is_some_and(|t| t >= sent_at))
}

/// The caller's own message that they may still change: in the app (or a note), not
/// deleted, not yet read by the other side.
async fn own_unread_message(
    core: &Core,
    user: &AuthUser,
    conv: &ConversationRow,
    message: Uuid,
) -> Result<MessageRow> {
    let mut conn = core.db.acquire().await?;
    let msg = access::visible_message(&mut conn, Viewer::of(user), conv, message)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    if msg.author_user_id != Some(user.id) {
        return Err(AppError::forbidden(
            "not_your_message",
            "You can only change your own messages.",
        ));
    }
    if conv.channel != Channel::InApp && !msg.internal {
        return Err(AppError::conflict(
            "channel_not_supported",
            "WhatsApp messages cannot be changed from here.",
        ));
    }
    if msg.deleted_at.is_some() {
        return Err(AppError::conflict(
            "message_deleted",
            "The message was deleted.",
        ));
    }
    if !msg.internal && read_by_other(core, conv, user.id, msg.sent_at).await? {
        return Err(AppError::conflict(
            "already_read",
            "The other side has read this message; it can no longer be changed.",
        ));
    }
    Ok(msg)
}

/// The message as the caller sees it now.
async fn render(core: &Core, viewer: Viewer, id: Uuid) -> Result<MessageDto> {
    let mut conn = core.db.acquire().await?;
    views::message_dto(&mut conn, viewer, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    pub body: String,
}

/// Edit one's own in-app message (or note) while the other side has not read it.
pub async fn edit(
    core: &Core,
    user: &AuthUser,
    conv_id: Uuid,
    message_id: Uuid,
    req: &EditRequest,
) -> Result<MessageDto> {
    let conv = access::visible(core, user, conv_id).await?;
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid("body", "must be 1 to 5000 characters"));
    }
    if conv.channel == Channel::InApp {
        crate::moderation::check_words(&core.word_filter, body)?;
    }
    let msg = own_unread_message(core, user, &conv, message_id).await?;
    let mut tx = core.db.begin().await?;
    if !msg.internal {
        crate::moderation::ensure_can_reach(&mut tx, user.id, &conv).await?;
    }
    q::edit_body(&mut *tx, msg.id, body).await?;
    publish_message(&mut tx, &conv, msg.id, "message.updated").await?;
    tx.commit().await?;
    render(core, Viewer::of(user), msg.id).await
}

/// Delete one's own in-app message (or note) while the other side has not read it. Allowed
/// even towards someone who blocked the caller: it takes content away.
pub async fn delete(core: &Core, user: &AuthUser, conv_id: Uuid, message_id: Uuid) -> Result<()> {
    let conv = access::visible(core, user, conv_id).await?;
    let msg = own_unread_message(core, user, &conv, message_id).await?;
    let mut tx = core.db.begin().await?;
    q::mark_deleted(&mut *tx, msg.id).await?;
    publish_message(&mut tx, &conv, msg.id, "message.updated").await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactRequest {
    /// One emoji; empty removes the caller's reaction.
    pub emoji: String,
}

/// React to a message (on WhatsApp the agent's reaction reaches the buyer's phone too).
pub async fn react(
    core: &Core,
    user: &AuthUser,
    conv_id: Uuid,
    message_id: Uuid,
    req: &ReactRequest,
) -> Result<MessageDto> {
    let conv = access::visible(core, user, conv_id).await?;
    if req.emoji.chars().count() > 8 {
        return Err(AppError::invalid("emoji", "must be one emoji"));
    }
    let viewer = Viewer::of(user);
    let msg = access::visible_message(&mut *core.db.acquire().await?, viewer, &conv, message_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = core.db.begin().await?;
    if !msg.internal {
        crate::moderation::ensure_can_reach(&mut tx, user.id, &conv).await?;
    }
    q::set_reaction(&mut *tx, msg.id, &format!("user:{}", user.id), &req.emoji).await?;
    if conv.channel == Channel::Whatsapp && conv.agent_id == user.id {
        if let (Some(link), Some(wa)) = (conv.link_id, msg.wa_message_id.as_deref()) {
            outbox::enqueue(
                &mut tx,
                outbox::REACT,
                None,
                Some(link),
                outbox::reaction_payload(wa, &req.emoji),
                None,
            )
            .await?;
        }
    }
    publish_message(&mut tx, &conv, msg.id, "message.updated").await?;
    tx.commit().await?;
    core.outbox_wake.notify_one();
    render(core, viewer, msg.id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub body: String,
}

/// Add an internal note the buyer never sees. Agency staff.
pub async fn add_note(
    core: &Core,
    user: &AuthUser,
    conv_id: Uuid,
    req: &NoteRequest,
) -> Result<MessageDto> {
    let conv = access::visible(core, user, conv_id).await?;
    access::ensure_staff(user, "Only agency staff write internal notes.")?;
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::Validation(vec![FieldError::new(
            "body",
            "must be 1 to 5000 characters",
        )]));
    }
    let mut tx = core.db.begin().await?;
    let msg = q::insert_message(
        &mut *tx,
        NewMessage {
            conversation: conv.id,
            direction: Direction::Out,
            author_user: Some(user.id),
            author_contact: None,
            kind: MessageKind::Note,
            body: Some(body),
            media_file: None,
            meta: json!({}),
            reply_to: None,
            status: MessageStatus::Sent,
            link: None,
            wa_message_id: None,
            wa_key_id: None,
            client_id: None,
            sent_at: Utc::now(),
        },
    )
    .await?
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("note insert conflicted")))?;
    q::mark_internal(&mut *tx, msg.id).await?;
    // Notes reach staff only: publish_message renders per viewer.
    publish_message(&mut tx, &conv, msg.id, "message.created").await?;
    tx.commit().await?;
    render(core, Viewer::Staff, msg.id).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (web-search syntax: quotes, `or`, `-word`). Spanish and English stems.
    pub q: String,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub conversation_id: Uuid,
    pub message: MessageDto,
}

/// Full-text search over the messages the caller can see, best match first.
pub async fn search(core: &Core, user: &AuthUser, query: &SearchQuery) -> Result<Vec<SearchHit>> {
    access::ensure_reader(user)?;
    let text = query.q.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(AppError::invalid("q", "must be 1 to 200 characters"));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 100"));
    }
    let viewer = Viewer::of(user);
    let scope = access::scope(core, user);
    let ids =
        chat_views::search_messages(&core.db, &scope, text, viewer.sees_internal(), limit).await?;
    let mut conn = core.db.acquire().await?;
    let dtos = views::message_dtos(&mut conn, viewer, &ids).await?;
    Ok(dtos
        .into_iter()
        .map(|m| SearchHit {
            conversation_id: m.conversation_id,
            message: m,
        })
        .collect())
}
