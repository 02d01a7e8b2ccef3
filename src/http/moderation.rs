//! Moderation endpoints: blocking and reporting users (`/api/v1/users/{id}/block|report`,
//! `/api/v1/blocks`) for everyone but operators, and the operators' report queue
//! (`/api/v1/admin/reports`). The rules live in [`crate::moderation`]; operators see a
//! reported message's text only as a report's `message_excerpt`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery, ClientIp};
use crate::auth::extract::{AuthUser, Operator};
use crate::db::moderation::{AdminReportRow, BlockRow, ReportRow};
use crate::error::{AppError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::moderation::{self, ReportInput, ReportStatus, Resolution};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/{id}/block", post(block_user).delete(unblock_user))
        .route("/users/{id}/report", post(report_user))
        .route("/blocks", get(list_blocks))
        .route("/admin/reports", get(list_reports))
        .route("/admin/reports/{id}/resolve", post(resolve_report))
}

/// Block a user: they can no longer write to you in the app. Blocking twice is harmless and
/// returns the same block. Anyone but operators.
#[utoipa::path(post, path = "/api/v1/users/{id}/block", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = BlockRow), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "You cannot block yourself.", body = Problem)))]
pub async fn block_user(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<BlockRow>> {
    Ok(AppJson(moderation::block(&state.db, &user, id).await?))
}

/// Lift a block (a no-op when there is none). Anyone but operators.
#[utoipa::path(delete, path = "/api/v1/users/{id}/block", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unblock_user(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode> {
    moderation::unblock(&state.db, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users the caller has blocked, most recent first. Anyone but operators.
#[utoipa::path(get, path = "/api/v1/blocks", tag = "moderation", security(("bearer" = [])),
    responses((status = 200, body = Vec<BlockRow>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_blocks(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<AppJson<Vec<BlockRow>>> {
    Ok(AppJson(moderation::blocks(&state.db, &user).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// What happened (1–2000 characters).
    pub reason: String,
    /// A conversation with the reported user that the caller can see.
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    /// A message the reported user wrote, in a conversation the caller can see. Its text (the
    /// first 500 characters) is kept with the report as evidence for the operators.
    #[serde(default)]
    pub message_id: Option<Uuid>,
}

/// Report a user to the platform's operators. At most 20 reports per hour. Anyone but
/// operators.
#[utoipa::path(post, path = "/api/v1/users/{id}/report", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReportRequest,
    responses((status = 201, body = ReportRow), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "You cannot report yourself.", body = Problem),
        (status = 422, description = "Invalid reason, or a conversation or message you cannot see.", body = Problem),
        (status = 429, description = "Too many reports; see `Retry-After`.", body = Problem)))]
pub async fn report_user(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<ReportRequest>,
) -> Result<(StatusCode, AppJson<ReportRow>)> {
    let input = ReportInput {
        reason: req.reason,
        conversation_id: req.conversation_id,
        message_id: req.message_id,
    };
    let row = moderation::report(&state, &user, id, input).await?;
    Ok((StatusCode::CREATED, AppJson(row)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// Only reports in this state (default: all).
    #[param(inline)]
    pub status: Option<ReportStatus>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// Reports older than this report (the last id of the previous page).
    pub before: Option<Uuid>,
}

/// The report queue, newest first. Operators only.
///
/// Each report names the reporter and the reported user (ids and display names) and gives the
/// reason. Operators never read conversations; the one exception is a reported message's text,
/// shown as `message_excerpt` (its first 500 characters as they were when reported), present
/// only when the report points at a message.
#[utoipa::path(get, path = "/api/v1/admin/reports", tag = "moderation", security(("bearer" = [])),
    params(ReportsQuery),
    responses((status = 200, body = Vec<AdminReportRow>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_reports(
    State(state): State<AppState>,
    Operator(_op): Operator,
    AppQuery(q): AppQuery<ReportsQuery>,
) -> Result<AppJson<Vec<AdminReportRow>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 200"));
    }
    Ok(AppJson(
        moderation::list_reports(&state.db, q.status, q.before, limit).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `resolved` (acted upon) or `dismissed`.
    pub status: Resolution,
    /// For the other operators (at most 2000 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// Close an open report as resolved or dismissed. Repeating the same closing is harmless;
/// changing the outcome of a closed report is refused (409). Operators only; audited as
/// `report.resolve`.
#[utoipa::path(post, path = "/api/v1/admin/reports/{id}/resolve", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ResolveRequest,
    responses((status = 200, body = AdminReportRow), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn resolve_report(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<ResolveRequest>,
) -> Result<AppJson<AdminReportRow>> {
    Ok(AppJson(
        moderation::resolve(&state.db, &op, &ip, id, req.status, req.note.as_deref()).await?,
    ))
}
