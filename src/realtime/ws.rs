//! `GET /api/v1/ws`: one WebSocket per client.
//!
//! Authenticated with the access token in the `Authorization` header or the `access_token`
//! query parameter (browsers cannot set headers on WebSockets). The socket is subscribed to
//! the hub *before* the upgrade completes, then — when the client passes `since` — the table
//! is read for everything after it, so nothing falls between the snapshot and the stream;
//! events already sent are skipped by sequence number.
//!
//! Server → client frames: `{"type":"hello","user_id","last_seq"}` first, then events
//! `{"seq","type","data","at"}`, `{"type":"resync","last_seq"}` when the client fell behind
//! (re-fetch state over REST, then continue), `{"type":"pong"}` answering `{"type":"ping"}`.
//! The server pings every 25 s and closes a socket silent for 75 s; on shutdown it closes
//! with 1001 ("going away").

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::hub::Subscription;
use super::Event;
use crate::app::AppState;
use crate::auth::extract::AuthUser;
use crate::error::{AppError, Result};
use crate::http::extract::AppQuery;

const PING_EVERY: Duration = Duration::from_secs(25);
const IDLE_LIMIT: Duration = Duration::from_secs(75);
/// Events replayed on reconnect before the client is told to resync instead.
const MAX_REPLAY: i64 = 2000;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub access_token: Option<String>,
    /// The last sequence number the client saw.
    pub since: Option<i64>,
}

pub async fn ws_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppQuery(q): AppQuery<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let token = header_token.or(q.access_token).ok_or_else(|| {
        AppError::unauthorized(
            "missing_token",
            "Send an access token in the Authorization header or `access_token`.",
        )
    })?;
    let user = AuthUser::from_token(&state, &token).await?;
    let sub = state
        .hub
        .subscribe(user.id, state.config.ws_max_per_user)
        .ok_or_else(|| AppError::TooMany {
            code: "too_many_sockets",
            detail: "You have too many open connections; close one first.".into(),
        })?;
    let since = q.since.filter(|s| *s >= 0);
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let user_id = user.id;
            if let Err(e) = run_socket(state, user, sub, since, socket).await {
                tracing::debug!(user = %user_id, error = %e, "socket ended with an error");
            }
        }))
}

struct Socket {
    ws: WebSocket,
    last: i64,
}

impl Socket {
    async fn send_json(&mut self, value: &serde_json::Value) -> anyhow::Result<()> {
        self.ws
            .send(Message::Text(value.to_string().into()))
            .await?;
        Ok(())
    }

    async fn send_event(&mut self, ev: &Event) -> anyhow::Result<()> {
        self.ws
            .send(Message::Text(serde_json::to_string(ev)?.into()))
            .await?;
        self.last = ev.seq;
        Ok(())
    }

    /// Send every stored event after `self.last` up to `upto` (inclusive, or all when None).
    /// Returns false when there were too many and the client was told to resync.
    async fn catch_up(
        &mut self,
        state: &AppState,
        user: uuid::Uuid,
        upto: Option<i64>,
    ) -> anyhow::Result<bool> {
        let mut sent = 0;
        loop {
            let batch = super::events_after(&state.db, user, self.last, 500).await?;
            if batch.is_empty() {
                return Ok(true);
            }
            for ev in &batch {
                if upto.is_some_and(|u| ev.seq > u) {
                    return Ok(true);
                }
                self.send_event(ev).await?;
                sent += 1;
            }
            if sent >= MAX_REPLAY {
                self.resync(state, user).await?;
                return Ok(false);
            }
        }
    }

    async fn resync(&mut self, state: &AppState, user: uuid::Uuid) -> anyhow::Result<()> {
        let latest = super::last_seq(&state.db, user).await?;
        self.last = latest;
        metrics::counter!("ws_resync_total").increment(1);
        self.send_json(&json!({"type": "resync", "last_seq": latest}))
            .await
    }
}

async fn run_socket(
    state: AppState,
    user: AuthUser,
    mut sub: Subscription,
    since: Option<i64>,
    ws: WebSocket,
) -> anyhow::Result<()> {
    let latest = super::last_seq(&state.db, user.id).await?;
    let mut sock = Socket {
        ws,
        last: since.map_or(latest, |s| s.min(latest)),
    };
    sock.send_json(&json!({"type": "hello", "user_id": user.id, "last_seq": latest}))
        .await?;
    if since.is_some() {
        sock.catch_up(&state, user.id, None).await?;
    }
    let mut epoch = state.hub.epoch();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut epoch_check = tokio::time::interval(Duration::from_secs(2));
    let mut last_heard = Instant::now();
    loop {
        if sub.lagged.swap(false, Ordering::AcqRel) {
            while sub.rx.try_recv().is_ok() {}
            sock.resync(&state, user.id).await?;
        }
        tokio::select! {
            () = state.shutdown.cancelled() => {
                let _ = sock.ws.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                return Ok(());
            }
            ev = sub.rx.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                if sub.lagged.load(Ordering::Acquire) {
                    continue;
                }
                send_in_order(&mut sock, &state, user.id, ev).await?;
            }
            msg = sock.ws.recv() => {
                let Some(Ok(msg)) = msg else { return Ok(()) };
                last_heard = Instant::now();
                match msg {
                    Message::Text(text) => handle_client_frame(&mut sock, text.as_str()).await?,
                    Message::Binary(_) => sock.send_json(&json!({"type": "error", "code": "binary_not_supported"})).await?,
                    Message::Close(_) => return Ok(()),
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    let _ = sock.ws.send(Message::Close(Some(CloseFrame { code: 1001, reason: "idle timeout".into() }))).await;
                    return Ok(());
                }
                sock.ws.send(Message::Ping(Default::default())).await?;
            }
            _ = epoch_check.tick() => {
                let now = state.hub.epoch();
                if now != epoch {
                    epoch = now;
                    sock.catch_up(&state, user.id, None).await?;
                }
            }
        }
    }
}

async fn send_in_order(
    sock: &mut Socket,
    state: &AppState,
    user: uuid::Uuid,
    ev: Arc<Event>,
) -> anyhow::Result<()> {
    if ev.seq <= sock.last {
        return Ok(());
    }
    if ev.seq > sock.last + 1 && !sock.catch_up(state, user, Some(ev.seq - 1)).await? {
        return Ok(());
    }
    if ev.seq > sock.last {
        sock.send_event(&ev).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
}

async fn handle_client_frame(sock: &mut Socket, text: &str) -> anyhow::Result<()> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(f) if f.kind == "ping" => sock.send_json(&json!({"type": "pong"})).await,
        Ok(f) => {
            sock.send_json(&json!({"type": "error", "code": "unsupported_message", "message": format!("unknown type {:?}", f.kind)}))
                .await
        }
        Err(_) => sock.send_json(&json!({"type": "error", "code": "malformed_message"})).await,
    }
}
