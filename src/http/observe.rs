//! The outermost middleware: request id, a tracing span per request (method, route, status,
//! latency, request id — never bodies or headers), Prometheus metrics, and the guarantee that
//! every error response has the problem shape, whichever layer or rejection produced it.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::request_id;
use crate::http::problem::problem_response;

pub async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id::choose(
        req.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "http",
        method = %method,
        route = %route,
        request_id = %id,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let resp = request_id::scope(id.clone(), async move {
        let resp = next.run(req).await;
        ensure_problem(resp)
    })
    .instrument(span.clone())
    .await;
    let mut resp = resp;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    if status >= 500 {
        tracing::warn!(parent: &span, "request finished");
    } else {
        tracing::info!(parent: &span, "request finished");
    }
    resp
}

fn default_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal_error",
        _ => "error",
    }
}

fn default_detail(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "No such route.".into(),
        StatusCode::METHOD_NOT_ALLOWED => "This route does not accept that method.".into(),
        StatusCode::REQUEST_TIMEOUT => "The request took too long.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than allowed.".into(),
        s if s.is_server_error() => {
            "Something went wrong on our side; quote the request id if you report it.".into()
        }
        s => s.canonical_reason().unwrap_or("Error").to_string(),
    }
}

/// Replace an error response that is not already a problem document with one.
fn ensure_problem(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return resp;
    }
    let (parts, _body): (_, Body) = resp.into_parts();
    let mut fresh = problem_response(
        status,
        default_code(status),
        default_detail(status),
        Vec::new(),
    );
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            fresh.headers_mut().insert(name, v.clone());
        }
    }
    fresh
}
