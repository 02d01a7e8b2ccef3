//! The simulated phone page at `/__emulator/phone`: plain HTML/JS compiled into the binary.
//! It reads the API key from its own `?x-api-key=` and passes it on to every call it makes.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::AppState;

const PAGE: &str = include_str!("phone.html");

pub fn router() -> Router<AppState> {
    Router::new().route("/__emulator/phone", get(page))
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
}
