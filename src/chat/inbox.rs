//! The inbox view of conversations: what each viewer sees beyond the shared conversation
//! (their unread count, the last message's preview, who is on the other side), in-app
//! conversations about listings, and the cross-channel link between a buyer's in-app thread
//! and the agent's WhatsApp chat with the same phone number.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::ConversationDto;
use crate::auth::extract::AuthUser;
use crate::db::chat::ConversationRow;
use crate::error::Result;
use crate::model::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastMessage {
    pub id: Uuid,
    /// in | out
    pub direction: String,
    pub kind: String,
    /// The first 120 characters of the text, or a word for media ("Photo", "File", …).
    pub preview: String,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Counterpart {
    /// `contact` (a WhatsApp contact), `buyer` or `agent`.
    pub kind: String,
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

fn preview(kind: &str, body: Option<&str>, deleted: bool) -> String {
    if deleted {
        return "Message deleted".into();
    }
    match body.filter(|b| !b.is_empty()) {
        Some(b) => b.chars().take(120).collect(),
        None => match kind {
            "image" => "Photo".into(),
            "video" => "Video".into(),
            "voice" | "audio" => "Audio".into(),
            "location" => "Location".into(),
            "contact" => "Contact card".into(),
            _ => "File".into(),
        },
    }
}

/// Messages of the other side the viewer has not read yet.
pub async fn unread_count(conn: &mut PgConnection, viewer: &AuthUser, conv: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from messages m
           where m.conversation_id = $1 and m.deleted_at is null and not m.internal
             and coalesce(m.author_user_id, '00000000-0000-0000-0000-000000000000'::uuid) <> $2
             and (m.direction = 'in' or m.author_user_id is not null)
             and m.sent_at > coalesce((select lm.sent_at from conversation_reads r join messages lm on lm.id = r.last_read_message_id
                                       where r.conversation_id = $1 and r.user_id = $2), '-infinity'::timestamptz)"#,
        conv,
        viewer.id
    )
    .fetch_one(conn)
    .await?)
}

/// Conversations of the same agent with the same person on the other channel.
pub async fn related(conn: &mut PgConnection, conv: &ConversationRow) -> Result<Vec<Uuid>> {
    Ok(match conv.channel.as_str() {
        "in_app" => {
            sqlx::query_scalar!(
                r#"select c.id from conversations c
               join contacts k on k.id = c.contact_id
               join users b on b.id = $2 and b.phone is not null and k.phone = b.phone
               where c.agent_id = $1 and c.channel = 'whatsapp' and not c.is_group
               order by c.last_message_at desc nulls last limit 10"#,
                conv.agent_id,
                conv.buyer_id
            )
            .fetch_all(conn)
            .await?
        }
        _ => {
            sqlx::query_scalar!(
                r#"select c.id from conversations c
               join users b on b.id = c.buyer_id
               join contacts k on k.id = $2 and k.phone is not null and k.phone = b.phone
               where c.agent_id = $1 and c.channel = 'in_app'
               order by c.last_message_at desc nulls last limit 10"#,
                conv.agent_id,
                conv.contact_id
            )
            .fetch_all(conn)
            .await?
        }
    })
}

pub async fn view(
    conn: &mut PgConnection,
    viewer: &AuthUser,
    conv: &ConversationRow,
) -> Result<Option<ConversationView>> {
    let Some(dto) = super::conversation_dto(&mut *conn, conv.id).await? else {
        return Ok(None);
    };
    let staff = super::Viewer::of(viewer).sees_internal();
    let last = sqlx::query!(
        r#"select id, direction, kind, body, deleted_at is not null as "deleted!", sent_at from messages
           where conversation_id = $1 and (not internal or $2) order by sent_at desc, id desc limit 1"#,
        conv.id,
        staff
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|m| LastMessage {
        id: m.id,
        preview: preview(&m.kind, m.body.as_deref(), m.deleted),
        direction: m.direction,
        kind: m.kind,
        sent_at: m.sent_at,
    });
    let counterpart = match (viewer.role, conv.channel.as_str()) {
        (Role::Buyer, _) => {
            let name = sqlx::query_scalar!(
                "select display_name from users where id = $1",
                conv.agent_id
            )
            .fetch_optional(&mut *conn)
            .await?;
            Some(Counterpart {
                kind: "agent".into(),
                id: conv.agent_id,
                name,
            })
        }
        (_, "in_app") => match conv.buyer_id {
            Some(b) => {
                let name = sqlx::query_scalar!("select display_name from users where id = $1", b)
                    .fetch_optional(&mut *conn)
                    .await?;
                Some(Counterpart {
                    kind: "buyer".into(),
                    id: b,
                    name,
                })
            }
            None => None,
        },
        _ => dto.contact.as_ref().map(|c| Counterpart {
            kind: "contact".into(),
            id: c.id,
            name: c.name.clone().or_else(|| c.phone.clone()),
        }),
    };
    let property_title = match conv.property_id {
        Some(p) => {
            sqlx::query_scalar!("select title from properties where id = $1", p)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    let related = if staff {
        related(&mut *conn, conv).await?
    } else {
        Vec::new()
    };
    Ok(Some(ConversationView {
        unread_count: unread_count(&mut *conn, viewer, conv.id).await?,
        conversation: dto,
        last_message: last,
        counterpart,
        property_title,
        related_conversation_ids: related,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews() {
        assert_eq!(preview("text", Some("hola"), false), "hola");
        assert_eq!(preview("image", None, false), "Photo");
        assert_eq!(preview("text", Some("x"), true), "Message deleted");
        assert_eq!(
            preview("text", Some(&"a".repeat(500)), false)
                .chars()
                .count(),
            120
        );
    }
}
