//! `/api/v1/properties`: listings. Agency staff create, edit and retire them; everyone signed
//! in browses and searches the active ones. Each handler extracts the caller and the request,
//! calls one use case of [`crate::listings`] (where the rules of who may see and change what
//! are stated) and responds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::{AuthUser, Staff};
use crate::error::Result;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::listings::browse::{self, BrowseQuery, PropertyPage};
use crate::listings::dto::PropertyDto;
use crate::listings::photos::{self, AddPhotoRequest};
use crate::listings::write::{self, CreatePropertyRequest, UpdatePropertyRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/properties", get(list_properties).post(create_property))
        .route("/properties/{id}", get(get_property).patch(update_property))
        .route("/properties/{id}/photos", post(add_photo))
        .route("/properties/{id}/photos/{file_id}", delete(remove_photo))
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
    let listing = write::create(&state, &user, req).await?;
    Ok((StatusCode::CREATED, AppJson(listing)))
}

/// One listing: active ones for everyone signed in, others for their agency's staff.
#[utoipa::path(get, path = "/api/v1/properties/{id}", tag = "properties", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PropertyDto), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_property(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<PropertyDto>> {
    Ok(AppJson(browse::get(&state, &user, id).await?))
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
    Ok(AppJson(browse::browse(&state, &user, &bq).await?))
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
    Ok(AppJson(write::update(&state, &user, id, req).await?))
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
    let added = photos::add(&state, &user, id, req).await?;
    let status = if added.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(added.listing)))
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
    photos::remove(&state, &user, id, file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
