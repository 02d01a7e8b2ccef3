//! `/api/v1/agency/*`: an agency admin manages invites and the agency's staff.
//! Every query is scoped to the caller's own agency; other agencies' users are "not found".

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{AppJson, AppPath, ClientIp};
use crate::auth::extract::AgencyAdmin;
use crate::auth::service::{invite_hash, normalize_email, UserDto};
use crate::db;
use crate::error::{AppError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agency/invites", post(create_invite).get(list_invites))
        .route("/agency/agents", get(list_agents))
        .route("/agency/agents/{id}/deactivate", post(deactivate_agent))
        .route("/agency/agents/{id}/reactivate", post(reactivate_agent))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {
    /// Restrict the invite to this email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Hours until the code expires (1–720, default 168).
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteCreated {
    pub id: Uuid,
    /// Shown once; only its hash is kept.
    pub code: String,
    pub email: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteDto {
    pub id: Uuid,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<Uuid>,
}

/// A code like `K7QM-3XHD-PW9R`: 60 bits from an alphabet without look-alike characters.
fn new_invite_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Create an invite code for a new agent. Agency admins only.
#[utoipa::path(post, path = "/api/v1/agency/invites", tag = "agency", security(("bearer" = [])),
    request_body = CreateInviteRequest,
    responses((status = 201, body = InviteCreated), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_invite(
    State(state): State<AppState>,
    AgencyAdmin(admin): AgencyAdmin,
    AppJson(req): AppJson<CreateInviteRequest>,
) -> Result<(StatusCode, AppJson<InviteCreated>)> {
    let agency = admin.agency()?;
    let email = match req
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(
            normalize_email(e)
                .ok_or_else(|| AppError::invalid("email", "is not a valid email address"))?,
        ),
        None => None,
    };
    let hours = req.expires_in_hours.unwrap_or(168);
    if !(1..=720).contains(&hours) {
        return Err(AppError::invalid(
            "expires_in_hours",
            "must be between 1 and 720",
        ));
    }
    let code = new_invite_code();
    let invite = db::users::insert_invite(
        &state.db,
        agency,
        &invite_hash(&code),
        email.as_deref(),
        admin.id,
        Utc::now() + Duration::hours(i64::from(hours)),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(InviteCreated {
            id: invite.id,
            code,
            email: invite.email,
            expires_at: invite.expires_at,
        }),
    ))
}

/// The agency's invites, newest first (codes are never shown again). Agency admins only.
#[utoipa::path(get, path = "/api/v1/agency/invites", tag = "agency", security(("bearer" = [])),
    responses((status = 200, body = Vec<InviteDto>), (status = 403, body = Problem)))]
pub async fn list_invites(
    State(state): State<AppState>,
    AgencyAdmin(admin): AgencyAdmin,
) -> Result<AppJson<Vec<InviteDto>>> {
    let rows = db::users::list_invites(&state.db, admin.agency()?).await?;
    Ok(AppJson(
        rows.into_iter()
            .map(|r| InviteDto {
                id: r.id,
                email: r.email,
                created_at: r.created_at,
                expires_at: r.expires_at,
                used_at: r.used_at,
                used_by: r.used_by,
            })
            .collect(),
    ))
}

/// The agency's agents and admins. Agency admins only.
#[utoipa::path(get, path = "/api/v1/agency/agents", tag = "agency", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserDto>), (status = 403, body = Problem)))]
pub async fn list_agents(
    State(state): State<AppState>,
    AgencyAdmin(admin): AgencyAdmin,
) -> Result<AppJson<Vec<UserDto>>> {
    let agency = admin.agency()?;
    let name = db::users::agency_name(&state.db, agency).await?;
    let rows = db::users::list_agency_staff(&state.db, agency).await?;
    rows.iter()
        .map(|r| UserDto::from_row(r, name.clone()))
        .collect::<Result<Vec<_>>>()
        .map(AppJson)
}

async fn set_active(
    state: &AppState,
    admin: &crate::auth::extract::AuthUser,
    ip: &str,
    id: Uuid,
    active: bool,
) -> Result<UserDto> {
    let agency = admin.agency()?;
    if id == admin.id {
        return Err(AppError::conflict(
            "cannot_change_self",
            "You cannot deactivate your own account.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let row = db::users::set_active_in_agency(&mut *tx, id, agency, active)
        .await?
        .ok_or(AppError::NotFound)?;
    if !active {
        db::tokens::revoke_user(&mut *tx, id, None).await?;
        crate::realtime::control::end_sockets(
            &mut tx,
            id,
            crate::realtime::control::Scope::All,
            crate::realtime::control::CloseReason::AccountInactive,
        )
        .await?;
    }
    db::audit::record(
        &mut *tx,
        db::audit::Entry {
            actor: Some(admin.id),
            actor_role: Some(admin.role.as_str()),
            action: if active {
                "agency.agent_reactivate"
            } else {
                "agency.agent_deactivate"
            },
            target_type: Some("user"),
            target_id: Some(id.to_string()),
            ok: true,
            detail: serde_json::json!({}),
            ip: Some(ip),
        },
    )
    .await?;
    tx.commit().await?;
    let name = db::users::agency_name(&state.db, agency).await?;
    UserDto::from_row(&row, name)
}

/// Deactivate a member of the agency: they can no longer log in, refresh or use their tokens.
#[utoipa::path(post, path = "/api/v1/agency/agents/{id}/deactivate", tag = "agency", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn deactivate_agent(
    State(state): State<AppState>,
    AgencyAdmin(admin): AgencyAdmin,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<UserDto>> {
    Ok(AppJson(set_active(&state, &admin, &ip, id, false).await?))
}

/// Reactivate a member of the agency.
#[utoipa::path(post, path = "/api/v1/agency/agents/{id}/reactivate", tag = "agency", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = Problem)))]
pub async fn reactivate_agent(
    State(state): State<AppState>,
    AgencyAdmin(admin): AgencyAdmin,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<UserDto>> {
    Ok(AppJson(set_active(&state, &admin, &ip, id, true).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_are_grouped_and_unambiguous() {
        let c = new_invite_code();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        assert!(!c.contains(['0', 'O', '1', 'I', 'L']));
        assert_ne!(c, new_invite_code());
    }
}
