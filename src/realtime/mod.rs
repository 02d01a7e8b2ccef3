//! Realtime delivery to users: persisted per-user event streams, fanned out over WebSockets,
//! plus ephemeral signals (typing, presence) that are delivered live and never stored.
//!
//! # The path of an event
//!
//! 1. A domain flow calls [`publish`] ([`events`]) inside its transaction: the event is stored
//!    under the user's next sequence number and a [`events::Notice`] is queued with
//!    `NOTIFY puente_events` (`db::realtime`).
//! 2. On commit PostgreSQL delivers the notice to every replica. Each process's [`listener`]
//!    (one task, LISTENing on the event, signal and control channels) reads it and hands the
//!    event to its [`hub::Hub`].
//! 3. The hub routes by user: it puts the event on the bounded queue of each socket of that
//!    user this process holds (none: nothing to do).
//! 4. Each socket's task ([`ws`], the edge) takes it off the queue and writes it as a
//!    [`protocol::ServerFrame`] — `{"seq","type","data","at"}` — after any events it has not
//!    sent yet, read from the table, so the client sees its sequence without gaps.
//!
//! Signals ([`signals`]) take the same road on their own channel without being stored;
//! control notices ([`control`]) too, and make the hub close sockets instead.
//!
//! # Invariants
//!
//! - **Persist, then publish.** An event exists for clients only once its transaction
//!   committed; NOTIFY is only ever a wake-up for what the table already holds.
//! - **Signals are not events.** They have no sequence number, are not replayed, and are
//!   dropped (not resynced) when a socket's queue is full.
//! - **Any replica can hold any socket.** Every process LISTENs and routes to the sockets it
//!   holds; nothing assumes the publisher and the socket share a process.
//! - **No silent loss.** Socket queues are bounded; a socket that falls behind is told to
//!   `resync`. A client reconnecting with the last `seq` it saw gets every later event from
//!   the table, then the live stream, without gaps or duplicates. When the NOTIFY bridge
//!   reconnects (it may have missed notices) every socket re-reads the table.
//! - **A socket ends with its account.** Deactivation, a password change or an ended session
//!   close the user's sockets on every replica ([`control`]); a socket also closes when the
//!   access token it was opened with expires, unless the client refreshes it ([`ws`]).
//! - **Layers.** Everything here but [`ws`] is domain: it takes a [`Core`] and its SQL lives in
//!   `db::{realtime, presence, tickets, notifications}`. [`ws`] is the edge that holds the
//!   sockets (it takes the HTTP `AppState`, whose hub this process's sockets subscribe to).
//!
//! # Layout
//!
//! - [`protocol`] — the frames on the wire: [`protocol::ClientFrame`],
//!   [`protocol::ServerFrame`], and the [`protocol::Event`] and [`protocol::Signal`] they
//!   carry.
//! - [`events`] — the stored streams: [`publish`], replay ([`events::events_after`],
//!   [`events::last_seq`]), retention ([`prune`]), the event channel's notice.
//! - [`signals`] — [`signals::signal`]: live-only frames to users on any replica.
//! - [`control`] — closing sockets whose account or session ended; the close codes.
//! - [`listener`] — the NOTIFY bridge into the hub.
//! - [`hub`] — in-process routing to the sockets this process holds.
//! - [`presence`] — online/offline across replicas, announced to counterparts.
//! - [`tickets`] — single-use socket tickets.
//! - [`notifications`] — the stored events a user has not cleared yet.
//! - [`ws`] — `GET /api/v1/ws` (the per-socket task) and `POST /api/v1/ws/ticket`.

pub mod control;
pub mod events;
pub mod hub;
pub mod listener;
pub mod notifications;
pub mod presence;
pub mod protocol;
pub mod signals;
pub mod tickets;
pub mod ws;

use std::sync::Arc;

pub use events::{operator_ids, prune, publish};

use crate::core::Core;
use hub::Hub;

/// Start this process's realtime tasks, owned by the core's task tracker: the NOTIFY bridge
/// into `hub` ([`listener`]) and the presence task ([`presence`]).
pub fn spawn(core: &Core, hub: Arc<Hub>) {
    listener::spawn(core, hub.clone());
    presence::spawn(core, hub);
}
