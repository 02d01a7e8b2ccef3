//! WAHA webhooks in: verify, store durably, apply.
//!
//! A WhatsApp message from a buyer travels, in order:
//! 1. [`receiver`] (edge) — `POST /webhooks/waha/{link_id}`: checks the HMAC signature, queues
//!    the event on the [`queue::WebhookQueue`] and waits for it to be committed before
//!    answering WAHA.
//! 2. [`writer`] — one task per process: commits queued events in batches into `waha_events`
//!    (one transaction each), answers the receivers, hands each new row to its link's applier.
//! 3. [`apply`] — [`apply::apply_queued`]: the link's applier takes what has queued up;
//!    [`batch`] reads it, asks WAHA what it must know ([`lookups`]) before any transaction,
//!    then claims the rows, takes the link's lock and applies them in order in one
//!    transaction, a savepoint each, routing on the event's name ([`dispatch::route`]) and
//!    waking what waited for a message right after it. `session.status` reports and media
//!    messages go alone through [`dispatch`], one transaction each.
//! 4. [`messages`] — the message becomes a contact, a conversation and a message row, and is
//!    published to the agent's inbox ([`crate::chat::publish_message`], delivered after commit
//!    by `crate::realtime`).
//!
//! The agent's reply goes back out through `crate::chat::outbox`, whose echo (WAHA reporting
//! our own send) comes in through this same path and is attached to the sent message, not
//! copied.
//!
//! Invariants:
//! - **Verified first, durable before 2xx.** Nothing is kept from an unverified body, and
//!   nothing is acknowledged that was not committed ([`receiver`], [`writer`]).
//! - **Applied after, at most once, in order per link.** Applying happens off the request path
//!   once the event is committed; a row is applied at most once (row lock + status in the same
//!   transaction as its effects) and one link's events one at a time (an advisory lock per
//!   link), many to a transaction when they have queued up, each in its own savepoint so one
//!   that fails fails alone. An event that could not be applied stays pending for the
//!   supervisor's sweep ([`apply::sweep`]); one about a message not seen yet waits,
//!   `deferred`, for it.
//! - **No network inside a transaction** while applying a webhook, but for media downloads
//!   (single-event path only; their own job is the hardening issue's): [`lookups`].
//! - **Nothing lost to downtime.** When a session comes (back) to WORKING the [`catchup`] reads
//!   what webhooks missed through WAHA's chats API, through the same idempotent path.
//! - **No hidden state.** The queue belongs to the HTTP state (`AppState::webhooks`), the
//!   writer's per-link appliers to the writer task, the running catch-ups to the `Core`
//!   ([`running::RunningCatchups`]). All SQL is in `crate::db::events` (the events),
//!   `crate::db::whatsapp` (watermark, media files, echoes) and `crate::db::chat`.
//!
//! # Layout
//! - [`receiver`] — the axum handler and router (edge): verify, queue, answer; [`receiver::MAX_BODY`].
//! - [`queue`] — [`queue::WebhookQueue`]: the bounded channel between receivers and the writer;
//!   [`queue::NewEvent`], [`queue::Stored`], [`queue::NotStored`].
//! - [`writer`] — the group-commit task and the per-link appliers; [`writer::spawn`].
//! - [`apply`] — entry points: [`apply::apply_queued`], [`apply::apply_stored`] (and the
//!   catch-up a WORKING report asks for), [`apply::sweep`], [`apply::replay`].
//! - [`batch`] — a link's queued events in one transaction: plan, ask, claim, lock, a
//!   savepoint each, settle, publish, commit.
//! - [`dispatch`] — one stored event in its transaction (claim, lock, route, mark, wake), and
//!   what both paths share: [`dispatch::way`], [`dispatch::route`].
//! - [`effects`] — [`effects::Ctx`] (what applying reads) and [`effects::Effects`] (what it
//!   leaves for the end of the transaction: realtime events, watermark, wake-ups).
//! - [`lookups`] — the `@lid` phones asked of WAHA before the transaction.
//! - [`session`] — `session.status` → the link's status transition.
//! - [`messages`] — message, ack, reaction, revoke, edit and presence events.
//! - [`catchup`] — recovering what webhooks missed through WAHA's chats API.
//! - [`running`] — [`running::RunningCatchups`]: at most one catch-up per link per process.

pub mod apply;
pub mod batch;
pub mod catchup;
pub mod dispatch;
pub mod effects;
pub mod lookups;
pub mod messages;
pub mod queue;
pub mod receiver;
pub mod running;
pub mod session;
pub mod writer;
