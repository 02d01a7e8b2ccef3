//! The realtime events that announce chat changes: `message.created`, `message.updated`,
//! `read` and `conversation.updated`, to a conversation's audience (its agent and, in-app,
//! its buyer).
//!
//! Invariants:
//! - Every function here runs inside the caller's transaction, so a change is committed
//!   together with the events that announce it (or neither is).
//! - The stored, replayed event streams are written per viewer ([`viewers`]): a note reaches
//!   staff only, a reply to a note reaches the buyer without its `reply_to_id`, a read marker
//!   on a note is shown to the buyer as the message before it — so notifications and
//!   `?since=` replay, read from those streams, can only hold what their reader may see.
//! - An edit or a deletion rewrites the message's text in every stored event of it, so the
//!   old text (or any text of a deleted message) is never replayed.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::access::Viewer;
use super::views::{conversation_dto, message_dto, MessageDto};
use crate::db::chat::{ConversationRow, MessageRow};
use crate::db::{self, reads};
use crate::error::Result;
use crate::realtime;

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

/// The agency's admins besides the conversation's agent: they oversee every conversation of
/// the agency (their inbox is agency-wide), so they hear of its messages and its state as
/// staff, live like its agent.
pub async fn overseers(conn: &mut PgConnection, conv: &ConversationRow) -> Result<Vec<Uuid>> {
    let mut admins = db::users::active_admin_ids(&mut *conn, conv.agency_id).await?;
    admins.retain(|a| *a != conv.agent_id && Some(*a) != conv.buyer_id);
    Ok(admins)
}

/// [`viewers`] and the [`overseers`], each with the eyes they see through.
pub async fn viewers_and_overseers(
    conn: &mut PgConnection,
    conv: &ConversationRow,
) -> Result<Vec<(Uuid, Viewer)>> {
    let mut v = viewers(conv);
    v.extend(
        overseers(conn, conv)
            .await?
            .into_iter()
            .map(|a| (a, Viewer::Staff)),
    );
    Ok(v)
}

/// Announce a message (created or updated) to each member of the audience, and to the
/// agency's admins, as they may see it.
pub async fn publish_message(
    conn: &mut PgConnection,
    conv: &ConversationRow,
    message: Uuid,
    kind: &str,
) -> Result<()> {
    for (user, viewer) in viewers_and_overseers(&mut *conn, conv).await? {
        if let Some(dto) = message_dto(&mut *conn, viewer, message).await? {
            if dto.edited_at.is_some() || dto.deleted_at.is_some() {
                forget_old_text(&mut *conn, user, &dto).await?;
            }
            let data = json!({"conversation_id": conv.id, "message": dto});
            realtime::publish(&mut *conn, &[user], kind, &data).await?;
        }
    }
    Ok(())
}

/// An edited or deleted message's earlier text is rewritten in every event `user` has
/// stored of it (notifications, `?since=` replay read them): the edited text, or for a
/// deleted message no body, no media and no meta.
async fn forget_old_text(conn: &mut PgConnection, user: Uuid, dto: &MessageDto) -> Result<()> {
    let fields = json!({
        "body": dto.body,
        "media": dto.media,
        "meta": dto.meta,
        "edited_at": dto.edited_at,
        "deleted_at": dto.deleted_at,
    });
    db::realtime::rewrite_message_events(&mut *conn, user, dto.id, &fields).await?;
    Ok(())
}

/// Announce that `reader` read `conv` up to `up_to` to the members of the audience in
/// `tell`. Each hears of the newest message *they* may see at or before `up_to` (staff may
/// read up to a note; the buyer is told of the message before it, or `null`).
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
            reads::last_visible_at_or_before(&mut *conn, conv.id, up_to.sent_at, up_to.id).await?
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

/// Tell only `reader`'s own sockets that they marked `conv` unread (their marker is now
/// `up_to`).
pub async fn publish_unread(
    conn: &mut PgConnection,
    conv: &ConversationRow,
    reader: Uuid,
    up_to: Option<Uuid>,
) -> Result<()> {
    realtime::publish(
        &mut *conn,
        &[reader],
        "read",
        &json!({"conversation_id": conv.id, "user_id": reader, "up_to": up_to, "unread": true}),
    )
    .await
}

/// Announce a conversation's new state, to its audience and the agency's admins.
pub async fn publish_conversation(conn: &mut PgConnection, conv: &ConversationRow) -> Result<()> {
    if let Some(dto) = conversation_dto(&mut *conn, conv.id).await? {
        let mut to = audience(conv);
        to.extend(overseers(&mut *conn, conv).await?);
        realtime::publish(
            &mut *conn,
            &to,
            "conversation.updated",
            &json!({"conversation": dto}),
        )
        .await?;
    }
    Ok(())
}

/// Tell the agent a conversation was taken from them and given to `to`.
pub async fn publish_reassigned(
    conn: &mut PgConnection,
    conv: &ConversationRow,
    to: Uuid,
) -> Result<()> {
    realtime::publish(
        &mut *conn,
        &[conv.agent_id],
        "conversation.updated",
        &json!({"conversation_id": conv.id, "reassigned_to": to}),
    )
    .await
}
