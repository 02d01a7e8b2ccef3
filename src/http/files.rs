//! `/api/v1/files`: uploading a file to send in a message (raw bytes, 16 MiB at most, with
//! its own body limit), downloading one, and deleting your own unsent upload. The rules are the chat domain's
//! (`crate::chat::files`); here the bytes and headers are translated.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery};
use crate::auth::extract::AuthUser;
use crate::chat::files::{self, DownloadQuery, FileDto, Upload, UploadQuery, MAX_UPLOAD};
use crate::error::Result;
use crate::http::problem::Problem;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/files/{id}", get(download_file).delete(delete_file))
}

/// Uploads carry a larger body limit than the rest of the API.
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/files", post(upload_file))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD))
}

/// Upload a file (raw bytes, `Content-Type` set) to send in a message. 16 MiB at most.
#[utoipa::path(post, path = "/api/v1/files", tag = "conversations", security(("bearer" = [])), params(UploadQuery),
    request_body(content = String, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, body = FileDto), (status = 409, description = "`storage_quota_reached`: your uploads would exceed `PUENTE_UPLOAD_QUOTA_MB`.", body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 429, description = "`rate_limited`: more than `PUENTE_UPLOADS_PER_HOUR` uploads in the last hour; `Retry-After` says when the next is accepted.", body = Problem),
        (status = 422, description = "`validation_failed` on `body`: empty, not a readable image, or an image over 8000 px a side or 30 megapixels (its size, read from the header, is in the message).", body = Problem)))]
pub async fn upload_file(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    AppQuery(query): AppQuery<UploadQuery>,
    bytes: Bytes,
) -> Result<(StatusCode, AppJson<FileDto>)> {
    let upload = Upload {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        name: query.name,
        bytes,
    };
    let file = files::upload(&state, &user, upload).await?;
    Ok((StatusCode::CREATED, AppJson(file)))
}

/// Download a file: your own upload, media of a conversation you can see, or a photo of a
/// listing you can see.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), DownloadQuery), responses((status = 200, description = "The file's bytes, with its own content type.", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub async fn download_file(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppQuery(query): AppQuery<DownloadQuery>,
) -> Result<Response> {
    let file = files::download(&state, &user, id, &query).await?;
    let disposition = crate::files::content_disposition(file.file_name.as_deref());
    let mimetype = header::HeaderValue::from_str(&file.mimetype)
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
        file.bytes,
    )
        .into_response())
}

/// Delete your own upload that was never sent and is no listing's photo.
#[utoipa::path(delete, path = "/api/v1/files/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted, bytes and thumbnail included."),
        (status = 404, description = "No upload of yours with this id.", body = Problem),
        (status = 409, description = "`file_in_use`: a message or a listing carries it.", body = Problem)))]
pub async fn delete_file(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode> {
    files::remove(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
