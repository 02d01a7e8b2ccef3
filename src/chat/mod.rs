//! The chat domain: conversations and messages on both channels (WhatsApp through a link,
//! and in-app), as use cases that take the [`crate::core::Core`], the caller and a typed
//! request. The HTTP handlers and the WebSocket only translate to and from them.
//!
//! Invariants:
//! - **One access policy.** Who may see a conversation, a message or a file, and who may
//!   write, is decided in [`access`] alone; what a caller may not see is answered as absent.
//! - **One visibility rule for notes.** Internal notes are for agency staff only
//!   ([`access::Viewer`]): every path that names, renders or announces a message goes
//!   through it, so notifications and `?since=` replay can only hold what their reader may
//!   see.
//! - **Changes commit with their announcements** ([`publish`]), and every path that delivers
//!   something new to the other side runs moderation's checks first.
//! - A deleted message's text is never returned.
//!
//! Layout:
//! - [`access`] — the access policy: [`access::Viewer`], `can_see`, `visible`, `visible_message`.
//! - [`conversations`] — listing and reading conversations, starting one, archive / close,
//!   reassignment.
//! - [`messages`] — the timeline, editing, deleting, reactions, notes, search.
//! - [`send`] — sending a message, step by step.
//! - [`reads`] — read receipts, marking unread, unread totals.
//! - [`files`] — uploads and downloads.
//! - [`views`] — the read model: message renderings and the inbox's conversation cards.
//! - [`publish`] — the realtime events announcing changes, per viewer.
//! - [`outbox`] — the worker that sends agents' WhatsApp messages through WAHA.

pub mod access;
pub mod conversations;
pub mod files;
pub mod messages;
pub mod outbox;
pub mod publish;
pub mod reads;
pub mod send;
pub mod views;

// What the ingest, the outbox and the WebSocket call by these names.
pub use publish::{audience, publish_conversation, publish_message};
