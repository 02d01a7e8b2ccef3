//! A listing's photos: files the caller uploaded (`POST /api/v1/files`), attached in a display
//! order. Attaching or detaching locks the listing and checks the caller may change it; the
//! uploaded file itself is never deleted here. A photo's download follows the visibility of
//! the listings it belongs to ([`visible_to`]).

use serde::Deserialize;
use uuid::Uuid;

use super::access::{can_see, check_manage};
use super::dto::{current, PropertyDto};
use super::validate::{MAX_PHOTOS, MAX_POSITION, PHOTO_TYPES};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::properties as q;
use crate::error::{AppError, Result};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPhotoRequest {
    /// A JPEG, PNG or WebP image you uploaded with `POST /api/v1/files`.
    pub file_id: Uuid,
    /// Display order (0–10,000, lowest first); default after the last photo. Attaching a photo
    /// again with a position moves it.
    pub position: Option<i32>,
}

/// What attaching a photo did.
#[derive(Debug)]
pub struct AddedPhoto {
    /// Whether the photo is new to the listing (false: it was attached already, maybe moved).
    pub new: bool,
    /// The listing with its photos now.
    pub listing: PropertyDto,
}

/// Attach an uploaded image of the caller's to a listing they may change: at most
/// [`MAX_PHOTOS`] per listing (409 `too_many_photos`; attaching one again is always allowed).
pub async fn add(
    core: &Core,
    user: &AuthUser,
    id: Uuid,
    req: AddPhotoRequest,
) -> Result<AddedPhoto> {
    if req
        .position
        .is_some_and(|p| !(0..=MAX_POSITION).contains(&p))
    {
        return Err(AppError::invalid("position", "must be between 0 and 10000"));
    }
    let mut tx = core.db.begin().await?;
    let listing = q::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    check_manage(user, listing.agency_id, listing.agent_id)?;
    let file = q::file_info(&mut *tx, req.file_id)
        .await?
        .filter(|f| f.owner_user_id == Some(user.id))
        .ok_or_else(|| AppError::invalid("file_id", "no such uploaded file of yours"))?;
    if !PHOTO_TYPES.contains(&file.mimetype.as_str()) {
        return Err(AppError::invalid(
            "file_id",
            "must be a JPEG, PNG or WebP image",
        ));
    }
    if q::photo_count(&mut *tx, id).await? >= MAX_PHOTOS {
        let already = q::photos(&mut *tx, &[id])
            .await?
            .iter()
            .any(|p| p.file_id == req.file_id);
        if !already {
            return Err(AppError::conflict(
                "too_many_photos",
                format!("A listing has at most {MAX_PHOTOS} photos."),
            ));
        }
    }
    let new = q::attach_photo(&mut *tx, id, req.file_id, req.position).await?;
    q::touch(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(AddedPhoto {
        new,
        listing: current(core, id).await?,
    })
}

/// Detach a photo from a listing the caller may change; 404 when it is not attached.
pub async fn remove(core: &Core, user: &AuthUser, id: Uuid, file_id: Uuid) -> Result<()> {
    let mut tx = core.db.begin().await?;
    let listing = q::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    check_manage(user, listing.agency_id, listing.agent_id)?;
    if !q::detach_photo(&mut *tx, id, file_id).await? {
        return Err(AppError::NotFound);
    }
    q::touch(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `user` may download the file as a photo: it is a photo of at least one listing
/// they may see.
pub async fn visible_to(core: &Core, user: &AuthUser, file_id: Uuid) -> Result<bool> {
    Ok(q::listings_with_photo(&core.db, file_id)
        .await?
        .iter()
        .any(|l| can_see(user, &l.status, l.agency_id)))
}
