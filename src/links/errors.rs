//! How the container engine's and WAHA's failures reach a client: the one mapping from
//! [`RuntimeError`] and [`WahaError`] to [`AppError`] for every link operation. An engine or
//! session that cannot be reached is a 503 the client may retry (`docker_unreachable`,
//! `link_unreachable`); a session in the wrong state is a 409 (`link_wrong_state`); anything
//! else is a 500 whose cause is logged, never returned.

use crate::error::AppError;
use crate::runtime::RuntimeError;
use crate::waha::client::WahaError;

/// A container-engine failure.
pub fn runtime(e: RuntimeError) -> AppError {
    match e {
        RuntimeError::Unreachable(_) => AppError::unavailable(
            "docker_unreachable",
            "The container engine is unreachable; try again shortly.",
        ),
        other => AppError::Internal(anyhow::Error::new(other)),
    }
}

/// A failed call to the link's WAHA.
pub fn waha(e: WahaError) -> AppError {
    match e {
        WahaError::Unreachable(_) => AppError::unavailable(
            "link_unreachable",
            "The link's WhatsApp session cannot be reached right now.",
        ),
        WahaError::WrongStatus { status, .. } => AppError::conflict(
            "link_wrong_state",
            format!("The WhatsApp session is {status}."),
        ),
        other => AppError::Internal(anyhow::anyhow!("WAHA call failed: {other}")),
    }
}
