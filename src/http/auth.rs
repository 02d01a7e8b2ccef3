//! `/api/v1/auth/*`: register, login, refresh, logout.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use super::extract::{AppJson, ClientIp, UserAgent};
use crate::auth::service::{self, LoginRequest, RefreshRequest, RegisterRequest, TokenResponse};
use crate::error::Result;
use crate::http::problem::Problem;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
}

/// Create an account: a buyer, an agency admin with a new agency, or an agent with an invite.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    UserAgent(ua): UserAgent,
    AppJson(req): AppJson<RegisterRequest>,
) -> Result<(StatusCode, AppJson<TokenResponse>)> {
    let resp = service::register(&state, req, ua.as_deref()).await?;
    Ok((StatusCode::CREATED, AppJson(resp)))
}

/// Exchange email and password for an access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<AppJson<TokenResponse>> {
    Ok(AppJson(
        service::login(&state, &state.login_limiter, req, &ip, ua.as_deref()).await?,
    ))
}

/// Spend a refresh token for a new pair. A token presented twice ends its whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    UserAgent(ua): UserAgent,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<AppJson<TokenResponse>> {
    Ok(AppJson(service::refresh(&state, req, ua.as_deref()).await?))
}

/// End the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<StatusCode> {
    service::logout(&state, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
