//! What clients see of conversations and messages: read-only queries that join the chat
//! tables (and the users, contacts and listings around them) into one screen's rows. Nothing
//! here writes; the tables' writes live in [`super::chat`], [`super::reads`] and
//! [`super::files`].
//!
//! **Pages cost a fixed number of statements.** A list is read as ids first (one statement
//! per page) and then rendered by id for a set at once ([`conversation_cards`],
//! [`message_renderings`]), never row by row.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::chat::Scope;
use crate::error::Result;
use crate::model::{Channel, ConversationStatus, Direction, MessageKind, MessageStatus};

/// A conversation as everyone in it sees it, with its WhatsApp contact.
#[derive(Debug, Clone)]
pub struct ConversationSummary {
    pub id: Uuid,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub agent_id: Uuid,
    /// The owning agent's display name.
    pub agent_name: String,
    pub link_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub is_group: bool,
    pub buyer_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub contact_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

pub async fn conversation_summary(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<ConversationSummary>> {
    Ok(sqlx::query_as!(
        ConversationSummary,
        r#"select c.id, c.channel as "channel: Channel", c.status as "status: ConversationStatus", c.agent_id,
                  ua.display_name as agent_name, c.link_id,
                  c.chat_id, c.is_group, c.buyer_id, c.property_id, c.last_message_at, c.created_at,
                  k.id as "contact_id?", k.push_name as "contact_name?", k.phone as "contact_phone?"
           from conversations c join users ua on ua.id = c.agent_id
                left join contacts k on k.id = c.contact_id
           where c.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Which conversations a page lists, beyond the scope.
#[derive(Debug, Clone, Default)]
pub struct PageFilter {
    /// Strictly older activity than this (activity time, id): the cursor.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
    pub channel: Option<Channel>,
    /// `None`: open and archived.
    pub status: Option<ConversationStatus>,
    pub property: Option<Uuid>,
    /// Only this agent's conversations (within the scope: an agent's own scope holds no
    /// other agent's).
    pub agent: Option<Uuid>,
}

/// One conversation of a page, with its activity time (the cursor's key).
#[derive(Debug, Clone, Copy)]
pub struct PageEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
}

/// A page of the conversations `scope` sees, newest activity first.
pub async fn conversation_page(
    db: impl PgExecutor<'_>,
    scope: &Scope,
    filter: &PageFilter,
) -> Result<Vec<PageEntry>> {
    Ok(sqlx::query_as!(
        PageEntry,
        r#"select id, coalesce(last_message_at, created_at) as "at!" from conversations
               where (($1 = 'agent' and agent_id = $2) or ($1 = 'agency_admin' and agency_id = $3) or ($1 = 'buyer' and buyer_id = $2))
                 and (not is_group or $4)
                 and ($5::timestamptz is null or (coalesce(last_message_at, created_at), id) < ($5, $6))
                 and ($8::text is null or channel = $8)
                 and (case when $9::text is null then status <> 'closed' else status = $9 end)
                 and ($10::uuid is null or property_id = $10)
                 and ($11::uuid is null or agent_id = $11)
               order by coalesce(last_message_at, created_at) desc, id desc limit $7"#,
        scope.role.as_str(),
        scope.user,
        scope.agency,
        scope.groups,
        filter.after.map(|a| a.0),
        filter.after.map(|a| a.1),
        filter.limit,
        filter.channel.map(Channel::as_str),
        filter.status.map(ConversationStatus::as_str),
        filter.property,
        filter.agent
    )
    .fetch_all(db)
    .await?)
}

/// A conversation as one viewer sees it in their inbox: the summary, the newest message they
/// may see, who is on each side, the listing, their unread count and the related
/// conversations on the other channel.
#[derive(Debug, Clone)]
pub struct ConversationCard {
    pub id: Uuid,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub agent_id: Uuid,
    pub link_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub is_group: bool,
    pub buyer_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub contact_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub last_id: Option<Uuid>,
    pub last_direction: Option<Direction>,
    pub last_kind: Option<MessageKind>,
    /// The stored text, even when deleted (`last_deleted` says so).
    pub last_body: Option<String>,
    pub last_deleted: Option<bool>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub agent_name: String,
    pub buyer_name: Option<String>,
    pub property_title: Option<String>,
    pub unread_count: i64,
    /// Empty unless `staff`.
    pub related_ids: Vec<Uuid>,
}

/// The cards of conversations `viewer` sees, by id, in no particular order. `staff`: the
/// viewer sees internal notes and related conversations. The unread count follows the rule of
/// [`super::reads`]; the related conversations are [`related_conversations`]'s.
pub async fn conversation_cards(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    viewer: Uuid,
    staff: bool,
) -> Result<Vec<ConversationCard>> {
    Ok(sqlx::query_as!(
        ConversationCard,
        r#"select c.id, c.channel as "channel: Channel", c.status as "status: ConversationStatus", c.agent_id, c.link_id,
                  c.chat_id, c.is_group, c.buyer_id, c.property_id, c.last_message_at, c.created_at,
                  k.id as "contact_id?", k.push_name as "contact_name?", k.phone as "contact_phone?",
                  lm.id as "last_id?", lm.direction as "last_direction?: Direction", lm.kind as "last_kind?: MessageKind",
                  lm.body as "last_body?", lm.deleted as "last_deleted?", lm.sent_at as "last_sent_at?",
                  ua.display_name as agent_name, ub.display_name as "buyer_name?", p.title as "property_title?",
                  unread.n as "unread_count!", related.ids as "related_ids!"
           from conversations c
                join users ua on ua.id = c.agent_id
                left join contacts k on k.id = c.contact_id
                left join users ub on ub.id = c.buyer_id
                left join properties p on p.id = c.property_id
                left join lateral (
                    select m.id, m.direction, m.kind, m.body, m.deleted_at is not null as deleted, m.sent_at from messages m
                    where m.conversation_id = c.id and (not m.internal or $3) order by m.sent_at desc, m.id desc limit 1
                ) lm on true
                cross join lateral (
                    select count(*) as n from messages m
                    where m.conversation_id = c.id and m.deleted_at is null and not m.internal
                      and coalesce(m.author_user_id, '00000000-0000-0000-0000-000000000000'::uuid) <> $2
                      and (m.direction = 'in' or m.author_user_id is not null)
                      and m.sent_at > coalesce((select rm.sent_at from conversation_reads r join messages rm on rm.id = r.last_read_message_id
                                                where r.conversation_id = c.id and r.user_id = $2), '-infinity'::timestamptz)
                ) unread
                cross join lateral (
                    select array(
                        select x.id from (
                            select w.id, w.last_message_at from conversations w
                            join contacts wk on wk.id = w.contact_id
                            join users b on b.id = c.buyer_id and b.phone is not null and wk.phone = b.phone
                            where $3 and c.channel = 'in_app' and w.agent_id = c.agent_id and w.channel = 'whatsapp' and not w.is_group
                            union all
                            select a.id, a.last_message_at from conversations a
                            join users b on b.id = a.buyer_id
                            join contacts ck on ck.id = c.contact_id and ck.phone is not null and ck.phone = b.phone
                            where $3 and c.channel <> 'in_app' and a.agent_id = c.agent_id and a.channel = 'in_app'
                        ) x
                        order by x.last_message_at desc nulls last limit 10
                    ) as ids
                ) related
           where c.id = any($1)"#,
        ids,
        viewer,
        staff
    )
    .fetch_all(db)
    .await?)
}

/// Conversations of the same agent with the same person on the other channel: for an
/// in-app conversation, the agent's WhatsApp chats with the buyer's phone; for a WhatsApp
/// chat, the in-app conversations of buyers with the contact's phone. Newest first, ten.
pub async fn related_conversations(
    db: impl PgExecutor<'_>,
    channel: Channel,
    agent: Uuid,
    buyer: Option<Uuid>,
    contact: Option<Uuid>,
) -> Result<Vec<Uuid>> {
    Ok(match channel {
        Channel::InApp => {
            sqlx::query_scalar!(
                r#"select c.id from conversations c
               join contacts k on k.id = c.contact_id
               join users b on b.id = $2 and b.phone is not null and k.phone = b.phone
               where c.agent_id = $1 and c.channel = 'whatsapp' and not c.is_group
               order by c.last_message_at desc nulls last limit 10"#,
                agent,
                buyer
            )
            .fetch_all(db)
            .await?
        }
        Channel::Whatsapp => {
            sqlx::query_scalar!(
                r#"select c.id from conversations c
               join users b on b.id = c.buyer_id
               join contacts k on k.id = $2 and k.phone is not null and k.phone = b.phone
               where c.agent_id = $1 and c.channel = 'in_app'
               order by c.last_message_at desc nulls last limit 10"#,
                agent,
                contact
            )
            .fetch_all(db)
            .await?
        }
    })
}

/// A message with what rendering it needs: its file, its reactions (JSON `[{author, emoji}]`,
/// oldest first), its text blanked once deleted.
#[derive(Debug, Clone)]
pub struct MessageRendering {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub author_user_id: Option<Uuid>,
    pub author_contact_id: Option<Uuid>,
    pub kind: MessageKind,
    pub body: Option<String>,
    pub media_file_id: Option<Uuid>,
    pub mimetype: Option<String>,
    pub size_bytes: Option<i64>,
    pub file_name: Option<String>,
    pub thumbnail_key: Option<String>,
    pub meta: Value,
    /// Null when it points at a note and notes are not shown.
    pub reply_to_id: Option<Uuid>,
    pub status: MessageStatus,
    pub failure_reason: Option<String>,
    pub client_id: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub reactions: Value,
}

/// The messages among `ids` that are shown (`include_internal`: notes too), in no
/// particular order.
pub async fn message_renderings(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    include_internal: bool,
) -> Result<Vec<MessageRendering>> {
    Ok(sqlx::query_as!(
        MessageRendering,
        r#"select m.id, m.conversation_id, m.direction as "direction: Direction", m.author_user_id, m.author_contact_id,
                  m.kind as "kind: MessageKind",
                  case when m.deleted_at is null then m.body end as body,
                  m.media_file_id, f.mimetype as "mimetype?", f.size_bytes as "size_bytes?",
                  f.original_name as "file_name?", f.thumbnail_key as "thumbnail_key?",
                  case when m.deleted_at is null then m.meta else '{}'::jsonb end as "meta!",
                  case when rm.internal and not $2 then null else m.reply_to_id end as reply_to_id,
                  m.status as "status: MessageStatus", m.failure_reason,
                  m.client_id, m.sent_at, m.created_at, m.edited_at, m.deleted_at,
                  coalesce((select json_agg(json_build_object('author', r.author_key, 'emoji', r.emoji) order by r.created_at)
                            from message_reactions r where r.message_id = m.id), '[]'::json) as "reactions!"
           from messages m left join files f on f.id = m.media_file_id
                left join messages rm on rm.id = m.reply_to_id
           where m.id = any($1) and (not m.internal or $2)"#,
        ids,
        include_internal
    )
    .fetch_all(db)
    .await?)
}

/// Where a message sits in the timeline, when it belongs to one of `conversations` and is
/// visible (`include_internal`: staff): the anchor of a page cursor.
pub async fn message_position(
    db: impl PgExecutor<'_>,
    id: Uuid,
    conversations: &[Uuid],
    include_internal: bool,
) -> Result<Option<(DateTime<Utc>, Uuid)>> {
    Ok(sqlx::query!(
        r#"select sent_at, id from messages
           where id = $1 and conversation_id = any($2) and (not internal or $3)"#,
        id,
        conversations,
        include_internal
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.sent_at, r.id)))
}

/// A page of the timeline of `conversations` (one, or a merged pair): newest first before
/// `anchor` (or from the newest), oldest first after it when `after`.
pub async fn message_page(
    db: impl PgExecutor<'_>,
    conversations: &[Uuid],
    include_internal: bool,
    anchor: Option<(DateTime<Utc>, Uuid)>,
    after: bool,
    limit: i64,
) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"select m.id from messages m
           where m.conversation_id = any($1) and (not m.internal or $2)
             and ($3::timestamptz is null
                  or ($6 and (m.sent_at, m.id) > ($3, $4))
                  or (not $6 and (m.sent_at, m.id) < ($3, $4)))
           order by case when $6 then m.sent_at end asc, case when $6 then m.id end asc,
                    m.sent_at desc, m.id desc
           limit $5"#,
        conversations,
        include_internal,
        anchor.map(|a| a.0),
        anchor.map(|a| a.1),
        limit,
        after
    )
    .fetch_all(db)
    .await?)
}

/// Full-text search (Spanish and English stems) over the messages `scope` sees, deleted ones
/// aside (`include_internal`: notes too): ids, best match first.
pub async fn search_messages(
    db: impl PgExecutor<'_>,
    scope: &Scope,
    text: &str,
    include_internal: bool,
    limit: i64,
) -> Result<Vec<Uuid>> {
    Ok(sqlx::query!(
        r#"with q as (select websearch_to_tsquery('spanish', $5) || websearch_to_tsquery('english', $5) as tsq)
           select m.id, m.conversation_id from messages m join conversations c on c.id = m.conversation_id, q
           where m.search_vector @@ q.tsq and m.deleted_at is null and (not m.internal or $6)
             and (($1 = 'agent' and c.agent_id = $2) or ($1 = 'agency_admin' and c.agency_id = $3) or ($1 = 'buyer' and c.buyer_id = $2))
             and (not c.is_group or $4)
           order by ts_rank(m.search_vector, q.tsq) desc, m.sent_at desc limit $7"#,
        scope.role.as_str(),
        scope.user,
        scope.agency,
        scope.groups,
        text,
        include_internal,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect())
}
