//! `/api/v1/conversations/{id}/messages…` (the timeline, sending, editing, deleting,
//! reactions), `/api/v1/conversations/{id}/notes` and `/api/v1/search`. Each handler
//! extracts, makes one call to the chat domain (`crate::chat`), and answers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::Router;
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::AuthUser;
use crate::chat::messages::{
    self, EditRequest, MessagesQueryParams, NoteRequest, ReactRequest, SearchHit, SearchQuery,
};
use crate::chat::send::{self, SendRequest};
use crate::chat::views::MessageDto;
use crate::error::Result;
use crate::http::problem::Problem;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations/{id}/messages",
            get(list_messages).post(send_message),
        )
        .route(
            "/conversations/{id}/messages/{message_id}",
            patch(edit_message).delete(delete_message),
        )
        .route(
            "/conversations/{id}/messages/{message_id}/reactions",
            post(react),
        )
        .route("/conversations/{id}/notes", post(add_note))
        .route("/search", get(search))
}

/// A conversation's messages, newest first (or oldest first after `after`).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), MessagesQueryParams), responses((status = 200, body = Vec<MessageDto>), (status = 404, body = Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppQuery(query): AppQuery<MessagesQueryParams>,
) -> Result<AppJson<Vec<MessageDto>>> {
    Ok(AppJson(messages::list(&state, &user, id, &query).await?))
}

/// Send a message. On WhatsApp conversations it is queued (`pending`) and sent through the
/// link's WAHA; the same `client_id` again returns the same message (200 instead of 201).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SendRequest,
    responses((status = 201, body = MessageDto), (status = 200, body = MessageDto), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 429, description = "`rate_limited`: more than `PUENTE_SENDS_PER_MINUTE` messages in the last minute; `Retry-After` says when the next is accepted.", body = Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<SendRequest>,
) -> Result<(StatusCode, AppJson<MessageDto>)> {
    let sent = send::send(&state, &user, id, &req).await?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(sent.message)))
}

/// Edit your own in-app message while the other side has not read it.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)), request_body = EditRequest,
    responses((status = 200, body = MessageDto), (status = 409, body = Problem), (status = 403, body = Problem)))]
pub async fn edit_message(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath((id, message_id)): AppPath<(Uuid, Uuid)>,
    AppJson(req): AppJson<EditRequest>,
) -> Result<AppJson<MessageDto>> {
    Ok(AppJson(
        messages::edit(&state, &user, id, message_id, &req).await?,
    ))
}

/// Delete your own in-app message while the other side has not read it.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)),
    responses((status = 204), (status = 409, body = Problem), (status = 403, body = Problem)))]
pub async fn delete_message(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath((id, message_id)): AppPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    messages::delete(&state, &user, id, message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// React to a message (on WhatsApp the buyer sees it too).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages/{message_id}/reactions", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)), request_body = ReactRequest,
    responses((status = 200, body = MessageDto), (status = 404, body = Problem)))]
pub async fn react(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath((id, message_id)): AppPath<(Uuid, Uuid)>,
    AppJson(req): AppJson<ReactRequest>,
) -> Result<AppJson<MessageDto>> {
    Ok(AppJson(
        messages::react(&state, &user, id, message_id, &req).await?,
    ))
}

/// Add an internal note the buyer never sees. Agency staff.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/notes", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NoteRequest,
    responses((status = 201, body = MessageDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn add_note(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<NoteRequest>,
) -> Result<(StatusCode, AppJson<MessageDto>)> {
    let note = messages::add_note(&state, &user, id, &req).await?;
    Ok((StatusCode::CREATED, AppJson(note)))
}

/// Full-text search over the messages the caller can see, best match first.
#[utoipa::path(get, path = "/api/v1/search", tag = "conversations", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = Vec<SearchHit>), (status = 422, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(query): AppQuery<SearchQuery>,
) -> Result<AppJson<Vec<SearchHit>>> {
    Ok(AppJson(messages::search(&state, &user, &query).await?))
}
