//! `files`: uploads and downloaded media (the bytes live in the file store under
//! `storage_key`), and which messages carry them (who may download one).

use sqlx::PgExecutor;
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
        "select storage_key, mimetype, original_name, owner_user_id, thumbnail_key from files where id = $1",
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
