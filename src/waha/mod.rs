//! Talking to WAHA: a typed client for one WAHA container, the webhook payload types, and the
//! webhook signature check. Everything here follows `shared/waha-contract.md`.
//!
//! # Layout
//! - [`client`] — [`WahaClient`]: sessions (incl. [`WahaClient::ensure_started`] that works on
//!   legacy Core and current WAHA), pairing, sending, reading, media download.
//! - [`error`] — [`Error`] (also named [`WahaError`]): what went wrong, mapped from WAHA's
//!   answers, and its [`Fault`] — unavailable (the session cannot take calls now), busy (may
//!   pass) or refused (would fail again) — the one thing callers decide retries by.
//! - [`types`] — session info, the [`WebhookEnvelope`] and typed payloads of the events Puente
//!   applies, the engine-independent [`SentMessage`], id helpers ([`chat_id_of`],
//!   [`phone_from_cus`], [`parse_message_id`]…).
//! - [`signature`] — `X-Webhook-Hmac` (HMAC-SHA512, lowercase hex): [`signature::sign`] and the
//!   constant-time [`signature::verify`].
//!
//! Invariants kept by the whole module: the API key never appears in an error, a log line or a
//! `Debug` output; parsing WAHA's JSON never panics and tolerates the differences between
//! engines (WEBJS, NOWEB, GOWS) and versions; WAHA's field casing is kept on the wire.

pub mod client;
pub mod error;
pub mod signature;
pub mod types;

pub use client::{FileSource, MessagesQuery, OutgoingFile, Timeouts, WahaClient};
pub use error::{Error, Error as WahaError, Fault};
pub use types::{
    ack_from_name, chat_id_of, event, is_group, is_lid, is_status_broadcast, parse_message_id,
    phone_from_cus, push_name_of, to_cus, AckPayload, ChatSummary, Contact, EditedPayload,
    LidMapping, Location, Me, Media, MessageKey, MessagePayload, Presence, PresencePayload,
    Reaction, ReactionPayload, ReplyTo, RevokedPayload, SentMessage, ServerVersion, SessionInfo,
    SessionStatus, SessionStatusPayload, StatusChange, WebhookEnvelope,
};
