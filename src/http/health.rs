//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::db;
use crate::http::problem::problem_response;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    docker: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database and the Docker engine are reachable.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, body = crate::http::problem::Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let limit = Duration::from_secs(2);
    let db_ok = matches!(
        tokio::time::timeout(limit, db::health::ping(&state.db)).await,
        Ok(Ok(()))
    );
    let docker_ok = matches!(
        tokio::time::timeout(limit, state.runtime.ping()).await,
        Ok(Ok(()))
    );
    let word = |ok| if ok { "ok" } else { "unreachable" };
    if db_ok && docker_ok {
        Json(Readiness {
            status: "ready",
            database: "ok",
            docker: "ok",
        })
        .into_response()
    } else {
        problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("database: {}, docker: {}", word(db_ok), word(docker_ok)),
            Vec::new(),
        )
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::metrics::sample_pool(&state.db);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
