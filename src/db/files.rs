//! `files`: uploads and downloaded media (the bytes live in the file store under
//! `storage_key`), and which messages carry them (who may download one).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::Result;

#[derive(Debug, Clone)]
pub struct FileRow {
    pub storage_key: String,
    pub mimetype: String,
    pub original_name: Option<String>,
    pub owner_user_id: Option<Uuid>,
    pub thumbnail_key: Option<String>,
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<FileRow>> {
    Ok(sqlx::query_as!(
        FileRow,
        "select storage_key, mimetype, original_name, owner_user_id, thumbnail_key from files where id = $1 and deleted_at is null",
        id
    )
    .fetch_optional(db)
    .await?)
}

/// An upload to record, its bytes already in the store.
pub struct NewUpload<'a> {
    pub id: Uuid,
    pub owner: Uuid,
    pub storage_key: &'a str,
    pub mimetype: &'a str,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub original_name: Option<&'a str>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub thumbnail_key: Option<&'a str>,
}

pub async fn insert_upload(db: impl PgExecutor<'_>, f: NewUpload<'_>) -> Result<()> {
    sqlx::query!(
        "insert into files (id, owner_user_id, storage_key, mimetype, size_bytes, sha256, original_name, width, height, thumbnail_key) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        f.id,
        f.owner,
        f.storage_key,
        f.mimetype,
        f.size_bytes,
        f.sha256,
        f.original_name,
        f.width,
        f.height,
        f.thumbnail_key
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Serialise one user's uploads until the transaction ends, so their limits hold under
/// concurrency.
pub async fn lock_uploader(conn: &mut PgConnection, owner: Uuid) -> Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('puente.upload:' || $1::uuid::text, 0))",
        owner
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What `owner` has uploaded: files in the last `window_secs` (deleted ones too) and the
/// oldest one's time, and the bytes of every upload they still keep (thumbnails not counted).
pub struct UploadUsage {
    pub recent: i64,
    pub oldest_recent: Option<DateTime<Utc>>,
    pub stored_bytes: i64,
}

pub async fn upload_usage(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    window_secs: f64,
) -> Result<UploadUsage> {
    Ok(sqlx::query_as!(
        UploadUsage,
        r#"select count(*) filter (where created_at > now() - make_interval(secs => $2)) as "recent!",
                  min(created_at) filter (where created_at > now() - make_interval(secs => $2)) as oldest_recent,
                  coalesce(sum(size_bytes) filter (where deleted_at is null), 0)::bigint as "stored_bytes!"
             from files where owner_user_id = $1"#,
        owner,
        window_secs
    )
    .fetch_one(db)
    .await?)
}

/// The conversations whose (not deleted) messages carry a file, with whether that message is
/// an internal note: who may download it.
pub async fn media_uses(db: impl PgExecutor<'_>, file: Uuid) -> Result<Vec<(Uuid, bool)>> {
    Ok(sqlx::query!(
        r#"select distinct conversation_id, internal from messages
           where media_file_id = $1 and deleted_at is null"#,
        file
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.conversation_id, r.internal))
    .collect())
}

/// What removing an upload found.
pub enum UploadRemoval {
    /// No such file of this owner.
    NotFound,
    /// A message or a listing photo carries it.
    InUse,
    /// Removed: the keys whose bytes to delete once the transaction commits.
    Removed {
        storage_key: String,
        thumbnail_key: Option<String>,
    },
}

/// Mark `owner`'s upload `id` deleted if nothing carries it. The row is locked first, so a message
/// or photo attaching it concurrently either commits before (and is seen) or fails after.
pub async fn remove_unused_upload(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Uuid,
) -> Result<UploadRemoval> {
    let Some(row) = sqlx::query!(
        "select storage_key, thumbnail_key from files where id = $1 and owner_user_id = $2 and deleted_at is null for update",
        id,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(UploadRemoval::NotFound);
    };
    let used = sqlx::query_scalar!(
        r#"select exists(select 1 from messages where media_file_id = $1)
                  or exists(select 1 from property_photos where file_id = $1) as "used!""#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if used {
        return Ok(UploadRemoval::InUse);
    }
    // The row stays, marked, so the upload still counts toward the hourly limit.
    sqlx::query!("update files set deleted_at = now() where id = $1", id)
        .execute(&mut *conn)
        .await?;
    Ok(UploadRemoval::Removed {
        storage_key: row.storage_key,
        thumbnail_key: row.thumbnail_key,
    })
}

/// Delete at most `batch` file rows older than `older_than_hours` that no message and no
/// listing photo carries (uploads never sent, deleted uploads, media of removed messages);
/// returns their storage keys (file, thumbnail) for the bytes to be deleted after.
pub async fn take_unreferenced(
    db: impl PgExecutor<'_>,
    older_than_hours: i32,
    batch: i64,
) -> Result<Vec<(String, Option<String>)>> {
    let rows = sqlx::query!(
        r#"delete from files where id in (
               select f.id from files f
               where f.created_at < now() - make_interval(hours => $1)
                 and not exists (select 1 from messages m where m.media_file_id = f.id)
                 and not exists (select 1 from property_photos p where p.file_id = f.id)
               order by f.created_at limit $2)
           returning storage_key, thumbnail_key"#,
        older_than_hours,
        batch
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.storage_key, r.thumbnail_key))
        .collect())
}
