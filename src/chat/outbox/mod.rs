//! The outbox: agents' WhatsApp messages (and read receipts, reactions) go out through the
//! link's WAHA after the transaction that queued them has committed, exactly once.
//!
//! An agent's reply travels: the chat code inserts the message (`pending`) and, in the same
//! transaction, [`enqueue_job`]s a [`Job::Send`], then wakes the worker (`core.outbox_wake`);
//! the [`worker`] claims the job, [`deliver`] sends it through the link's WAHA and records the
//! WhatsApp id (`sent`) and publishes `message.updated`; WAHA's acks and its echo of the send
//! come back in as webhooks (`crate::ingest`).
//!
//! Invariants:
//! - **Queued with its cause.** A job is inserted in the transaction that decided it, so it
//!   exists if and only if that transaction committed.
//! - **One worker per job.** A job is claimed with `FOR UPDATE SKIP LOCKED` and a lease, so one
//!   worker (in any replica) runs it at a time; an expired lease (a crashed worker) makes it
//!   claimable again.
//! - **Never twice.** Before a retry sends again, the worker checks whether the first attempt
//!   reached WhatsApp after all: the message already carries a WhatsApp id (WAHA's echo
//!   webhook attached it), or WAHA's own history of the chat holds our text since the job was
//!   queued. Only then does it send.
//! - **Retry by cause.** Whether a failure is retried is decided by its kind
//!   ([`deliver::Failure`], from `crate::waha::Fault` for WAHA's answers), never by an error's
//!   text: while WAHA is unreachable or the session not WORKING, and while WAHA or the database
//!   fail in a way that may pass, jobs back off (1 s doubling to 60 s); past the deadline, or at
//!   once for a job that can never work, it fails for good and its message is marked `failed`
//!   (`link_unavailable` or `send_rejected`).
//! - **Typed jobs, stable rows.** A job is a [`Job`]; its stored form (`kind` text + `payload`
//!   jsonb) is the one rows were always written in ([`job`]).
//!
//! # Layout
//! - [`job`] — [`Job`] and its stored form; the kind texts [`SEND`], [`SEEN`], [`REACT`].
//! - this file — queueing: [`enqueue_job`] (typed) and [`enqueue`] (kind text + JSON).
//! - [`worker`] — the loop: claim, run, then done / retry later / give up; [`spawn`].
//! - [`deliver`] — each job against the link's WAHA (send with the never-twice check, seen,
//!   react), recording a send, and [`deliver::Failure`].

pub mod deliver;
pub mod job;
pub mod worker;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::db;
use crate::error::{AppError, Result};

pub use job::{BadJob, Job, REACT, SEEN, SEND};
pub use worker::spawn;

/// Queue a job inside the caller's transaction; `message` is the message a [`Job::Send`]
/// delivers (a second send of one message is ignored). Wake the worker after commit
/// (`core.outbox_wake.notify_one()`).
pub async fn enqueue_job(
    conn: &mut sqlx::PgConnection,
    job: &Job,
    message: Option<Uuid>,
    link: Option<Uuid>,
    deadline: Option<DateTime<Utc>>,
) -> Result<()> {
    let (kind, payload) = job.to_stored();
    db::outbox::insert(conn, kind, message, link, &payload, deadline).await?;
    Ok(())
}

/// [`enqueue_job`] for a job given as its stored form: `kind` ([`SEND`], [`SEEN`], [`REACT`])
/// and `payload` (see [`job`]). A kind or payload that is not a [`Job`] is refused (500), so
/// every queued row is one the worker can run.
pub async fn enqueue(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    message: Option<Uuid>,
    link: Option<Uuid>,
    payload: Value,
    deadline: Option<DateTime<Utc>>,
) -> Result<()> {
    let job = Job::from_stored(kind, payload)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("queueing an outbox job: {e}")))?;
    enqueue_job(conn, &job, message, link, deadline).await
}

/// The payload of a reaction job ([`Job::React`]'s stored form), for [`enqueue`].
pub fn reaction_payload(wa_message_id: &str, emoji: &str) -> Value {
    Job::React {
        message_id: wa_message_id.to_string(),
        emoji: emoji.to_string(),
    }
    .to_stored()
    .1
}
