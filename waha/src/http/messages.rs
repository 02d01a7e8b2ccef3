//! Sending and changing messages: `POST /api/send*`, `sendSeen`, typing, `PUT /api/reaction`,
//! and edit/delete under `/api/{session}/chats/{chatId}/messages/{messageId}`.
//!
//! Every send first waits for WORKING (WAHA's `getWorkingSession`), then answers 201 with the
//! engine's own response shape.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::{created, created_empty, AppState, JsonBody, Params};
use crate::config::Flavor;
use crate::error::{ApiError, ApiResult};
use crate::model::{Kind, Location};
use crate::session::{Outgoing, OutgoingMedia};
use crate::validate::{self, Checker};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sendText", post(send_text))
        .route("/api/sendImage", post(send_image))
        .route("/api/sendFile", post(send_file))
        .route("/api/sendVoice", post(send_voice))
        .route("/api/sendVideo", post(send_video))
        .route("/api/sendLocation", post(send_location))
        .route("/api/sendSeen", post(send_seen))
        .route("/api/startTyping", post(start_typing))
        .route("/api/stopTyping", post(stop_typing))
        .route("/api/reaction", put(set_reaction))
        .route(
            "/api/{session}/chats/{chat_id}/messages/{message_id}",
            put(edit_message)
                .delete(delete_message)
                .get(super::chats::get_message),
        )
}

/// `session` defaults to `default` (the DTO's default value).
fn session_of(body: &Value) -> ApiResult<String> {
    match body.get("session") {
        None | Some(Value::Null) => Ok("default".into()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::bad_request("session must be a string")),
    }
}

fn reply_to(body: &Value) -> Option<String> {
    body.get("reply_to")
        .or_else(|| body.get("replyTo"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn send(st: &AppState, session: &str, msg: Outgoing) -> ApiResult<Response> {
    st.mgr.wait_working(session).await?;
    Ok(created(st.mgr.send(session, msg)?))
}

async fn send_text(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    validate::object(&body)?;
    let session = session_of(&body)?;
    let mut c = Checker::default();
    let chat_id = c.string(&body, "chatId");
    let text = c.string(&body, "text");
    c.finish()?;
    let msg = Outgoing {
        endpoint: "sendText",
        chat_id,
        kind: Kind::Text,
        body: text,
        media: None,
        location: None,
        reply_to: reply_to(&body),
        request: body,
    };
    send(&st, &session, msg).await
}

/// Reads `file: {mimetype, filename, url | data}`; a URL is fetched (10 s) and stored, and kept
/// as a plain reference when it cannot be fetched.
async fn read_file(
    body: &Value,
    default_mimetype: Option<&str>,
    c: &mut Checker,
) -> Option<OutgoingMedia> {
    let Some(file) = body.get("file").filter(|f| f.is_object()) else {
        c.errors.push("file must be an object".into());
        return None;
    };
    let mimetype = match (
        file.get("mimetype").and_then(Value::as_str),
        default_mimetype,
    ) {
        (Some(m), _) if !m.is_empty() => m.to_owned(),
        (_, Some(d)) => d.to_owned(),
        _ => {
            c.errors.push("file.mimetype should not be empty".into());
            return None;
        }
    };
    let filename = file
        .get("filename")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(data) = file.get("data").and_then(Value::as_str) {
        let data = data.split_once(";base64,").map(|(_, d)| d).unwrap_or(data);
        return match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
            Ok(bytes) => Some(OutgoingMedia {
                bytes: Some(bytes),
                url: None,
                mimetype,
                filename,
            }),
            Err(_) => {
                c.errors.push("file.data must be base64 encoded".into());
                None
            }
        };
    }
    if let Some(url) = file.get("url").and_then(Value::as_str) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            c.errors.push("file.url must be a URL address".into());
            return None;
        }
        let bytes = fetch(url).await;
        return Some(OutgoingMedia {
            bytes,
            url: Some(url.to_owned()),
            mimetype,
            filename,
        });
    }
    c.errors.push("file.url or file.data is required".into());
    None
}

async fn fetch(url: &str) -> Option<Vec<u8>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(true)
        .build()
        .ok()?;
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.ok().map(|b| b.to_vec()),
        Ok(r) => {
            tracing::warn!(%url, status = %r.status(), "media URL not fetched; kept as a reference");
            None
        }
        Err(e) => {
            tracing::warn!(%url, error = %e, "media URL not fetched; kept as a reference");
            None
        }
    }
}

async fn send_media(
    st: AppState,
    body: Value,
    endpoint: &'static str,
    kind: Kind,
    default_mimetype: Option<&str>,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let session = session_of(&body)?;
    let mut c = Checker::default();
    let chat_id = c.string(&body, "chatId");
    let caption = c.opt_string(&body, "caption").unwrap_or_default();
    let media = read_file(&body, default_mimetype, &mut c).await;
    c.finish()?;
    if st.config.flavor == Flavor::CoreLegacy {
        st.mgr.wait_working(&session).await?;
        return Err(ApiError::unprocessable(format!(
            "The feature is available only in Plus version for '{}' engine. Check this out: https://waha.devlike.pro/",
            st.config.engine.name()
        )));
    }
    let msg = Outgoing {
        endpoint,
        chat_id,
        kind,
        body: caption,
        media,
        location: None,
        reply_to: reply_to(&body),
        request: strip_data(body),
    };
    send(&st, &session, msg).await
}

/// The sent log keeps the request without the (possibly huge) base64 payload.
fn strip_data(mut body: Value) -> Value {
    if let Some(file) = body.get_mut("file").and_then(Value::as_object_mut) {
        if let Some(data) = file.get("data").and_then(Value::as_str) {
            let len = data.len();
            file.insert("data".into(), json!(format!("<{len} base64 chars>")));
        }
    }
    body
}

async fn send_image(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    send_media(st, body, "sendImage", Kind::Image, None).await
}

async fn send_file(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    send_media(st, body, "sendFile", Kind::File, None).await
}

async fn send_voice(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    send_media(
        st,
        body,
        "sendVoice",
        Kind::Voice,
        Some("audio/ogg; codecs=opus"),
    )
    .await
}

async fn send_video(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    send_media(st, body, "sendVideo", Kind::Video, Some("video/mp4")).await
}

async fn send_location(
    State(st): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let session = session_of(&body)?;
    let mut c = Checker::default();
    let chat_id = c.string(&body, "chatId");
    let latitude = c.number(&body, "latitude");
    let longitude = c.number(&body, "longitude");
    let title = c.string(&body, "title");
    c.finish()?;
    let msg = Outgoing {
        endpoint: "sendLocation",
        chat_id,
        kind: Kind::Location,
        body: String::new(),
        media: None,
        location: Some(Location {
            latitude,
            longitude,
            title: Some(title),
        }),
        reply_to: reply_to(&body),
        request: body,
    };
    send(&st, &session, msg).await
}

async fn send_seen(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    validate::object(&body)?;
    let session = session_of(&body)?;
    let mut c = Checker::default();
    let chat_id = c.string(&body, "chatId");
    c.finish()?;
    let mut ids: Vec<String> = body
        .get("messageIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(id) = body.get("messageId").and_then(Value::as_str) {
        ids.push(id.to_owned());
    }
    st.mgr.wait_working(&session).await?;
    st.mgr.seen(&session, &chat_id, &ids)?;
    Ok(created_empty())
}

async fn typing(st: AppState, body: Value, on: bool) -> ApiResult<Response> {
    validate::object(&body)?;
    let session = session_of(&body)?;
    let mut c = Checker::default();
    let chat_id = c.string(&body, "chatId");
    c.finish()?;
    st.mgr.wait_working(&session).await?;
    st.mgr.typing(&session, &chat_id, on)?;
    Ok(created(json!({"result": true})))
}

async fn start_typing(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    typing(st, body, true).await
}

async fn stop_typing(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    typing(st, body, false).await
}

async fn set_reaction(State(st): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    validate::object(&body)?;
    let session = session_of(&body)?;
    let mut c = Checker::default();
    let message_id = c.string(&body, "messageId");
    let reaction = c.string_allow_empty(&body, "reaction");
    c.finish()?;
    st.mgr.wait_working(&session).await?;
    st.mgr.react(&session, &message_id, &reaction, true, None)?;
    Ok(StatusCode::OK.into_response())
}

async fn edit_message(
    State(st): State<AppState>,
    Path((session, _chat_id, message_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = Checker::default();
    let text = c.string(&body, "text");
    c.finish()?;
    st.mgr.wait_working(&session).await?;
    Ok(Json(st.mgr.edit(&session, &message_id, &text, true)?).into_response())
}

async fn delete_message(
    State(st): State<AppState>,
    Path((session, _chat_id, message_id)): Path<(String, String, String)>,
    _params: Params,
) -> ApiResult<Response> {
    st.mgr.wait_working(&session).await?;
    st.mgr.revoke(&session, &message_id, true)?;
    Ok(StatusCode::OK.into_response())
}
