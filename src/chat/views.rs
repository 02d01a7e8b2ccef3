//! The read model: conversations and messages as a client sees them — message renderings,
//! the shared conversation summary every member is told of, and the per-viewer conversation
//! card of the inbox (unread count, last message's preview, who is on the other side, the
//! listing, the same person's conversations on the other channel).
//!
//! Invariants:
//! - Rendering goes through [`Viewer`]: [`message_dtos`] drops internal notes for buyers and
//!   blanks a `reply_to_id` that points at one; a card's last message and unread count never
//!   count a note for a buyer, and only staff see related conversations.
//! - A deleted message's text is never returned (`body` is null, the preview says so).
//! - Rendering a set costs one statement whatever its size ([`message_dtos`], [`cards`]);
//!   ids a viewer may not see, or that vanished meanwhile, are left out and the rest keep the
//!   order given.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::access::Viewer;
use crate::auth::extract::AuthUser;
use crate::db::chat_views::{self as v, ConversationCard, ConversationSummary};
use crate::error::Result;
use crate::model::{Channel, ConversationStatus, Direction, MessageKind, MessageStatus, Role};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MediaDto {
    pub file_id: Uuid,
    pub mimetype: Option<String>,
    pub size_bytes: Option<i64>,
    pub file_name: Option<String>,
    /// Download it here (with the access token).
    pub url: String,
    /// Images: a small PNG preview.
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReactionDto {
    /// `user:<id>` or `contact:<id>`.
    pub author: String,
    pub emoji: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageDto {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// `in` (from the buyer) or `out` (from the agent).
    pub direction: Direction,
    pub author_user_id: Option<Uuid>,
    pub author_contact_id: Option<Uuid>,
    pub kind: MessageKind,
    /// Null once deleted.
    pub body: Option<String>,
    pub media: Option<MediaDto>,
    /// Location, contact card, the error of a media download, …
    #[schema(value_type = Object)]
    pub meta: Value,
    pub reply_to_id: Option<Uuid>,
    pub status: MessageStatus,
    pub failure_reason: Option<String>,
    pub client_id: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub reactions: Vec<ReactionDto>,
}

fn media_url(file_id: Uuid) -> String {
    format!("/api/v1/files/{file_id}")
}

impl From<v::MessageRendering> for MessageDto {
    fn from(r: v::MessageRendering) -> Self {
        let media = r
            .media_file_id
            .filter(|_| r.deleted_at.is_none())
            .map(|file_id| MediaDto {
                file_id,
                mimetype: r.mimetype.clone(),
                size_bytes: r.size_bytes,
                file_name: r.file_name.clone(),
                url: media_url(file_id),
                thumbnail_url: r
                    .thumbnail_key
                    .as_ref()
                    .map(|_| format!("{}?thumbnail=true", media_url(file_id))),
            });
        Self {
            id: r.id,
            conversation_id: r.conversation_id,
            direction: r.direction,
            author_user_id: r.author_user_id,
            author_contact_id: r.author_contact_id,
            kind: r.kind,
            body: r.body,
            media,
            meta: r.meta,
            reply_to_id: r.reply_to_id,
            status: r.status,
            failure_reason: r.failure_reason,
            client_id: r.client_id,
            sent_at: r.sent_at,
            created_at: r.created_at,
            edited_at: r.edited_at,
            deleted_at: r.deleted_at,
            reactions: serde_json::from_value(r.reactions).unwrap_or_default(),
        }
    }
}

/// Keep `items` that have an id in `ids`, in the order of `ids`.
fn in_order<T>(ids: &[Uuid], items: Vec<T>, id: impl Fn(&T) -> Uuid) -> Vec<T> {
    let mut by_id: HashMap<Uuid, T> = items.into_iter().map(|t| (id(&t), t)).collect();
    ids.iter().filter_map(|i| by_id.remove(i)).collect()
}

/// Messages as `viewer` may see them, by id, in the order given (one statement).
pub async fn message_dtos(
    conn: &mut PgConnection,
    viewer: Viewer,
    ids: &[Uuid],
) -> Result<Vec<MessageDto>> {
    let rows = v::message_renderings(&mut *conn, ids, viewer.sees_internal()).await?;
    let dtos = rows.into_iter().map(MessageDto::from).collect();
    Ok(in_order(ids, dtos, |m: &MessageDto| m.id))
}

pub async fn message_dto(
    conn: &mut PgConnection,
    viewer: Viewer,
    id: Uuid,
) -> Result<Option<MessageDto>> {
    Ok(message_dtos(conn, viewer, &[id]).await?.into_iter().next())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactDto {
    pub id: Uuid,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// A conversation as every member sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationDto {
    pub id: Uuid,
    pub channel: Channel,
    pub status: ConversationStatus,
    /// The agent who owns the conversation (answers it, and whose inbox it is in).
    pub agent_id: Uuid,
    /// That agent's display name: what an agency admin, who sees every agent's
    /// conversations, is shown to tell whose one is whose.
    pub agent_name: String,
    pub link_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub is_group: bool,
    pub contact: Option<ContactDto>,
    pub buyer_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ConversationSummary> for ConversationDto {
    fn from(r: ConversationSummary) -> Self {
        Self {
            id: r.id,
            channel: r.channel,
            status: r.status,
            agent_id: r.agent_id,
            agent_name: r.agent_name,
            link_id: r.link_id,
            chat_id: r.chat_id,
            is_group: r.is_group,
            contact: r.contact_id.map(|id| ContactDto {
                id,
                name: r.contact_name,
                phone: r.contact_phone,
            }),
            buyer_id: r.buyer_id,
            property_id: r.property_id,
            last_message_at: r.last_message_at,
            created_at: r.created_at,
        }
    }
}

pub async fn conversation_dto(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ConversationDto>> {
    Ok(v::conversation_summary(&mut *conn, id)
        .await?
        .map(ConversationDto::from))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastMessage {
    pub id: Uuid,
    pub direction: Direction,
    pub kind: MessageKind,
    /// The first 120 characters of the text, or a word for media ("Photo", "File", …).
    pub preview: String,
    pub sent_at: DateTime<Utc>,
}

/// Who is on the other side of a conversation, for the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CounterpartKind {
    /// A WhatsApp contact (what staff see of a WhatsApp chat).
    Contact,
    /// The buyer (what staff see of an in-app conversation).
    Buyer,
    /// The agent (what a buyer sees).
    Agent,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Counterpart {
    pub kind: CounterpartKind,
    pub id: Uuid,
    pub name: Option<String>,
}

/// A conversation as one viewer sees it in their inbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: ConversationDto,
    pub unread_count: i64,
    pub last_message: Option<LastMessage>,
    pub counterpart: Option<Counterpart>,
    pub property_title: Option<String>,
    /// Other conversations of the same agent with the same person on another channel
    /// (staff only): the buyer's in-app thread and the WhatsApp chat with their phone.
    pub related_conversation_ids: Vec<Uuid>,
}

/// The text of a message in a one-line preview.
fn preview(kind: MessageKind, body: Option<&str>, deleted: bool) -> String {
    if deleted {
        return "Message deleted".into();
    }
    match body.filter(|b| !b.is_empty()) {
        Some(b) => b.chars().take(120).collect(),
        None => match kind {
            MessageKind::Image => "Photo".into(),
            MessageKind::Video => "Video".into(),
            MessageKind::Voice | MessageKind::Audio => "Audio".into(),
            MessageKind::Location => "Location".into(),
            MessageKind::Contact => "Contact card".into(),
            _ => "File".into(),
        },
    }
}

impl ConversationView {
    fn of(viewer: &AuthUser, card: ConversationCard) -> Self {
        let counterpart = match (viewer.role, card.channel) {
            (Role::Buyer, _) => Some(Counterpart {
                kind: CounterpartKind::Agent,
                id: card.agent_id,
                name: Some(card.agent_name.clone()),
            }),
            (_, Channel::InApp) => card.buyer_id.map(|id| Counterpart {
                kind: CounterpartKind::Buyer,
                id,
                name: card.buyer_name,
            }),
            _ => card.contact_id.map(|id| Counterpart {
                kind: CounterpartKind::Contact,
                id,
                name: card
                    .contact_name
                    .clone()
                    .or_else(|| card.contact_phone.clone()),
            }),
        };
        let last_message = match (
            card.last_id,
            card.last_direction,
            card.last_kind,
            card.last_sent_at,
        ) {
            (Some(id), Some(direction), Some(kind), Some(sent_at)) => Some(LastMessage {
                id,
                direction,
                kind,
                preview: preview(
                    kind,
                    card.last_body.as_deref(),
                    card.last_deleted.unwrap_or(false),
                ),
                sent_at,
            }),
            _ => None,
        };
        Self {
            conversation: ConversationDto::from(ConversationSummary {
                id: card.id,
                channel: card.channel,
                status: card.status,
                agent_id: card.agent_id,
                agent_name: card.agent_name,
                link_id: card.link_id,
                chat_id: card.chat_id,
                is_group: card.is_group,
                buyer_id: card.buyer_id,
                property_id: card.property_id,
                last_message_at: card.last_message_at,
                created_at: card.created_at,
                contact_id: card.contact_id,
                contact_name: card.contact_name,
                contact_phone: card.contact_phone,
            }),
            unread_count: card.unread_count,
            last_message,
            counterpart,
            property_title: card.property_title,
            related_conversation_ids: card.related_ids,
        }
    }
}

/// The inbox cards of conversations as `viewer` sees them, by id, in the order given (one
/// statement). The caller has checked the viewer may read each.
pub async fn cards(
    conn: &mut PgConnection,
    viewer: &AuthUser,
    ids: &[Uuid],
) -> Result<Vec<ConversationView>> {
    let staff = Viewer::of(viewer).sees_internal();
    let rows = v::conversation_cards(&mut *conn, ids, viewer.id, staff).await?;
    let views = rows
        .into_iter()
        .map(|card| ConversationView::of(viewer, card))
        .collect();
    Ok(in_order(ids, views, |c: &ConversationView| {
        c.conversation.id
    }))
}

/// One conversation's card; `None` when it vanished.
pub async fn card(
    conn: &mut PgConnection,
    viewer: &AuthUser,
    id: Uuid,
) -> Result<Option<ConversationView>> {
    Ok(cards(conn, viewer, &[id]).await?.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews() {
        assert_eq!(preview(MessageKind::Text, Some("hola"), false), "hola");
        assert_eq!(preview(MessageKind::Image, None, false), "Photo");
        assert_eq!(
            preview(MessageKind::Text, Some("x"), true),
            "Message deleted"
        );
        assert_eq!(
            preview(MessageKind::Text, Some(&"a".repeat(500)), false)
                .chars()
                .count(),
            120
        );
    }

    #[test]
    fn sets_keep_the_order_asked_for_and_drop_the_missing() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(in_order(&[c, a, b], vec![a, b], |x| *x), vec![a, b]);
        assert_eq!(in_order(&[b, a], vec![a, b, c], |x| *x), vec![b, a]);
    }
}
