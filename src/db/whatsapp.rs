//! What the WhatsApp bridge — applying webhooks, the catch-up, the outbox — reads and writes
//! in tables whose main queries live elsewhere (`messages`, `files`, `whatsapp_links`):
//! the echo of an own send, a media file downloaded from WAHA or about to be sent to it, and a
//! link's watermark and catch-up record.
//!
//! Functions return the driver's error: callers decide what a failure means.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

// ----- messages -------------------------------------------------------------------------

/// Our own API send in a conversation, still without a WhatsApp id, with this body, queued in
/// the last 10 minutes (oldest first): what WAHA's echo of it should attach to.
pub async fn unsent_echo_target(
    conn: &mut PgConnection,
    conversation: Uuid,
    body: Option<&str>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        r#"select id from messages
               where conversation_id = $1 and direction = 'out' and wa_message_id is null
                 and coalesce(body, '') = coalesce($2, '') and created_at > now() - interval '10 minutes'
               order by created_at limit 1"#,
        conversation,
        body
    )
    .fetch_optional(conn)
    .await
}

/// Delete a message row (the separate copy an echo created of a message we sent).
pub async fn delete_message(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from messages where id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

// ----- files ----------------------------------------------------------------------------

/// A media file received through a link, its bytes already in the file store.
pub struct NewMediaFile<'a> {
    pub id: Uuid,
    pub link: Uuid,
    pub storage_key: &'a str,
    pub mimetype: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a [u8],
    pub original_name: Option<&'a str>,
}

pub async fn insert_media_file(conn: &mut PgConnection, f: NewMediaFile<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into files (id, link_id, storage_key, mimetype, size_bytes, sha256, original_name)
           values ($1, $2, $3, $4, $5, $6, $7)"#,
        f.id,
        f.link,
        f.storage_key,
        f.mimetype,
        f.size_bytes,
        f.sha256,
        f.original_name
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a file's bytes are and what they are, to send it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub storage_key: String,
    pub mimetype: String,
    pub original_name: Option<String>,
}

/// The file; [`sqlx::Error::RowNotFound`] when there is none.
pub async fn stored_file(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<StoredFile> {
    sqlx::query_as!(
        StoredFile,
        "select storage_key, mimetype, original_name from files where id = $1 and deleted_at is null",
        id
    )
    .fetch_one(db)
    .await
}

// ----- whatsapp_links -------------------------------------------------------------------

/// The newest WhatsApp time applied for the link (its catch-up starts there).
pub async fn watermark(db: impl PgExecutor<'_>, link: Uuid) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "select watermark_at from whatsapp_links where id = $1",
        link
    )
    .fetch_one(db)
    .await
}

/// Move the link's watermark forward to `at` (never back).
pub async fn advance_watermark(
    conn: &mut PgConnection,
    link: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update whatsapp_links set watermark_at = greatest(coalesce(watermark_at, $2), $2) where id = $1",
        link,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When the link's last catch-up ran and how many messages it recovered.
pub async fn record_catchup(
    db: impl PgExecutor<'_>,
    link: Uuid,
    at: DateTime<Utc>,
    recovered: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update whatsapp_links set last_catchup_at = $2, last_catchup_count = $3 where id = $1",
        link,
        at,
        recovered
    )
    .execute(db)
    .await?;
    Ok(())
}
