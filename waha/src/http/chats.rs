//! Reading: chats and their messages (from the emulator's persistent store), contacts, lids and
//! media files under `/api/files`.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{created, param_bool, param_num, AppState, Params};
use crate::config::Flavor;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::media;
use crate::session::MessageFilter;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/{session}/chats", get(list_chats))
        .route(
            "/api/{session}/chats/{chat_id}/messages",
            get(list_messages),
        )
        .route(
            "/api/{session}/chats/{chat_id}/messages/read",
            post(read_messages),
        )
        .route("/api/{session}/chats/{chat_id}/picture", get(chat_picture))
        .route("/api/{session}/new-message-id", get(new_message_id))
        .route("/api/contacts/all", get(all_contacts))
        .route("/api/contacts", get(one_contact))
        .route("/api/contacts/check-exists", get(check_exists))
        .route("/api/contacts/profile-picture", get(profile_picture))
        .route("/api/contacts/about", get(about))
        .route("/api/{session}/lids", get(list_lids))
        .route("/api/{session}/lids/count", get(count_lids))
        .route("/api/{session}/lids/pn/{phone}", get(lid_by_phone))
        .route("/api/{session}/lids/{lid}", get(get_lid))
        .route("/api/files/{session}/{file}", get(session_file))
        .route("/api/files/{file}", get(any_file))
}

fn sort_desc(params: &Params, default_desc: bool) -> ApiResult<bool> {
    match params.get("sortOrder").map(String::as_str) {
        None | Some("") => Ok(default_desc),
        Some("desc") => Ok(true),
        Some("asc") => Ok(false),
        Some(_) => Err(ApiError::bad_request(
            "sortOrder must be one of the following values: desc, asc",
        )),
    }
}

async fn list_chats(
    State(st): State<AppState>,
    Path(session): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    st.mgr.wait_working(&session).await?;
    let mut chats = st.mgr.chats(&session)?;
    let desc = sort_desc(&params, true)?;
    match params.get("sortBy").map(String::as_str) {
        None | Some("") | Some("conversationTimestamp") => chats.sort_by_key(|c| c.1),
        Some("id") => chats.sort_by(|a, b| a.2.cmp(&b.2)),
        Some("name") => chats.sort_by_key(|c| c.3.to_lowercase()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "sortBy must be one of the following values: conversationTimestamp, id, name",
            ))
        }
    }
    if desc {
        chats.reverse();
    }
    let offset = param_num::<usize>(&params, "offset")?.unwrap_or(0);
    let limit = param_num::<usize>(&params, "limit")?.unwrap_or(usize::MAX);
    Ok(Json(
        chats
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|c| c.0)
            .collect(),
    ))
}

async fn list_messages(
    State(st): State<AppState>,
    Path((session, chat_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    if let Some(s) = params.get("sortBy") {
        if s != "timestamp" && s != "messageTimestamp" {
            return Err(ApiError::bad_request(
                "sortBy must be one of the following values: timestamp, messageTimestamp",
            ));
        }
    }
    let ack = match params.get("filter.ack").map(String::as_str) {
        None | Some("") => None,
        Some(name) => Some(
            ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"]
                .iter()
                .position(|n| *n == name)
                .map(|p| p as i32 - 1)
                .ok_or_else(|| ApiError::bad_request("filter.ack must be one of the following values: ERROR, PENDING, SERVER, DEVICE, READ, PLAYED"))?,
        ),
    };
    let filter = MessageFilter {
        limit: param_num::<usize>(&params, "limit")?.unwrap_or(10),
        offset: param_num::<usize>(&params, "offset")?.unwrap_or(0),
        gte: param_num::<i64>(&params, "filter.timestamp.gte")?,
        lte: param_num::<i64>(&params, "filter.timestamp.lte")?,
        from_me: param_bool(&params, "filter.fromMe"),
        ack,
        download_media: param_bool(&params, "downloadMedia").unwrap_or(true),
        asc: !sort_desc(&params, true)?,
    };
    st.mgr.wait_working(&session).await?;
    Ok(Json(st.mgr.chat_messages(&session, &chat_id, &filter)?))
}

pub(super) async fn get_message(
    State(st): State<AppState>,
    Path((session, _chat_id, message_id)): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    st.mgr.wait_working(&session).await?;
    let download = param_bool(&params, "downloadMedia").unwrap_or(true);
    Ok(Json(st.mgr.get_message(&session, &message_id, download)?))
}

async fn read_messages(
    State(st): State<AppState>,
    Path((session, chat_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    st.mgr.wait_working(&session).await?;
    let read = st.mgr.seen(&session, &chat_id, &[])?;
    Ok(created(json!({"ids": read})))
}

async fn chat_picture(
    State(st): State<AppState>,
    Path((session, _chat)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    st.mgr.wait_working(&session).await?;
    Ok(Json(json!({"url": null})))
}

async fn new_message_id(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Response> {
    if st.config.flavor == Flavor::CoreLegacy {
        return Err(ApiError::not_found(format!(
            "Cannot GET /api/{session}/new-message-id"
        )));
    }
    st.mgr.wait_working(&session).await?;
    Ok(Json(json!({"id": ids::api_message_id()})).into_response())
}

fn session_param(params: &Params) -> String {
    params
        .get("session")
        .cloned()
        .unwrap_or_else(|| "default".into())
}

async fn all_contacts(State(st): State<AppState>, params: Params) -> ApiResult<Json<Vec<Value>>> {
    let session = session_param(&params);
    st.mgr.wait_working(&session).await?;
    let mut list = st.mgr.contacts(&session)?;
    let desc = sort_desc(&params, false)?;
    if params.get("sortBy").map(String::as_str) == Some("name") {
        list.sort_by_key(|c| c["name"].as_str().unwrap_or("").to_lowercase());
    }
    if desc {
        list.reverse();
    }
    let offset = param_num::<usize>(&params, "offset")?.unwrap_or(0);
    let limit = param_num::<usize>(&params, "limit")?.unwrap_or(usize::MAX);
    Ok(Json(list.into_iter().skip(offset).take(limit).collect()))
}

async fn one_contact(State(st): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let session = session_param(&params);
    let contact_id = params
        .get("contactId")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("contactId should not be empty"))?;
    st.mgr.wait_working(&session).await?;
    Ok(Json(st.mgr.contact(&session, contact_id)?))
}

/// A number "exists" when it is 7–15 digits and does not start with 0 (emulator rule).
async fn check_exists(State(st): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let session = session_param(&params);
    let phone = params
        .get("phone")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("phone should not be empty"))?;
    st.mgr.wait_working(&session).await?;
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let exists = (7..=15).contains(&digits.len()) && !digits.starts_with('0');
    Ok(Json(json!({
        "numberExists": exists,
        "chatId": if exists { json!(format!("{digits}@c.us")) } else { Value::Null },
    })))
}

async fn profile_picture(State(st): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let session = session_param(&params);
    st.mgr.wait_working(&session).await?;
    Ok(Json(json!({"profilePictureURL": null})))
}

async fn about(State(st): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let session = session_param(&params);
    st.mgr.wait_working(&session).await?;
    Ok(Json(json!({"about": null})))
}

async fn list_lids(
    State(st): State<AppState>,
    Path(session): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    st.mgr.wait_working(&session).await?;
    let offset = param_num::<usize>(&params, "offset")?.unwrap_or(0);
    let limit = param_num::<usize>(&params, "limit")?.unwrap_or(100);
    Ok(Json(
        st.mgr
            .lids(&session)?
            .into_iter()
            .skip(offset)
            .take(limit)
            .collect(),
    ))
}

async fn count_lids(
    State(st): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Value>> {
    st.mgr.wait_working(&session).await?;
    Ok(Json(json!({"count": st.mgr.lids(&session)?.len()})))
}

async fn get_lid(
    State(st): State<AppState>,
    Path((session, lid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    st.mgr.wait_working(&session).await?;
    let lid = if lid.contains('@') {
        lid
    } else {
        format!("{lid}@lid")
    };
    let found = st
        .mgr
        .lids(&session)?
        .into_iter()
        .find(|l| l["lid"] == json!(lid));
    Ok(Json(
        found.unwrap_or_else(|| json!({"lid": lid, "pn": null})),
    ))
}

async fn lid_by_phone(
    State(st): State<AppState>,
    Path((session, phone)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    st.mgr.wait_working(&session).await?;
    let pn = ids::ensure_suffix(&phone);
    let found = st
        .mgr
        .lids(&session)?
        .into_iter()
        .find(|l| l["pn"] == json!(pn));
    Ok(Json(
        found.unwrap_or_else(|| json!({"lid": null, "pn": pn})),
    ))
}

fn file_response(name: &str, bytes: Vec<u8>) -> Response {
    (
        [(header::CONTENT_TYPE, media::mimetype_for_file(name))],
        bytes,
    )
        .into_response()
}

async fn session_file(
    State(st): State<AppState>,
    Path((session, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    match st.mgr.read_file(&session, &file) {
        Some(bytes) => Ok(file_response(&file, bytes)),
        None => Err(ApiError::FileNotFound(format!(
            "ENOENT: no such file or directory, open '/tmp/whatsapp-files/{session}/{file}'"
        ))),
    }
}

async fn any_file(State(st): State<AppState>, Path(file): Path<String>) -> ApiResult<Response> {
    match st.mgr.find_file(&file) {
        Some(bytes) => Ok(file_response(&file, bytes)),
        None => Err(ApiError::FileNotFound(format!(
            "ENOENT: no such file or directory, open '/tmp/whatsapp-files/{file}'"
        ))),
    }
}
