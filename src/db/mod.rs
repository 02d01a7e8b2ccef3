//! Data access. All state lives in PostgreSQL; these modules hold the queries.
//!
//! Functions take any executor (`&PgPool` or `&mut PgConnection` inside a transaction), so
//! they compose into one transaction where a flow needs it. Queries use `query!` /
//! `query_as!`, checked at build time against the data in `.sqlx/`.
//!
//! **The rule: all SQL lives here** (checked by `tests/architecture.rs`), one file per table
//! family, and these modules import nothing of the domain — only `crate::model` (the stored
//! enums) and `crate::error`. The domain decides; this layer reads and writes.
//!
//! Layout:
//! - [`users`] (accounts, agencies, invites), [`tokens`] (refresh tokens, session standing),
//!   [`audit`] (the audit log), [`health`] (readiness), [`leadership`] (the supervisor's
//!   advisory lock and its NOTIFY channel).
//! - [`links`] (WhatsApp links), [`placements`] (links on Swarm nodes), [`whatsapp`] (what
//!   ingest writes about a link's contacts and chats).
//! - [`events`] (stored webhook events and their states), [`outbox`] (the WhatsApp outbox's
//!   jobs).
//! - Chat: each table's writes live in one file — [`chat`] (contacts, conversations, messages,
//!   reactions: the model both channels write), [`reads`] (read markers and the unread rule),
//!   [`files`] (uploads and media) — and [`chat_views`] holds the read-only queries that join
//!   them into what clients see, a page at a time.
//! - [`properties`] (listings and their photos), [`moderation`] (blocks, reports).
//! - Realtime: [`realtime`] (per-user event streams, NOTIFY/LISTEN), [`presence`] (who holds
//!   sockets on which live process), [`tickets`] (single-use WebSocket tickets),
//!   [`notifications`] (notification marks).

pub mod audit;
pub mod chat;
pub mod chat_views;
pub mod events;
pub mod files;
pub mod health;
pub mod leadership;
pub mod links;
pub mod moderation;
pub mod notifications;
pub mod outbox;
pub mod placements;
pub mod presence;
pub mod properties;
pub mod reads;
pub mod realtime;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod whatsapp;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// Open a pool. Statement logging is kept at debug level: queries carry personal data.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url.parse()?;
    let options = options
        .log_statements(log::LevelFilter::Debug)
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(1))
        .application_name("puente");
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// The embedded migrations from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Apply pending migrations (safe to run from several processes: sqlx takes a lock).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
