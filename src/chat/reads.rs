//! Read receipts: marking a conversation read up to a message (the other side sees it; on
//! WhatsApp the buyer gets blue ticks) or unread again (only the reader's own sockets hear).
//! Shared by the HTTP handlers and the WebSocket's `read` frame.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::access::visible;
use super::outbox;
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::chat as q;
use crate::error::{AppError, Result};

/// Mark a conversation read for `user` up to a message (default: the newest), announce it,
/// and on WhatsApp queue the blue ticks. Shared by the HTTP handler and the WebSocket.
pub async fn mark_read(
    state: &Core,
    user: &AuthUser,
    conv_id: Uuid,
    up_to: Option<Uuid>,
) -> Result<()> {
    let conv = visible(state, user, conv_id).await?;
    let viewer = super::Viewer::of(user);
    let mut conn = state.db.acquire().await?;
    // Only a message the reader may see can be their read marker (a buyer's never is a note).
    let upto = match up_to {
        Some(m) => m,
        None => match q::newest_message(&mut *conn, conv.id, viewer.sees_internal()).await? {
            Some(m) => m,
            None => return Ok(()),
        },
    };
    let upto = super::visible_message(&mut conn, viewer, &conv, upto)
        .await?
        .ok_or_else(|| AppError::invalid("up_to", "no such message in this conversation"))?;
    drop(conn);
    let mut tx = state.db.begin().await?;
    q::set_read_marker(&mut *tx, conv.id, user.id, Some(upto.id)).await?;
    // Who blocked the reader is not told they read it (the reader's marker still moves).
    let tell = crate::moderation::unblocked_audience(&mut tx, user.id, &conv).await?;
    if conv.channel == "whatsapp" && conv.agent_id == user.id {
        let unread: Vec<String> = sqlx::query_scalar!(
            r#"select wa_message_id as "id!" from messages
               where conversation_id = $1 and direction = 'in' and wa_message_id is not null and sent_at <= $2
                 and sent_at > now() - interval '7 days'
               order by sent_at desc limit 100"#,
            conv.id,
            upto.sent_at
        )
        .fetch_all(&mut *tx)
        .await?;
        if let (Some(link), Some(chat_id), false) =
            (conv.link_id, conv.chat_id.as_ref(), unread.is_empty())
        {
            outbox::enqueue(
                &mut tx,
                outbox::SEEN,
                None,
                Some(link),
                json!({"chat_id": chat_id, "message_ids": unread}),
                None,
            )
            .await?;
        }
    }
    super::publish_read(&mut tx, &conv, user.id, &upto, &tell).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// The caller's read state of a conversation after marking it unread.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadState {
    pub conversation_id: Uuid,
    /// The newest message the caller has now read; `null`: none.
    pub up_to: Option<Uuid>,
    /// Messages of the other side the caller has not read (at least 1).
    pub unread_count: i64,
}

/// Move `user`'s read marker to just before the newest message they would count as unread
/// and tell their sockets. Same visibility as [`mark_read`].
pub async fn mark_unread(state: &Core, user: &AuthUser, conv_id: Uuid) -> Result<ReadState> {
    let conv = visible(state, user, conv_id).await?;
    let Some(newest) = q::newest_unreadable_at(&state.db, conv.id, user.id).await? else {
        return Err(AppError::conflict(
            "nothing_to_mark_unread",
            "There is no message from the other side to mark unread.",
        ));
    };
    let mut tx = state.db.begin().await?;
    let up_to = q::last_message_before(&mut *tx, conv.id, newest).await?;
    q::set_read_marker(&mut *tx, conv.id, user.id, up_to).await?;
    crate::realtime::publish(
        &mut tx,
        &[user.id],
        "read",
        &json!({"conversation_id": conv.id, "user_id": user.id, "up_to": up_to, "unread": true}),
    )
    .await?;
    let unread_count = super::inbox::unread_count(&mut tx, user, conv.id).await?;
    tx.commit().await?;
    Ok(ReadState {
        conversation_id: conv.id,
        up_to,
        unread_count,
    })
}
