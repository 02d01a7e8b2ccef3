//! `/api/v1/notifications`: what happened while the caller was away — new messages from
//! others and WhatsApp link status changes — until they clear it. Read from the caller's
//! stored event stream ([`crate::realtime::notifications`]); any authenticated user.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{AppJson, AppQuery};
use crate::auth::extract::AuthUser;
use crate::error::{AppError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::realtime::notifications;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list_notifications))
        .route("/notifications/clear", post(clear_notifications))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// One notification: the stored event, as the WebSocket sent it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationDto {
    pub seq: i64,
    /// `message.created` or `link.status`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationList {
    /// Newest first, at most `limit`.
    pub items: Vec<NotificationDto>,
    /// All notifications since the last clear (may exceed `items`).
    pub unread: i64,
}

/// The caller's notifications since they last cleared them, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "realtime", security(("bearer" = [])),
    params(NotificationsQuery), responses((status = 200, body = NotificationList), (status = 401, body = Problem)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(q): AppQuery<NotificationsQuery>,
) -> Result<AppJson<NotificationList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 200"));
    }
    let (events, unread) = notifications::list(&state.db, user.id, limit).await?;
    Ok(AppJson(NotificationList {
        items: events
            .into_iter()
            .map(|e| NotificationDto {
                seq: e.seq,
                kind: e.kind,
                data: e.data,
                at: e.at,
            })
            .collect(),
        unread,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRequest {
    /// Clear up to this sequence number (inclusive); default everything so far.
    pub up_to_seq: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClearResponse {
    /// Notifications at or below this sequence number are cleared.
    pub up_to_seq: i64,
}

/// Clear the caller's notifications up to a sequence number (never moves back). The body is
/// optional: none clears everything so far.
#[utoipa::path(post, path = "/api/v1/notifications/clear", tag = "realtime", security(("bearer" = [])),
    request_body(content = Option<ClearRequest>),
    responses((status = 200, body = ClearResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn clear_notifications(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<AppJson<ClearResponse>> {
    let req: ClearRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ClearRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            if e.is_data() {
                AppError::invalid("body", &e.to_string())
            } else {
                AppError::bad_request("malformed_json", "The request body is not valid JSON.")
            }
        })?
    };
    if req.up_to_seq.is_some_and(|s| s < 0) {
        return Err(AppError::invalid("up_to_seq", "must be at least 0"));
    }
    let up_to_seq = notifications::clear(&state.db, user.id, req.up_to_seq).await?;
    Ok(AppJson(ClearResponse { up_to_seq }))
}
