//! The HTTP edge's error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Every failure a client can see goes through [`AppError`]: a stable snake_case `code`, a
//! human `detail`, the HTTP status, and the request id (also in the log line). Server-side
//! failures (5xx) are logged with their cause and answered with a generic detail, so no SQL,
//! Docker or internal message ever reaches a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::request_id::current_request_id;

/// Shorthand used across the crate.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request could not be understood (malformed JSON, bad query string, …).
    #[error("bad request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 422: well-formed, but some fields are invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401: no valid credentials.
    #[error("unauthorized: {detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// 403: authenticated, but not allowed.
    #[error("forbidden: {detail}")]
    Forbidden { code: &'static str, detail: String },
    /// 404: absent, or not visible to the caller (the two are not distinguished).
    #[error("not found")]
    NotFound,
    /// 409: conflicts with the current state (duplicate, wrong state, …).
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// 413: body over the configured limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: the body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429: slow down; `retry_after` in whole seconds.
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    /// 429: a count limit (not a rate), e.g. open sockets.
    #[error("too many: {detail}")]
    TooMany { code: &'static str, detail: String },
    /// 503: a dependency is unavailable.
    #[error("service unavailable: {detail}")]
    Unavailable { code: &'static str, detail: String },
    /// 500: anything else. The cause is logged, never returned.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            detail: detail.into(),
        }
    }
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            detail: detail.into(),
        }
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }
    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            detail: detail.into(),
        }
    }
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::TooMany { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Validation(_) => "validation_failed",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest { detail, .. }
            | Self::Unauthorized { detail, .. }
            | Self::Forbidden { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::TooMany { detail, .. }
            | Self::Unavailable { detail, .. } => detail.clone(),
            Self::Validation(_) => "One or more fields are invalid.".into(),
            Self::NotFound => "The resource does not exist or is not visible to you.".into(),
            Self::PayloadTooLarge => "The request body is larger than allowed.".into(),
            Self::UnsupportedMediaType => {
                "Send the body as JSON with `Content-Type: application/json`.".into()
            }
            Self::RateLimited { retry_after } => {
                format!("Too many requests; retry in {retry_after} s.")
            }
            Self::Internal(_) => {
                "Something went wrong on our side; quote the request id if you report it.".into()
            }
        }
    }
}

/// The problem document (RFC 9457) with Puente's extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:puente:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, snake_case.
    pub code: String,
    /// The request id, also echoed in `x-request-id` and present in the server's logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Render a problem response. Used by [`AppError`] and by the fallback that turns any other
/// error response (from a layer, a rejection, a panic) into the same shape.
pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: String,
    errors: Vec<FieldError>,
) -> Response {
    let body = Problem {
        kind: format!("urn:puente:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        code: code.to_string(),
        request_id: current_request_id(),
        errors,
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (status, json).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, code = self.code(), request_id = ?current_request_id(), "request failed");
        } else {
            tracing::debug!(
                code = self.code(),
                status = status.as_u16(),
                "request refused"
            );
        }
        let retry_after = match &self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        };
        let errors = match &self {
            Self::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        let mut resp = problem_response(status, self.code(), self.detail(), errors);
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut => {
                Self::unavailable("database_busy", "The database is busy; try again shortly.")
            }
            sqlx::Error::Database(db) => match db.constraint() {
                Some("users_email_key") => {
                    Self::conflict("email_taken", "An account with this email already exists.")
                }
                Some(name) if db.is_unique_violation() => {
                    tracing::warn!(constraint = name, "unmapped unique violation");
                    Self::conflict("already_exists", "This already exists.")
                }
                Some(name) if db.is_foreign_key_violation() => {
                    tracing::warn!(constraint = name, "foreign key violation");
                    Self::conflict("reference_invalid", "A referenced record does not exist.")
                }
                Some(name) if db.is_check_violation() => {
                    Self::invalid(name, "The value is not allowed.")
                }
                _ => Self::Internal(anyhow::Error::new(err)),
            },
            _ => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

/// Convert "row not found" into `None`, everything else into `AppError`.
pub trait OptionalExt<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExt<T> for std::result::Result<T, sqlx::Error> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(sqlx::Error::RowNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
