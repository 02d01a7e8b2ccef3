//! Accounts and authentication: roles, password hashing, access and refresh tokens, the
//! extractors that state who may call a handler, and the login rate limiter.
//!
//! Layout:
//! - [`password`] — argon2id hashing and the password policy.
//! - [`tokens`] — HS256 access tokens (JWT) and opaque refresh tokens (stored hashed).
//! - [`extract`] — [`extract::AuthUser`] and the role guards used by every protected handler.
//! - [`ratelimit`] — keyed token buckets for login attempts (per IP and per account).
//! - [`service`] — register, login, refresh (rotation with reuse detection), logout.

pub mod extract;
pub mod password;
pub mod ratelimit;
pub mod service;
pub mod tokens;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who a user is to the platform. Stored as text in `users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    AgencyAdmin,
    Agent,
    Buyer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::AgencyAdmin => "agency_admin",
            Role::Agent => "agent",
            Role::Buyer => "buyer",
        }
    }

    /// Agency staff: agents and agency admins.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::AgencyAdmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "operator" => Ok(Role::Operator),
            "agency_admin" => Ok(Role::AgencyAdmin),
            "agent" => Ok(Role::Agent),
            "buyer" => Ok(Role::Buyer),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_text() {
        for role in [Role::Operator, Role::AgencyAdmin, Role::Agent, Role::Buyer] {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
