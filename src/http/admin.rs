//! `/api/v1/admin/*`: operator-only views and actions: the audit log and the fleet of WAHA
//! session containers. Operators see links and containers, never message content. Every
//! action is written to the audit log.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery, ClientIp};
use crate::auth::extract::Operator;
use crate::db;
use crate::db::audit::AuditRow;
use crate::error::{AppError, FieldError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::links::service::{self, Actor};
use crate::links::{container_name, LinkStatus};
use crate::model::{AuditResult, DesiredState};
use crate::runtime::ContainerState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(list_audit))
        .route("/admin/links", get(list_links))
        .route("/admin/links/{id}/logs", get(link_logs))
        .route("/admin/links/{id}/restart", post(restart_link))
        .route("/admin/links/{id}/stop", post(stop_link))
        .route("/admin/links/{id}", delete(delete_link))
        .route("/admin/links/{id}/events/replay", post(replay_events))
        .route("/admin/agencies/{id}/quota", put(set_agency_quota))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {
    /// How many live WhatsApp links the agency may have (0–100000). Lowering it below what the
    /// agency runs removes nothing; it only stops new links.
    pub link_quota: i64,
}

/// Set an agency's WhatsApp link quota (new agencies start at 3). Audited as `agency.quota`.
#[utoipa::path(put, path = "/api/v1/admin/agencies/{id}/quota", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = QuotaRequest,
    responses((status = 200, body = crate::db::links::AgencyQuota),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_agency_quota(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<QuotaRequest>,
) -> Result<AppJson<crate::db::links::AgencyQuota>> {
    let quota = i32::try_from(req.link_quota)
        .ok()
        .filter(|q| (0..=100_000).contains(q))
        .ok_or_else(|| AppError::invalid("link_quota", "must be between 0 and 100000"))?;
    let row = db::links::set_agency_quota(&state.db, id, quota)
        .await?
        .ok_or(AppError::NotFound)?;
    let entry = db::audit::Entry {
        actor: Some(op.id),
        actor_role: Some(op.role.as_str()),
        action: "agency.quota",
        target_type: Some("agency"),
        target_id: Some(id.to_string()),
        ok: true,
        detail: serde_json::json!({ "link_quota": quota }),
        ip: Some(&ip),
    };
    db::audit::record(&state.db, entry).await?;
    Ok(AppJson(row))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminLink {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub agent_email: String,
    pub agent_name: String,
    pub agency_id: Uuid,
    pub agency_name: String,
    pub status: LinkStatus,
    pub status_reason: Option<String>,
    // Documented as the plain string it serialises to, as before it was typed.
    #[schema(value_type = String)]
    pub desired_state: DesiredState,
    pub phone: Option<String>,
    pub engine: String,
    /// What the link's WAHA says it is (`GET /api/server/version` at its last container start).
    pub waha_version: Option<String>,
    pub waha_engine: Option<String>,
    /// `CORE` or `PLUS`.
    pub waha_tier: Option<String>,
    pub image: String,
    pub container_id: Option<String>,
    pub container_name: String,
    /// absent | created | running | restarting | exited | …
    pub container_state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub uptime_secs: Option<i64>,
    /// Restarts Puente performed.
    pub restart_count: i32,
    /// Restarts Docker's restart policy performed.
    pub docker_restart_count: i64,
    pub cpu_percent: Option<f64>,
    pub memory_used_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The Docker Swarm node the link is pinned to (its login volume is there); null on one
    /// Docker engine.
    pub node: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    /// Sample CPU and memory of running containers (default true; takes about a second).
    pub stats: Option<bool>,
}

/// Every link with its container: state, uptime, restarts, CPU and memory. Operators only.
#[utoipa::path(get, operation_id = "admin_list_links", path = "/api/v1/admin/links", tag = "admin", security(("bearer" = [])), params(FleetQuery),
    responses((status = 200, body = Vec<AdminLink>), (status = 403, body = Problem)))]
pub async fn list_links(
    State(state): State<AppState>,
    Operator(_op): Operator,
    AppQuery(q): AppQuery<FleetQuery>,
) -> Result<AppJson<Vec<AdminLink>>> {
    let rows = db::links::list_admin(&state.db).await?;
    let containers = Arc::new(service::containers_by_link(&state).await);
    let nodes: Arc<std::collections::HashMap<Uuid, String>> = Arc::new(
        db::placements::all_live(&state.db)
            .await?
            .into_iter()
            .collect(),
    );
    let want_stats = q.stats.unwrap_or(true);
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let state = state.clone();
        let containers = containers.clone();
        let nodes = nodes.clone();
        let sem = sem.clone();
        tasks.spawn(async move {
            let info = containers.get(&row.link.id).cloned();
            let stats = match &info {
                Some(c) if want_stats && c.state == ContainerState::Running => {
                    let _permit = sem.acquire().await.ok();
                    tokio::time::timeout(Duration::from_secs(5), state.runtime.stats(&c.id))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .flatten()
                }
                _ => None,
            };
            let now = Utc::now();
            let l = &row.link;
            let running = info
                .as_ref()
                .is_some_and(|c| c.state == ContainerState::Running);
            let item = AdminLink {
                id: l.id,
                agent_id: l.agent_id,
                agent_email: row.agent_email.clone(),
                agent_name: row.agent_name.clone(),
                agency_id: l.agency_id,
                agency_name: row.agency_name.clone(),
                status: l.status.parse().unwrap_or(LinkStatus::Failed),
                status_reason: l.status_reason.clone(),
                desired_state: l.desired_state,
                phone: l.phone.clone(),
                engine: l.engine.clone(),
                waha_version: l.waha_version.clone(),
                waha_engine: l.waha_engine.clone(),
                waha_tier: l.waha_tier.clone(),
                image: info
                    .as_ref()
                    .map_or_else(|| l.image.clone(), |c| c.image.clone()),
                container_id: info.as_ref().map(|c| c.id.clone()),
                container_name: container_name(l.id),
                container_state: info
                    .as_ref()
                    .map_or("absent", |c| c.state.as_str())
                    .to_string(),
                started_at: info.as_ref().and_then(|c| c.started_at),
                uptime_secs: info
                    .as_ref()
                    .filter(|_| running)
                    .and_then(|c| c.started_at)
                    .map(|s| (now - s).num_seconds().max(0)),
                restart_count: l.restart_count,
                docker_restart_count: info.as_ref().map_or(0, |c| c.restart_count),
                cpu_percent: stats.map(|s| (s.cpu_percent * 100.0).round() / 100.0),
                memory_used_bytes: stats.map(|s| s.memory_used),
                memory_limit_bytes: stats.map(|s| s.memory_limit).or_else(|| {
                    info.as_ref()
                        .and_then(|c| u64::try_from(c.memory_limit).ok())
                        .filter(|m| *m > 0)
                }),
                last_event_at: l.last_event_at,
                created_at: l.created_at,
                node: nodes.get(&l.id).cloned(),
            };
            (i, item)
        });
    }
    let mut out: Vec<(usize, AdminLink)> = Vec::new();
    while let Some(res) = tasks.join_next().await {
        if let Ok(item) = res {
            out.push(item);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(AppJson(out.into_iter().map(|(_, item)| item).collect()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Last N lines (1–5000, default 200).
    pub tail: Option<u64>,
    /// Only lines since this unix time (whole seconds, inclusive).
    pub since: Option<i64>,
    /// Only lines logged strictly after this instant (RFC 3339, nanoseconds kept): pass the
    /// previous answer's `cursor` to get each new line exactly once.
    pub after: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Logs {
    /// Oldest first.
    pub lines: Vec<String>,
    /// When each of `lines` was logged (same order; `null` if the engine gave no time).
    pub times: Vec<Option<DateTime<Utc>>>,
    /// Where to resume following: the newest line's time, or the request's `after` when
    /// nothing new came. `null` only when there are no lines and no `after` was given.
    pub cursor: Option<DateTime<Utc>>,
}

async fn live_link(state: &AppState, id: Uuid) -> Result<db::links::LinkRow> {
    db::links::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The container's recent logs. Operators only; audited.
///
/// To follow them: ask once with `tail`, then poll with `after=<cursor of the previous
/// answer>` (and a `tail` large enough for one interval); every line arrives exactly once.
#[utoipa::path(get, path = "/api/v1/admin/links/{id}/logs", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path), LogsQuery),
    responses((status = 200, body = Logs), (status = 404, body = Problem),
        (status = 422, description = "`validation_failed`: `tail` out of range.", body = Problem)))]
pub async fn link_logs(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
    AppQuery(q): AppQuery<LogsQuery>,
) -> Result<AppJson<Logs>> {
    let tail = q.tail.unwrap_or(200);
    if !(1..=5000).contains(&tail) {
        return Err(AppError::invalid("tail", "must be between 1 and 5000"));
    }
    // `since` is inclusive whole seconds: the same as "after the nanosecond before it".
    let since = q
        .since
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|t| t - chrono::Duration::nanoseconds(1));
    let after = since.max(q.after);
    let link = live_link(&state, id).await?;
    let entries = state
        .runtime
        .logs(&container_name(link.id), tail, after)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let entry = db::audit::Entry {
        actor: Some(op.id),
        actor_role: Some(op.role.as_str()),
        action: "link.logs",
        target_type: Some("whatsapp_link"),
        target_id: Some(id.to_string()),
        ok: true,
        detail: serde_json::json!({"tail": tail, "since": q.since, "after": q.after}),
        ip: Some(&ip),
    };
    db::audit::record(&state.db, entry).await?;
    let cursor = entries.iter().rev().find_map(|l| l.at).or(q.after);
    let (times, lines) = entries.into_iter().map(|l| (l.at, l.text)).unzip();
    Ok(AppJson(Logs {
        lines,
        times,
        cursor,
    }))
}

/// Restart a link's container. Operators only; audited.
#[utoipa::path(post, operation_id = "admin_restart_link", path = "/api/v1/admin/links/{id}/restart", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 202), (status = 404, body = Problem)))]
pub async fn restart_link(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode> {
    let link = live_link(&state, id).await?;
    service::restart(
        &state,
        &link,
        &Actor {
            user: Some(&op),
            ip: Some(&ip),
        },
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Stop a link's container and keep it stopped until restarted. Operators only; audited.
#[utoipa::path(post, path = "/api/v1/admin/links/{id}/stop", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 202), (status = 404, body = Problem)))]
pub async fn stop_link(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode> {
    let link = live_link(&state, id).await?;
    service::stop(
        &state,
        &link,
        &Actor {
            user: Some(&op),
            ip: Some(&ip),
        },
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Remove a link's container and volume (its conversations stay). Operators only; audited.
#[utoipa::path(delete, operation_id = "admin_delete_link", path = "/api/v1/admin/links/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 202), (status = 404, body = Problem)))]
pub async fn delete_link(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode> {
    let link = live_link(&state, id).await?;
    let done = service::delete(
        &state,
        &link,
        &Actor {
            user: Some(&op),
            ip: Some(&ip),
        },
    )
    .await?;
    Ok(if done {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Return entries older than this id (keyset pagination: the last id of the previous
    /// page; send the same filters again).
    pub before: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
    /// Who acted: `system` (Puente itself, no user), a user id, or part of the actor's
    /// email (case-insensitive).
    pub actor: Option<String>,
    /// An action (`link.restart`), or every action under a prefix ending in `.` (`link.`).
    pub action: Option<String>,
    /// The target's id, exactly (a link, user, report, agency … id).
    pub target_id: Option<String>,
    /// `ok` or `error`.
    #[param(value_type = Option<AuditResult>)]
    pub result: Option<String>,
    /// RFC 3339: entries at or after this time.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// RFC 3339: entries before this time.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
}

/// A filter's text, trimmed; an empty one is no filter.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditQuery {
    /// The page this asks for; every invalid value is named in one 422.
    fn filter(&self) -> Result<db::audit::Filter> {
        use db::audit::{ActionFilter, ActorFilter};
        let mut errors = Vec::new();
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            errors.push(FieldError::new("limit", "must be between 1 and 500"));
        }
        let actor = given(&self.actor).and_then(|a| {
            if a.chars().count() > 254 {
                errors.push(FieldError::new("actor", "must be at most 254 characters"));
                None
            } else if a == "system" {
                Some(ActorFilter::System)
            } else if let Ok(id) = a.parse::<Uuid>() {
                Some(ActorFilter::User(id))
            } else {
                Some(ActorFilter::EmailContains(a.to_lowercase()))
            }
        });
        let action = given(&self.action).and_then(|a| {
            let name = |s: &str| {
                (1..=64).contains(&s.len())
                    && s.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                    })
            };
            if !name(a) {
                errors.push(FieldError::new(
                    "action",
                    "must be an action like link.restart, or a prefix ending in a dot like link.",
                ));
                None
            } else if a.ends_with('.') {
                Some(ActionFilter::Prefix(a.to_string()))
            } else {
                Some(ActionFilter::Exact(a.to_string()))
            }
        });
        let target_id = given(&self.target_id).and_then(|t| {
            if t.chars().count() > 200 {
                errors.push(FieldError::new(
                    "target_id",
                    "must be at most 200 characters",
                ));
                None
            } else {
                Some(t.to_string())
            }
        });
        let result = given(&self.result).and_then(|r| {
            r.parse::<AuditResult>()
                .map_err(|_| errors.push(FieldError::new("result", "must be ok or error")))
                .ok()
        });
        let mut time = |field: &str, v: &Option<String>| {
            given(v).and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| {
                        errors.push(FieldError::new(
                            field,
                            "must be an RFC 3339 time, like 2026-12-01T09:30:00Z",
                        ))
                    })
                    .ok()
            })
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.push(FieldError::new("to", "must be later than from"));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(db::audit::Filter {
            before: self.before,
            limit,
            actor,
            action,
            target_id,
            result,
            from,
            to,
        })
    }
}

/// The audit log, newest first, narrowed by any of the filters (all must hold), a page at a
/// time: the next page is `before` the last id, with the same filters. Operators only.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditRow>), (status = 403, body = Problem),
        (status = 422, description = "`validation_failed`: each invalid filter is named in `errors`.", body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Operator(_op): Operator,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<AppJson<Vec<AuditRow>>> {
    let filter = q.filter()?;
    Ok(AppJson(db::audit::list(&state.db, &filter).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Only events received since this time.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    pub replayed: usize,
}

/// Re-apply a link's stored webhook events (idempotent). Operators only; audited.
#[utoipa::path(post, path = "/api/v1/admin/links/{id}/events/replay", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReplayRequest,
    responses((status = 200, body = Replayed), (status = 404, body = Problem)))]
pub async fn replay_events(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<ReplayRequest>,
) -> Result<AppJson<Replayed>> {
    let link = live_link(&state, id).await?;
    let n = crate::ingest::apply::replay(&state, link.id, req.since)
        .await
        .map_err(AppError::Internal)?;
    let entry = db::audit::Entry {
        actor: Some(op.id),
        actor_role: Some(op.role.as_str()),
        action: "events.replay",
        target_type: Some("whatsapp_link"),
        target_id: Some(id.to_string()),
        ok: true,
        detail: serde_json::json!({"replayed": n, "since": req.since}),
        ip: Some(&ip),
    };
    db::audit::record(&state.db, entry).await?;
    Ok(AppJson(Replayed { replayed: n }))
}
