//! Read receipts and what is unread: marking a conversation read up to a message (the other
//! side hears of it; on WhatsApp the buyer gets blue ticks) or unread again (only the
//! reader's own sockets hear), and the caller's unread totals across the inbox.
//!
//! Invariants:
//! - A read marker only ever points at a message its reader may see (a buyer's never is a
//!   note); what counts as unread is `db::reads`'s one rule.
//! - Whoever blocked the reader is not told they read it; the reader's marker still moves.
//!
//! Shared by the HTTP handlers and the WebSocket's `read` frame.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::access::{self, Viewer};
use super::outbox;
use super::publish::{publish_read, publish_unread};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::reads as q;
use crate::error::{AppError, Result};
use crate::model::{Channel, Role};

/// Mark a conversation read for `user` up to a message (default: the newest they may see),
/// announce it, and on WhatsApp queue the blue ticks (when the agent reads).
pub async fn mark_read(
    state: &Core,
    user: &AuthUser,
    conv_id: Uuid,
    up_to: Option<Uuid>,
) -> Result<()> {
    let conv = access::visible(state, user, conv_id).await?;
    let viewer = Viewer::of(user);
    let mut conn = state.db.acquire().await?;
    let upto = match up_to {
        Some(m) => m,
        None => match q::newest_message(&mut *conn, conv.id, viewer.sees_internal()).await? {
            Some(m) => m,
            None => return Ok(()),
        },
    };
    let upto = access::visible_message(&mut conn, viewer, &conv, upto)
        .await?
        .ok_or_else(|| AppError::invalid("up_to", "no such message in this conversation"))?;
    drop(conn);
    let mut tx = state.db.begin().await?;
    q::set_read_marker(&mut *tx, conv.id, user.id, Some(upto.id)).await?;
    let tell = crate::moderation::unblocked_audience(&mut tx, user.id, &conv).await?;
    if conv.channel == Channel::Whatsapp && conv.agent_id == user.id {
        let unread = q::unread_wa_message_ids(&mut *tx, conv.id, upto.sent_at).await?;
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
    publish_read(&mut tx, &conv, user.id, &upto, &tell).await?;
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
/// and tell their sockets. Same visibility as [`mark_read`]; 409 `nothing_to_mark_unread`
/// while the other side has written nothing.
pub async fn mark_unread(state: &Core, user: &AuthUser, conv_id: Uuid) -> Result<ReadState> {
    let conv = access::visible(state, user, conv_id).await?;
    let Some(newest) = q::newest_unreadable_at(&state.db, conv.id, user.id).await? else {
        return Err(AppError::conflict(
            "nothing_to_mark_unread",
            "There is no message from the other side to mark unread.",
        ));
    };
    let mut tx = state.db.begin().await?;
    let up_to = q::last_message_before(&mut *tx, conv.id, newest).await?;
    q::set_read_marker(&mut *tx, conv.id, user.id, up_to).await?;
    publish_unread(&mut tx, &conv, user.id, up_to).await?;
    let unread_count = q::unread_count(&mut *tx, conv.id, user.id).await?;
    tx.commit().await?;
    Ok(ReadState {
        conversation_id: conv.id,
        up_to,
        unread_count,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    /// Conversations with something unread.
    pub conversations: i64,
    /// Unread messages in all of them.
    pub messages: i64,
}

/// What the caller has not read yet, across their inbox (closed conversations aside).
/// Operators read no conversations: nothing.
pub async fn unread_totals(core: &Core, user: &AuthUser) -> Result<UnreadCount> {
    if user.role == Role::Operator {
        return Ok(UnreadCount {
            conversations: 0,
            messages: 0,
        });
    }
    let totals = q::unread_totals(&core.db, &access::scope(core, user)).await?;
    Ok(UnreadCount {
        conversations: totals.conversations,
        messages: totals.messages,
    })
}
