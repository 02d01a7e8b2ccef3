//! `/api/v1/conversations` and `/api/v1/files`: reading conversations and messages, sending,
//! read receipts and reactions. Every query is scoped to the caller: an agent sees their own
//! conversations, an agency admin their agency's, a buyer their own; operators see none.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::AuthUser;
use crate::chat::access::{can_see, visible};
use crate::chat::inbox::ConversationView;
use crate::chat::{self, outbox, MessageDto};
use crate::db::chat::{self as q, NewMessage};
use crate::error::{AppError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::model::Role;

/// Longest message an agent or buyer may send.
pub const MAX_BODY_CHARS: usize = 5000;
/// Largest upload.
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;
const UPLOAD_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "video/mp4",
    "text/plain",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations",
            get(list_conversations).post(super::inbox::start_conversation),
        )
        .route("/conversations/{id}", get(get_conversation))
        .route(
            "/conversations/{id}/messages",
            get(list_messages).post(send_message),
        )
        .route("/conversations/{id}/read", post(mark_read))
        .route("/conversations/{id}/unread", post(mark_unread))
        .route(
            "/conversations/{id}/messages/{message_id}/reactions",
            post(react),
        )
        .route("/files/{id}", get(download_file))
}

pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/files", post(upload_file))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1–100, default 50.
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `whatsapp` or `in_app`.
    pub channel: Option<String>,
    /// `open`, `archived` or `closed` (default: open and archived).
    pub status: Option<String>,
    /// Only conversations with something unread.
    pub unread: Option<bool>,
    /// Only conversations about this listing.
    pub property_id: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationView>,
    pub next_cursor: Option<String>,
}

fn parse_cursor(c: &str) -> Result<(DateTime<Utc>, Uuid)> {
    let bad = || AppError::bad_request("invalid_cursor", "The cursor is not valid.");
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let micros: i64 = t.parse().map_err(|_| bad())?;
    Ok((
        DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// The caller's conversations, newest activity first, with unread counts, the last
/// message's preview and who is on the other side.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ConversationPage), (status = 401, body = Problem)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(lq): AppQuery<ListQuery>,
) -> Result<AppJson<ConversationPage>> {
    if user.role == Role::Operator {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Operators do not read conversations.",
        ));
    }
    let limit = lq.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 100"));
    }
    if lq
        .channel
        .as_deref()
        .is_some_and(|c| !matches!(c, "whatsapp" | "in_app"))
    {
        return Err(AppError::invalid("channel", "must be whatsapp or in_app"));
    }
    if lq
        .status
        .as_deref()
        .is_some_and(|c| !matches!(c, "open" | "archived" | "closed"))
    {
        return Err(AppError::invalid(
            "status",
            "must be open, archived or closed",
        ));
    }
    let (mut c_at, mut c_id) = match lq.cursor.as_deref() {
        Some(c) => {
            let (t, i) = parse_cursor(c)?;
            (Some(t), Some(i))
        }
        None => (None, None),
    };
    let mut conn = state.db.acquire().await?;
    let mut items = Vec::new();
    let mut next_cursor = None;
    // With `unread=true` some rows are filtered after the fact: keep reading pages.
    for _ in 0..20 {
        let rows = sqlx::query!(
            r#"select id, coalesce(last_message_at, created_at) as "at!" from conversations
               where (($1 = 'agent' and agent_id = $2) or ($1 = 'agency_admin' and agency_id = $3) or ($1 = 'buyer' and buyer_id = $2))
                 and (not is_group or $4)
                 and ($5::timestamptz is null or (coalesce(last_message_at, created_at), id) < ($5, $6))
                 and ($8::text is null or channel = $8)
                 and (case when $9::text is null then status <> 'closed' else status = $9 end)
                 and ($10::uuid is null or property_id = $10)
               order by coalesce(last_message_at, created_at) desc, id desc limit $7"#,
            user.role.as_str(),
            user.id,
            user.agency_id,
            state.config.inbox_groups,
            c_at,
            c_id,
            limit,
            lq.channel,
            lq.status,
            lq.property_id
        )
        .fetch_all(&mut *conn)
        .await?;
        let full = rows.len() as i64 == limit;
        for r in &rows {
            c_at = Some(r.at);
            c_id = Some(r.id);
            if items.len() as i64 == limit {
                break;
            }
            let Some(conv) = q::conversation(&mut *conn, r.id).await? else {
                continue;
            };
            if let Some(v) = chat::inbox::view(&mut conn, &user, &conv).await? {
                if lq.unread == Some(true) && v.unread_count == 0 {
                    continue;
                }
                items.push(v);
                next_cursor = Some(format!("{}_{}", r.at.timestamp_micros(), r.id));
            }
        }
        if !full || items.len() as i64 == limit {
            if !full || items.len() as i64 != limit {
                next_cursor = None;
            }
            break;
        }
    }
    Ok(AppJson(ConversationPage { items, next_cursor }))
}

/// One conversation, as the caller sees it.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ConversationView), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<ConversationView>> {
    let conv = visible(&state, &user, id).await?;
    let mut conn = state.db.acquire().await?;
    chat::inbox::view(&mut conn, &user, &conv)
        .await?
        .map(AppJson)
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQueryParams {
    /// Messages older than this message id.
    pub before: Option<Uuid>,
    /// Messages newer than this message id (then oldest first).
    pub after: Option<Uuid>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// Staff: include the related conversations on the other channel (one timeline for the
    /// same person on WhatsApp and in the app).
    pub merged: Option<bool>,
}

/// A conversation's messages, newest first (or oldest first after `after`).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), MessagesQueryParams), responses((status = 200, body = Vec<MessageDto>), (status = 404, body = Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppQuery(mq): AppQuery<MessagesQueryParams>,
) -> Result<AppJson<Vec<MessageDto>>> {
    let conv = visible(&state, &user, id).await?;
    let limit = mq.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("limit", "must be between 1 and 200"));
    }
    if mq.before.is_some() && mq.after.is_some() {
        return Err(AppError::invalid("after", "use either before or after"));
    }
    let viewer = chat::Viewer::of(&user);
    let internal_ok = viewer.sees_internal();
    let mut conn = state.db.acquire().await?;
    let mut convs = vec![conv.id];
    if mq.merged == Some(true) && internal_ok {
        convs.extend(chat::inbox::related(&mut conn, &conv).await?);
    }
    // A cursor the viewer may not see (a note, for a buyer) is as unknown as a wrong id.
    let anchor = match mq.before.or(mq.after) {
        Some(m) => Some(
            q::message_position(&mut *conn, m, &convs, internal_ok)
                .await?
                .ok_or_else(|| {
                    let field = if mq.after.is_some() {
                        "after"
                    } else {
                        "before"
                    };
                    AppError::invalid(field, "no such message in this conversation")
                })?,
        ),
        None => None,
    };
    let (a_at, a_id) = (anchor.map(|a| a.0), anchor.map(|a| a.1));
    let after = mq.after.is_some();
    let ids = sqlx::query_scalar!(
        r#"select m.id from messages m
           where m.conversation_id = any($1) and (not m.internal or $2)
             and ($3::timestamptz is null
                  or ($6 and (m.sent_at, m.id) > ($3, $4))
                  or (not $6 and (m.sent_at, m.id) < ($3, $4)))
           order by case when $6 then m.sent_at end asc, case when $6 then m.id end asc,
                    m.sent_at desc, m.id desc
           limit $5"#,
        &convs,
        internal_ok,
        a_at,
        a_id,
        limit,
        after
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(AppJson(chat::message_dtos(&mut conn, viewer, &ids).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Client-chosen idempotency key (1–100 characters): the same key returns the same message.
    pub client_id: String,
    pub body: Option<String>,
    /// An uploaded file (`POST /api/v1/files`) to send; `body` becomes its caption.
    pub file_id: Option<Uuid>,
    pub reply_to: Option<Uuid>,
}

fn kind_for(mimetype: &str) -> &'static str {
    if mimetype.starts_with("image/") {
        "image"
    } else if mimetype.starts_with("video/") {
        "video"
    } else if mimetype.starts_with("audio/ogg") {
        "voice"
    } else if mimetype.starts_with("audio/") {
        "audio"
    } else {
        "file"
    }
}

/// Send a message. On WhatsApp conversations it is queued (`pending`) and sent through the
/// link's WAHA; the same `client_id` again returns the same message (200 instead of 201).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SendRequest,
    responses((status = 201, body = MessageDto), (status = 200, body = MessageDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<SendRequest>,
) -> Result<(StatusCode, AppJson<MessageDto>)> {
    let conv = visible(&state, &user, id).await?;
    let in_app = conv.channel == "in_app";
    let participant = conv.agent_id == user.id || (in_app && conv.buyer_id == Some(user.id));
    if !participant {
        return Err(AppError::forbidden(
            "not_your_conversation",
            "Only the conversation's agent (and, in the app, its buyer) can write here.",
        ));
    }
    if conv.status == "closed" {
        return Err(AppError::conflict(
            "conversation_closed",
            "This conversation is closed.",
        ));
    }
    let client_id = req.client_id.trim();
    let mut errors = Vec::new();
    if client_id.is_empty() || client_id.chars().count() > 100 {
        errors.push(crate::error::FieldError::new(
            "client_id",
            "must be 1 to 100 characters",
        ));
    }
    let body = req.body.as_deref().map(str::trim).filter(|b| !b.is_empty());
    if body.is_some_and(|b| b.chars().count() > MAX_BODY_CHARS) {
        errors.push(crate::error::FieldError::new(
            "body",
            "must be at most 5000 characters",
        ));
    }
    if body.is_none() && req.file_id.is_none() {
        errors.push(crate::error::FieldError::new(
            "body",
            "a message needs text or a file",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if let Some(existing) = q::message_by_client_id(&state.db, user.id, client_id).await? {
        let mut conn = state.db.acquire().await?;
        let dto = chat::message_dto(&mut conn, chat::Viewer::of(&user), existing.id)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok((StatusCode::OK, AppJson(dto)));
    }
    let kind = match req.file_id {
        Some(f) => {
            let file = sqlx::query!("select mimetype, owner_user_id from files where id = $1", f)
                .fetch_optional(&state.db)
                .await?
                .filter(|r| r.owner_user_id == Some(user.id))
                .ok_or_else(|| AppError::invalid("file_id", "no such uploaded file of yours"))?;
            kind_for(&file.mimetype)
        }
        None => "text",
    };
    let reply_to = match req.reply_to {
        Some(r) => Some(
            chat::visible_message(
                &mut *state.db.acquire().await?,
                chat::Viewer::of(&user),
                &conv,
                r,
            )
            .await?
            .ok_or_else(|| AppError::invalid("reply_to", "no such message in this conversation"))?
            .id,
        ),
        None => None,
    };
    let link = match (in_app, conv.link_id) {
        (true, _) => None,
        (false, Some(l)) => Some(l),
        (false, None) => {
            return Err(AppError::conflict(
                "link_deleted",
                "This conversation's WhatsApp link was deleted.",
            ))
        }
    };
    let mut tx = state.db.begin().await?;
    crate::moderation::ensure_can_reach(&mut tx, user.id, &conv).await?;
    if in_app {
        if let Some(b) = body {
            crate::moderation::check_words(&state.word_filter, b)?;
        }
    }
    let inserted = q::insert_message(
        &mut *tx,
        NewMessage {
            conversation: conv.id,
            direction: "out",
            author_user: Some(user.id),
            author_contact: None,
            kind,
            body,
            media_file: req.file_id,
            meta: json!({}),
            reply_to,
            status: if in_app { "sent" } else { "pending" },
            link,
            wa_message_id: None,
            wa_key_id: None,
            client_id: Some(client_id),
            sent_at: Utc::now(),
        },
    )
    .await?;
    let Some(msg) = inserted else {
        // A concurrent request with the same client id won the race.
        drop(tx);
        let existing = q::message_by_client_id(&state.db, user.id, client_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut conn = state.db.acquire().await?;
        let dto = chat::message_dto(&mut conn, chat::Viewer::of(&user), existing.id)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok((StatusCode::OK, AppJson(dto)));
    };
    if let Some(link) = link {
        let deadline = Utc::now()
            + chrono::Duration::seconds(
                i64::try_from(state.config.send_deadline_secs).unwrap_or(600),
            );
        outbox::enqueue(
            &mut tx,
            outbox::SEND,
            Some(msg.id),
            Some(link),
            json!({}),
            Some(deadline),
        )
        .await?;
    }
    q::touch_conversation(&mut *tx, conv.id, msg.sent_at).await?;
    chat::publish_message(&mut tx, &conv, msg.id, "message.created").await?;
    chat::publish_conversation(&mut tx, &conv).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    let mut conn = state.db.acquire().await?;
    let dto = chat::message_dto(&mut conn, chat::Viewer::of(&user), msg.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, AppJson(dto)))
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
    chat::reads::mark_read(&state, &user, id, req.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark the conversation unread for the caller: their read marker moves back to just before
/// the newest message of the other side. Only the caller's own sockets hear of it (a `read`
/// event with `unread: true`); the other side is not told, and on WhatsApp the blue ticks
/// already sent stay.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/unread", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = chat::reads::ReadState),
        (status = 404, description = "`not_found`: no such conversation, or not visible to the caller.", body = Problem),
        (status = 409, description = "`nothing_to_mark_unread`: nothing from the other side yet.", body = Problem)))]
pub async fn mark_unread(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<chat::reads::ReadState>> {
    Ok(AppJson(chat::reads::mark_unread(&state, &user, id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactRequest {
    /// One emoji; empty removes the caller's reaction.
    pub emoji: String,
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
    let conv = visible(&state, &user, id).await?;
    if req.emoji.chars().count() > 8 {
        return Err(AppError::invalid("emoji", "must be one emoji"));
    }
    let viewer = chat::Viewer::of(&user);
    let msg = chat::visible_message(&mut *state.db.acquire().await?, viewer, &conv, message_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = state.db.begin().await?;
    if !msg.internal {
        crate::moderation::ensure_can_reach(&mut tx, user.id, &conv).await?;
    }
    q::set_reaction(&mut *tx, msg.id, &format!("user:{}", user.id), &req.emoji).await?;
    if conv.channel == "whatsapp" && conv.agent_id == user.id {
        if let (Some(link), Some(wa)) = (conv.link_id, msg.wa_message_id.as_deref()) {
            outbox::enqueue(
                &mut tx,
                outbox::REACT,
                None,
                Some(link),
                outbox::reaction_payload(wa, &req.emoji),
                None,
            )
            .await?;
        }
    }
    chat::publish_message(&mut tx, &conv, msg.id, "message.updated").await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    let mut conn = state.db.acquire().await?;
    Ok(AppJson(
        chat::message_dto(&mut conn, viewer, msg.id)
            .await?
            .ok_or(AppError::NotFound)?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileDto {
    pub id: Uuid,
    pub mimetype: String,
    pub size_bytes: i64,
    pub file_name: Option<String>,
    /// Images only: the original's size in pixels.
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Images only: a PNG at most 320 px on its longest side.
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, shown to the other side.
    pub name: Option<String>,
}

/// Upload a file (raw bytes, `Content-Type` set) to send in a message. 16 MiB at most.
#[utoipa::path(post, path = "/api/v1/files", tag = "conversations", security(("bearer" = [])), params(UploadQuery),
    request_body(content = String, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, body = FileDto), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "`validation_failed` on `body`: empty, not a readable image, or an image over 8000 px a side or 30 megapixels (its size, read from the header, is in the message).", body = Problem)))]
pub async fn upload_file(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    AppQuery(uq): AppQuery<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, AppJson<FileDto>)> {
    if user.role == Role::Operator {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Operators do not upload files.",
        ));
    }
    let mimetype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .filter(|m| UPLOAD_TYPES.contains(&m.as_str()))
        .ok_or(AppError::UnsupportedMediaType)?;
    if body.is_empty() {
        return Err(AppError::invalid("body", "the file is empty"));
    }
    let name = uq.name.map(|n| {
        n.chars()
            .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
            .take(200)
            .collect::<String>()
    });
    let key = crate::files::new_key();
    let is_image = mimetype.starts_with("image/");
    let thumb = if is_image {
        match crate::files::thumbnail_bounded(body.clone()).await {
            Ok(t) => Some(t),
            Err(crate::files::ImageError::Unreadable) => {
                return Err(AppError::invalid("body", "is not a readable image"))
            }
            Err(crate::files::ImageError::TooLarge { width, height }) => {
                return Err(AppError::invalid(
                    "body",
                    &format!(
                        "is {width}×{height} pixels; images may be at most {} pixels a side and {} megapixels",
                        crate::files::MAX_IMAGE_SIDE,
                        crate::files::MAX_IMAGE_PIXELS / 1_000_000
                    ),
                ))
            }
        }
    } else {
        None
    };
    let put = |k: String, b: Vec<u8>| {
        let files = state.files.clone();
        async move { files.put(&k, &b).await }
    };
    put(key.clone(), body.to_vec())
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("file store: {e}")))?;
    let (thumb_key, width, height) = match thumb {
        Some((png, w, h)) => {
            let tk = format!("{key}.thumb");
            put(tk.clone(), png)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("file store: {e}")))?;
            (Some(tk), i32::try_from(w).ok(), i32::try_from(h).ok())
        }
        None => (None, None, None),
    };
    let id = Uuid::now_v7();
    let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
    sqlx::query!(
        "insert into files (id, owner_user_id, storage_key, mimetype, size_bytes, sha256, original_name, width, height, thumbnail_key) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        id,
        user.id,
        key,
        mimetype,
        size,
        crate::files::sha256(&body),
        name,
        width,
        height,
        thumb_key
    )
    .execute(&state.db)
    .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(FileDto {
            id,
            mimetype,
            size_bytes: size,
            file_name: name,
            width,
            height,
            thumbnail_url: thumb_key.map(|_| format!("/api/v1/files/{id}?thumbnail=true")),
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// The image's thumbnail (PNG) instead of the file.
    pub thumbnail: Option<bool>,
}

/// Download a file: your own upload, media of a conversation you can see, or a photo of a
/// listing you can see.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), DownloadQuery), responses((status = 200, description = "The file's bytes, with its own content type.", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub async fn download_file(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppQuery(dq): AppQuery<DownloadQuery>,
) -> Result<Response> {
    let file = sqlx::query!(
        "select storage_key, mimetype, original_name, owner_user_id, thumbnail_key from files where id = $1",
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(AppError::NotFound)?;
    let mut allowed = file.owner_user_id == Some(user.id);
    if !allowed {
        let viewer = chat::Viewer::of(&user);
        let uses = q::media_uses(&state.db, id).await?;
        for (c, internal) in uses {
            if !viewer.may_see(internal) {
                continue;
            }
            if let Some(conv) = q::conversation(&state.db, c).await? {
                if can_see(&user, &conv) {
                    allowed = true;
                    break;
                }
            }
        }
    }
    if !allowed {
        // A listing's photo: public while the listing is active, else for its agency's staff.
        allowed = crate::db::properties::listings_with_photo(&state.db, id)
            .await?
            .iter()
            .any(|l| crate::listings::can_see(&user, &l.status, l.agency_id));
    }
    if !allowed {
        return Err(AppError::NotFound);
    }
    let (key, mimetype) = if dq.thumbnail == Some(true) {
        (
            file.thumbnail_key.clone().ok_or(AppError::NotFound)?,
            "image/png".to_string(),
        )
    } else {
        (file.storage_key.clone(), file.mimetype.clone())
    };
    let bytes = state
        .files
        .get(&key)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("file store: {e}")))?;
    let disposition = crate::files::content_disposition(file.original_name.as_deref());
    let mimetype = header::HeaderValue::from_str(&mimetype)
        .unwrap_or_else(|_| header::HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, mimetype),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private, max-age=3600"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                header::HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}
