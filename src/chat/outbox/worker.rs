//! The outbox worker: one dispatcher per process leases due jobs into up to
//! `--outbox-concurrency` concurrent runs, at most one per link (the lease query also skips a
//! link whose job another process holds), so a session that accepts connections but never
//! answers holds one slot and its own queue, not everyone's. Each run ([`super::deliver`])
//! records its outcome — done; retried later with backoff (1 s doubling to 60 s) while its
//! [`Failure`] is retryable and its deadline not passed, and when the link itself did not
//! answer its other waiting jobs wait as long; or given up, a send's message then marked
//! `failed` with the failure's reason and `message.updated` published. The dispatcher sleeps
//! until woken (`core.outbox_wake`, or a run ending) or for 500 ms, and stops leasing at
//! shutdown (runs in flight finish within the grace period, through the task tracker).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

use super::deliver::{self, Failure, SendJob};
use super::job::Job;
use crate::chat;
use crate::core::Core;
use crate::db;
use crate::db::chat as q;
use crate::db::outbox::OutboxRow;
use crate::model::MessageStatus;

/// Lease of a claimed job.
const LEASE_SECS: f64 = 60.0;

/// Links with a run in flight in this process.
#[derive(Clone, Default)]
struct Busy(Arc<Mutex<HashSet<Uuid>>>);

impl Busy {
    fn snapshot(&self) -> Vec<Uuid> {
        self.0
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
    fn set(&self, link: Option<Uuid>, on: bool) {
        if let (Some(l), Ok(mut s)) = (link, self.0.lock()) {
            if on {
                s.insert(l);
            } else {
                s.remove(&l);
            }
        }
    }
}

/// Run the worker until shutdown.
pub fn spawn(core: Core) -> tokio::task::JoinHandle<()> {
    core.tasks.clone().spawn(async move {
        let slots = Arc::new(Semaphore::new(core.config.outbox_concurrency.max(1)));
        let busy = Busy::default();
        let finished = Arc::new(Notify::new());
        loop {
            while let Ok(slot) = slots.clone().try_acquire_owned() {
                if core.shutdown.is_cancelled() {
                    return;
                }
                let row = match db::outbox::claim(&core.db, LEASE_SECS, &busy.snapshot()).await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox claim failed");
                        break;
                    }
                };
                let link = row.link_id;
                busy.set(link, true);
                let (core2, busy2, finished2) = (core.clone(), busy.clone(), finished.clone());
                core.tasks.spawn(async move {
                    run(&core2, row).await;
                    busy2.set(link, false);
                    drop(slot);
                    finished2.notify_one();
                });
            }
            tokio::select! {
                () = core.shutdown.cancelled() => return,
                () = core.outbox_wake.notified() => {}
                () = finished.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    })
}

fn backoff(attempts: i32) -> Duration {
    let n = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    Duration::from_secs(1u64 << n).min(Duration::from_secs(60))
}

async fn run(core: &Core, row: OutboxRow) {
    let job = Job::from_stored(&row.kind, row.payload.clone());
    let result = match &job {
        Ok(Job::Send {}) => {
            let send = SendJob {
                message_id: row.message_id,
                link_id: row.link_id,
                attempts: row.attempts,
                created_at: row.created_at,
            };
            deliver::send(core, &send).await
        }
        Ok(Job::Seen {
            chat_id,
            message_ids,
        }) => deliver::seen(core, row.link_id, chat_id, message_ids).await,
        Ok(Job::React { message_id, emoji }) => {
            deliver::react(core, row.link_id, message_id, emoji).await
        }
        Err(bad) => Err(Failure::Permanent(bad.to_string())),
    };
    let outcome = match result {
        Ok(()) => db::outbox::mark_done(&core.db, row.id).await,
        Err(failure)
            if failure.is_retryable() && row.deadline_at.is_none_or(|d| d > Utc::now()) =>
        {
            let delay = backoff(row.attempts);
            tracing::info!(job = row.id, kind = %row.kind, attempts = row.attempts, retry_in_ms = delay.as_millis() as u64, why = %failure.why(), "outbox job will retry");
            if let (Failure::LinkUnavailable(_), Some(link)) = (&failure, row.link_id) {
                if let Err(e) =
                    db::outbox::defer_link(&core.db, link, row.id, delay.as_secs_f64()).await
                {
                    tracing::warn!(link = %link, error = %e, "deferring the link's other jobs failed");
                }
            }
            db::outbox::retry_later(&core.db, row.id, failure.why(), delay.as_secs_f64()).await
        }
        Err(failure) => {
            tracing::warn!(job = row.id, kind = %row.kind, why = %failure.why(), "outbox job failed for good");
            let send = matches!(job, Ok(Job::Send {}));
            give_up(core, &row, send, &failure).await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(job = row.id, error = %e, "recording an outbox outcome failed");
    }
}

/// Mark the job done with its error; for a send, fail its message with the failure's reason.
async fn give_up(
    core: &Core,
    row: &OutboxRow,
    send: bool,
    failure: &Failure,
) -> Result<(), sqlx::Error> {
    let mut tx = core.db.begin().await?;
    db::outbox::give_up(&mut tx, row.id, failure.why()).await?;
    if let (true, Some(mid)) = (send, row.message_id) {
        if q::advance_status(&mut *tx, mid, MessageStatus::Failed, Some(failure.reason()))
            .await
            .ok()
            .flatten()
            .is_some()
        {
            if let Ok(Some(msg)) = q::message(&mut *tx, mid).await {
                if let Ok(Some(conv)) = q::conversation(&mut *tx, msg.conversation_id).await {
                    let _ = chat::publish_message(&mut tx, &conv, mid, "message.updated").await;
                }
            }
        }
    }
    tx.commit().await
}
