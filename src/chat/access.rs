//! Who may see and do what in the chat: the one access policy that the HTTP handlers, the
//! WebSocket, moderation and file downloads all use.
//!
//! - **Conversations.** An agent sees their own conversations, an agency admin their
//!   agency's, a buyer their own; operators see none ([`can_see`]). Group chats only when the
//!   inbox shows them (`--inbox-groups`, [`can_read`]). Anything else is answered as absent
//!   (404), never as forbidden, so a conversation's existence does not show.
//! - **Messages.** Internal notes are for agency staff only: [`Viewer`] decides, and
//!   [`visible_message`] is how an id a client sent (reactions, read receipts, reply-to
//!   anchors, list cursors, edits) becomes a message.
//! - **Writing.** Only the conversation's agent — and, in the app, its buyer — write in it
//!   ([`ensure_participant`]); staff alone write notes and change a conversation's status
//!   ([`ensure_staff`]).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::chat::{self as q, ConversationRow, MessageRow, Scope};
use crate::error::{AppError, Result};
use crate::model::{Channel, Role};

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

/// May `user` read this conversation (groups aside)?
pub fn can_see(user: &AuthUser, conv: &ConversationRow) -> bool {
    match user.role {
        Role::Agent => conv.agent_id == user.id,
        Role::AgencyAdmin => Some(conv.agency_id) == user.agency_id,
        Role::Buyer => conv.buyer_id == Some(user.id),
        Role::Operator => false,
    }
}

/// May `user` read this conversation here, group chats shown only with `--inbox-groups`?
pub fn can_read(core: &Core, user: &AuthUser, conv: &ConversationRow) -> bool {
    can_see(user, conv) && (!conv.is_group || core.config.inbox_groups)
}

/// The same rule for list queries, stated in SQL by `db` ([`Scope`]).
pub fn scope(core: &Core, user: &AuthUser) -> Scope {
    Scope {
        role: user.role,
        user: user.id,
        agency: user.agency_id,
        groups: core.config.inbox_groups,
    }
}

/// A conversation the caller may read ([`can_read`]); else 404.
pub async fn visible(core: &Core, user: &AuthUser, id: Uuid) -> Result<ConversationRow> {
    q::conversation(&core.db, id)
        .await?
        .filter(|c| can_read(core, user, c))
        .ok_or(AppError::NotFound)
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
    Ok(q::message(&mut *conn, id)
        .await?
        .filter(|m| m.conversation_id == conv.id && viewer.may_see(m.internal)))
}

/// Operators run the platform; they do not read conversations (403 `forbidden_role`).
pub fn ensure_reader(user: &AuthUser) -> Result<()> {
    if user.role == Role::Operator {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Operators do not read conversations.",
        ));
    }
    Ok(())
}

/// Only agency staff may do this (403 `forbidden_role`, with `detail`).
pub fn ensure_staff(user: &AuthUser, detail: &'static str) -> Result<()> {
    if !user.role.is_staff() {
        return Err(AppError::forbidden("forbidden_role", detail));
    }
    Ok(())
}

/// Only the conversation's agent (and, in the app, its buyer) write in it: an agency admin
/// reads the agency's conversations but does not answer in the agent's name (403
/// `not_your_conversation`).
pub fn ensure_participant(user: &AuthUser, conv: &ConversationRow) -> Result<()> {
    let in_app = conv.channel == Channel::InApp;
    if conv.agent_id == user.id || (in_app && conv.buyer_id == Some(user.id)) {
        return Ok(());
    }
    Err(AppError::forbidden(
        "not_your_conversation",
        "Only the conversation's agent (and, in the app, its buyer) can write here.",
    ))
}

/// The other participant of an in-app conversation, from `user`'s side.
pub fn other_side(conv: &ConversationRow, user: Uuid) -> Option<Uuid> {
    if conv.buyer_id == Some(user) {
        Some(conv.agent_id)
    } else {
        conv.buyer_id
    }
}
