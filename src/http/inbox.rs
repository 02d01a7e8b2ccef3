//! The inbox around conversations: starting an in-app conversation about a listing, editing
//! and deleting one's own in-app messages while unread, archive / unarchive / close,
//! reassignment by an agency admin, internal notes, the unread counter and full-text search.
//! Every query is scoped to the caller (see `chat::access::can_see`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::conversations::MAX_BODY_CHARS;
use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::{AgencyAdmin, AuthUser, Buyer};
use crate::chat::access::visible;
use crate::chat::inbox::ConversationView;
use crate::chat::{self, MessageDto};
use crate::db::chat::{self as q, ConversationRow, NewMessage};
use crate::error::{AppError, FieldError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::model::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations/{id}/messages/{message_id}",
            patch(edit_message).delete(delete_message),
        )
        .route("/conversations/{id}/archive", post(archive))
        .route("/conversations/{id}/unarchive", post(unarchive))
        .route("/conversations/{id}/close", post(close))
        .route("/conversations/{id}/assign", post(assign))
        .route("/conversations/{id}/notes", post(add_note))
        .route("/unread-count", get(unread_count))
        .route("/search", get(search))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The listing to ask about; the conversation is with its agent.
    pub property_id: Uuid,
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
    let prop = sqlx::query!(
        "select agency_id, agent_id from properties where id = $1 and status = 'active'",
        req.property_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(AppError::NotFound)?;
    let mut tx = state.db.begin().await?;
    let created = sqlx::query_scalar!(
        r#"insert into conversations (id, agency_id, agent_id, channel, buyer_id, property_id)
           values ($1, $2, $3, 'in_app', $4, $5)
           on conflict (buyer_id, property_id, agent_id) where channel = 'in_app' and property_id is not null do nothing
           returning id"#,
        Uuid::now_v7(),
        prop.agency_id,
        prop.agent_id,
        user.id,
        req.property_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let id = match created {
        Some(id) => id,
        None => sqlx::query_scalar!(
            "select id from conversations where channel = 'in_app' and buyer_id = $1 and property_id = $2 and agent_id = $3",
            user.id,
            req.property_id,
            prop.agent_id
        )
        .fetch_one(&mut *tx)
        .await?,
    };
    let conv = q::conversation(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if created.is_some() {
        // A new conversation reaches the agent: not from a buyer they blocked (the insert
        // rolls back with the transaction).
        crate::moderation::ensure_can_reach(&mut tx, user.id, &conv).await?;
        chat::publish_conversation(&mut tx, &conv).await?;
    }
    tx.commit().await?;
    let mut conn = state.db.acquire().await?;
    let view = chat::inbox::view(&mut conn, &user, &conv)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        if created.is_some() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        AppJson(view),
    ))
}

/// Has the other side read this message? (Edits and deletes are allowed only until then.)
async fn read_by_other(
    conn: &mut sqlx::PgConnection,
    conv: &ConversationRow,
    author: Uuid,
    sent_at: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let Some(other) = crate::chat::access::other_side(conv, author) else {
        return Ok(false);
    };
    let read_upto = sqlx::query_scalar!(
        r#"select m.sent_at from conversation_reads r join messages m on m.id = r.last_read_message_id
           where r.conversation_id = $1 and r.user_id = $2"#,
        conv.id,
        other
    )
    .fetch_optional(conn)
    .await?;
    Ok(read_upto.is_some_and(|t| t >= sent_at))
}

async fn own_unread_message(
    state: &AppState,
    user: &AuthUser,
    conv: &ConversationRow,
    message: Uuid,
) -> Result<q::MessageRow> {
    let mut conn = state.db.acquire().await?;
    let msg = chat::visible_message(&mut conn, chat::Viewer::of(user), conv, message)
        .await?
        .ok_or(AppError::NotFound)?;
    if msg.author_user_id != Some(user.id) {
        return Err(AppError::forbidden(
            "not_your_message",
            "You can only change your own messages.",
        ));
    }
    if conv.channel != "in_app" && !msg.internal {
        return Err(AppError::conflict(
            "channel_not_supported",
            "WhatsApp messages cannot be changed from here.",
        ));
    }
    if msg.deleted_at.is_some() {
        return Err(AppError::conflict(
            "message_deleted",
            "The message was deleted.",
        ));
    }
    if !msg.internal && read_by_other(&mut conn, conv, user.id, msg.sent_at).await? {
        return Err(AppError::conflict(
            "already_read",
            "The other side has read this message; it can no longer be changed.",
        ));
    }
    Ok(msg)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    pub body: String,
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
    let conv = visible(&state, &user, id).await?;
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid("body", "must be 1 to 5000 characters"));
    }
    if conv.channel == "in_app" {
        crate::moderation::check_words(&state.word_filter, body)?;
    }
    let msg = own_unread_message(&state, &user, &conv, message_id).await?;
    let mut tx = state.db.begin().await?;
    if !msg.internal {
        crate::moderation::ensure_can_reach(&mut tx, user.id, &conv).await?;
    }
    q::edit_body(&mut *tx, msg.id, body).await?;
    chat::publish_message(&mut tx, &conv, msg.id, "message.updated").await?;
    tx.commit().await?;
    let mut conn = state.db.acquire().await?;
    Ok(AppJson(
        chat::message_dto(&mut conn, chat::Viewer::of(&user), msg.id)
            .await?
            .ok_or(AppError::NotFound)?,
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
    let conv = visible(&state, &user, id).await?;
    let msg = own_unread_message(&state, &user, &conv, message_id).await?;
    let mut tx = state.db.begin().await?;
    q::mark_deleted(&mut *tx, msg.id).await?;
    chat::publish_message(&mut tx, &conv, msg.id, "message.updated").await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_status(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    status: &str,
) -> Result<AppJson<ConversationView>> {
    let conv = visible(state, user, id).await?;
    if !user.role.is_staff() {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Only agency staff can change a conversation's status.",
        ));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query!(
        "update conversations set status = $2, updated_at = now() where id = $1",
        conv.id,
        status
    )
    .execute(&mut *tx)
    .await?;
    let conv = q::conversation(&mut *tx, conv.id)
        .await?
        .ok_or(AppError::NotFound)?;
    chat::publish_conversation(&mut tx, &conv).await?;
    tx.commit().await?;
    let mut conn = state.db.acquire().await?;
    Ok(AppJson(
        chat::inbox::view(&mut conn, user, &conv)
            .await?
            .ok_or(AppError::NotFound)?,
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
    set_status(&state, &user, id, "archived").await
}

/// Bring a conversation back to the inbox. Agency staff.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/unarchive", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn unarchive(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    set_status(&state, &user, id, "open").await
}

/// Close a conversation (the deal is done or dead). Agency staff.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/close", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    set_status(&state, &user, id, "closed").await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub agent_id: Uuid,
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
    let conv = visible(&state, &admin, id).await?;
    if conv.channel != "in_app" {
        return Err(AppError::conflict(
            "channel_not_supported",
            "WhatsApp conversations belong to the agent whose number they came to.",
        ));
    }
    let ok = sqlx::query_scalar!(
        r#"select exists(select 1 from users where id = $1 and agency_id = $2 and active and role in ('agent', 'agency_admin')) as "ok!""#,
        req.agent_id,
        conv.agency_id
    )
    .fetch_one(&state.db)
    .await?;
    if !ok {
        return Err(AppError::invalid(
            "agent_id",
            "is not an active agent of your agency",
        ));
    }
    let mut tx = state.db.begin().await?;
    let moved = sqlx::query!(
        "update conversations set agent_id = $2, updated_at = now() where id = $1",
        conv.id,
        req.agent_id
    )
    .execute(&mut *tx)
    .await;
    if let Err(sqlx::Error::Database(e)) = &moved {
        if e.is_unique_violation() {
            return Err(AppError::conflict(
                "already_has_conversation",
                "The buyer already talks to that agent about this listing.",
            ));
        }
    }
    moved?;
    let updated = q::conversation(&mut *tx, conv.id)
        .await?
        .ok_or(AppError::NotFound)?;
    chat::publish_conversation(&mut tx, &updated).await?;
    // The previous agent learns it left their inbox.
    crate::realtime::publish(
        &mut tx,
        &[conv.agent_id],
        "conversation.updated",
        &json!({"conversation_id": conv.id, "reassigned_to": req.agent_id}),
    )
    .await?;
    crate::db::audit::record(
        &mut *tx,
        crate::db::audit::Entry {
            actor: Some(admin.id),
            actor_role: Some(admin.role.as_str()),
            action: "conversation.assign",
            target_type: Some("conversation"),
            target_id: Some(conv.id.to_string()),
            ok: true,
            detail: json!({"from": conv.agent_id, "to": req.agent_id}),
            ip: None,
        },
    )
    .await?;
    tx.commit().await?;
    let mut conn = state.db.acquire().await?;
    Ok(AppJson(
        chat::inbox::view(&mut conn, &admin, &updated)
            .await?
            .ok_or(AppError::NotFound)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub body: String,
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
    let conv = visible(&state, &user, id).await?;
    if !user.role.is_staff() {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Only agency staff write internal notes.",
        ));
    }
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::Validation(vec![FieldError::new(
            "body",
            "must be 1 to 5000 characters",
        )]));
    }
    let mut tx = state.db.begin().await?;
    let msg = q::insert_message(
        &mut *tx,
        NewMessage {
            conversation: conv.id,
            direction: "out",
            author_user: Some(user.id),
            author_contact: None,
            kind: "note",
            body: Some(body),
            media_file: None,
            meta: json!({}),
            reply_to: None,
            status: "sent",
            link: None,
            wa_message_id: None,
            wa_key_id: None,
            client_id: None,
            sent_at: chrono::Utc::now(),
        },
    )
    .await?
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("note insert conflicted")))?;
    sqlx::query!("update messages set internal = true where id = $1", msg.id)
        .execute(&mut *tx)
        .await?;
    let msg = q::message(&mut *tx, msg.id)
        .await?
        .ok_or(AppError::NotFound)?;
    // Notes reach staff only: publish_message renders per viewer.
    chat::publish_message(&mut tx, &conv, msg.id, "message.created").await?;
    tx.commit().await?;
    let mut conn = state.db.acquire().await?;
    Ok((
        StatusCode::CREATED,
        AppJson(
            chat::message_dto(&mut conn, chat::Viewer::Staff, msg.id)
                .await?
                .ok_or(AppError::NotFound)?,
        ),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    /// Conversations with something unread.
    pub conversations: i64,
    /// Unread messages in all of them.
    pub messages: i64,
}

/// What the caller has not read yet, across their inbox.
#[utoipa::path(get, path = "/api/v1/unread-count", tag = "conversations", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = Problem)))]
pub async fn unread_count(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<AppJson<UnreadCount>> {
    if user.role == Role::Operator {
        return Ok(AppJson(UnreadCount {
            conversations: 0,
            messages: 0,
        }));
    }
    let row = sqlx::query!(
        r#"with mine as (
               select c.id from conversations c
               where (($1 = 'agent' and c.agent_id = $2) or ($1 = 'agency_admin' and c.agency_id = $3) or ($1 = 'buyer' and c.buyer_id = $2))
                 and (not c.is_group or $4) and c.status <> 'closed'
           ), unread as (
               select m.conversation_id, count(*) as n from messages m join mine on mine.id = m.conversation_id
               where m.deleted_at is null and not m.internal
                 and coalesce(m.author_user_id, '00000000-0000-0000-0000-000000000000'::uuid) <> $2
                 and (m.direction = 'in' or m.author_user_id is not null)
                 and m.sent_at > coalesce((select lm.sent_at from conversation_reads r join messages lm on lm.id = r.last_read_message_id
                                           where r.conversation_id = m.conversation_id and r.user_id = $2), '-infinity'::timestamptz)
               group by m.conversation_id
           )
           select count(*) as "conversations!", coalesce(sum(n), 0)::bigint as "messages!" from unread"#,
        user.role.as_str(),
        user.id,
        user.agency_id,
        state.config.inbox_groups
    )
    .fetch_one(&state.db)
    .await?;
    Ok(AppJson(UnreadCount {
        conversations: row.conversations,
        messages: row.messages,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (web-search syntax: quotes, `or`, `-word`). Spanish and English stems.
    pub q: String,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub conversation_id: Uuid,
    pub message: MessageDto,
}

/// Full-text search over the messages the caller can see, best match first.
#[utoipa::path(get, path = "/api/v1/search", tag = "conversations", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = Vec<SearchHit>), (status = 422, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(sq): AppQuery<SearchQuery>,
) -> Result<AppJson<Vec<SearchHit>>> {
    if user.role == Role::Operator {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Operators do not read conversations.",
        ));
    }
    let text = sq.q.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(AppError::invalid("q", "must be 1 to 200 characters"));
    }
    let limit = sq.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 100"));
    }
    let viewer = chat::Viewer::of(&user);
    let staff = viewer.sees_internal();
    let ids = sqlx::query!(
        r#"with q as (select websearch_to_tsquery('spanish', $5) || websearch_to_tsquery('english', $5) as tsq)
           select m.id, m.conversation_id from messages m join conversations c on c.id = m.conversation_id, q
           where m.search_vector @@ q.tsq and m.deleted_at is null and (not m.internal or $6)
             and (($1 = 'agent' and c.agent_id = $2) or ($1 = 'agency_admin' and c.agency_id = $3) or ($1 = 'buyer' and c.buyer_id = $2))
             and (not c.is_group or $4)
           order by ts_rank(m.search_vector, q.tsq) desc, m.sent_at desc limit $7"#,
        user.role.as_str(),
        user.id,
        user.agency_id,
        state.config.inbox_groups,
        text,
        staff,
        limit
    )
    .fetch_all(&state.db)
    .await?;
    let mut conn = state.db.acquire().await?;
    let msg_ids: Vec<Uuid> = ids.iter().map(|r| r.id).collect();
    let dtos = chat::message_dtos(&mut conn, viewer, &msg_ids).await?;
    Ok(AppJson(
        dtos.into_iter()
            .map(|m| SearchHit {
                conversation_id: m.conversation_id,
                message: m,
            })
            .collect(),
    ))
}
