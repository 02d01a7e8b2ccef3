//! The error type every layer returns.
//!
//! Every failure a client can see goes through [`AppError`]: a stable snake_case `code`, a
//! human `detail` and the HTTP status it maps to; the edge renders it as an RFC 9457
//! `application/problem+json` body with the request id (`crate::http::problem`). Server-side
//! failures (5xx) are logged with their cause and answered with a generic detail, so no SQL,
//! Docker or internal message ever reaches a client.

use axum::http::StatusCode;
use serde::Serialize;

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
    /// 429 for a limit counted over a sliding window: retry when the oldest counted event
    /// (`oldest`; unknown: the whole window) leaves it, at least a second from now.
    pub fn window_full(
        oldest: Option<chrono::DateTime<chrono::Utc>>,
        window: chrono::Duration,
    ) -> Self {
        let wait = oldest.map_or(window, |t| t + window - chrono::Utc::now());
        AppError::RateLimited {
            retry_after: u64::try_from(wait.num_seconds()).unwrap_or(0).max(1),
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

    pub fn detail(&self) -> String {
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

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut => {
                Self::unavailable("database_busy", "The database is busy; try again shortly.")
            }
            // The server went away under the query (a restart, a failover, a dropped
            // connection): nothing the client did, and retrying soon may work.
            sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "database connection lost");
                Self::unavailable(
                    "database_unavailable",
                    "The database is unavailable right now; try again shortly.",
                )
            }
            // Admin shutdown, crash shutdown, cannot connect now, connection failure classes
            // (57P01–57P03, 08xxx).
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                tracing::warn!(error = %err, "database connection lost");
                Self::unavailable(
                    "database_unavailable",
                    "The database is unavailable right now; try again shortly.",
                )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_database_connection_is_a_503_not_a_500() {
        let lost = AppError::from(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
        assert_eq!(
            (lost.status(), lost.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
        );
        let busy = AppError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(busy.code(), "database_busy");
        assert_eq!(
            AppError::from(sqlx::Error::RowNotFound).status(),
            StatusCode::NOT_FOUND
        );
    }
}
