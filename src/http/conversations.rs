//! `/api/v1/conversations` (the inbox, one conversation, starting, archive / unarchive /
//! close, reassignment, read receipts) and `/api/v1/unread-count`. Each handler extracts,
//! makes one call to the chat domain (`crate::chat`), and answers; every rule — who sees
//! what, validation, moderation — is the domain's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::{AgencyAdmin, AuthUser, Buyer};
use crate::chat::conversations::{
    self, AssignRequest, ConversationPage, ListQuery, NewWhatsAppChat, StartRequest,
};
use crate::chat::reads::{self, ReadState, UnreadCount};
use crate::chat::views::{ConversationView, MessageDto};
use crate::error::Result;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::model::ConversationStatus;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations",
            get(list_conversations).post(start_conversation),
        )
        .route("/conversations/whatsapp", post(start_whatsapp_chat))
        .route("/conversations/{id}", get(get_conversation))
        .route("/conversations/{id}/read", post(mark_read))
        .route("/conversations/{id}/unread", post(mark_unread))
        .route("/conversations/{id}/archive", post(archive))
        .route("/conversations/{id}/unarchive", post(unarchive))
        .route("/conversations/{id}/close", post(close))
        .route("/conversations/{id}/assign", post(assign))
        .route("/unread-count", get(unread_count))
}

/// The caller's conversations, newest activity first, with unread counts, the last
/// message's preview and who is on the other side.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ConversationPage), (status = 401, body = Problem)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<AppJson<ConversationPage>> {
    Ok(AppJson(conversations::list(&state, &user, &query).await?))
}

/// One conversation, as the caller sees it.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    Ok(AppJson(conversations::get(&state, &user, id).await?))
}

/// A buyer starts (or gets back) the in-app conversation about a listing with its agent:
/// 201 when new, 200 when it already existed.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    request_body = StartRequest,
    responses((status = 201, body = ConversationView), (status = 200, body = ConversationView),
        (status = 403, description = "`blocked`: the listing's agent has blocked the caller.", body = Problem),
        (status = 404, body = Problem)))]
pub async fn start_conversation(
    State(state): State<AppState>,
    Buyer(user): Buyer,
    AppJson(req): AppJson<StartRequest>,
) -> Result<(StatusCode, AppJson<ConversationView>)> {
    let started = conversations::start(&state, &user, &req).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(started.conversation)))
}

/// A WhatsApp chat an agent opened, with its first message.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NewChatResponse {
    pub conversation: ConversationView,
    pub message: MessageDto,
}

/// An agent writes first to a WhatsApp number through their link: the number is checked
/// with WhatsApp, the conversation opened (201) or found (200, when that number already has
/// one), and the message sent as any other.
#[utoipa::path(post, path = "/api/v1/conversations/whatsapp", tag = "conversations", security(("bearer" = [])),
    request_body = NewWhatsAppChat,
    responses((status = 201, body = NewChatResponse), (status = 200, body = NewChatResponse),
        (status = 403, description = "`forbidden_role`: buyers and operators do not start WhatsApp chats.", body = Problem),
        (status = 409, description = "`no_whatsapp_link` or `link_not_working`: the caller's WhatsApp is not linked and connected.", body = Problem),
        (status = 422, description = "`validation_failed` on `phone` (malformed, or not on WhatsApp), `client_id` or `body`.", body = Problem),
        (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn start_whatsapp_chat(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<NewWhatsAppChat>,
) -> Result<(StatusCode, AppJson<NewChatResponse>)> {
    let chat = conversations::start_whatsapp(&state, &user, &req).await?;
    let status = if chat.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        AppJson(NewChatResponse {
            conversation: chat.conversation,
            message: chat.message,
        }),
    ))
}

/// Archive a conversation (a new message reopens it). Agency staff.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/archive", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    let view = conversations::set_status(&state, &user, id, ConversationStatus::Archived).await?;
    Ok(AppJson(view))
}

/// Bring a conversation back to the inbox. Agency staff.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/unarchive", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn unarchive(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    let view = conversations::set_status(&state, &user, id, ConversationStatus::Open).await?;
    Ok(AppJson(view))
}

/// Close a conversation (the deal is done or dead). Agency staff.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/close", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    let view = conversations::set_status(&state, &user, id, ConversationStatus::Closed).await?;
    Ok(AppJson(view))
}

/// Reassign an in-app conversation to another agent of the agency. Agency admins.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AssignRequest,
    responses((status = 200, body = ConversationView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    AgencyAdmin(admin): AgencyAdmin,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<AssignRequest>,
) -> Result<AppJson<ConversationView>> {
    Ok(AppJson(
        conversations::assign(&state, &admin, id, &req).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The newest message read; default the newest of the conversation.
    pub up_to: Option<Uuid>,
}

/// Mark the conversation read up to a message. On WhatsApp the buyer sees blue ticks.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReadRequest, responses((status = 204), (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<ReadRequest>,
) -> Result<StatusCode> {
    reads::mark_read(&state, &user, id, req.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark the conversation unread for the caller: their read marker moves back to just before
/// the newest message of the other side. Only the caller's own sockets hear of it (a `read`
/// event with `unread: true`); the other side is not told, and on WhatsApp the blue ticks
/// already sent stay.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/unread", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReadState),
        (status = 404, description = "`not_found`: no such conversation, or not visible to the caller.", body = Problem),
        (status = 409, description = "`nothing_to_mark_unread`: nothing from the other side yet.", body = Problem)))]
pub async fn mark_unread(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ReadState>> {
    Ok(AppJson(reads::mark_unread(&state, &user, id).await?))
}

/// What the caller has not read yet, across their inbox.
#[utoipa::path(get, path = "/api/v1/unread-count", tag = "conversations", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = Problem)))]
pub async fn unread_count(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<AppJson<UnreadCount>> {
    Ok(AppJson(reads::unread_totals(&state, &user).await?))
}
