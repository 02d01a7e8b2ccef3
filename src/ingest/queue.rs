//! [`WebhookQueue`]: the receiver's side of the group-commit writer.
//!
//! A bounded channel of verified events, each with a one-shot reply. The receiver queues an
//! event and waits for its reply; the writer ([`super::writer`]) takes what is queued, commits
//! it and replies once the batch holding it is committed. A full channel makes receivers wait
//! (backpressure), it never drops an event. Nothing here touches the database.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Events that may wait for the writer before receivers are held back.
pub const QUEUE_CAPACITY: usize = 1024;

/// A verified event on its way into `waha_events`.
#[derive(Debug)]
pub struct NewEvent {
    pub link_id: Uuid,
    /// The envelope id (or the body's hash): unique per link.
    pub event_id: String,
    pub event: String,
    /// The exact bytes WAHA signed.
    pub body: Bytes,
    /// The parsed body, storable (`\u0000` replaced).
    pub payload: Value,
}

/// What became of a queued event once its batch committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// This delivery inserted the row.
    Inserted,
    /// The row already existed (an earlier delivery, or a copy earlier in the same batch).
    Duplicate,
}

/// The event was not stored: the writer has stopped (shutting down) or could not commit it.
/// WAHA delivers it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event could not be stored")]
pub struct NotStored;

/// One waiter: the event and where to send its outcome.
pub(super) struct Waiter {
    pub event: NewEvent,
    pub reply: oneshot::Sender<Result<Stored, NotStored>>,
}

/// The receivers' side of the group-commit writer. Cheap to clone.
#[derive(Clone)]
pub struct WebhookQueue {
    /// Bounded: when the writer falls behind, receivers wait here (backpressure, no drops).
    tx: mpsc::Sender<Waiter>,
    /// The writer's end, until it takes it (once per process).
    rx: Arc<Mutex<Option<mpsc::Receiver<Waiter>>>>,
}

impl Default for WebhookQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WebhookQueue {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        Self {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
        }
    }

    /// Queue a verified event and wait until the batch holding it is committed.
    pub async fn store(&self, event: NewEvent) -> Result<Stored, NotStored> {
        let (reply, outcome) = oneshot::channel();
        // Fails only once the writer has stopped (shutting down): WAHA will redeliver.
        self.tx
            .send(Waiter { event, reply })
            .await
            .map_err(|_| NotStored)?;
        outcome.await.map_err(|_| NotStored)?
    }

    /// The writer's end of the channel: `Some` the first time only.
    pub(super) fn take_receiver(&self) -> Option<mpsc::Receiver<Waiter>> {
        match self.rx.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}
