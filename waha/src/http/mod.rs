//! The HTTP edge: the router, the API-key guard, the JSON body extractor with Nest-style errors
//! and the Nest-style 404 for unknown routes.
//!
//! Layout: one file per resource, each with its own `router()`:
//! `server` (ping, health, version), `sessions`, `auth` (QR, pairing code, screenshot),
//! `messages` (send*, reaction, edit, delete), `chats` (chats, messages, contacts, lids, files),
//! `control` (`/__emulator/*`, never in real WAHA) and `phone` (the simulated phone page).

mod auth;
mod chats;
mod control;
mod messages;
mod phone;
mod server;
mod sessions;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::session::Manager;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub mgr: Arc<Manager>,
    /// Boot time in ms, for `/api/server/status`.
    pub started_ms: i64,
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(server::router())
        .merge(sessions::router())
        .merge(auth::router())
        .merge(messages::router())
        .merge(chats::router())
        .merge(control::router())
        .merge(phone::router())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
        .layer(DefaultBodyLimit::max(50 * 1024 * 1024))
        .with_state(state)
}

/// The key applies to `/api/*`, `/health` and `/__emulator/*`; `/ping` is always open.
async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let guarded = path == "/health"
        || path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/__emulator");
    if guarded {
        let header = req
            .headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query = query_param(req.uri(), "x-api-key");
        let ok = state.config.api_key.accepts(header.as_deref())
            || (query.is_some() && state.config.api_key.accepts(query.as_deref()));
        if !ok {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let Query(map) = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    map.get(name).cloned()
}

/// Nest's 404 for unknown routes: `Cannot GET /path`.
async fn not_found(req: Request) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "message": format!("Cannot {} {}", req.method(), req.uri().path()),
            "error": "Not Found",
            "statusCode": 404,
        })),
    )
        .into_response()
}

/// A JSON body; malformed JSON answers Nest's 400 instead of axum's plain-text rejection.
/// An empty body reads as `{}`.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(json!({})));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::Http {
            status: StatusCode::BAD_REQUEST,
            message: format!("Unexpected token in JSON: {e}"),
        })?;
        Ok(JsonBody(value))
    }
}

/// Query parameters as strings (WAHA parses them leniently).
pub type Params = Query<HashMap<String, String>>;

pub(crate) fn param_bool(p: &HashMap<String, String>, name: &str) -> Option<bool> {
    p.get(name)
        .map(|v| matches!(v.as_str(), "true" | "1" | "True"))
}

pub(crate) fn param_num<T: std::str::FromStr>(
    p: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse::<T>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "{name} must be a number conforming to the specified constraints"
            ))
        }),
    }
}

/// 201 with an empty body (a Nest POST handler returning nothing).
pub(crate) fn created_empty() -> Response {
    StatusCode::CREATED.into_response()
}

/// 201 with a JSON body.
pub(crate) fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}
