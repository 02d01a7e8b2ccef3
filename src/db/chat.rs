//! Contacts, conversations, messages and their reactions: the one conversation model both
//! channels write (the webhook ingest and the outbox for WhatsApp, the chat domain for both).
//! Every write to these tables is here; so are the single-row lookups every writer shares.
//!
//! Rows and [`NewMessage`] carry the stored vocabulary typed ([`Channel`],
//! [`ConversationStatus`], [`Direction`], [`MessageKind`], [`MessageStatus`]); the text is
//! only the column's encoding.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{Channel, ConversationStatus, Direction, MessageKind, MessageStatus, Role};

#[derive(Debug, Clone)]
pub struct ContactRow {
    pub id: Uuid,
    pub link_id: Uuid,
    pub wa_id: Option<String>,
    pub lid: Option<String>,
    pub phone: Option<String>,
    pub push_name: Option<String>,
}

/// Contacts of a link matching either identity (at most two rows: one per identity).
pub async fn contacts_matching(
    db: impl PgExecutor<'_>,
    link: Uuid,
    wa_id: Option<&str>,
    lid: Option<&str>,
) -> Result<Vec<ContactRow>> {
    Ok(sqlx::query_as!(
        ContactRow,
        r#"select id, link_id, wa_id, lid, phone, push_name from contacts
           where link_id = $1 and ((wa_id is not null and wa_id = $2) or (lid is not null and lid = $3))
           order by created_at"#,
        link,
        wa_id,
        lid
    )
    .fetch_all(db)
    .await?)
}

pub async fn insert_contact(
    db: impl PgExecutor<'_>,
    link: Uuid,
    wa_id: Option<&str>,
    lid: Option<&str>,
    phone: Option<&str>,
    push_name: Option<&str>,
) -> Result<ContactRow> {
    Ok(sqlx::query_as!(
        ContactRow,
        r#"insert into contacts (id, link_id, wa_id, lid, phone, push_name) values ($1, $2, $3, $4, $5, $6)
           returning id, link_id, wa_id, lid, phone, push_name"#,
        Uuid::now_v7(),
        link,
        wa_id,
        lid,
        phone,
        push_name
    )
    .fetch_one(db)
    .await?)
}

/// Fill in what is newly known about a contact (never erases).
pub async fn enrich_contact(
    db: impl PgExecutor<'_>,
    id: Uuid,
    wa_id: Option<&str>,
    lid: Option<&str>,
    phone: Option<&str>,
    push_name: Option<&str>,
) -> Result<ContactRow> {
    Ok(sqlx::query_as!(
        ContactRow,
        r#"update contacts set wa_id = coalesce(wa_id, $2), lid = coalesce(lid, $3),
               phone = coalesce($4, phone), push_name = coalesce($5, push_name), updated_at = now()
           where id = $1 returning id, link_id, wa_id, lid, phone, push_name"#,
        id,
        wa_id,
        lid,
        phone,
        push_name
    )
    .fetch_one(db)
    .await?)
}

/// Fold contact `gone` into `keep` (the same person seen first by @lid, later by phone).
pub async fn merge_contacts(conn: &mut sqlx::PgConnection, keep: Uuid, gone: Uuid) -> Result<()> {
    let gone_row = sqlx::query!(
        "delete from contacts where id = $1 returning wa_id, lid, phone, push_name",
        gone
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        r#"update contacts set wa_id = coalesce(wa_id, $2), lid = coalesce(lid, $3),
               phone = coalesce(phone, $4), push_name = coalesce(push_name, $5), updated_at = now()
           where id = $1"#,
        keep,
        gone_row.wa_id,
        gone_row.lid,
        gone_row.phone,
        gone_row.push_name
    )
    .execute(&mut *conn)
    .await?;
    // Deleting the contact nulled these references (on delete set null); point the orphans
    // of this link at the kept contact.
    sqlx::query!(
        r#"update conversations c set contact_id = $1
           where c.contact_id is null and c.channel = 'whatsapp' and not c.is_group
             and c.link_id = (select link_id from contacts where id = $1)
             and (c.chat_id = $2 or c.chat_id = $3)"#,
        keep,
        gone_row.wa_id,
        gone_row.lid
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agent_id: Uuid,
    pub channel: Channel,
    pub link_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub is_group: bool,
    pub buyer_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub status: ConversationStatus,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The WhatsApp conversation of a link with a chat (by chat id, or — for one-to-one chats —
/// by the contact, whichever id the chat was first seen under).
pub async fn find_wa_conversation(
    db: impl PgExecutor<'_>,
    link: Uuid,
    chat_id: &str,
    contact: Option<Uuid>,
) -> Result<Option<ConversationRow>> {
    Ok(sqlx::query_as!(
        ConversationRow,
        r#"select id, agency_id, agent_id, channel as "channel: Channel", link_id, contact_id, chat_id,
                  is_group, buyer_id, property_id, status as "status: ConversationStatus", last_message_at,
                  created_at
           from conversations
           where link_id = $1 and (chat_id = $2 or (not is_group and $3::uuid is not null and contact_id = $3))
           order by created_at limit 1"#,
        link,
        chat_id,
        contact
    )
    .fetch_optional(db)
    .await?)
}

pub async fn insert_wa_conversation(
    db: impl PgExecutor<'_>,
    agency: Uuid,
    agent: Uuid,
    link: Uuid,
    contact: Option<Uuid>,
    chat_id: &str,
    is_group: bool,
) -> Result<ConversationRow> {
    Ok(sqlx::query_as!(
        ConversationRow,
        r#"insert into conversations (id, agency_id, agent_id, channel, link_id, contact_id, chat_id, is_group)
           values ($1, $2, $3, 'whatsapp', $4, $5, $6, $7)
           returning id, agency_id, agent_id, channel as "channel: Channel", link_id, contact_id, chat_id,
                     is_group, buyer_id, property_id, status as "status: ConversationStatus",
                     last_message_at, created_at"#,
        Uuid::now_v7(),
        agency,
        agent,
        link,
        contact,
        chat_id,
        is_group
    )
    .fetch_one(db)
    .await?)
}

pub async fn conversation(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<ConversationRow>> {
    Ok(sqlx::query_as!(
        ConversationRow,
        r#"select id, agency_id, agent_id, channel as "channel: Channel", link_id, contact_id, chat_id,
                  is_group, buyer_id, property_id, status as "status: ConversationStatus", last_message_at,
                  created_at
           from conversations where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// A message arrived or was sent: move the conversation's activity forward and reopen it.
pub async fn touch_conversation(
    db: impl PgExecutor<'_>,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query!(
        r#"update conversations set last_message_at = greatest(coalesce(last_message_at, $2), $2),
               status = case when status = 'archived' then 'open' else status end, updated_at = now()
           where id = $1"#,
        id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub author_user_id: Option<Uuid>,
    pub author_contact_id: Option<Uuid>,
    pub kind: MessageKind,
    pub body: Option<String>,
    pub media_file_id: Option<Uuid>,
    pub meta: Value,
    pub reply_to_id: Option<Uuid>,
    pub status: MessageStatus,
    pub failure_reason: Option<String>,
    /// An internal note: agency staff only.
    pub internal: bool,
    pub link_id: Option<Uuid>,
    pub wa_message_id: Option<String>,
    pub wa_key_id: Option<String>,
    pub client_id: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A message to store.
pub struct NewMessage<'a> {
    pub conversation: Uuid,
    pub direction: Direction,
    pub author_user: Option<Uuid>,
    pub author_contact: Option<Uuid>,
    pub kind: MessageKind,
    pub body: Option<&'a str>,
    pub media_file: Option<Uuid>,
    pub meta: Value,
    pub reply_to: Option<Uuid>,
    pub status: MessageStatus,
    pub link: Option<Uuid>,
    pub wa_message_id: Option<&'a str>,
    pub wa_key_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub sent_at: DateTime<Utc>,
}

/// Serialise one user's sends until the transaction ends, so the send rate holds under
/// concurrency.
pub async fn lock_sender(conn: &mut PgConnection, user: Uuid) -> Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('puente.send:' || $1::uuid::text, 0))",
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Messages `user` sent through Puente (they carry a client id) in the last `window_secs`,
/// and the oldest one's time.
pub async fn recent_sends(
    db: impl PgExecutor<'_>,
    user: Uuid,
    window_secs: f64,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    let row = sqlx::query!(
        r#"select count(*) as "count!", min(created_at) as oldest from messages
           where author_user_id = $1 and client_id is not null
             and created_at > now() - make_interval(secs => $2)"#,
        user,
        window_secs
    )
    .fetch_one(db)
    .await?;
    Ok((row.count, row.oldest))
}

/// Insert a message; `None` when a message with the same WhatsApp id (per link) or the same
/// client id (per author) already exists.
pub async fn insert_message(
    db: impl PgExecutor<'_>,
    m: NewMessage<'_>,
) -> Result<Option<MessageRow>> {
    Ok(sqlx::query_as!(
        MessageRow,
        r#"insert into messages (id, conversation_id, direction, author_user_id, author_contact_id, kind, body,
                                 media_file_id, meta, reply_to_id, status, link_id, wa_message_id, wa_key_id,
                                 client_id, sent_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
           on conflict do nothing
           returning id, conversation_id, direction as "direction: Direction", author_user_id, author_contact_id,
                     kind as "kind: MessageKind", body, media_file_id, meta, reply_to_id, status as "status: MessageStatus", failure_reason, internal, link_id, wa_message_id, wa_key_id, client_id,
                     sent_at, created_at, edited_at, deleted_at"#,
        Uuid::now_v7(),
        m.conversation,
        m.direction.as_str(),
        m.author_user,
        m.author_contact,
        m.kind.as_str(),
        m.body,
        m.media_file,
        m.meta,
        m.reply_to,
        m.status.as_str(),
        m.link,
        m.wa_message_id,
        m.wa_key_id,
        m.client_id,
        m.sent_at
    )
    .fetch_optional(db)
    .await?)
}

pub async fn message(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<MessageRow>> {
    Ok(sqlx::query_as!(
        MessageRow,
        r#"select id, conversation_id, direction as "direction: Direction", author_user_id, author_contact_id,
                  kind as "kind: MessageKind", body, media_file_id, meta, reply_to_id, status as "status: MessageStatus", failure_reason, internal, link_id, wa_message_id, wa_key_id, client_id,
                  sent_at, created_at, edited_at, deleted_at
           from messages where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// A message of a link by WhatsApp id: the serialized id, or the raw id alone.
pub async fn message_by_wa(
    db: impl PgExecutor<'_>,
    link: Uuid,
    serialized: Option<&str>,
    raw: Option<&str>,
) -> Result<Option<MessageRow>> {
    Ok(sqlx::query_as!(
        MessageRow,
        r#"select id, conversation_id, direction as "direction: Direction", author_user_id, author_contact_id,
                  kind as "kind: MessageKind", body, media_file_id, meta, reply_to_id, status as "status: MessageStatus", failure_reason, internal, link_id, wa_message_id, wa_key_id, client_id,
                  sent_at, created_at, edited_at, deleted_at
           from messages
           where link_id = $1 and (($2::text is not null and wa_message_id = $2) or ($3::text is not null and wa_key_id = $3))
           order by created_at limit 1"#,
        link,
        serialized,
        raw
    )
    .fetch_optional(db)
    .await?)
}

pub async fn message_by_client_id(
    db: impl PgExecutor<'_>,
    author: Uuid,
    client_id: &str,
) -> Result<Option<MessageRow>> {
    Ok(sqlx::query_as!(
        MessageRow,
        r#"select id, conversation_id, direction as "direction: Direction", author_user_id, author_contact_id,
                  kind as "kind: MessageKind", body, media_file_id, meta, reply_to_id, status as "status: MessageStatus", failure_reason, internal, link_id, wa_message_id, wa_key_id, client_id,
                  sent_at, created_at, edited_at, deleted_at
           from messages where author_user_id = $1 and client_id = $2"#,
        author,
        client_id
    )
    .fetch_optional(db)
    .await?)
}

/// Move a message's delivery status forward only (pending < sent < delivered < read; failed
/// only before delivery). Returns the row when it changed.
pub async fn advance_status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: MessageStatus,
    reason: Option<&str>,
) -> Result<Option<MessageRow>> {
    Ok(sqlx::query_as!(
        MessageRow,
        r#"update messages set status = $2, failure_reason = $3
           where id = $1 and (
               case $2 when 'sent' then 1 when 'delivered' then 2 when 'read' then 3 when 'failed' then 1 else 0 end
               > case status when 'pending' then 0 when 'sent' then 1 when 'delivered' then 2 when 'read' then 3 when 'failed' then 1 else 0 end
               or ($2 = 'failed' and status in ('pending', 'sent'))
           ) and status <> $2
           returning id, conversation_id, direction as "direction: Direction", author_user_id, author_contact_id,
                     kind as "kind: MessageKind", body, media_file_id, meta, reply_to_id, status as "status: MessageStatus", failure_reason, internal, link_id, wa_message_id, wa_key_id, client_id,
                     sent_at, created_at, edited_at, deleted_at"#,
        id,
        status.as_str(),
        reason
    )
    .fetch_optional(db)
    .await?)
}

pub async fn set_wa_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
    serialized: &str,
    raw: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        "update messages set wa_message_id = $2, wa_key_id = $3 where id = $1",
        id,
        serialized,
        raw
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn edit_body(db: impl PgExecutor<'_>, id: Uuid, body: &str) -> Result<()> {
    sqlx::query!(
        "update messages set body = $2, edited_at = now() where id = $1 and deleted_at is null",
        id,
        body
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_deleted(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!(
        "update messages set deleted_at = coalesce(deleted_at, now()), body = null where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Set (or with an empty emoji, remove) one author's reaction to a message.
pub async fn set_reaction(
    db: impl PgExecutor<'_>,
    message: Uuid,
    author: &str,
    emoji: &str,
) -> Result<()> {
    if emoji.is_empty() {
        sqlx::query!(
            "delete from message_reactions where message_id = $1 and author_key = $2",
            message,
            author
        )
        .execute(db)
        .await?;
    } else {
        sqlx::query!(
            r#"insert into message_reactions (message_id, author_key, emoji) values ($1, $2, $3)
               on conflict (message_id, author_key) do update set emoji = excluded.emoji, created_at = now()"#,
            message,
            author,
            emoji
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// The parties of an active listing a buyer asks about: its agency and agent.
#[derive(Debug, Clone, Copy)]
pub struct ListingParties {
    pub agency_id: Uuid,
    pub agent_id: Uuid,
}

pub async fn active_listing_parties(
    db: impl PgExecutor<'_>,
    property: Uuid,
) -> Result<Option<ListingParties>> {
    Ok(sqlx::query_as!(
        ListingParties,
        "select agency_id, agent_id from properties where id = $1 and status = 'active'",
        property
    )
    .fetch_optional(db)
    .await?)
}

/// Create the in-app conversation of a buyer with a listing's agent; `None` when it exists.
pub async fn insert_in_app_conversation(
    db: impl PgExecutor<'_>,
    listing: ListingParties,
    buyer: Uuid,
    property: Uuid,
) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"insert into conversations (id, agency_id, agent_id, channel, buyer_id, property_id)
           values ($1, $2, $3, 'in_app', $4, $5)
           on conflict (buyer_id, property_id, agent_id) where channel = 'in_app' and property_id is not null do nothing
           returning id"#,
        Uuid::now_v7(),
        listing.agency_id,
        listing.agent_id,
        buyer,
        property
    )
    .fetch_optional(db)
    .await?)
}

/// The in-app conversation of a buyer with an agent about a listing (it must exist).
pub async fn in_app_conversation_id(
    db: impl PgExecutor<'_>,
    buyer: Uuid,
    property: Uuid,
    agent: Uuid,
) -> Result<Uuid> {
    Ok(sqlx::query_scalar!(
        "select id from conversations where channel = 'in_app' and buyer_id = $1 and property_id = $2 and agent_id = $3",
        buyer,
        property,
        agent
    )
    .fetch_one(db)
    .await?)
}

pub async fn set_conversation_status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: ConversationStatus,
) -> Result<()> {
    sqlx::query!(
        "update conversations set status = $2, updated_at = now() where id = $1",
        id,
        status.as_str()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Is `agent` an active agent (or admin) of `agency`, who may take over a conversation?
pub async fn is_assignable(db: impl PgExecutor<'_>, agent: Uuid, agency: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from users where id = $1 and agency_id = $2 and active and role in ('agent', 'agency_admin')) as "ok!""#,
        agent,
        agency
    )
    .fetch_one(db)
    .await?)
}

/// Hand a conversation to another agent. `false` when that agent already has the buyer's
/// conversation about the same listing (the transaction is then aborted).
pub async fn reassign(conn: &mut PgConnection, id: Uuid, agent: Uuid) -> Result<bool> {
    let moved = sqlx::query!(
        "update conversations set agent_id = $2, updated_at = now() where id = $1",
        id,
        agent
    )
    .execute(conn)
    .await;
    match moved {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(true),
    }
}

/// Make a message an internal note (staff only).
pub async fn mark_internal(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!("update messages set internal = true where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// The conversations a user's role reaches — an agent's own, an agency admin's agency's, a
/// buyer's own, an operator none — with groups only when the inbox shows them: the access rule
/// of `chat::access`, as list queries state it in SQL.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub role: Role,
    pub user: Uuid,
    pub agency: Option<Uuid>,
    /// Whether group chats are shown (`--inbox-groups`).
    pub groups: bool,
}
