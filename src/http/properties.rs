//! `/api/v1/properties`: listings. Agency staff create, edit and retire them; everyone signed
//! in browses and searches the active ones.
//!
//! Who may do what:
//! - **See** a listing: anyone authenticated when it is `active`; otherwise only the staff of
//!   its agency. Anything else is 404 ([`crate::listings::can_see`], also used to serve the photos' files).
//! - **Change** a listing (edit, retire, photos): its own agent, or an admin of its agency.
//!   Changes are scoped to the caller's agency: another agency's listing is 404, a colleague's
//!   listing is 403 for an agent. Buyers and operators are refused by role (403).
//! - Listings are never deleted: they are retired by setting their status to `inactive` or
//!   `sold`.
//!
//! All text is stored as given (trimmed) and only ever returned as JSON, never rendered.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::{AuthUser, Staff};
use crate::db::properties::{self as q, Changes, Filter, NewProperty, PropertyRow, Scope};
use crate::error::{AppError, FieldError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::listings::can_see;
use crate::model::Role;

/// The kinds of property a listing may be.
pub const PROPERTY_TYPES: &[&str] = &["house", "apartment", "condo", "land"];
/// A listing's life cycle; only `active` ones are public.
pub const STATUSES: &[&str] = &["active", "pending", "sold", "inactive"];
/// Highest price accepted, in cents: well above any real property and below 2^53, so the
/// number survives JavaScript clients.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000_000_000;
/// Photos per listing.
pub const MAX_PHOTOS: i64 = 50;
/// Highest explicit photo position.
pub const MAX_POSITION: i32 = 10_000;
/// Image types a photo may have.
pub const PHOTO_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
const MAX_QUERY_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/properties", get(list_properties).post(create_property))
        .route("/properties/{id}", get(get_property).patch(update_property))
        .route("/properties/{id}/photos", post(add_photo))
        .route("/properties/{id}/photos/{file_id}", delete(remove_photo))
}

/// May `user` change a listing of `agency` owned by `agent`? 404 outside the caller's agency,
/// 403 for an agent on a colleague's listing.
fn check_manage(user: &AuthUser, agency: Uuid, agent: Uuid) -> Result<()> {
    if user.agency_id != Some(agency) || !user.role.is_staff() {
        return Err(AppError::NotFound);
    }
    if user.role == Role::AgencyAdmin || agent == user.id {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "not_your_listing",
            "Only the listing's agent or an agency admin can change it.",
        ))
    }
}

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
    pub status: String,
    pub photos: Vec<PhotoDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PropertyPage {
    pub items: Vec<PropertyDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// DTOs for these rows, with their photos (one query for all of them).
async fn dtos(state: &AppState, rows: Vec<PropertyRow>) -> Result<Vec<PropertyDto>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut photos: HashMap<Uuid, Vec<PhotoDto>> = HashMap::new();
    for p in q::photos(&state.db, &ids).await? {
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

async fn dto(state: &AppState, id: Uuid) -> Result<PropertyDto> {
    let row = q::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    dtos(state, vec![row])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

// ---- validation -------------------------------------------------------------------------

/// Collects field errors so a client sees every problem at once.
#[derive(Default)]
struct Check(Vec<FieldError>);

impl Check {
    fn fail(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    /// A one-line text: trimmed, `min..=max` characters, no control characters.
    fn line<'a>(&mut self, field: &str, value: &'a str, min: usize, max: usize) -> &'a str {
        let v = value.trim();
        let n = v.chars().count();
        if n < min || n > max {
            if min > 0 {
                self.fail(field, &format!("must be {min} to {max} characters"));
            } else {
                self.fail(field, &format!("must be at most {max} characters"));
            }
        } else if v.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
        v
    }

    /// Free text: trimmed, at most `max` characters; line breaks and tabs allowed.
    fn text<'a>(&mut self, field: &str, value: &'a str, max: usize) -> &'a str {
        let v = value.trim();
        if v.chars().count() > max {
            self.fail(field, &format!("must be at most {max} characters"));
        } else if v
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.fail(field, "must not contain control characters");
        }
        v
    }

    fn price(&mut self, field: &str, cents: i64) {
        if !(0..=MAX_PRICE_CENTS).contains(&cents) {
            self.fail(
                field,
                &format!("must be between 0 and {MAX_PRICE_CENTS} (cents)"),
            );
        }
    }

    fn currency<'a>(&mut self, value: &'a str) -> &'a str {
        if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
            self.fail("currency", "must be an ISO 4217 code: 3 uppercase letters");
        }
        value
    }

    fn one_of<'a>(&mut self, field: &str, value: &'a str, allowed: &[&str]) -> &'a str {
        if !allowed.contains(&value) {
            self.fail(field, &format!("must be one of: {}", allowed.join(", ")));
        }
        value
    }

    fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

/// Resolve who will own a listing. An agent may only name themselves; an agency admin may
/// name any active agent or admin of their agency.
async fn owner_for(
    state: &AppState,
    user: &AuthUser,
    agency: Uuid,
    requested: Option<Uuid>,
) -> Result<Option<Uuid>> {
    match requested {
        None => Ok(None),
        Some(a) if a == user.id => Ok(Some(a)),
        Some(_) if user.role != Role::AgencyAdmin => Err(AppError::forbidden(
            "cannot_assign_agent",
            "Only an agency admin can choose a listing's agent.",
        )),
        Some(a) => {
            if q::is_active_staff(&state.db, agency, a).await? {
                Ok(Some(a))
            } else {
                Err(AppError::invalid(
                    "agent_id",
                    "no such active agent in your agency",
                ))
            }
        }
    }
}

// ---- create -----------------------------------------------------------------------------

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

/// Create a listing. Agents create their own; agency admins may assign it to an agent.
#[utoipa::path(post, path = "/api/v1/properties", tag = "properties", security(("bearer" = [])),
    request_body = CreatePropertyRequest,
    responses((status = 201, body = PropertyDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_property(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppJson(req): AppJson<CreatePropertyRequest>,
) -> Result<(StatusCode, AppJson<PropertyDto>)> {
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
    let status = check.one_of(
        "status",
        req.status.as_deref().unwrap_or("active"),
        STATUSES,
    );
    check.finish()?;

    let agent_id = owner_for(&state, &user, agency, req.agent_id)
        .await?
        .unwrap_or(user.id);
    let id = q::insert(
        &state.db,
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
            status,
        },
    )
    .await?;
    tracing::info!(property = %id, agent = %agent_id, "listing created");
    Ok((StatusCode::CREATED, AppJson(dto(&state, id).await?)))
}

// ---- read -------------------------------------------------------------------------------

/// One listing: active ones for everyone signed in, others for their agency's staff.
#[utoipa::path(get, path = "/api/v1/properties/{id}", tag = "properties", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PropertyDto), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_property(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<PropertyDto>> {
    let row = q::find(&state.db, id)
        .await?
        .filter(|p| can_see(&user, &p.status, p.agency_id))
        .ok_or(AppError::NotFound)?;
    Ok(AppJson(
        dtos(&state, vec![row])
            .await?
            .pop()
            .ok_or(AppError::NotFound)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// City, case-insensitive exact match.
    pub city: Option<String>,
    /// `house`, `apartment`, `condo` or `land`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub property_type: Option<String>,
    /// Lowest price, in cents (inclusive).
    pub min_price: Option<i64>,
    /// Highest price, in cents (inclusive).
    pub max_price: Option<i64>,
    /// Words to find in the title, description, address or city (Spanish and English
    /// stemming: "casas" finds "casa"). `-word` excludes, `"a phrase"` matches a phrase.
    pub q: Option<String>,
    /// Only this agent's listings.
    pub agent_id: Option<Uuid>,
    /// Staff: the caller's own listings, any status.
    #[serde(default)]
    pub mine: bool,
    /// Agency admins: the agency's listings, any status.
    #[serde(default)]
    pub agency: bool,
    /// With `mine` or `agency`: only this status. Otherwise only `active` is allowed.
    pub status: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn parse_cursor(c: &str) -> Result<(DateTime<Utc>, Uuid)> {
    let bad = || AppError::bad_request("invalid_cursor", "The cursor is not valid.");
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let micros: i64 = t.parse().map_err(|_| bad())?;
    Ok((
        DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
        id.parse().map_err(|_| bad())?,
    ))
}

fn cursor_of(row: &PropertyRow) -> String {
    format!("{}_{}", row.created_at.timestamp_micros(), row.id)
}

/// Browse and search listings, newest first. Everyone sees active listings; staff may ask for
/// their own (`mine=true`) and agency admins for their agency's (`agency=true`) in any status.
#[utoipa::path(get, path = "/api/v1/properties", tag = "properties", security(("bearer" = [])),
    params(BrowseQuery),
    responses((status = 200, body = PropertyPage), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_properties(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(bq): AppQuery<BrowseQuery>,
) -> Result<AppJson<PropertyPage>> {
    let scope = match (bq.mine, bq.agency) {
        (true, true) => {
            return Err(AppError::invalid("mine", "cannot be combined with agency"));
        }
        (true, false) if user.role.is_staff() => Scope::Agent(user.id),
        (false, true) if user.role == Role::AgencyAdmin => Scope::Agency(user.agency()?),
        (true, false) | (false, true) => {
            return Err(AppError::forbidden(
                "forbidden_role",
                format!(
                    "Your role ({}) cannot list these listings; browse the active ones.",
                    user.role
                ),
            ));
        }
        (false, false) => Scope::Public,
    };
    let mut check = Check::default();
    let limit = bq.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        check.fail("limit", "must be between 1 and 100");
    }
    let status = bq
        .status
        .as_deref()
        .map(|s| check.one_of("status", s, STATUSES));
    if scope == Scope::Public && status.is_some_and(|s| s != "active") {
        check.fail(
            "status",
            "only active listings are public; use mine=true or agency=true",
        );
    }
    let property_type = bq
        .property_type
        .as_deref()
        .map(|t| check.one_of("type", t, PROPERTY_TYPES));
    for (field, price) in [("min_price", bq.min_price), ("max_price", bq.max_price)] {
        if let Some(p) = price {
            check.price(field, p);
        }
    }
    if let (Some(lo), Some(hi)) = (bq.min_price, bq.max_price) {
        if lo > hi {
            check.fail("max_price", "must not be below min_price");
        }
    }
    let city = bq.city.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if city.is_some_and(|c| c.chars().count() > 100) {
        check.fail("city", "must be at most 100 characters");
    }
    let text = bq.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if let Some(t) = text {
        if t.chars().count() > MAX_QUERY_CHARS {
            check.fail("q", "must be at most 200 characters");
        } else if t.contains('\0') {
            check.fail("q", "must not contain control characters");
        }
    }
    check.finish()?;
    let after = bq.cursor.as_deref().map(parse_cursor).transpose()?;

    let filter = Filter {
        status,
        city,
        property_type,
        min_price: bq.min_price,
        max_price: bq.max_price,
        text,
        agent_id: bq.agent_id,
        after,
    };
    // One row more than asked tells whether another page follows.
    let mut rows = q::browse(&state.db, scope, &filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Ok(AppJson(PropertyPage {
        items: dtos(&state, rows).await?,
        next_cursor,
    }))
}

// ---- update -----------------------------------------------------------------------------

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

/// Edit a listing (absent fields are kept), including its status to retire it.
/// The listing's agent or an admin of its agency.
#[utoipa::path(patch, path = "/api/v1/properties/{id}", tag = "properties", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdatePropertyRequest,
    responses((status = 200, body = PropertyDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_property(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<UpdatePropertyRequest>,
) -> Result<AppJson<PropertyDto>> {
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
            .map(|s| check.one_of("status", s, STATUSES)),
    };
    check.finish()?;

    let mut tx = state.db.begin().await?;
    let current = q::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    check_manage(&user, current.agency_id, current.agent_id)?;
    let changes = Changes {
        agent_id: owner_for(&state, &user, agency, req.agent_id).await?,
        ..changes
    };
    if !changes.is_empty() {
        q::update(&mut *tx, id, &changes).await?;
    }
    tx.commit().await?;
    if let Some(s) = changes.status.filter(|s| *s != current.status) {
        tracing::info!(property = %id, from = %current.status, to = %s, "listing status changed");
    }
    Ok(AppJson(dto(&state, id).await?))
}

// ---- photos -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPhotoRequest {
    /// A JPEG, PNG or WebP image you uploaded with `POST /api/v1/files`.
    pub file_id: Uuid,
    /// Display order (0–10,000, lowest first); default after the last photo. Attaching a photo
    /// again with a position moves it.
    pub position: Option<i32>,
}

/// Attach an uploaded image to a listing. 201 when new, 200 when it was already attached.
#[utoipa::path(post, path = "/api/v1/properties/{id}/photos", tag = "properties", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AddPhotoRequest,
    responses((status = 201, body = PropertyDto), (status = 200, body = PropertyDto), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_photo(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<AddPhotoRequest>,
) -> Result<(StatusCode, AppJson<PropertyDto>)> {
    if req
        .position
        .is_some_and(|p| !(0..=MAX_POSITION).contains(&p))
    {
        return Err(AppError::invalid("position", "must be between 0 and 10000"));
    }
    let mut tx = state.db.begin().await?;
    let current = q::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    check_manage(&user, current.agency_id, current.agent_id)?;
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
    let inserted = q::attach_photo(&mut *tx, id, req.file_id, req.position).await?;
    q::touch(&mut *tx, id).await?;
    tx.commit().await?;
    let status = if inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(dto(&state, id).await?)))
}

/// Detach a photo from a listing (the uploaded file itself is kept).
#[utoipa::path(delete, path = "/api/v1/properties/{id}/photos/{file_id}", tag = "properties", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("file_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_photo(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath((id, file_id)): AppPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    let mut tx = state.db.begin().await?;
    let current = q::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    check_manage(&user, current.agency_id, current.agent_id)?;
    if !q::detach_photo(&mut *tx, id, file_id).await? {
        return Err(AppError::NotFound);
    }
    q::touch(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, agency: Option<Uuid>) -> AuthUser {
        AuthUser {
            id: Uuid::now_v7(),
            role,
            agency_id: agency,
            token_id: Uuid::now_v7(),
            session: None,
            token_exp: 0,
        }
    }

    #[test]
    fn only_active_listings_are_public() {
        let agency = Uuid::now_v7();
        let other = Uuid::now_v7();
        for role in [Role::Buyer, Role::Operator] {
            let u = user(role, None);
            assert!(can_see(&u, "active", agency));
            assert!(!can_see(&u, "inactive", agency));
        }
        let staff = user(Role::Agent, Some(agency));
        assert!(can_see(&staff, "sold", agency));
        assert!(!can_see(&staff, "pending", other));
        assert!(can_see(&staff, "active", other));
    }

    #[test]
    fn changes_stay_inside_the_agency() {
        let agency = Uuid::now_v7();
        let agent = user(Role::Agent, Some(agency));
        let admin = user(Role::AgencyAdmin, Some(agency));
        let colleague = Uuid::now_v7();
        assert!(check_manage(&agent, agency, agent.id).is_ok());
        assert!(matches!(
            check_manage(&agent, agency, colleague),
            Err(AppError::Forbidden { .. })
        ));
        assert!(check_manage(&admin, agency, colleague).is_ok());
        assert!(matches!(
            check_manage(&admin, Uuid::now_v7(), colleague),
            Err(AppError::NotFound)
        ));
    }

    #[test]
    fn cursors_round_trip() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap_or_default();
        let id = Uuid::now_v7();
        let c = format!("{}_{}", at.timestamp_micros(), id);
        assert_eq!(parse_cursor(&c).ok(), Some((at, id)));
        assert!(parse_cursor("nope").is_err());
        assert!(parse_cursor("12_notauuid").is_err());
    }

    #[test]
    fn currency_is_three_uppercase_letters() {
        let mut c = Check::default();
        c.currency("EUR");
        c.currency("MXN");
        assert!(c.0.is_empty());
        for bad in ["eur", "EURO", "E1R", "€", ""] {
            let mut c = Check::default();
            c.currency(bad);
            assert_eq!(c.0.len(), 1, "{bad}");
        }
    }
}
