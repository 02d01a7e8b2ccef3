//! `/api/v1/admin/*`: operator-only views. This issue brings the audit log; the container
//! fleet views join it with the links work.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::{AppJson, AppQuery};
use crate::app::AppState;
use crate::auth::extract::Operator;
use crate::db;
use crate::db::audit::AuditRow;
use crate::error::{AppError, Problem, Result};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(list_audit))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Return entries older than this id (keyset pagination).
    pub before: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

/// The audit log, newest first. Operators only.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditRow>), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Operator(_op): Operator,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<AppJson<Vec<AuditRow>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 500"));
    }
    Ok(AppJson(db::audit::list(&state.db, q.before, limit).await?))
}
