//! Who may see what of the chat: the one access policy that HTTP handlers, the WebSocket,
//! moderation and file downloads all use. An agent sees their own conversations, an agency
//! admin their agency's, a buyer their own; operators see none. Group chats only when the
//! inbox shows them (`--inbox-groups`). Notes are a matter of the [`super::Viewer`].

use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::chat::{self as q, ConversationRow};
use crate::error::{AppError, Result};
use crate::model::Role;

/// May `user` read this conversation?
pub fn can_see(user: &AuthUser, conv: &ConversationRow) -> bool {
    match user.role {
        Role::Agent => conv.agent_id == user.id,
        Role::AgencyAdmin => Some(conv.agency_id) == user.agency_id,
        Role::Buyer => conv.buyer_id == Some(user.id),
        Role::Operator => false,
    }
}

/// A conversation the caller may see (groups only when the inbox shows them); else 404.
pub async fn visible(state: &Core, user: &AuthUser, id: Uuid) -> Result<ConversationRow> {
    q::conversation(&state.db, id)
        .await?
        .filter(|c| can_see(user, c))
        .filter(|c| !c.is_group || state.config.inbox_groups)
        .ok_or(AppError::NotFound)
}

/// The other participant of an in-app conversation, from `user`'s side.
pub fn other_side(conv: &ConversationRow, user: Uuid) -> Option<Uuid> {
    if conv.buyer_id == Some(user) {
        Some(conv.agent_id)
    } else {
        conv.buyer_id
    }
}
