//! Server endpoints: `/ping`, `/health`, `/api/server/version|status`, `/api/version`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use crate::config::Flavor;
use crate::error::ApiError;
use crate::ids;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ping", get(ping))
        .route("/health", get(health))
        .route("/api/server/version", get(version))
        .route("/api/version", get(version))
        .route("/api/server/status", get(status))
}

async fn ping() -> Json<serde_json::Value> {
    Json(json!({"message": "pong"}))
}

/// Legacy Core: 422 "available only in Plus". Current: a terminus-style report.
async fn health(State(state): State<AppState>) -> Response {
    if state.config.flavor == Flavor::CoreLegacy {
        return ApiError::unprocessable(
            "The feature is available only in Plus version. Check this out: https://waha.devlike.pro/",
        )
        .into_response();
    }
    let store_ok = std::fs::create_dir_all(&state.config.store_dir).is_ok();
    let details = json!({
        "mediaFiles.space": {"status": "up"},
        "sessionsFiles.space": {"status": if store_ok { "up" } else { "down" }},
    });
    if store_ok {
        Json(json!({"status": "ok", "info": details, "error": {}, "details": details}))
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "error", "info": {}, "error": details, "details": details})),
        )
            .into_response()
    }
}

async fn version(State(state): State<AppState>) -> Response {
    Json(state.mgr.environment.clone()).into_response()
}

async fn status(State(state): State<AppState>) -> Response {
    Json(json!({
        "startTimestamp": state.started_ms,
        "uptime": ids::now_ms() - state.started_ms,
        "worker": {"id": state.config.worker_id},
    }))
    .into_response()
}
