//! HTTP errors in the exact shapes NestJS (and so WAHA) produces.
//!
//! Real WAHA answers `HttpException`s as `{statusCode, message, error}`, validation failures as
//! `{statusCode:400, message:[...], error:"Bad Request"}`, state waits as the object
//! `{error, session, status, expected}` and missing keys as `{"message":"Unauthorized","statusCode":401}`.
//! The emulator never panics on bad input: every failure becomes one of these.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A Nest `HttpException` with a string message.
    #[error("{status}: {message}")]
    Http { status: StatusCode, message: String },
    /// class-validator failures.
    #[error("validation failed: {0:?}")]
    Validation(Vec<String>),
    /// `waitUntilStatus` gave up.
    #[error("session {session} is {status}, expected {expected:?}")]
    UnexpectedStatus {
        session: String,
        status: String,
        expected: Vec<String>,
    },
    /// Missing or wrong API key.
    #[error("unauthorized")]
    Unauthorized,
    /// A file under `/api/files` does not exist.
    #[error("file not found: {0}")]
    FileNotFound(String),
    /// Emulator-only control API errors: `{"error": "..."}`.
    #[error("{status}: {message}")]
    Control { status: StatusCode, message: String },
    /// Anything unexpected; details stay in the log.
    #[error("internal: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Validation(vec![message.into()])
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::Http {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::Http {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }
    pub fn control(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Control {
            status,
            message: message.into(),
        }
    }
}

/// Nest's `error` text for a status code.
fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Http { status, message } => (
                status,
                Json(json!({"statusCode": status.as_u16(), "message": message, "error": reason(status)})),
            )
                .into_response(),
            ApiError::Validation(messages) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"statusCode": 400, "message": messages, "error": "Bad Request"})),
            )
                .into_response(),
            ApiError::UnexpectedStatus {
                session,
                status,
                expected,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": "Session status is not as expected. Try again later or restart the session",
                    "session": session,
                    "status": status,
                    "expected": expected,
                })),
            )
                .into_response(),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Unauthorized", "statusCode": 401})),
            )
                .into_response(),
            ApiError::FileNotFound(details) => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"code": 404, "key": "FILE_NOT_FOUND", "message": "File not found", "details": details}})),
            )
                .into_response(),
            ApiError::Control { status, message } => {
                (status, Json(json!({"error": message}))).into_response()
            }
            ApiError::Internal(detail) => {
                let id = ulid::Ulid::new().to_string().to_lowercase();
                tracing::error!(error_id = %id, %detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"statusCode": 500, "message": "Internal server error", "error": "Internal Server Error", "id": id})),
                )
                    .into_response()
            }
        }
    }
}
