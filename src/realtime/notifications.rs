//! Notifications: what a user should not miss between visits, read from their stored event
//! stream rather than kept twice.
//!
//! A notification is one of the user's `user_events` after their clear mark
//! (`notification_marks`) that is a `message.created` written by someone else — not by the
//! user (`author_user_id`), and not an agent's own message sent from their phone (`out` with
//! no author user) — or a `link.status`. Clearing moves the mark forward, never back, and
//! never past the user's newest event (so later events still count).

use uuid::Uuid;

use super::protocol::{Event, EventKind};
use crate::error::Result;

/// Event types that can be notifications.
pub const KINDS: &[&str] = &[
    EventKind::MessageCreated.as_str(),
    EventKind::LinkStatus.as_str(),
];

/// The newest `limit` notifications (newest first) and how many there are in all.
pub async fn list(db: &sqlx::PgPool, user: Uuid, limit: i64) -> Result<(Vec<Event>, i64)> {
    let (rows, unread) = crate::db::notifications::list(db, user, KINDS, limit).await?;
    Ok((rows.into_iter().map(Event::from).collect(), unread))
}

/// Move the user's mark to `up_to` (default: their newest event); returns the mark.
pub async fn clear(db: &sqlx::PgPool, user: Uuid, up_to: Option<i64>) -> Result<i64> {
    crate::db::notifications::clear(db, user, up_to).await
}
