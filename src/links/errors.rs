//! What a link operation can fail with, as one enum: the link domain decides by variant (the
//! supervisor retries an unreachable engine, marks a missing image failed), and the edge turns
//! each variant into its problem in one place ([`From<Error> for AppError`]). An engine or
//! session that cannot be reached is a 503 the client may retry (`docker_unreachable`,
//! `link_unreachable`); a session in the wrong state is a 409; a limit is a 409 or a 429;
//! anything else is a 500 whose cause is logged, never returned.

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::runtime::RuntimeError;
use crate::waha::client::WahaError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such link (or not the caller's).
    #[error("no such link")]
    NotFound,
    /// The agent already has as many links as one agent may.
    #[error("the agent has {have} link(s), the limit is {limit}")]
    AgentLimit { have: i64, limit: i64 },
    /// The agency runs as many links as its quota allows.
    #[error("the agency runs {live} of its {quota} link(s)")]
    AgencyQuota { live: i64, quota: i64 },
    /// The installation runs as many links as it may (`PUENTE_MAX_LINKS`).
    #[error("the installation is at its link capacity")]
    Capacity,
    /// Too many links created in the last hour; `oldest` is the oldest creation counted.
    #[error("too many links created in the last hour")]
    CreateRate { oldest: Option<DateTime<Utc>> },
    /// The link (or its WhatsApp session) is not waiting for a scan: no QR, no pairing code.
    #[error("not waiting for a scan: {0}")]
    NotScanning(String),
    /// An operator stopped the link; only an operator starts it again.
    #[error("stopped by an operator")]
    StoppedByOperator,
    /// The phone number for a pairing code is not 6–15 digits.
    #[error("invalid phone number")]
    InvalidPhone,
    /// The link's container is not running or publishes no port.
    #[error("session container unreachable: {0}")]
    ContainerDown(&'static str),
    /// The simulated phone lives on a private network.
    #[error("the simulated phone is not published")]
    PhoneNotPublished,
    /// No Swarm node can take another session.
    #[error("no session node has room")]
    NoNode,
    /// The container engine failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The link's WAHA failed.
    #[error(transparent)]
    Waha(#[from] WahaError),
    /// A failure shared with the rest of the application (the database, rendering).
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::App(e.into())
    }
}

impl Error {
    /// Whether trying again later may succeed without anyone acting (an engine or session
    /// that cannot be reached right now).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Runtime(RuntimeError::Unreachable(_))
                | Error::Waha(WahaError::Unreachable(_))
                | Error::ContainerDown(_)
                | Error::NoNode
        )
    }
}

impl Error {
    /// The problem code this failure is answered with.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::AgentLimit { .. } => "link_limit_reached",
            Error::AgencyQuota { .. } => "agency_link_quota_reached",
            Error::Capacity => "link_capacity_reached",
            Error::CreateRate { .. } => "rate_limited",
            Error::NotScanning(_) => "link_not_scanning",
            Error::StoppedByOperator => "link_stopped_by_operator",
            Error::InvalidPhone => "validation_failed",
            Error::ContainerDown(_) | Error::Waha(WahaError::Unreachable(_)) => "link_unreachable",
            Error::PhoneNotPublished => "phone_not_published",
            Error::NoNode => "no_session_node",
            Error::Runtime(RuntimeError::Unreachable(_)) => "docker_unreachable",
            Error::Waha(WahaError::WrongStatus { .. }) => "link_wrong_state",
            Error::Runtime(_) | Error::Waha(_) => "internal_error",
            Error::App(e) => e.code(),
        }
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        let code = e.code();
        match e {
            Error::NotFound => AppError::NotFound,
            Error::AgentLimit { have, limit } => AppError::conflict(
                code,
                format!("You already have {have} WhatsApp link(s); the limit is {limit}."),
            ),
            Error::AgencyQuota { live, quota } => AppError::conflict(
                code,
                format!(
                    "Your agency has {live} of its {quota} WhatsApp link(s); ask the platform's \
                     operators to raise the quota."
                ),
            ),
            Error::Capacity => AppError::conflict(
                code,
                "The platform runs as many WhatsApp links as it can; try again later or ask its \
                 operators.",
            ),
            Error::CreateRate { oldest } => {
                AppError::window_full(oldest, chrono::Duration::hours(1))
            }
            Error::NotScanning(detail) => AppError::conflict(code, detail),
            Error::StoppedByOperator => AppError::conflict(
                code,
                "The platform's operators stopped this WhatsApp link; ask them to start it again.",
            ),
            Error::InvalidPhone => {
                AppError::invalid("phone_number", "must be 6 to 15 digits, with country code")
            }
            Error::ContainerDown(why) => AppError::unavailable(code, why),
            Error::PhoneNotPublished => AppError::conflict(
                code,
                "The session container is on a private network; its simulated phone cannot be \
                 opened from a browser.",
            ),
            Error::NoNode => AppError::unavailable(
                code,
                "No Swarm node can take another WhatsApp session right now.",
            ),
            Error::Runtime(RuntimeError::Unreachable(_)) => AppError::unavailable(
                code,
                "The container engine is unreachable; try again shortly.",
            ),
            Error::Runtime(other) => AppError::Internal(anyhow::Error::new(other)),
            Error::Waha(WahaError::Unreachable(_)) => AppError::unavailable(
                code,
                "The link's WhatsApp session cannot be reached right now.",
            ),
            Error::Waha(WahaError::WrongStatus { status, .. }) => {
                AppError::conflict(code, format!("The WhatsApp session is {status}."))
            }
            Error::Waha(other) => AppError::Internal(anyhow::anyhow!("WAHA call failed: {other}")),
            Error::App(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn each_variant_becomes_its_problem() {
        let cases: Vec<(Error, StatusCode, &str)> = vec![
            (Error::NotFound, StatusCode::NOT_FOUND, "not_found"),
            (
                Error::AgentLimit { have: 1, limit: 1 },
                StatusCode::CONFLICT,
                "link_limit_reached",
            ),
            (
                Error::AgencyQuota { live: 3, quota: 3 },
                StatusCode::CONFLICT,
                "agency_link_quota_reached",
            ),
            (
                Error::Capacity,
                StatusCode::CONFLICT,
                "link_capacity_reached",
            ),
            (
                Error::CreateRate { oldest: None },
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
            ),
            (
                Error::NotScanning("x".into()),
                StatusCode::CONFLICT,
                "link_not_scanning",
            ),
            (
                Error::InvalidPhone,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Error::ContainerDown("down"),
                StatusCode::SERVICE_UNAVAILABLE,
                "link_unreachable",
            ),
            (
                Error::NoNode,
                StatusCode::SERVICE_UNAVAILABLE,
                "no_session_node",
            ),
            (
                Error::Runtime(RuntimeError::Unreachable("socket".into())),
                StatusCode::SERVICE_UNAVAILABLE,
                "docker_unreachable",
            ),
            (
                Error::Runtime(RuntimeError::ImageMissing("img".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                Error::Waha(WahaError::Unreachable("refused".into())),
                StatusCode::SERVICE_UNAVAILABLE,
                "link_unreachable",
            ),
        ];
        for (err, status, code) in cases {
            let transient = err.is_transient();
            assert_eq!(err.code(), code);
            let app = AppError::from(err);
            assert_eq!((app.status(), app.code()), (status, code), "{app:?}");
            assert_eq!(
                transient,
                status == StatusCode::SERVICE_UNAVAILABLE,
                "{app:?}"
            );
        }
    }

    #[test]
    fn an_internal_cause_is_not_in_the_detail() {
        let app = AppError::from(Error::Runtime(RuntimeError::Operation {
            op: "create",
            message: "secret-path /var/lib/x".into(),
        }));
        assert!(!app.detail().contains("secret-path"), "{}", app.detail());
    }
}
