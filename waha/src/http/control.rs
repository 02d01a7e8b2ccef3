//! The emulator's control API under `/__emulator/` (API key required; never in real WAHA): the
//! "phone" side of WhatsApp — scan the QR, write as a buyer, read/ack, react, edit, revoke,
//! presence, unlink — plus what was sent through the API and fault injection.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{created, AppState, JsonBody};
use crate::error::{ApiError, ApiResult};
use crate::faults::Faults;
use crate::media;
use crate::model::{Kind, Location};
use crate::session::Inbound;
use crate::validate::{self, Checker};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/__emulator/sessions", get(list))
        .route("/__emulator/sessions/{session}", get(view))
        .route("/__emulator/sessions/{session}/qr.png", get(qr_png))
        .route("/__emulator/sessions/{session}/messages", get(messages))
        .route("/__emulator/sessions/{session}/scan", post(scan))
        .route("/__emulator/sessions/{session}/inbound", post(inbound))
        .route("/__emulator/sessions/{session}/ack", post(ack))
        .route("/__emulator/sessions/{session}/react", post(react))
        .route("/__emulator/sessions/{session}/edit", post(edit))
        .route("/__emulator/sessions/{session}/revoke", post(revoke))
        .route("/__emulator/sessions/{session}/presence", post(presence))
        .route("/__emulator/sessions/{session}/logout", post(logout))
        .route("/__emulator/sessions/{session}/sent", get(sent))
        .route("/__emulator/faults", get(get_faults).post(set_faults))
}

fn unknown_session() -> ApiError {
    ApiError::control(StatusCode::NOT_FOUND, "no such session")
}

async fn list(State(st): State<AppState>) -> Json<Vec<Value>> {
    let names: Vec<String> = st
        .mgr
        .list(true)
        .into_iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect();
    Json(
        names
            .iter()
            .filter_map(|n| st.mgr.control_view(n))
            .collect(),
    )
}

async fn view(State(st): State<AppState>, Path(session): Path<String>) -> ApiResult<Json<Value>> {
    st.mgr
        .control_view(&session)
        .map(Json)
        .ok_or_else(unknown_session)
}

async fn qr_png(State(st): State<AppState>, Path(session): Path<String>) -> ApiResult<Response> {
    let value = st
        .mgr
        .qr(&session)
        .ok_or_else(|| ApiError::control(StatusCode::NOT_FOUND, "no QR code right now"))?;
    let png = media::qr_png(&value).map_err(ApiError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

async fn messages(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    st.mgr
        .all_messages(&session)
        .map(Json)
        .ok_or_else(unknown_session)
}

async fn scan(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let phone = c.string(&body, "phone");
    let push_name = c
        .opt_string(&body, "pushName")
        .unwrap_or_else(|| "Agent".into());
    c.finish()?;
    let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
    if phone.is_empty() {
        return Err(ApiError::bad_request("phone must contain digits"));
    }
    Ok(created(st.mgr.scan(&session, &phone, &push_name).await?))
}

async fn inbound(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let from = c.string(&body, "from");
    let text = c.opt_string(&body, "body").unwrap_or_default();
    let kind = c.opt_string(&body, "kind").unwrap_or_else(|| "text".into());
    let reply_to = c.opt_string(&body, "replyTo");
    let group = c.opt_string(&body, "group");
    let push_name = c.opt_string(&body, "pushName");
    c.finish()?;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::bad_request(
            "kind must be one of the following values: text, image, file, voice, video, location",
        )
    })?;
    let location = match (
        body.get("latitude").and_then(Value::as_f64),
        body.get("longitude").and_then(Value::as_f64),
    ) {
        (Some(latitude), Some(longitude)) => Some(Location {
            latitude,
            longitude,
            title: body.get("title").and_then(Value::as_str).map(str::to_owned),
        }),
        _ => None,
    };
    let id = st.mgr.inbound(
        &session,
        Inbound {
            from,
            body: text,
            kind,
            reply_to,
            group,
            push_name,
            location,
        },
    )?;
    Ok(created(json!({"id": id})))
}

async fn ack(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let message_id = c.string(&body, "messageId");
    c.finish()?;
    let ack = match body.get("ack") {
        Some(Value::Number(n)) => n.as_i64().map(|n| n as i32),
        Some(Value::String(name)) => ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"]
            .iter()
            .position(|n| n == name)
            .map(|p| p as i32 - 1),
        _ => None,
    }
    .filter(|a| (-1..=4).contains(a))
    .ok_or_else(|| ApiError::bad_request("ack must be -1..4 or an ack name"))?;
    Ok(created(st.mgr.ack(&session, &message_id, ack)?))
}

async fn react(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let message_id = c.string(&body, "messageId");
    let reaction = c.string_allow_empty(&body, "reaction");
    let from = c.opt_string(&body, "from");
    c.finish()?;
    st.mgr
        .react(&session, &message_id, &reaction, false, from)?;
    Ok(created(json!({"ok": true})))
}

async fn edit(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let message_id = c.string(&body, "messageId");
    let text = c.string(&body, "body");
    c.finish()?;
    st.mgr.edit(&session, &message_id, &text, false)?;
    Ok(created(json!({"ok": true})))
}

async fn revoke(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let message_id = c.string(&body, "messageId");
    c.finish()?;
    st.mgr.revoke(&session, &message_id, false)?;
    Ok(created(json!({"ok": true})))
}

async fn presence(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let from = c.string(&body, "from");
    let presence = c
        .opt_string(&body, "presence")
        .unwrap_or_else(|| "typing".into());
    let chat = c.opt_string(&body, "chatId");
    c.finish()?;
    if !["online", "offline", "typing", "recording", "paused"].contains(&presence.as_str()) {
        return Err(ApiError::bad_request(
            "presence must be one of the following values: online, offline, typing, recording, paused",
        ));
    }
    let emitted = st.mgr.presence(&session, &from, &presence, chat)?;
    let mut out = json!({"emitted": emitted});
    if !emitted {
        out["reason"] =
            json!("WEBJS emits presence.update only with config.webjs.tagsEventsOn=true");
    }
    Ok(created(out))
}

async fn logout(State(st): State<AppState>, Path(session): Path<String>) -> ApiResult<Response> {
    Ok(created(st.mgr.phone_logout(&session)?))
}

async fn sent(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    st.mgr.sent(&session).map(Json).ok_or_else(unknown_session)
}

async fn get_faults(State(st): State<AppState>) -> Json<Faults> {
    Json(st.mgr.faults.snapshot())
}

/// Replaces the faults (missing fields reset to off). `{"exit": N}` ends the process with code N
/// (default 1) right after answering — a crash.
async fn set_faults(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    validate::object(&body)?;
    if let Some(exit) = body
        .get("exit")
        .filter(|v| !v.is_null() && *v != &json!(false))
    {
        let code = exit.as_i64().filter(|c| *c != 0).unwrap_or(1) as i32;
        tracing::warn!(code, "fault injection: exiting");
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            std::process::exit(code);
        });
        return Ok(created(json!({"exiting": code})));
    }
    let mut obj = body.clone();
    if let Some(map) = obj.as_object_mut() {
        map.remove("exit");
    }
    let faults: Faults = serde_json::from_value(obj)
        .map_err(|e| ApiError::bad_request(format!("invalid faults: {e}")))?;
    if !(0.0..=1.0).contains(&faults.duplicate_rate) {
        return Err(ApiError::bad_request(
            "duplicateRate must be between 0 and 1",
        ));
    }
    st.mgr.faults.set(faults.clone());
    Ok(created(json!(faults)))
}
