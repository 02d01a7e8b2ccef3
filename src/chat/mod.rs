//! Conversations and messages as clients see them, and the realtime events that announce
//! their changes.
//!
//! Invariants: a message or conversation change is committed together with the events that
//! announce it (`message.created`, `message.updated`, `conversation.updated`), to the
//! conversation's agent (and buyer, in-app); a deleted message's text is never returned.
//!
//! **One visibility rule.** Which messages a user may see is decided here, by [`Viewer`]:
//! internal notes are for agency staff only. Every path that names, renders or announces a
//! message goes through it — [`visible_message`] for an id a client sent (reactions, read
//! receipts, reply-to anchors, list cursors, edits), [`message_dtos`] for what is rendered
//! (it drops notes for buyers and blanks a `reply_to_id` that points at one), and
//! [`publish_message`] / [`publish_read`] for the stored, replayed event streams, which are
//! written per viewer — so notifications and `?since=` replay, read from those streams, can
//! only hold what their reader may see.
//!
//! Layout: [`outbox`] (the worker that sends agents' WhatsApp messages through WAHA).

pub mod access;
pub mod inbox;
pub mod outbox;
pub mod reads;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::db::chat::{ConversationRow, MessageRow};
use crate::error::Result;
use crate::realtime;

/// Who is looking at a conversation's messages; the one place that decides which ones they
/// may see. Agency staff see internal notes; anyone else (the buyer) never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// Agents and agency admins: every message, notes included.
    Staff,
    /// The buyer (and anyone else who is not agency staff): no internal notes.
    Participant,
}

impl Viewer {
    pub fn of(user: &AuthUser) -> Self {
        if user.role.is_staff() {
            Self::Staff
        } else {
            Self::Participant
        }
    }

    /// May this viewer see internal notes?
    pub fn sees_internal(self) -> bool {
        self == Self::Staff
    }

    /// May this viewer see a message with this `internal` flag?
    pub fn may_see(self, internal: bool) -> bool {
        !internal || self.sees_internal()
    }
}

/// A message of `conv` that `viewer` may see, by the id a client sent; `None` when there is
/// no such message in the conversation *or* the viewer may not see it (the caller answers
/// both the same way, so a note's existence does not show).
pub async fn visible_message(
    conn: &mut PgConnection,
    viewer: Viewer,
    conv: &ConversationRow,
    id: Uuid,
) -> Result<Option<MessageRow>> {
    Ok(crate::db::chat::message(&mut *conn, id)
        .await?
        .filter(|m| m.conversation_id == conv.id && viewer.may_see(m.internal)))
}

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

/// Load messages as `viewer` may see them, by id, in the order given: messages they may not
/// see are left out, and a `reply_to_id` pointing at one is null.
pub async fn message_dtos(
    conn: &mut PgConnection,
    viewer: Viewer,
    ids: &[Uuid],
) -> Result<Vec<MessageDto>> {
    let rows = sqlx::query!(
        r#"select m.id, m.conversation_id, m.direction, m.author_user_id, m.author_contact_id, m.kind,
                  case when m.deleted_at is null then m.body end as body,
                  m.media_file_id, f.mimetype as "mimetype?", f.size_bytes as "size_bytes?",
                  f.original_name as "file_name?", f.thumbnail_key as "thumbnail_key?", m.meta,
                  case when rm.internal and not $2 then null else m.reply_to_id end as reply_to_id, m.status, m.failure_reason,
                  m.client_id, m.sent_at, m.created_at, m.edited_at, m.deleted_at,
                  coalesce((select json_agg(json_build_object('author', r.author_key, 'emoji', r.emoji) order by r.created_at)
                            from message_reactions r where r.message_id = m.id), '[]'::json) as "reactions!"
           from messages m left join files f on f.id = m.media_file_id
                left join messages rm on rm.id = m.reply_to_id
           where m.id = any($1) and (not m.internal or $2)"#,
        ids,
        viewer.sees_internal()
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

/// The audience with the eyes each member sees through: the agent as staff, the buyer as a
/// participant.
pub fn viewers(conv: &ConversationRow) -> Vec<(Uuid, Viewer)> {
    let mut v = vec![(conv.agent_id, Viewer::Staff)];
    v.extend(
        conv.buyer_id
            .filter(|b| *b != conv.agent_id)
            .map(|b| (b, Viewer::Participant)),
    );
    v
}

/// Announce a message (created or updated) inside the caller's transaction, to each member
/// of the audience as they may see it: a note reaches staff only; a reply to a note reaches
/// the buyer without its `reply_to_id`.
pub async fn publish_message(
    conn: &mut PgConnection,
    conv: &ConversationRow,
    message: Uuid,
    kind: &str,
) -> Result<()> {
    for (user, viewer) in viewers(conv) {
        if let Some(dto) = message_dto(&mut *conn, viewer, message).await? {
            let data = json!({"conversation_id": conv.id, "message": dto});
            realtime::publish(&mut *conn, &[user], kind, &data).await?;
        }
    }
    Ok(())
}

/// Announce that `reader` read `conv` up to `up_to`, inside the caller's transaction, to the
/// members of the audience in `tell`. Each hears of the newest message *they* may see at or
/// before `up_to` (staff may read up to a note; the buyer is told of the message before it,
/// or `null`).
pub async fn publish_read(
    conn: &mut PgConnection,
    conv: &ConversationRow,
    reader: Uuid,
    up_to: &MessageRow,
    tell: &[Uuid],
) -> Result<()> {
    for (user, viewer) in viewers(conv) {
        if !tell.contains(&user) {
            continue;
        }
        let shown = if viewer.may_see(up_to.internal) {
            Some(up_to.id)
        } else {
            crate::db::chat::last_visible_at_or_before(&mut *conn, conv.id, up_to.sent_at, up_to.id)
                .await?
        };
        realtime::publish(
            &mut *conn,
            &[user],
            "read",
            &json!({"conversation_id": conv.id, "user_id": reader, "up_to": shown}),
        )
        .await?;
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
