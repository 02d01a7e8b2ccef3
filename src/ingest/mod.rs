//! WAHA webhooks: `POST /webhooks/waha/{link_id}`.
//!
//! Invariants:
//! - **Verified first.** The body must carry `X-Webhook-Hmac`, the lowercase hex
//!   HMAC-SHA512 of the exact bytes under the link's key, compared in constant time. An
//!   unknown link, a missing or a wrong signature all get the same 401 and nothing is kept.
//! - **Durable before 2xx.** A verified event is inserted into `waha_events` (unique on the
//!   link and the envelope id) before the answer; a redelivery finds the row and changes
//!   nothing. A verified body that is not JSON is kept (status `malformed`) for inspection
//!   and answered 400.
//! - **Applied after.** Applying happens once the event is stored, off the request path, so
//!   WAHA gets its answer fast; an event that could not be applied stays pending for the
//!   supervisor to retry.
//!
//! Layout: [`apply`] (claiming and dispatching stored events), [`messages`] (contacts,
//! conversations, messages, acks, edits, reactions, revokes, presence), [`catchup`]
//! (recovering what webhooks missed through WAHA's chats API).

pub mod apply;
pub mod catchup;
pub mod messages;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::AppState;
use crate::db;
use crate::error::{AppError, Result};
use crate::links::keys;
use crate::waha::signature;
use crate::waha::types::WebhookEnvelope;

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
            let id = store_malformed(&state, link.id, &body, &e.to_string()).await?;
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
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let inserted = sqlx::query_scalar!(
        r#"insert into waha_events (link_id, event_id, event, body, payload)
           values ($1, $2, $3, $4, $5)
           on conflict (link_id, event_id) where event_id is not null do nothing
           returning id"#,
        link.id,
        event_id,
        envelope.event,
        &body[..],
        payload
    )
    .fetch_optional(&state.db)
    .await?;
    metrics::counter!("webhooks_received_total", "event" => envelope.event.clone()).increment(1);
    let Some(row_id) = inserted else {
        return Ok((StatusCode::OK, Json(json!({"status": "duplicate"}))));
    };
    db::links::touch_event(&state.db, link.id).await?;
    let st = state.clone();
    tokio::spawn(async move { apply::apply_stored(&st, row_id).await });
    Ok((StatusCode::OK, Json(json!({"status": "stored"}))))
}

async fn store_malformed(state: &AppState, link: Uuid, body: &[u8], error: &str) -> Result<i64> {
    let error: String = error.chars().take(300).collect();
    Ok(sqlx::query_scalar!(
        "insert into waha_events (link_id, body, status, error) values ($1, $2, 'malformed', $3) returning id",
        link,
        body,
        error
    )
    .fetch_one(&state.db)
    .await?)
}
