//! Files in the chat: uploading one to send in a message, and downloading.
//!
//! Invariants:
//! - Uploads are of the allowed types only ([`UPLOAD_TYPES`], else 415), [`MAX_UPLOAD`] at
//!   most (the HTTP edge enforces the body limit); an image must be readable and within
//!   `files::MAX_IMAGE_SIDE` / `MAX_IMAGE_PIXELS`, and gets a PNG thumbnail.
//! - A file is downloadable by its uploader, by whoever may see a message that carries it (a
//!   note's file by staff only: [`access`]'s rules), or — a listing's photo — by whoever may
//!   see the listing. Anyone else gets 404, as for a file that does not exist.

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::{self, Viewer};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::files::{self as q, NewUpload};
use crate::error::{AppError, Result};
use crate::model::Role;

/// Largest upload.
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;

/// The content types an upload may have.
pub const UPLOAD_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "video/mp4",
    "text/plain",
];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileDto {
    pub id: Uuid,
    pub mimetype: String,
    pub size_bytes: i64,
    pub file_name: Option<String>,
    /// Images only: the original's size in pixels.
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Images only: a PNG at most 320 px on its longest side.
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, shown to the other side.
    pub name: Option<String>,
}

/// An upload: the bytes, the `Content-Type` they came with, and the name to show.
pub struct Upload {
    pub content_type: Option<String>,
    pub name: Option<String>,
    pub bytes: Bytes,
}

fn store_error(e: std::io::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("file store: {e}"))
}

/// The content type of an upload, without parameters, if it is one [`UPLOAD_TYPES`] allows.
fn upload_type(content_type: Option<&str>) -> Result<String> {
    content_type
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .filter(|m| UPLOAD_TYPES.contains(&m.as_str()))
        .ok_or(AppError::UnsupportedMediaType)
}

/// A name safe to show and to put in a header: no control characters or path separators,
/// 200 characters at most.
fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .take(200)
        .collect()
}

/// Store an upload of `user`'s (anyone but an operator), with a thumbnail for images.
pub async fn upload(core: &Core, user: &AuthUser, upload: Upload) -> Result<FileDto> {
    if user.role == Role::Operator {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Operators do not upload files.",
        ));
    }
    let mimetype = upload_type(upload.content_type.as_deref())?;
    let body = upload.bytes;
    if body.is_empty() {
        return Err(AppError::invalid("body", "the file is empty"));
    }
    let name = upload.name.as_deref().map(clean_name);
    let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
    // A cheap look first, so a flood over the limits costs no thumbnail and no write; the
    // count that decides is taken again under the uploader's lock below.
    within_upload_limits(&core.db, core, user, size).await?;
    let key = crate::files::new_key();
    let thumb = if mimetype.starts_with("image/") {
        Some(thumbnail(body.clone()).await?)
    } else {
        None
    };
    core.files.put(&key, &body).await.map_err(store_error)?;
    let (thumb_key, width, height) = match thumb {
        Some((png, w, h)) => {
            let tk = format!("{key}.thumb");
            core.files.put(&tk, &png).await.map_err(store_error)?;
            (Some(tk), i32::try_from(w).ok(), i32::try_from(h).ok())
        }
        None => (None, None, None),
    };
    let id = Uuid::now_v7();
    let mut tx = core.db.begin().await?;
    q::lock_uploader(&mut tx, user.id).await?;
    if let Err(over) = within_upload_limits(&mut *tx, core, user, size).await {
        drop(tx);
        let _ = core.files.delete(&key).await;
        if let Some(tk) = &thumb_key {
            let _ = core.files.delete(tk).await;
        }
        return Err(over);
    }
    q::insert_upload(
        &mut *tx,
        NewUpload {
            id,
            owner: user.id,
            storage_key: &key,
            mimetype: &mimetype,
            size_bytes: size,
            sha256: crate::files::sha256(&body),
            original_name: name.as_deref(),
            width,
            height,
            thumbnail_key: thumb_key.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(FileDto {
        id,
        mimetype,
        size_bytes: size,
        file_name: name,
        width,
        height,
        thumbnail_url: thumb_key.map(|_| format!("/api/v1/files/{id}?thumbnail=true")),
    })
}

/// At most `--uploads-per-hour` files in the last hour (429 with `Retry-After`) and at most
/// `--upload-quota-mb` of uploads kept, this one included (409 `storage_quota_reached`).
async fn within_upload_limits(
    db: impl sqlx::PgExecutor<'_>,
    core: &Core,
    user: &AuthUser,
    size: i64,
) -> Result<()> {
    let window = chrono::Duration::hours(1);
    let usage = q::upload_usage(db, user.id, window.num_seconds() as f64).await?;
    if usage.recent >= core.config.uploads_per_hour {
        return Err(AppError::window_full(usage.oldest_recent, window));
    }
    let quota = core.config.upload_quota_mb.saturating_mul(1024 * 1024);
    if usage.stored_bytes.saturating_add(size) > quota {
        return Err(AppError::conflict(
            "storage_quota_reached",
            format!(
                "Your files use {} MiB of your {} MiB; delete some before uploading more.",
                usage.stored_bytes / (1024 * 1024),
                core.config.upload_quota_mb
            ),
        ));
    }
    Ok(())
}

/// Delete your own upload that no message or listing carries (a file attached by mistake,
/// or to free your quota): 404 for anyone else's or an unknown file, 409 `file_in_use` once
/// it was sent or is a listing's photo. The bytes go after the row is gone.
pub async fn remove(core: &Core, user: &AuthUser, id: Uuid) -> Result<()> {
    let mut tx = core.db.begin().await?;
    let removed = q::remove_unused_upload(&mut tx, id, user.id).await?;
    let (storage_key, thumbnail_key) = match removed {
        q::UploadRemoval::NotFound => return Err(AppError::NotFound),
        q::UploadRemoval::InUse => {
            return Err(AppError::conflict(
                "file_in_use",
                "This file was sent in a message or is a listing's photo; it stays.",
            ))
        }
        q::UploadRemoval::Removed {
            storage_key,
            thumbnail_key,
        } => (storage_key, thumbnail_key),
    };
    tx.commit().await?;
    for key in std::iter::once(storage_key).chain(thumbnail_key) {
        if let Err(e) = core.files.delete(&key).await {
            tracing::warn!(file = %id, error = %e, "an upload's bytes could not be deleted");
        }
    }
    Ok(())
}

/// An image's thumbnail (PNG, width, height); 422 on `body` when it is unreadable or too
/// large.
async fn thumbnail(bytes: Bytes) -> Result<(Vec<u8>, u32, u32)> {
    use crate::files::ImageError;
    match crate::files::thumbnail_bounded(bytes).await {
        Ok(t) => Ok(t),
        Err(ImageError::Unreadable) => Err(AppError::invalid("body", "is not a readable image")),
        Err(ImageError::TooLarge { width, height }) => Err(AppError::invalid(
            "body",
            &format!(
                "is {width}×{height} pixels; images may be at most {} pixels a side and {} megapixels",
                crate::files::MAX_IMAGE_SIDE,
                crate::files::MAX_IMAGE_PIXELS / 1_000_000
            ),
        )),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// The image's thumbnail (PNG) instead of the file.
    pub thumbnail: Option<bool>,
}

/// A file's bytes, with what to label them.
pub struct Download {
    pub bytes: Vec<u8>,
    pub mimetype: String,
    /// The uploader's (or WhatsApp's) name for it.
    pub file_name: Option<String>,
}

/// May `user` download this file (see the module docs)?
async fn may_download(core: &Core, user: &AuthUser, id: Uuid, file: &q::FileRow) -> Result<bool> {
    if file.owner_user_id == Some(user.id) {
        return Ok(true);
    }
    let viewer = Viewer::of(user);
    for (conversation, internal) in q::media_uses(&core.db, id).await? {
        if !viewer.may_see(internal) {
            continue;
        }
        if let Some(conv) = crate::db::chat::conversation(&core.db, conversation).await? {
            if access::can_see(user, &conv) {
                return Ok(true);
            }
        }
    }
    // A listing's photo: public while the listing is active, else for its agency's staff.
    Ok(crate::db::properties::listings_with_photo(&core.db, id)
        .await?
        .iter()
        .any(|l| crate::listings::can_see(user, &l.status, l.agency_id)))
}

/// Download a file (or its thumbnail) the caller may see; else 404.
pub async fn download(
    core: &Core,
    user: &AuthUser,
    id: Uuid,
    query: &DownloadQuery,
) -> Result<Download> {
    let file = q::find(&core.db, id).await?.ok_or(AppError::NotFound)?;
    if !may_download(core, user, id, &file).await? {
        return Err(AppError::NotFound);
    }
    let (key, mimetype) = if query.thumbnail == Some(true) {
        (
            file.thumbnail_key.clone().ok_or(AppError::NotFound)?,
            "image/png".to_string(),
        )
    } else {
        (file.storage_key.clone(), file.mimetype.clone())
    };
    let bytes = core.files.get(&key).await.map_err(store_error)?;
    Ok(Download {
        bytes,
        mimetype,
        file_name: file.original_name,
    })
}
