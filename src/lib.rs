//! Puente: a WhatsApp-bridge orchestration platform for real-estate teams.
//!
//! Agents link their own WhatsApp number (one WAHA container per link), buyers write on
//! WhatsApp or in the app, and agents answer everyone from one live inbox. Every fact lives in
//! PostgreSQL, so the `puente` process is stateless apart from caches and can be replicated.
//!
//! # Layout
//!
//! Four layers; a file may use its own layer and those below, never above, and no two files
//! import each other, even through others (`tests/architecture.rs` checks both, and that SQL
//! lives only in [`db`]).
//!
//! **Edges** — where requests, events and time come in:
//! - [`app`] — the composition root: builds the [`core::Core`] and the HTTP state, binds the
//!   listeners, starts the workers, drains them at shutdown.
//! - [`http`] — routers and handlers, one file per resource (extract → one domain call →
//!   response), the HTTP state ([`http::state::AppState`]), problem rendering, the web app.
//! - `realtime::ws` — the WebSocket; `ingest::receiver` — the WAHA webhook endpoint.
//! - [`supervise`] — the leadership loop and the reconciler worker; [`cli`] — `puente …`
//!   subcommands, on a [`core::Core`] without a port.
//!
//! **Domain** — what Puente does, as functions of ([`core::Core`], caller, typed request):
//! - [`core`] — what the domain needs, built once, and the owner of every background task.
//! - [`auth`] — accounts, passwords, tokens, the caller ([`auth::extract::AuthUser`]) and
//!   role guards.
//! - [`links`] — WhatsApp links: status, QR, keys, container spec, placement, operations.
//! - [`chat`] — conversations and messages on both channels: the access policy, sending,
//!   reading, the read model, publishing, the WhatsApp outbox.
//! - [`listings`] — listings and their photos; [`moderation`] — blocks, reports, word filter.
//! - [`ingest`] — webhook events: queue, durable group commit, apply, catch-up.
//! - [`realtime`] — per-user event streams, the NOTIFY bridge, presence, socket control.
//!
//! **Infrastructure** — the outside world: [`db`] (every query), [`runtime`] (Docker and
//! Swarm), [`waha`] (the client for one WAHA container, webhook payloads, signatures),
//! [`files`] (the file store), [`metrics`], [`telemetry`].
//!
//! **Vocabulary** — shared words: [`model`] (roles and the stored enums), [`config`]
//! (settings), [`error`] (the error type every layer returns).
//!
//! # Following a WhatsApp message
//! In: `ingest::receiver` verifies the HMAC and queues the event → `ingest::writer` commits
//! it with others in one statement, then answers 2xx → `ingest::batch` applies the link's
//! queued events up to 128 in one transaction (a savepoint each; `ingest::dispatch` routes
//! each) → `ingest::messages` stores the contact, conversation and message →
//! `ingest::effects` renders the batch's events for the agent (and the agency's admins, and
//! an in-app buyer) → `realtime::events` stores them and NOTIFYs →
//! `realtime::listener` → `realtime::hub` → the agent's `realtime::ws` socket, framed by
//! `realtime::protocol`. Out: `http::messages` →
//! `chat::send` stores the reply and queues an outbox job in the same transaction →
//! `chat::outbox::worker` claims it → `chat::outbox::deliver` sends it through `waha`
//! (never twice), and the echo and acks come back in through ingest.

pub mod app;
pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod core;
pub mod db;
pub mod error;
pub mod files;
pub mod http;
pub mod ingest;
pub mod links;
pub mod listings;
pub mod metrics;
pub mod model;
pub mod moderation;
pub mod realtime;
pub mod runtime;
pub mod supervise;
pub mod telemetry;
pub mod waha;
