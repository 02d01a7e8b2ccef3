//! Extractors that authenticate the caller and state who may call a handler.
//!
//! [`AuthUser`] verifies the bearer access token, then re-reads the user's role, agency and
//! active flag from the database, so a deactivation or role change takes effect on the next
//! request rather than when the token expires. A token issued for a session (`sid`) is
//! refused once that session has ended — logged out, revoked for reuse, or ended by a
//! password change — with 401 `session_ended`, not when it would have expired. The guard extractors ([`Operator`],
//! [`AgencyAdmin`], [`Staff`], [`Buyer`]) wrap it and refuse other roles with 403.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::core::Core;
use crate::db;
use crate::error::{AppError, Result};
use crate::model::Role;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
    pub agency_id: Option<Uuid>,
    /// The access token's `jti`, for audit lines.
    pub token_id: Uuid,
    /// The session (refresh-token family) of the access token, when it names one.
    pub session: Option<Uuid>,
    /// When the access token expires (Unix seconds): what a WebSocket opened with it lives to.
    pub token_exp: u64,
}

fn bearer(parts: &Parts) -> Result<&str> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        AppError::unauthorized(
            "missing_token",
            "Send an access token as `Authorization: Bearer <token>`.",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| AppError::unauthorized("invalid_token", "The access token is not valid."))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| AppError::unauthorized("invalid_token", "The access token is not valid."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::unauthorized(
            "invalid_token",
            "The access token is not valid.",
        ));
    }
    Ok(token.trim())
}

impl AuthUser {
    /// Authenticate a raw access token (used by the header extractor and by WebSocket auth).
    pub async fn from_token(state: &Core, token: &str) -> Result<Self> {
        let claims = state.jwt.verify(token)?;
        let row = db::tokens::access_standing(&state.db, claims.sub, claims.sid)
            .await?
            .ok_or_else(|| {
                AppError::unauthorized("invalid_token", "The access token is not valid.")
            })?;
        if !row.active {
            return Err(AppError::unauthorized(
                "account_inactive",
                "This account has been deactivated.",
            ));
        }
        if !row.session_live {
            return Err(AppError::unauthorized(
                "session_ended",
                "This session has ended; log in again.",
            ));
        }
        let role: Role = row
            .role
            .parse()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
        Ok(Self {
            id: claims.sub,
            role,
            agency_id: row.agency_id,
            token_id: claims.jti,
            session: claims.sid,
            token_exp: claims.exp,
        })
    }

    /// The caller's agency, for staff; 403 for anyone without one.
    pub fn agency(&self) -> Result<Uuid> {
        self.agency_id.ok_or_else(|| {
            AppError::forbidden("not_agency_member", "Only agency staff can do this.")
        })
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Core: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let token = bearer(parts)?;
        let user = AuthUser::from_token(&Core::from_ref(state), token).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

macro_rules! role_guard {
    ($(#[$doc:meta])* $name:ident => $($role:path)|+) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub AuthUser);

        impl<S> FromRequestParts<S> for $name
        where
            S: Send + Sync,
            Core: FromRef<S>,
        {
            type Rejection = AppError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
                let user = AuthUser::from_request_parts(parts, state).await?;
                if matches!(user.role, $($role)|+) {
                    Ok(Self(user))
                } else {
                    Err(AppError::forbidden(
                        "forbidden_role",
                        format!("Your role ({}) cannot do this.", user.role),
                    ))
                }
            }
        }
    };
}

role_guard!(
    /// Platform operators only.
    Operator => Role::Operator
);
role_guard!(
    /// Agency admins only.
    AgencyAdmin => Role::AgencyAdmin
);
role_guard!(
    /// Agency staff: agents and agency admins.
    Staff => Role::Agent | Role::AgencyAdmin
);
role_guard!(
    /// Buyers only.
    Buyer => Role::Buyer
);
