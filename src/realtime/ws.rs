//! `GET /api/v1/ws`: one WebSocket per client; `POST /api/v1/ws/ticket`: a ticket to open one.
//!
//! Authenticated with the access token in the `Authorization` header, the `access_token`
//! query parameter, or — for browsers, which cannot set headers on WebSockets and should not
//! put tokens in URLs — a `ticket` from `POST /api/v1/ws/ticket` (single use, 60 s; see
//! [`super::tickets`]). A bad credential is a 401 problem before the upgrade. The socket is
//! subscribed to the hub *before* the upgrade completes, then — when the client passes
//! `since` — the table is read for everything after it, so nothing falls between the snapshot
//! and the stream; events already sent are skipped by sequence number.
//!
//! The frames are [`ServerFrame`] and [`ClientFrame`] ([`super::protocol`]): `hello` first,
//! then events, signals and answers. This module is where the client's frames take effect:
//! - `ping` → `pong`.
//! - `typing` → a `typing` signal `{conversation_id, user_id, typing, expires_in_ms: 6000}` to
//!   the conversation's other participants. At most one per conversation every 2 s per
//!   socket; the excess is dropped silently. A conversation the user cannot see gets an
//!   `error` frame (`not_found`); one whose other side has blocked the user, `blocked`.
//! - `read` → what `POST /api/v1/conversations/{id}/read` does
//!   ([`crate::chat::reads::mark_read`]); the `read` event that follows is the answer.
//! - `auth` → extends the socket's life to that token's: it must be a valid access token of
//!   the same user (else an `error` frame — `invalid_token`, `token_expired`,
//!   `account_inactive`, `wrong_user` — and the socket keeps its old deadline). Answered
//!   `auth_ok`.
//!
//! **A socket lives as long as its account, session and token.** It closes at once, on
//! whichever replica holds it ([`super::control`]), with close code 4001 `account_inactive`
//! when the account is deactivated, 4002 `password_changed` when the password changes (the
//! session that changed it keeps its sockets) or `session_ended` when its session is
//! logged out or revoked, and 4003 `token_expired` when the access token it was opened with
//! (for a ticket: the token that asked for the ticket) expires without an `auth` frame
//! bringing a newer one. The reason is the close frame's reason text.
//!
//! Frames that touch the database share a per-socket budget (a burst of 20, 10 a second);
//! beyond it `typing` is dropped and `read` answered `rate_limited`. The server pings every
//! 25 s and closes a socket silent for 75 s; on shutdown it closes with 1001 ("going away").

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::control::CloseReason;
use super::events::{events_after, last_seq};
use super::hub::{Delivery, Subscription};
use super::protocol::{ClientFrame, Event, ServerFrame, Signal, Typing};
use crate::auth::extract::AuthUser;
use crate::error::{AppError, Result};
use crate::http::extract::{AppJson, AppQuery};
use crate::http::problem::Problem;
use crate::http::state::AppState;

const PING_EVERY: Duration = Duration::from_secs(25);
const IDLE_LIMIT: Duration = Duration::from_secs(75);
/// Per-socket read buffer. tungstenite allocates 128 KiB by default, eagerly, for every
/// socket; client frames are small (and capped at 64 KiB, read in several chunks), so this
/// is most of the difference between 150 and 25 KiB per connection.
pub const READ_BUFFER: usize = 8 * 1024;
/// The largest client message (and frame) read: tungstenite would otherwise buffer up to
/// 16 MiB of a frame before the message limit applies.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Events replayed on reconnect before the client is told to resync instead.
const MAX_REPLAY: i64 = 2000;
/// One `typing` per conversation per socket in this window.
const TYPING_EVERY: Duration = Duration::from_secs(2);
/// How long a client shows a `typing` signal without a newer one.
const TYPING_EXPIRES_MS: u64 = 6000;
/// Conversations whose typing rate a socket tracks at once.
const TYPING_TRACKED: usize = 64;
/// Database-touching client frames: burst and refill per second.
const BUDGET_BURST: f64 = 20.0;
const BUDGET_PER_SEC: f64 = 10.0;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub access_token: Option<String>,
    /// A ticket from `POST /api/v1/ws/ticket`.
    pub ticket: Option<String>,
    /// The last sequence number the client saw.
    pub since: Option<i64>,
}

pub async fn ws_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppQuery(q): AppQuery<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    let user = match q.ticket.as_deref() {
        Some(ticket) => super::tickets::redeem(&state, ticket).await?,
        None => {
            let header_token = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_string());
            let token = header_token.or(q.access_token).ok_or_else(|| {
                AppError::unauthorized(
                    "missing_token",
                    "Send an access token in the Authorization header or `access_token`, or a `ticket`.",
                )
            })?;
            AuthUser::from_token(&state, &token).await?
        }
    };
    let sub = state
        .hub
        .subscribe(user.id, user.session, state.config.ws_max_per_user)
        .ok_or_else(|| AppError::TooMany {
            code: "too_many_sockets",
            detail: "You have too many open connections; close one first.".into(),
        })?;
    let since = q.since.filter(|s| *s >= 0);
    Ok(ws
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let user_id = user.id;
            if let Err(e) = run_socket(state, user, sub, since, socket).await {
                tracing::debug!(user = %user_id, error = %e, "socket ended with an error");
            }
        }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketDto {
    /// Pass it as `/api/v1/ws?ticket=…`; it opens one socket.
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// A single-use ticket to open the WebSocket without putting the access token in its URL.
#[utoipa::path(post, path = "/api/v1/ws/ticket", tag = "realtime", security(("bearer" = [])),
    responses((status = 200, body = TicketDto), (status = 401, body = Problem)))]
pub async fn create_ticket(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<AppJson<TicketDto>> {
    let ticket = super::tickets::issue(&state, &user).await?;
    Ok(AppJson(TicketDto {
        ticket,
        expires_in: super::tickets::TICKET_TTL_SECS,
    }))
}

struct Socket {
    ws: WebSocket,
    last: i64,
}

impl Socket {
    async fn send(&mut self, frame: &ServerFrame<'_>) -> anyhow::Result<()> {
        self.ws.send(Message::Text(frame.to_text().into())).await?;
        Ok(())
    }

    async fn send_event(&mut self, ev: &Event) -> anyhow::Result<()> {
        self.send(&ServerFrame::Event(ev)).await?;
        self.last = ev.seq;
        Ok(())
    }

    async fn send_signal(&mut self, signal: &Signal) -> anyhow::Result<()> {
        self.send(&ServerFrame::Signal(signal)).await
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
            let batch = events_after(&state.db, user, self.last, 500).await?;
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
        let latest = last_seq(&state.db, user).await?;
        self.last = latest;
        metrics::counter!("ws_resync_total").increment(1);
        self.send(&ServerFrame::Resync { last_seq: latest }).await
    }
}

/// When a token expiring at `exp` (Unix seconds) runs out, as a timer deadline.
fn deadline(exp: u64) -> tokio::time::Instant {
    let left = exp.saturating_sub(crate::auth::tokens::now_secs());
    tokio::time::Instant::now() + Duration::from_secs(left)
}

async fn close_with(sock: &mut Socket, reason: CloseReason) {
    let _ = sock
        .ws
        .send(Message::Close(Some(CloseFrame {
            code: reason.code(),
            reason: reason.as_str().into(),
        })))
        .await;
}

async fn run_socket(
    state: AppState,
    mut user: AuthUser,
    mut sub: Subscription,
    since: Option<i64>,
    ws: WebSocket,
) -> anyhow::Result<()> {
    let latest = last_seq(&state.db, user.id).await?;
    let mut sock = Socket {
        ws,
        last: since.map_or(latest, |s| s.min(latest)),
    };
    sock.send(&ServerFrame::Hello {
        user_id: user.id,
        last_seq: latest,
    })
    .await?;
    if since.is_some() {
        sock.catch_up(&state, user.id, None).await?;
    }
    let mut epoch = state.hub.epoch();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut epoch_check = tokio::time::interval(Duration::from_secs(2));
    let mut last_heard = Instant::now();
    let mut frames = ClientFrames::default();
    let expiry = tokio::time::sleep_until(deadline(user.token_exp));
    tokio::pin!(expiry);
    // Closed between the upgrade and now (a notice that came before the subscription is
    // caught by the check below).
    if let Some(reason) = super::control::check(&state.db, user.id, user.session).await? {
        close_with(&mut sock, reason).await;
        return Ok(());
    }
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
            delivery = sub.rx.recv() => {
                let Some(delivery) = delivery else { return Ok(()) };
                if sub.lagged.load(Ordering::Acquire) {
                    continue;
                }
                match delivery {
                    Delivery::Event(ev) => send_in_order(&mut sock, &state, user.id, ev).await?,
                    Delivery::Signal(signal) => sock.send_signal(&signal).await?,
                }
            }
            changed = sub.closed.changed() => {
                let reason = *sub.closed.borrow();
                match (changed, reason) {
                    (_, Some(reason)) => {
                        close_with(&mut sock, reason).await;
                        return Ok(());
                    }
                    (Err(_), None) => return Ok(()),
                    (Ok(()), None) => {}
                }
            }
            () = &mut expiry => {
                close_with(&mut sock, CloseReason::TokenExpired).await;
                return Ok(());
            }
            msg = sock.ws.recv() => {
                let Some(Ok(msg)) = msg else { return Ok(()) };
                last_heard = Instant::now();
                match msg {
                    Message::Text(text) => {
                        if let Some(renewed) = frames.handle(&mut sock, &state, &user, text.as_str()).await? {
                            expiry.as_mut().reset(deadline(renewed.token_exp));
                            sub.set_session(renewed.session);
                            sock.send(&ServerFrame::AuthOk { expires_at: renewed.token_exp }).await?;
                            user = renewed;
                        }
                    }
                    Message::Binary(_) => sock.send(&ServerFrame::Error { code: "binary_not_supported", message: None, conversation_id: None }).await?,
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
                    // Control notices may have been missed too.
                    if let Some(reason) = super::control::check(&state.db, user.id, user.session).await? {
                        close_with(&mut sock, reason).await;
                        return Ok(());
                    }
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

/// A token bucket for the client frames that touch the database.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            tokens: BUDGET_BURST,
            at: Instant::now(),
        }
    }
}

impl Budget {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * BUDGET_PER_SEC;
        self.tokens = (self.tokens + refill).min(BUDGET_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One socket's handling of what the client sends, and its rate limits.
#[derive(Default)]
struct ClientFrames {
    /// When a `typing` was last let through, per conversation (at most [`TYPING_TRACKED`]).
    typing_sent: HashMap<Uuid, Instant>,
    budget: Budget,
}

/// An error of a frame's work as the client sees it; server-side causes are logged only.
fn app_error_frame(e: &AppError, what: &str, conversation: Uuid) -> ServerFrame<'static> {
    if e.status().is_server_error() {
        tracing::warn!(error = %e, conversation = %conversation, "websocket {what} failed");
        return ServerFrame::error(
            "internal_error",
            format!("{what} failed"),
            Some(conversation),
        );
    }
    let message = match e {
        AppError::NotFound => "no such conversation".to_string(),
        AppError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => format!("{what} refused"),
    };
    ServerFrame::error(e.code(), message, Some(conversation))
}

impl ClientFrames {
    /// Act on one client frame; a successful `auth` returns the caller as the new token
    /// has them (the socket then lives to its expiry).
    async fn handle(
        &mut self,
        sock: &mut Socket,
        state: &AppState,
        user: &AuthUser,
        text: &str,
    ) -> anyhow::Result<Option<AuthUser>> {
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => {
                sock.send(&e.frame()).await?;
                return Ok(None);
            }
        };
        match frame {
            ClientFrame::Auth { access_token } => {
                return self.auth(sock, state, user, &access_token).await
            }
            ClientFrame::Ping => sock.send(&ServerFrame::Pong).await,
            ClientFrame::Typing {
                conversation_id,
                typing,
            } => {
                self.typing(sock, state, user, conversation_id, typing)
                    .await
            }
            ClientFrame::Read {
                conversation_id,
                up_to,
            } => self.read(sock, state, user, conversation_id, up_to).await,
        }
        .map(|()| None)
    }

    /// `auth`: a newer token of the same user.
    async fn auth(
        &mut self,
        sock: &mut Socket,
        state: &AppState,
        user: &AuthUser,
        token: &str,
    ) -> anyhow::Result<Option<AuthUser>> {
        if !self.budget.take() {
            sock.send(&ServerFrame::error(
                "rate_limited",
                "too many frames; slow down",
                None,
            ))
            .await?;
            return Ok(None);
        }
        match AuthUser::from_token(state, token).await {
            Ok(renewed) if renewed.id == user.id => Ok(Some(renewed)),
            Ok(_) => {
                sock.send(&ServerFrame::error(
                    "wrong_user",
                    "that token is another user's",
                    None,
                ))
                .await?;
                Ok(None)
            }
            Err(e) if e.status().is_server_error() => {
                tracing::warn!(error = %e, "websocket auth failed");
                sock.send(&ServerFrame::error("internal_error", "auth failed", None))
                    .await?;
                Ok(None)
            }
            Err(e) => {
                sock.send(&ServerFrame::error(e.code(), "the token was refused", None))
                    .await?;
                Ok(None)
            }
        }
    }

    async fn typing(
        &mut self,
        sock: &mut Socket,
        state: &AppState,
        user: &AuthUser,
        conversation: Uuid,
        typing: bool,
    ) -> anyhow::Result<()> {
        let now = Instant::now();
        let recent = |t: &Instant| now.duration_since(*t) < TYPING_EVERY;
        if self.typing_sent.get(&conversation).is_some_and(recent) {
            return Ok(());
        }
        if self.typing_sent.len() >= TYPING_TRACKED {
            self.typing_sent.retain(|_, t| recent(t));
            if self.typing_sent.len() >= TYPING_TRACKED {
                return Ok(());
            }
        }
        if !self.budget.take() {
            return Ok(());
        }
        self.typing_sent.insert(conversation, now);
        match forward_typing(state, user, conversation, typing).await {
            Ok(()) => Ok(()),
            Err(e) => {
                sock.send(&app_error_frame(&e, "typing", conversation))
                    .await
            }
        }
    }

    async fn read(
        &mut self,
        sock: &mut Socket,
        state: &AppState,
        user: &AuthUser,
        conversation: Uuid,
        up_to: Option<Uuid>,
    ) -> anyhow::Result<()> {
        if !self.budget.take() {
            return sock
                .send(&ServerFrame::error(
                    "rate_limited",
                    "too many frames; slow down",
                    Some(conversation),
                ))
                .await;
        }
        match crate::chat::reads::mark_read(state, user, conversation, up_to).await {
            Ok(()) => Ok(()),
            Err(e) => sock.send(&app_error_frame(&e, "read", conversation)).await,
        }
    }
}

/// Tell the conversation's other participants that `user` is (not) typing.
async fn forward_typing(
    state: &AppState,
    user: &AuthUser,
    conversation: Uuid,
    typing: bool,
) -> Result<()> {
    let conv = crate::db::chat::conversation(&state.db, conversation)
        .await?
        .filter(|c| crate::chat::access::can_see(user, c))
        .filter(|c| !c.is_group || state.config.inbox_groups)
        .ok_or(AppError::NotFound)?;
    let to: Vec<Uuid> = crate::chat::audience(&conv)
        .into_iter()
        .filter(|u| *u != user.id)
        .collect();
    if to.is_empty() {
        return Ok(());
    }
    let signal = Signal::typing(Typing {
        conversation_id: conv.id,
        user_id: user.id,
        typing,
        expires_in_ms: TYPING_EXPIRES_MS,
    });
    let mut conn = state.db.acquire().await?;
    crate::moderation::ensure_can_reach(&mut conn, user.id, &conv).await?;
    super::signals::signal(&mut conn, &to, &signal).await
}
