//! Creating and editing listings. The caller is agency staff; a listing belongs to their
//! agency. Every field is validated before anything is written (all errors at once); an
//! update locks the listing's row, checks the caller may change it, and applies only the
//! fields given. Retiring is an update of the status (`inactive`, `sold`): nothing is deleted.

use serde::Deserialize;
use uuid::Uuid;

use super::access::{check_manage, owner_for};
use super::dto::{current, PropertyDto};
use super::validate::{Check, PROPERTY_TYPES};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::properties::{self as q, Changes, NewProperty};
use crate::error::{AppError, Result};
use crate::model::ListingStatus;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePropertyRequest {
    /// 1–200 characters.
    pub title: Option<String>,
    /// Up to 10,000 characters; default empty.
    pub description: Option<String>,
    /// In the currency's minor unit, 0 to 10^15.
    pub price_cents: Option<i64>,
    /// ISO 4217 code (3 uppercase letters); default `EUR`.
    pub currency: Option<String>,
    /// Up to 300 characters; default empty.
    pub address: Option<String>,
    /// 1–100 characters.
    pub city: Option<String>,
    /// `house`, `apartment`, `condo` or `land`.
    pub property_type: Option<String>,
    /// `active` (default), `pending`, `sold` or `inactive`.
    pub status: Option<String>,
    /// The listing's agent: the caller by default; an agency admin may name any active member
    /// of the agency.
    pub agent_id: Option<Uuid>,
}

/// Create a listing in the caller's agency. Agents create their own; agency admins may assign
/// it to an agent.
pub async fn create(
    core: &Core,
    user: &AuthUser,
    req: CreatePropertyRequest,
) -> Result<PropertyDto> {
    let agency = user.agency()?;
    let mut check = Check::default();
    let title = match req.title.as_deref() {
        Some(t) => check.line("title", t, 1, 200),
        None => {
            check.fail("title", "is required");
            ""
        }
    };
    let description = check.text(
        "description",
        req.description.as_deref().unwrap_or(""),
        10_000,
    );
    let price_cents = match req.price_cents {
        Some(p) => {
            check.price("price_cents", p);
            p
        }
        None => {
            check.fail("price_cents", "is required");
            0
        }
    };
    let currency = check.currency(req.currency.as_deref().unwrap_or("EUR"));
    let address = check.line("address", req.address.as_deref().unwrap_or(""), 0, 300);
    let city = match req.city.as_deref() {
        Some(c) => check.line("city", c, 1, 100),
        None => {
            check.fail("city", "is required");
            ""
        }
    };
    let property_type = match req.property_type.as_deref() {
        Some(t) => check.one_of("property_type", t, PROPERTY_TYPES),
        None => {
            check.fail("property_type", "is required");
            ""
        }
    };
    let status = check.status("status", req.status.as_deref().unwrap_or("active"));
    check.finish()?;

    let agent_id = owner_for(core, user, agency, req.agent_id)
        .await?
        .unwrap_or(user.id);
    let id = q::insert(
        &core.db,
        NewProperty {
            agency_id: agency,
            agent_id,
            title,
            description,
            price_cents,
            currency,
            address,
            city,
            property_type,
            // `finish` refused an invalid status.
            status: status.unwrap_or(ListingStatus::Active),
        },
    )
    .await?;
    tracing::info!(property = %id, agent = %agent_id, "listing created");
    current(core, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePropertyRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub currency: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub property_type: Option<String>,
    /// Retire a listing with `inactive` or `sold`; `active` publishes it again.
    pub status: Option<String>,
    /// Agency admins: hand the listing to another active member of the agency.
    pub agent_id: Option<Uuid>,
}

/// Edit a listing (absent fields are kept), including its status to retire it. The listing's
/// agent or an admin of its agency.
pub async fn update(
    core: &Core,
    user: &AuthUser,
    id: Uuid,
    req: UpdatePropertyRequest,
) -> Result<PropertyDto> {
    let agency = user.agency()?;
    let mut check = Check::default();
    let changes = Changes {
        agent_id: None,
        title: req.title.as_deref().map(|t| check.line("title", t, 1, 200)),
        description: req
            .description
            .as_deref()
            .map(|d| check.text("description", d, 10_000)),
        price_cents: req.price_cents.inspect(|p| check.price("price_cents", *p)),
        currency: req.currency.as_deref().map(|c| check.currency(c)),
        address: req
            .address
            .as_deref()
            .map(|a| check.line("address", a, 0, 300)),
        city: req.city.as_deref().map(|c| check.line("city", c, 1, 100)),
        property_type: req
            .property_type
            .as_deref()
            .map(|t| check.one_of("property_type", t, PROPERTY_TYPES)),
        status: req
            .status
            .as_deref()
            .and_then(|s| check.status("status", s)),
    };
    check.finish()?;

    let mut tx = core.db.begin().await?;
    let before = q::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    check_manage(user, before.agency_id, before.agent_id)?;
    let changes = Changes {
        agent_id: owner_for(core, user, agency, req.agent_id).await?,
        ..changes
    };
    if !changes.is_empty() {
        q::update(&mut *tx, id, &changes).await?;
    }
    tx.commit().await?;
    if let Some(s) = changes.status.filter(|s| *s != before.status) {
        tracing::info!(property = %id, from = %before.status, to = %s, "listing status changed");
    }
    current(core, id).await
}
