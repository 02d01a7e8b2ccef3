//! The webhook receiver (edge): `POST /webhooks/waha/{link_id}`. Verify, queue, answer.
//!
//! Invariants:
//! - **Verified first.** The body must carry `X-Webhook-Hmac`, the lowercase hex
//!   HMAC-SHA512 of the exact bytes under the link's key, compared in constant time. An
//!   unknown link, a missing or a wrong signature all get the same 401 and nothing is kept.
//! - **Durable before 2xx.** A verified event is queued on the [`WebhookQueue`](super::queue::WebhookQueue) and the answer
//!   waits until the writer has committed it to `waha_events` (unique on the link and the
//!   envelope id): 200 `stored`, or `duplicate` for a redelivery, which changes nothing; 503
//!   when it could not be stored (WAHA redelivers). A verified body that is not JSON is kept
//!   (status `malformed`) for inspection and answered 400.
//! - **Storable by construction.** `\u0000` in a body (refused by PostgreSQL's `jsonb` and
//!   `text`) is stored as U+FFFD in the parsed payload and in everything applied from it
//!   ([`crate::waha::types::json_without_nul`]); the raw body keeps the exact bytes.
//!
//! Nothing is applied here: the writer hands committed rows to `ingest::apply`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::queue::{NewEvent, NotStored, Stored};
use crate::db;
use crate::error::{AppError, Result};
use crate::http::state::AppState;
use crate::links::keys;
use crate::waha::signature;
use crate::waha::types::{json_without_nul, WebhookEnvelope};

/// Largest webhook body accepted (media arrive by URL, not inline).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/waha/{link_id}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

fn refused() -> AppError {
    AppError::unauthorized(
        "invalid_signature",
        "The webhook signature is missing or wrong.",
    )
}

/// 503: WAHA delivers the event again.
fn not_stored(NotStored: NotStored) -> AppError {
    AppError::unavailable(
        "event_not_stored",
        "The event could not be stored; deliver it again.",
    )
}

pub async fn receive(
    State(state): State<AppState>,
    Path(link_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let link_id: Uuid = link_id.parse().map_err(|_| refused())?;
    let Some(link) = db::links::find(&state.db, link_id).await? else {
        return Err(refused());
    };
    let signature = headers
        .get("x-webhook-hmac")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    let key = keys::hmac_key(
        state.config.waha.master_secret.expose().as_bytes(),
        link.id,
        link.key_version,
    );
    if !signature::verify(key.as_bytes(), &body, signature) {
        tracing::warn!(link = %link.id, "webhook with a bad signature refused");
        metrics::counter!("webhooks_refused_total").increment(1);
        return Err(refused());
    }

    let envelope = match WebhookEnvelope::from_slice(&body) {
        Ok(env) => env,
        Err(e) => {
            let error: String = e.to_string().chars().take(300).collect();
            let id = db::events::insert_malformed(&state.db, link.id, &body, &error).await?;
            tracing::warn!(link = %link.id, event_row = id, "malformed webhook body kept for inspection");
            return Err(AppError::bad_request(
                "malformed_json",
                "The webhook body is not a WAHA event.",
            ));
        }
    };
    // Older WAHA builds send no id: fall back to the body's hash, which still dedupes
    // byte-identical redeliveries.
    let event_id = envelope
        .id
        .clone()
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&body))));
    // jsonb refuses U+0000: the stored payload has U+FFFD in its place (the raw body is kept).
    let payload: Value = json_without_nul(&body).unwrap_or(Value::Null);
    metrics::counter!("webhooks_received_total", "event" => envelope.event.clone()).increment(1);
    let stored = state
        .webhooks
        .store(NewEvent {
            link_id: link.id,
            event_id,
            event: envelope.event,
            body,
            payload,
        })
        .await
        .map_err(not_stored)?;
    let status = match stored {
        Stored::Inserted => "stored",
        Stored::Duplicate => "duplicate",
    };
    Ok((StatusCode::OK, Json(json!({ "status": status }))))
}
