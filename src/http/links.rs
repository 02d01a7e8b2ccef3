//! `/api/v1/whatsapp/links`: an agent links their own WhatsApp number and manages it.
//! Every handler is for agency staff, and every query is scoped to the caller's own links.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{AppJson, AppPath, AppQuery, ClientIp};
use crate::auth::extract::Staff;
use crate::error::{AppError, Result};
use crate::http::problem::{problem_response, Problem};
use crate::http::state::AppState;
use crate::links::service::{self, Actor};
use crate::links::{qr, LinkDto};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/whatsapp/links", post(create_link).get(list_links))
        .route("/whatsapp/links/{id}", get(get_link).delete(delete_link))
        .route("/whatsapp/links/{id}/qr", get(get_qr))
        .route("/whatsapp/links/{id}/pairing-code", post(pairing_code))
        .route("/whatsapp/links/{id}/restart", post(restart_link))
        .route("/whatsapp/links/{id}/logout", post(logout_link))
        .route("/whatsapp/links/{id}/phone", get(phone_link))
}

/// Start linking a WhatsApp number: creates the session container. Agency staff.
#[utoipa::path(post, path = "/api/v1/whatsapp/links", tag = "links", security(("bearer" = [])),
    responses((status = 201, body = LinkDto), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_link(
    State(state): State<AppState>,
    Staff(user): Staff,
) -> Result<(StatusCode, AppJson<LinkDto>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(service::create(&state, &user).await?),
    ))
}

/// The caller's links, with their container state.
#[utoipa::path(get, path = "/api/v1/whatsapp/links", tag = "links", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkDto>), (status = 403, body = Problem)))]
pub async fn list_links(
    State(state): State<AppState>,
    Staff(user): Staff,
) -> Result<AppJson<Vec<LinkDto>>> {
    Ok(AppJson(service::list_for_agent(&state, &user).await?))
}

/// One of the caller's links.
#[utoipa::path(get, path = "/api/v1/whatsapp/links/{id}", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = LinkDto), (status = 404, body = Problem)))]
pub async fn get_link(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<LinkDto>> {
    let row = service::owned(&state, &user, id).await?;
    Ok(AppJson(service::dto(&state, &row).await))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `png` (default), `svg` or `raw`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RawQr {
    pub value: String,
}

/// The QR code to scan, rendered by Puente from WAHA's raw value. 409 unless waiting for a scan.
#[utoipa::path(get, path = "/api/v1/whatsapp/links/{id}/qr", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path), QrQuery),
    responses((status = 200, content_type = "image/png"), (status = 409, body = Problem), (status = 404, body = Problem)))]
pub async fn get_qr(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath(id): AppPath<Uuid>,
    AppQuery(q): AppQuery<QrQuery>,
) -> Result<Response> {
    let format = q.format.as_deref().unwrap_or("png");
    if !matches!(format, "png" | "svg" | "raw") {
        return Err(AppError::invalid("format", "must be png, svg or raw"));
    }
    let row = service::owned(&state, &user, id).await?;
    let raw = service::qr_raw(&state, &row).await?;
    let no_store = (header::CACHE_CONTROL, "no-store");
    Ok(match format {
        "svg" => (
            [(header::CONTENT_TYPE, "image/svg+xml"), no_store],
            qr::svg(&raw)?,
        )
            .into_response(),
        "raw" => ([no_store], AppJson(RawQr { value: raw })).into_response(),
        _ => (
            [(header::CONTENT_TYPE, "image/png"), no_store],
            qr::png(&raw)?,
        )
            .into_response(),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingRequest {
    /// The phone to link, with country code, digits only (`+`, spaces and dashes allowed).
    pub phone_number: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PairingCode {
    /// Enter it on the phone: WhatsApp → Linked devices → Link with phone number.
    pub code: String,
}

/// A pairing code, the fallback to scanning the QR code.
#[utoipa::path(post, path = "/api/v1/whatsapp/links/{id}/pairing-code", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PairingRequest,
    responses((status = 200, body = PairingCode), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pairing_code(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<PairingRequest>,
) -> Result<AppJson<PairingCode>> {
    let row = service::owned(&state, &user, id).await?;
    let code = service::pairing_code(&state, &row, &req.phone_number).await?;
    Ok(AppJson(PairingCode { code }))
}

/// Restart the link's session container (the login survives).
#[utoipa::path(post, path = "/api/v1/whatsapp/links/{id}/restart", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 202, body = LinkDto), (status = 404, body = Problem),
        (status = 409, description = "`link_stopped_by_operator`: an operator stopped the link; only an operator starts it again.", body = Problem)))]
pub async fn restart_link(
    State(state): State<AppState>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<(StatusCode, AppJson<LinkDto>)> {
    let row = service::owned(&state, &user, id).await?;
    service::restart(
        &state,
        &row,
        &Actor {
            user: Some(&user),
            ip: Some(&ip),
        },
    )
    .await?;
    let row = service::owned(&state, &user, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        AppJson(service::dto(&state, &row).await),
    ))
}

/// Unlink the phone but keep the link; a new QR code follows.
#[utoipa::path(post, path = "/api/v1/whatsapp/links/{id}/logout", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 202, body = LinkDto), (status = 404, body = Problem)))]
pub async fn logout_link(
    State(state): State<AppState>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<(StatusCode, AppJson<LinkDto>)> {
    let row = service::owned(&state, &user, id).await?;
    service::logout(
        &state,
        &row,
        &Actor {
            user: Some(&user),
            ip: Some(&ip),
        },
    )
    .await?;
    let row = service::owned(&state, &user, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        AppJson(service::dto(&state, &row).await),
    ))
}

/// Remove the link's container and volume; its conversations stay. 204 when done, 202 when
/// the removal was deferred (the container engine was unreachable).
#[utoipa::path(delete, path = "/api/v1/whatsapp/links/{id}", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 202), (status = 404, body = Problem)))]
pub async fn delete_link(
    State(state): State<AppState>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode> {
    let row = service::owned(&state, &user, id).await?;
    let done = service::delete(
        &state,
        &row,
        &Actor {
            user: Some(&user),
            ip: Some(&ip),
        },
    )
    .await?;
    Ok(if done {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhoneLink {
    /// The emulator's simulated phone for this link. It carries the link's WAHA API key:
    /// open it, do not share it.
    pub url: String,
}

/// The simulated phone of a link that runs the WAHA emulator (development and demos): a page
/// that plays the agent's phone (scan the QR, write as a buyer, unlink). The link's own agent
/// only; 404 `not_emulator` when the link runs real WAHA.
#[utoipa::path(get, path = "/api/v1/whatsapp/links/{id}/phone", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PhoneLink), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn phone_link(
    State(state): State<AppState>,
    Staff(user): Staff,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response> {
    let row = service::owned(&state, &user, id).await?;
    Ok(match service::phone_url(&state, &row).await? {
        Some(url) => (
            [(header::CACHE_CONTROL, "no-store")],
            AppJson(PhoneLink { url }),
        )
            .into_response(),
        None => problem_response(
            StatusCode::NOT_FOUND,
            "not_emulator",
            "This link runs real WhatsApp (WAHA); there is no simulated phone.".into(),
            Vec::new(),
        ),
    })
}
