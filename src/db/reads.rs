//! `conversation_reads`: each participant's read marker, and the questions asked against it —
//! what is unread, where a marker moves.
//!
//! **The unread rule.** A message is unread for a user when it is the other side's (not
//! written by that user; from the contact or from another user), not deleted, not an internal
//! note, and sent after the message their marker points at. [`unread_count`],
//! [`unread_totals`] and [`newest_unreadable_at`] state it here; the inbox's conversation
//! cards repeat it (`db::chat_views::conversation_cards`) so a page is one statement.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::db::chat::Scope;
use crate::error::Result;

/// Move `user`'s read marker in a conversation to `message` (`None`: nothing read yet).
pub async fn set_read_marker(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    user: Uuid,
    message: Option<Uuid>,
) -> Result<()> {
    sqlx::query!(
        r#"insert into conversation_reads (conversation_id, user_id, last_read_message_id, last_read_at) values ($1, $2, $3, now())
           on conflict (conversation_id, user_id) do update set last_read_message_id = excluded.last_read_message_id, last_read_at = now()"#,
        conversation,
        user,
        message
    )
    .execute(db)
    .await?;
    Ok(())
}

/// When the newest message `viewer` would count as unread was sent: the other side's, not
/// deleted, not an internal note (the unread rule of [`unread_count`]).
pub async fn newest_unreadable_at(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    viewer: Uuid,
) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar!(
        r#"select m.sent_at from messages m
           where m.conversation_id = $1 and m.deleted_at is null and not m.internal
             and coalesce(m.author_user_id, '00000000-0000-0000-0000-000000000000'::uuid) <> $2
             and (m.direction = 'in' or m.author_user_id is not null)
           order by m.sent_at desc, m.id desc limit 1"#,
        conversation,
        viewer
    )
    .fetch_optional(db)
    .await?)
}

/// The newest message (internal notes aside) sent strictly before `before`.
pub async fn last_message_before(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    before: DateTime<Utc>,
) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"select id from messages
           where conversation_id = $1 and not internal and sent_at < $2
           order by sent_at desc, id desc limit 1"#,
        conversation,
        before
    )
    .fetch_optional(db)
    .await?)
}

/// The newest message other than an internal note at or before (`at`, `id`) in timeline
/// order: what a buyer is told was read when staff read up to a note.
pub async fn last_visible_at_or_before(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    at: DateTime<Utc>,
    id: Uuid,
) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"select id from messages
           where conversation_id = $1 and not internal and (sent_at, id) <= ($2, $3)
           order by sent_at desc, id desc limit 1"#,
        conversation,
        at,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// The newest message of a conversation, internal notes only when `include_internal` (staff).
pub async fn newest_message(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    include_internal: bool,
) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"select id from messages where conversation_id = $1 and (not internal or $2)
           order by sent_at desc, id desc limit 1"#,
        conversation,
        include_internal
    )
    .fetch_optional(db)
    .await?)
}

/// Messages of the other side `viewer` has not read yet in one conversation.
pub async fn unread_count(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    viewer: Uuid,
) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from messages m
           where m.conversation_id = $1 and m.deleted_at is null and not m.internal
             and coalesce(m.author_user_id, '00000000-0000-0000-0000-000000000000'::uuid) <> $2
             and (m.direction = 'in' or m.author_user_id is not null)
             and m.sent_at > coalesce((select lm.sent_at from conversation_reads r join messages lm on lm.id = r.last_read_message_id
                                       where r.conversation_id = $1 and r.user_id = $2), '-infinity'::timestamptz)"#,
        conversation,
        viewer
    )
    .fetch_one(db)
    .await?)
}

/// Across the conversations a scope sees (closed ones aside): how many have something
/// unread, and how many messages that is.
#[derive(Debug, Clone, Copy)]
pub struct UnreadTotals {
    pub conversations: i64,
    pub messages: i64,
}

pub async fn unread_totals(db: impl PgExecutor<'_>, scope: &Scope) -> Result<UnreadTotals> {
    Ok(sqlx::query_as!(
        UnreadTotals,
        r#"with mine as (
               select c.id from conversations c
               where (($1 = 'agent' and c.agent_id = $2) or ($1 = 'agency_admin' and c.agency_id = $3) or ($1 = 'buyer' and c.buyer_id = $2))
                 and (not c.is_group or $4) and c.status <> 'closed'
           ), unread as (
               select m.conversation_id, count(*) as n from messages m join mine on mine.id = m.conversation_id
               where m.deleted_at is null and not m.internal
                 and coalesce(m.author_user_id, '00000000-0000-0000-0000-000000000000'::uuid) <> $2
                 and (m.direction = 'in' or m.author_user_id is not null)
                 and m.sent_at > coalesce((select lm.sent_at from conversation_reads r join messages lm on lm.id = r.last_read_message_id
                                           where r.conversation_id = m.conversation_id and r.user_id = $2), '-infinity'::timestamptz)
               group by m.conversation_id
           )
           select count(*) as "conversations!", coalesce(sum(n), 0)::bigint as "messages!" from unread"#,
        scope.role.as_str(),
        scope.user,
        scope.agency,
        scope.groups
    )
    .fetch_one(db)
    .await?)
}

/// When the message `reader`'s marker points at was sent: how far they have read.
pub async fn read_up_to(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    reader: Uuid,
) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar!(
        r#"select m.sent_at from conversation_reads r join messages m on m.id = r.last_read_message_id
           where r.conversation_id = $1 and r.user_id = $2"#,
        conversation,
        reader
    )
    .fetch_optional(db)
    .await?)
}

/// The WhatsApp ids of the contact's messages up to `up_to` (the last week's, newest 100):
/// what a `sendSeen` marks read on the buyer's phone.
pub async fn unread_wa_message_ids(
    db: impl PgExecutor<'_>,
    conversation: Uuid,
    up_to: DateTime<Utc>,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"select wa_message_id as "id!" from messages
           where conversation_id = $1 and direction = 'in' and wa_message_id is not null and sent_at <= $2
             and sent_at > now() - interval '7 days'
           order by sent_at desc limit 100"#,
        conversation,
        up_to
    )
    .fetch_all(db)
    .await?)
}
