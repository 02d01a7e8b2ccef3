//! `/api/sessions*`: list, create, get, update, delete, start/stop/restart/logout, `me`, and the
//! deprecated `/api/sessions/start|stop|logout`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::{created, created_empty, param_bool, AppState, JsonBody, Params};
use crate::config::Flavor;
use crate::error::{ApiError, ApiResult};
use crate::model::Status;
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", get(list_sessions).post(create_session))
        .route("/api/sessions/start", post(start_deprecated))
        .route("/api/sessions/stop", post(stop_deprecated))
        .route("/api/sessions/logout", post(logout_deprecated))
        .route(
            "/api/sessions/{session}",
            get(get_session).put(update_session).delete(delete_session),
        )
        .route("/api/sessions/{session}/me", get(get_me))
        .route("/api/sessions/{session}/start", post(start_session))
        .route("/api/sessions/{session}/stop", post(stop_session))
        .route("/api/sessions/{session}/restart", post(restart_session))
        .route("/api/sessions/{session}/logout", post(logout_session))
}

async fn list_sessions(State(st): State<AppState>, params: Params) -> Json<Vec<Value>> {
    Json(st.mgr.list(param_bool(&params, "all").unwrap_or(false)))
}

fn config_of(body: &Value) -> Option<Value> {
    body.get("config").cloned()
}

async fn create_session(
    State(st): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let name = match body.get("name") {
        None | Some(Value::Null) => "default".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::bad_request("name must be a string")),
    };
    // The controller reads `request.start || false` (legacy Core source); ≥ 2026.6 follows the
    // docs, where `start` defaults to true. An explicit value always wins.
    let start = match body.get("start").and_then(Value::as_bool) {
        Some(b) => b,
        None => st.config.flavor == Flavor::Current,
    };
    Ok(created(st.mgr.create(&name, config_of(&body), start)?))
}

async fn get_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(st.mgr.info(&session)?))
}

async fn update_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    validate::object(&body)?;
    Ok(Json(st.mgr.update(&session, config_of(&body))?))
}

async fn delete_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Response> {
    st.mgr.check_name(&session)?;
    if st
        .mgr
        .status(&session)
        .is_some_and(|s| s != Status::Stopped)
    {
        tokio::time::sleep(st.config.timings.stop).await;
    }
    st.mgr.delete(&session)?;
    Ok(axum::http::StatusCode::OK.into_response())
}

/// `MeInfo`, or an empty 200 body (Nest's rendering of `null`) when not authenticated.
async fn get_me(State(st): State<AppState>, Path(session): Path<String>) -> ApiResult<Response> {
    st.mgr.check_name(&session)?;
    let me = st
        .mgr
        .with_session(&session, |s| s.me().cloned())
        .ok_or_else(|| ApiError::not_found("Session not found"))?;
    Ok(match me {
        Some(me) => Json(me).into_response(),
        None => axum::http::StatusCode::OK.into_response(),
    })
}

async fn start_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Response> {
    Ok(created(st.mgr.start(&session)?))
}

async fn stop_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Response> {
    st.mgr.check_name(&session)?;
    if st
        .mgr
        .status(&session)
        .is_some_and(|s| s != Status::Stopped)
    {
        // Real WAHA answers once the engine has shut down: seconds (EMULATOR_STOP_MS).
        tokio::time::sleep(st.config.timings.stop).await;
    }
    Ok(created(st.mgr.stop(&session)?))
}

async fn restart_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Response> {
    st.mgr.check_name(&session)?;
    if st
        .mgr
        .status(&session)
        .is_some_and(|s| s != Status::Stopped)
    {
        tokio::time::sleep(st.config.timings.stop).await;
    }
    Ok(created(st.mgr.restart(&session)?))
}

async fn logout_session(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Response> {
    // The device is unpaired at once; the answer comes after the engine restarted (seconds,
    // EMULATOR_LOGOUT_MS), so the answer reflects the session afterwards.
    st.mgr.logout(&session)?;
    tokio::time::sleep(st.config.timings.logout).await;
    Ok(created(st.mgr.info(&session)?))
}

fn required_name(body: &Value) -> ApiResult<String> {
    validate::object(body)?;
    match body.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => Ok(n.to_owned()),
        _ => Err(ApiError::unprocessable("Session name is required")),
    }
}

async fn start_deprecated(
    State(st): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let name = required_name(&body)?;
    Ok(created(st.mgr.start_deprecated(&name, config_of(&body))?))
}

async fn stop_deprecated(
    State(st): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let name = required_name(&body)?;
    st.mgr.stop(&name)?;
    if body.get("logout").and_then(Value::as_bool).unwrap_or(false) {
        st.mgr.logout(&name)?;
        st.mgr.delete(&name)?;
    }
    Ok(created_empty())
}

async fn logout_deprecated(
    State(st): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let name = required_name(&body)?;
    st.mgr.stop(&name)?;
    st.mgr.logout(&name)?;
    st.mgr.delete(&name)?;
    Ok(created_empty())
}
