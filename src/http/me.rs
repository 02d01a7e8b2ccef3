//! `/api/v1/me`: the caller's own account.

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use super::extract::AppJson;
use crate::auth::extract::AuthUser;
use crate::auth::service::{self, UpdateMeRequest, UpdateMeResponse, UserDto};
use crate::db;
use crate::error::{AppError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(get_me).patch(update_me))
}

/// The caller's account. Any authenticated role.
#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = UserDto), (status = 401, body = Problem)))]
pub async fn get_me(State(state): State<AppState>, user: AuthUser) -> Result<AppJson<UserDto>> {
    let row = db::users::find(&state.db, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(AppJson(UserDto::load(&state.db, &row).await?))
}

/// Change the display name, phone or password. Any authenticated role.
#[utoipa::path(patch, path = "/api/v1/me", tag = "account", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UpdateMeResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<UpdateMeRequest>,
) -> Result<AppJson<UpdateMeResponse>> {
    Ok(AppJson(service::update_me(&state, user.id, req).await?))
}
