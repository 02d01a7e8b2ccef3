//! A listing as every use case returns it: its fields, its agency's and agent's names, and its
//! photos in display order. Assembled from rows with one query for the photos of all of them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::core::Core;
use crate::db::properties::{self as q, PropertyRow};
use crate::error::{AppError, Result};
use crate::model::ListingStatus;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoDto {
    pub file_id: Uuid,
    /// Where to download it (`GET`, with the same bearer token).
    pub url: String,
    /// Display order, lowest first.
    pub position: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PropertyDto {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agency_name: String,
    pub agent_id: Uuid,
    pub agent_name: String,
    pub title: String,
    pub description: String,
    /// Price in the currency's minor unit (cents).
    pub price_cents: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    pub address: String,
    pub city: String,
    /// `house`, `apartment`, `condo` or `land`.
    pub property_type: String,
    /// `active`, `pending`, `sold` or `inactive`.
    #[schema(value_type = String)]
    pub status: ListingStatus,
    pub photos: Vec<PhotoDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// DTOs for these rows, with their photos (one query for all of them).
pub async fn dtos(core: &Core, rows: Vec<PropertyRow>) -> Result<Vec<PropertyDto>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut photos: HashMap<Uuid, Vec<PhotoDto>> = HashMap::new();
    for p in q::photos(&core.db, &ids).await? {
        photos.entry(p.property_id).or_default().push(PhotoDto {
            file_id: p.file_id,
            url: format!("/api/v1/files/{}", p.file_id),
            position: p.position,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| PropertyDto {
            photos: photos.remove(&r.id).unwrap_or_default(),
            id: r.id,
            agency_id: r.agency_id,
            agency_name: r.agency_name,
            agent_id: r.agent_id,
            agent_name: r.agent_name,
            title: r.title,
            description: r.description,
            price_cents: r.price_cents,
            currency: r.currency,
            address: r.address,
            city: r.city,
            property_type: r.property_type,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// The DTO of one row.
pub async fn of_row(core: &Core, row: PropertyRow) -> Result<PropertyDto> {
    dtos(core, vec![row]).await?.pop().ok_or(AppError::NotFound)
}

/// The DTO of the listing `id` as it is now (after a change), whoever may see it.
pub async fn current(core: &Core, id: Uuid) -> Result<PropertyDto> {
    let row = q::find(&core.db, id).await?.ok_or(AppError::NotFound)?;
    of_row(core, row).await
}
