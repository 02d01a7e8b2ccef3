//! Conversations and messages as clients see them, and the realtime events that announce
//! their changes.
//!
//! Invariants: a message or conversation change is committed together with the events that
//! announce it (`message.created`, `message.updated`, `conversation.updated`), to the
//! conversation's agent (and buyer, in-app); a deleted message's text is never returned.
//!
//! Layout: [`outbox`] (the worker that sends agents' WhatsApp messages through WAHA).

pub mod inbox;
pub mod outbox;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::chat::ConversationRow;
use crate::error::Result;
use crate::realtime;

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
    pub direction: String,
    pub author_user_id: Option<Uuid>,
    pub author_contact_id: Option<Uuid>,
    /// text | image | file | audio | voice | video | location | contact | system | offer | note
    pub kind: String,
    /// Null once deleted.
    pub body: Option<String>,
    pub media: Option<MediaDto>,
    /// Location, contact card, the error of a media download, …
    #[schema(value_type = Object)]
    pub meta: Value,
    pub reply_to_id: Option<Uuid>,
    /// pending | sent | delivered | read | failed
    pub status: String,
    pub failure_reason: Option<String>,
    pub client_id: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub reactions: Vec<ReactionDto>,
}

/// Load messages as DTOs, by id, in the order given.
pub async fn message_dtos(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<MessageDto>> {
    let rows = sqlx::query!(
        r#"select m.id, m.conversation_id, m.direction, m.author_user_id, m.author_contact_id, m.kind,
                  case when m.deleted_at is null then m.body end as body,
                  m.media_file_id, f.mimetype as "mimetype?", f.size_bytes as "size_bytes?",
                  f.original_name as "file_name?", f.thumbnail_key as "thumbnail_key?", m.meta, m.reply_to_id, m.status, m.failure_reason,
                  m.client_id, m.sent_at, m.created_at, m.edited_at, m.deleted_at,
                  coalesce((select json_agg(json_build_object('author', r.author_key, 'emoji', r.emoji) order by r.created_at)
                            from message_reactions r where r.message_id = m.id), '[]'::json) as "reactions!"
           from messages m left join files f on f.id = m.media_file_id
           where m.id = any($1)"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<MessageDto> = rows
        .into_iter()
        .map(|r| MessageDto {
            id: r.id,
            conversation_id: r.conversation_id,
            direction: r.direction,
            author_user_id: r.author_user_id,
            author_contact_id: r.author_contact_id,
            kind: r.kind,
            body: r.body,
            media: r
                .media_file_id
                .filter(|_| r.deleted_at.is_none())
                .map(|file_id| MediaDto {
                    file_id,
                    mimetype: r.mimetype.clone(),
                    size_bytes: r.size_bytes,
                    file_name: r.file_name.clone(),
                    url: format!("/api/v1/files/{file_id}"),
                    thumbnail_url: r
                        .thumbnail_key
                        .as_ref()
                        .map(|_| format!("/api/v1/files/{file_id}?thumbnail=true")),
                }),
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
        })
        .collect();
    out.sort_by_key(|m| ids.iter().position(|i| *i == m.id));
    Ok(out)
}

pub async fn message_dto(conn: &mut PgConnection, id: Uuid) -> Result<Option<MessageDto>> {
    Ok(message_dtos(conn, &[id]).await?.into_iter().next())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactDto {
    pub id: Uuid,
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationDto {
    pub id: Uuid,
    /// `whatsapp` or `in_app`.
    pub channel: String,
    /// open | archived | closed
    pub status: String,
    pub agent_id: Uuid,
    pub link_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub is_group: bool,
    pub contact: Option<ContactDto>,
    pub buyer_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn conversation_dto(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ConversationDto>> {
    let row = sqlx::query!(
        r#"select c.id, c.channel, c.status, c.agent_id, c.link_id, c.chat_id, c.is_group, c.buyer_id,
                  c.property_id, c.last_message_at, c.created_at,
                  k.id as "contact_id?", k.push_name as "contact_name?", k.phone as "contact_phone?"
           from conversations c left join contacts k on k.id = c.contact_id where c.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| ConversationDto {
        id: r.id,
        channel: r.channel,
        status: r.status,
        agent_id: r.agent_id,
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
    }))
}

/// Who hears about a conversation: its agent and, in-app, its buyer.
pub fn audience(conv: &ConversationRow) -> Vec<Uuid> {
    let mut v = vec![conv.agent_id];
    v.extend(conv.buyer_id);
    v
}

/// Announce a message (created or updated) inside the caller's transaction.
pub async fn publish_message(
    conn: &mut PgConnection,
    conv: &ConversationRow,
    message: Uuid,
    kind: &str,
) -> Result<()> {
    if let Some(dto) = message_dto(&mut *conn, message).await? {
        let data = json!({"conversation_id": conv.id, "message": dto});
        realtime::publish(&mut *conn, &audience(conv), kind, &data).await?;
    }
    Ok(())
}

/// Announce a conversation's new state inside the caller's transaction.
pub async fn publish_conversation(conn: &mut PgConnection, conv: &ConversationRow) -> Result<()> {
    if let Some(dto) = conversation_dto(&mut *conn, conv.id).await? {
        realtime::publish(
            &mut *conn,
            &audience(conv),
            "conversation.updated",
            &json!({"conversation": dto}),
        )
        .await?;
    }
    Ok(())
}
