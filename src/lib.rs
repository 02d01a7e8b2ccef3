//! Puente: a WhatsApp-bridge orchestration platform for real-estate teams.
//!
//! Agents link their own WhatsApp number (one WAHA container per link), buyers write on
//! WhatsApp or in the app, and agents answer everyone from one live inbox. Every fact lives in
//! PostgreSQL, so the `puente` process is stateless apart from caches and can be replicated.
//!
//! # Layout
//! - [`config`] — command line and settings (`--flag` / env var for each).
//! - [`app`] — shared state, building the server, running it until a shutdown signal.
//! - [`chat`] — conversations and messages as clients see them; the WhatsApp outbox.
//! - [`files`] — the file store (media, uploads).
//! - [`error`] — the HTTP error type and its `application/problem+json` rendering.
//! - [`http`] — routers and handlers, one file per resource, plus the cross-cutting layers.
//! - [`auth`] — roles, passwords, tokens, the extractors that guard every handler.
//! - [`db`] — the queries, by table family; migrations live in `migrations/`.
//! - [`runtime`] — the container runtime interface and its Docker implementation.
//! - [`moderation`] — blocks, reports and their operator queue, the in-app word filter.
//! - [`links`] — WhatsApp links: status, QR, keys, container spec, operations.
//! - [`ingest`] — the WAHA webhook endpoint: verify, store durably, apply.
//! - [`realtime`] — per-user event streams, the NOTIFY bridge, the WebSocket.
//! - [`supervise`] — leadership, the reconciler, reactions to Docker events.
//! - [`waha`] — the typed client for one WAHA container, webhook payload types, signatures.
//! - [`metrics`] — the Prometheus recorder.
//! - [`telemetry`] — tracing set-up.
//! - [`cli`] — `puente admin …` tasks.

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
