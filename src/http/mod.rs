//! The HTTP surface: one file per resource, each with its `router()`, assembled here with the
//! cross-cutting layers (observation, body limits, timeouts, panics → 500 problem).
//!
//! Layout: [`health`] (`/healthz`, `/readyz`, `/metrics`), [`auth`] (tokens in JSON) and
//! [`web_auth`] (browser sign-in: refresh cookie + CSRF), [`me`], [`agency`], [`links`]
//! (WhatsApp links), [`conversations`], [`messages`] and [`files`] (the chat),
//! [`admin`] (operators), [`openapi`] (`/api/openapi.json`, `/docs`);
//! [`extract`] and [`observe`] hold the shared extractors and the outermost middleware;
//! [`request_id`] the per-request id; [`web`] the built web app at `/` (with `--web-dir`)
//! and the security headers of every response.

pub mod admin;
pub mod agency;
pub mod auth;
pub mod conversations;
pub mod extract;
pub mod files;
pub mod health;
pub mod links;
pub mod me;
pub mod messages;
pub mod moderation;
pub mod nodes;
pub mod notifications;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod properties;
pub mod request_id;
pub mod state;
pub mod web;
pub mod web_auth;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::AppError;
use crate::http::state::AppState;

/// The API under `/api/v1`.
fn api_v1() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(web_auth::router())
        .merge(me::router())
        .merge(agency::router())
        .merge(links::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(files::router())
        .merge(properties::router())
        .merge(moderation::router())
        .merge(notifications::router())
        .merge(admin::router())
        .merge(nodes::router())
        .route("/ws", axum::routing::get(crate::realtime::ws::ws_handler))
        .route(
            "/ws/ticket",
            axum::routing::post(crate::realtime::ws::create_ticket),
        )
}

/// `/webhooks/*` with their own body limit.
fn webhook_routes() -> Router<AppState> {
    crate::ingest::receiver::router().layer(RequestBodyLimitLayer::new(
        crate::ingest::receiver::MAX_BODY,
    ))
}

/// What the webhook-only listener (`--webhook-bind`) serves: the webhooks and nothing else
/// (any other path is a 404 problem), with the same observation, timeout and panic layers.
pub fn webhook_router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    webhook_routes()
        .fallback(|| async { AppError::NotFound.into_response() })
        .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(observe::observe))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let headers = web::HeaderPolicy::new(&state.config);
    let app = state.config.web_dir.as_deref().map(web::WebApp::new);
    Router::new()
        .merge(health::router())
        .nest("/api/v1", api_v1())
        .merge(openapi::router())
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        // Uploads and webhooks carry their own, larger, limits.
        .nest(
            "/api/v1",
            files::upload_router()
                .layer(RequestBodyLimitLayer::new(crate::chat::files::MAX_UPLOAD)),
        )
        // With a webhook listener of their own (`--webhook-bind`), webhooks are not served here.
        .merge(if state.config.webhook_bind.is_none() {
            webhook_routes()
        } else {
            Router::new()
        })
        .fallback(move |req: Request| {
            let app = app.clone();
            async move {
                match app {
                    Some(app) => app.serve(req).await,
                    None => AppError::NotFound.into_response(),
                }
            }
        })
        .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::new())
        // JSON and the app's text assets compressed for clients that ask (images, already
        // compressed, and tiny bodies are left alone).
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(observe::observe))
        .layer(middleware::from_fn_with_state(
            headers,
            web::security_headers,
        ))
        .layer(tower::util::option_layer(cors(&state.config.cors_origins)))
        .with_state(state)
}

/// CORS for the configured origins only: none by default (the app is same-origin; no layer,
/// so a preflight is refused like any unknown method), and never credentials (the refresh
/// cookie is `SameSite=Strict`; other origins send tokens).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    if origins.is_empty() {
        return None;
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600));
    Some(layer)
}
