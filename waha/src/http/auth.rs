//! Pairing: `GET /api/{session}/auth/qr`, `POST /api/{session}/auth/request-code` and
//! `GET /api/screenshot`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use rand::Rng;
use serde_json::json;

use super::{created, AppState, JsonBody, Params};
use crate::config::Engine;
use crate::error::{ApiError, ApiResult};
use crate::media;
use crate::model::Status;
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/{session}/auth/qr", get(get_qr))
        .route("/api/{session}/auth/request-code", post(request_code))
        .route("/api/screenshot", get(screenshot))
}

/// Whether the client asked for JSON with exactly `Accept: application/json`.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "application/json")
}

fn image_response(headers: &HeaderMap, mimetype: &'static str, bytes: Vec<u8>) -> Response {
    if wants_json(headers) {
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        return Json(json!({"mimetype": mimetype, "data": data})).into_response();
    }
    ([(header::CONTENT_TYPE, mimetype)], bytes).into_response()
}

async fn get_qr(
    State(st): State<AppState>,
    Path(session): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    st.mgr.wait_for(&session, &[Status::ScanQrCode]).await?;
    let value = st
        .mgr
        .qr(&session)
        .ok_or_else(|| ApiError::UnexpectedStatus {
            session: session.clone(),
            status: st
                .mgr
                .status(&session)
                .map(Status::as_str)
                .unwrap_or("STOPPED")
                .to_owned(),
            expected: vec!["SCAN_QR_CODE".into()],
        })?;
    match params.get("format").map(String::as_str) {
        Some("raw") => Ok(Json(json!({"value": value})).into_response()),
        None | Some("image") => {
            let png = media::qr_png(&value).map_err(ApiError::Internal)?;
            Ok(image_response(&headers, "image/png", png))
        }
        Some(_) => Err(ApiError::bad_request(
            "format must be one of the following values: image, raw",
        )),
    }
}

async fn request_code(
    State(st): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    validate::object(&body)?;
    let mut c = validate::Checker::default();
    let phone = c.string(&body, "phoneNumber");
    let method = c.opt_string(&body, "method");
    c.finish()?;
    if !phone.chars().all(|ch| ch.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "phoneNumber must contain digits only",
        ));
    }
    let engine = st.config.engine;
    if let Err(e) = st.mgr.wait_for(&session, &[Status::ScanQrCode]).await {
        return Err(match (engine, st.mgr.status(&session)) {
            (Engine::Noweb | Engine::Gows, Some(status)) => ApiError::unprocessable(format!(
                "Can request code only in SCAN_QR_CODE status. The current status is {}",
                status.as_str()
            )),
            _ => e,
        });
    }
    if engine == Engine::Noweb && method.is_some() {
        return Err(ApiError::unprocessable(
            "NOWEB engine doesn't support any 'method', remove it and try again",
        ));
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    let raw: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    let code = match engine {
        Engine::Gows => raw,
        _ => format!("{}-{}", &raw[..4], &raw[4..]),
    };
    Ok(created(json!({"code": code})))
}

/// WEBJS: a JPEG "screenshot" (the QR page while pairing). NOWEB/GOWS: the QR PNG while
/// pairing, 422 otherwise, as their real engines do.
async fn screenshot(
    State(st): State<AppState>,
    params: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let session = params
        .get("session")
        .cloned()
        .unwrap_or_else(|| "default".into());
    st.mgr.check_name(&session)?;
    let status = st
        .mgr
        .status(&session)
        .ok_or_else(|| ApiError::not_found(format!("Session \"{session}\" does not exist")))?;
    let qr = st.mgr.qr(&session);
    match st.config.engine {
        Engine::Webjs => {
            if status == Status::Stopped {
                return Err(ApiError::UnexpectedStatus {
                    session,
                    status: status.as_str().into(),
                    expected: vec!["STARTING".into(), "SCAN_QR_CODE".into(), "WORKING".into()],
                });
            }
            let jpeg = media::screenshot_jpeg(qr.as_deref()).map_err(ApiError::Internal)?;
            Ok(image_response(&headers, "image/jpeg", jpeg))
        }
        Engine::Noweb | Engine::Gows => match (status, qr) {
            (Status::ScanQrCode, Some(value)) => {
                let png = media::qr_png(&value).map_err(ApiError::Internal)?;
                Ok(image_response(&headers, "image/png", png))
            }
            (Status::Starting, _) => Err(ApiError::unprocessable(
                "The session is starting, please try again after few seconds",
            )),
            _ => Err(ApiError::Http {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: "Can not get screenshot for non chrome based engine.".into(),
            }),
        },
    }
}
