//! The group-commit writer: one task per process drains the [`WebhookQueue`], commits each
//! batch in one transaction, answers every waiter, and hands the new rows to per-link appliers.
//!
//! Invariants:
//! - **One WAL flush per batch.** The writer takes whatever is queued (up to [`MAX_BATCH`])
//!   and inserts it with one multi-row statement that also touches the links'
//!   `last_event_at` ([`db::events::insert_batch`]); only then does it answer the waiters.
//! - **One bad row fails nobody else.** If a batch fails, its events are retried one by one:
//!   each waiter is answered by its own event's outcome, [`NotStored`] only for an event that
//!   could not be stored. Nothing is acknowledged that was not committed.
//! - **Copies in one batch** (WAHA redelivering fast) are inserted once: the first copy is
//!   [`Stored::Inserted`], the others [`Stored::Duplicate`].
//! - **Applied in order, off the request path.** Each link's new rows are applied in arrival
//!   order by at most one task per process ([`Appliers`]), what has queued up taken many at a
//!   time into one transaction ([`super::batch`]): they would serialise on the link's advisory
//!   lock anyway, and this keeps them from holding pool connections while they wait. Links
//!   apply in parallel, a task each.
//! - **Drains at shutdown.** When [`Core::shutdown`] is cancelled the writer refuses new work,
//!   then commits and answers everything already queued.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::Postgres;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::queue::{NotStored, Stored, Waiter, WebhookQueue};
use super::{apply, batch};
use crate::core::Core;
use crate::db;

/// Most events the writer commits in one transaction.
pub const MAX_BATCH: usize = 256;

/// Start this process's writer on `queue` (a no-op when it already runs). It stops when
/// [`Core::shutdown`] is cancelled, after committing and answering everything already queued.
pub fn spawn(core: &Core, queue: &WebhookQueue) {
    if let Some(rx) = queue.take_receiver() {
        core.spawn(writer(core.clone(), rx));
    }
}

async fn writer(core: Core, mut rx: mpsc::Receiver<Waiter>) {
    let appliers = Appliers::default();
    let mut conn: Option<PoolConnection<Postgres>> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            () = core.shutdown.cancelled() => None,
            // The pool is closing (tests end this way): give the connection back so closing
            // is not held up; a later batch would get `PoolClosed` and answer 503.
            () = core.db.close_event(), if conn.is_some() => {
                conn = None;
                continue;
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        fill(&mut rx, &mut batch);
        commit_batch(&core, &appliers, &mut conn, &mut batch).await;
    }
    // Refuse new work, then finish what is queued: every waiter gets an answer.
    rx.close();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        fill(&mut rx, &mut batch);
        commit_batch(&core, &appliers, &mut conn, &mut batch).await;
    }
    tracing::debug!("webhook writer stopped");
}

/// Add whatever else is already queued, up to [`MAX_BATCH`]; never waits.
fn fill(rx: &mut mpsc::Receiver<Waiter>, batch: &mut Vec<Waiter>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Commit one batch, answer its waiters, hand the new rows to the appliers. Drains `batch`.
async fn commit_batch(
    core: &Core,
    appliers: &Appliers,
    conn: &mut Option<PoolConnection<Postgres>>,
    batch: &mut Vec<Waiter>,
) {
    let jobs = std::mem::take(batch);
    metrics::histogram!("webhook_commit_batch_size").record(jobs.len() as f64);
    let keys: Vec<(Uuid, &str)> = jobs
        .iter()
        .map(|j| (j.event.link_id, j.event.event_id.as_str()))
        .collect();
    let first_of = first_occurrences(&keys);
    let started = std::time::Instant::now();
    let result = insert_distinct(core, conn, &jobs, &first_of).await;
    metrics::histogram!("webhook_commit_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(rows) => {
            let outcomes = resolve(&keys, &rows);
            let mut new_rows = Vec::new();
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                if let Some(row_id) = outcome {
                    new_rows.push((job.event.link_id, row_id));
                }
                let stored = if outcome.is_some() {
                    Stored::Inserted
                } else {
                    Stored::Duplicate
                };
                // The receiver may have gone (client hung up): the event is stored regardless.
                let _ = job.reply.send(Ok(stored));
            }
            appliers.enqueue(core, new_rows);
        }
        Err(e) if first_of.len() > 1 => {
            tracing::warn!(error = %e, events = jobs.len(), "committing a webhook batch failed; storing its events one by one");
            metrics::counter!("webhook_commit_failures_total").increment(1);
            if let Some(mut c) = conn.take() {
                c.close_on_drop();
            }
            let keys = keys_owned(&keys);
            commit_one_by_one(core, appliers, conn, jobs, &keys, &first_of).await;
        }
        Err(e) => {
            tracing::error!(error = %e, events = jobs.len(), "committing webhook events failed; answering 503");
            metrics::counter!("webhook_commit_failures_total").increment(1);
            // The connection may be broken: do not hand it back to the pool.
            if let Some(mut c) = conn.take() {
                c.close_on_drop();
            }
            for job in jobs {
                let _ = job.reply.send(Err(NotStored));
            }
        }
    }
}

fn keys_owned(keys: &[(Uuid, &str)]) -> Vec<(Uuid, String)> {
    keys.iter().map(|(l, e)| (*l, (*e).to_string())).collect()
}

/// After a batch failed: each distinct event in its own statement; every copy of an event is
/// answered by that event's outcome.
async fn commit_one_by_one(
    core: &Core,
    appliers: &Appliers,
    conn: &mut Option<PoolConnection<Postgres>>,
    jobs: Vec<Waiter>,
    keys: &[(Uuid, String)],
    first_of: &[usize],
) {
    let mut outcome: HashMap<(Uuid, String), Result<Option<i64>, NotStored>> = HashMap::new();
    let mut new_rows = Vec::new();
    for &i in first_of {
        let result = insert_distinct(core, conn, &jobs, &[i]).await;
        let key = keys[i].clone();
        match result {
            Ok(rows) => {
                let row = rows.first().map(|r| r.id);
                if let Some(id) = row {
                    new_rows.push((key.0, id));
                }
                outcome.insert(key, Ok(row));
            }
            Err(e) => {
                tracing::error!(error = %e, link = %key.0, "storing a webhook event failed; answering 503");
                if let Some(mut c) = conn.take() {
                    c.close_on_drop();
                }
                outcome.insert(key, Err(NotStored));
            }
        }
    }
    let mut answered: HashSet<(Uuid, String)> = HashSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let reply = match outcome.get(&keys[i]) {
            // The first copy of an inserted event gets "inserted", later copies "duplicate".
            Some(Ok(Some(_))) if answered.insert(keys[i].clone()) => Ok(Stored::Inserted),
            Some(Ok(_)) => Ok(Stored::Duplicate),
            Some(Err(NotStored)) | None => Err(NotStored),
        };
        let _ = job.reply.send(reply);
    }
    appliers.enqueue(core, new_rows);
}

/// Indices of the first job of each distinct (link, event id), in batch order.
fn first_occurrences(keys: &[(Uuid, &str)]) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter()
        .enumerate()
        .filter(|(_, k)| seen.insert(**k))
        .map(|(i, _)| i)
        .collect()
}

/// For each job, the row it inserted, or `None` when it is a duplicate: the first copy of
/// an inserted key gets the row, every other copy (and every key not returned) is a
/// duplicate.
fn resolve(keys: &[(Uuid, &str)], inserted: &[db::events::InsertedEvent]) -> Vec<Option<i64>> {
    let mut rows: HashMap<(Uuid, &str), i64> = inserted
        .iter()
        .map(|r| ((r.link_id, r.event_id.as_str()), r.id))
        .collect();
    keys.iter().map(|k| rows.remove(k)).collect()
}

/// Insert the jobs at `first_of` (distinct events) in one statement; the rows inserted.
async fn insert_distinct(
    core: &Core,
    conn: &mut Option<PoolConnection<Postgres>>,
    jobs: &[Waiter],
    first_of: &[usize],
) -> sqlx::Result<Vec<db::events::InsertedEvent>> {
    let events: Vec<db::events::NewEventRow<'_>> = first_of
        .iter()
        .map(|&i| {
            let e = &jobs[i].event;
            db::events::NewEventRow {
                link_id: e.link_id,
                event_id: &e.event_id,
                event: &e.event,
                body: &e.body,
                payload: &e.payload,
            }
        })
        .collect();
    // The writer keeps one connection while it works, so a flood of other queries (applies,
    // reads) cannot starve it of the pool.
    let c = match conn {
        Some(c) => c,
        None => conn.insert(core.db.acquire().await?),
    };
    db::events::insert_batch(c, &events).await
}

/// Per-link queues of committed events waiting to be applied, each drained by at most one
/// task. The std mutex is fine: it is never held across an `.await`.
#[derive(Clone, Default)]
struct Appliers {
    queues: Arc<Mutex<HashMap<Uuid, VecDeque<i64>>>>,
}

impl Appliers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, VecDeque<i64>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue new rows (in batch order); start a task for each link that has none.
    fn enqueue(&self, core: &Core, rows: Vec<(Uuid, i64)>) {
        let mut start = Vec::new();
        {
            let mut queues = self.lock();
            for (link, row) in rows {
                let q = queues.entry(link).or_insert_with(|| {
                    start.push(link);
                    VecDeque::new()
                });
                q.push_back(row);
            }
        }
        for link in start {
            let (me, core2) = (self.clone(), core.clone());
            core.spawn(async move { me.drain(&core2, link).await });
        }
    }

    /// Apply the link's queued events, up to [`batch::MAX_BATCH`] at a time, in order; the
    /// task ends (and its entry goes) when the queue is empty, under the same lock `enqueue`
    /// takes, so no row is stranded.
    async fn drain(&self, core: &Core, link: Uuid) {
        loop {
            let next: Vec<i64> = {
                let mut queues = self.lock();
                let next: Vec<i64> = match queues.get_mut(&link) {
                    Some(q) => {
                        let n = q.len().min(batch::MAX_BATCH);
                        q.drain(..n).collect()
                    }
                    None => Vec::new(),
                };
                if next.is_empty() {
                    queues.remove(&link);
                }
                next
            };
            if next.is_empty() {
                return;
            }
            apply::apply_queued(core, link, &next).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::events::InsertedEvent;

    #[test]
    fn copies_in_one_batch_resolve_to_one_insert_and_duplicates() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let keys = vec![
            (a, "evt_1"),
            (a, "evt_2"),
            (a, "evt_1"),
            (b, "evt_1"),
            (a, "evt_3"),
            (b, "evt_1"),
        ];
        assert_eq!(first_occurrences(&keys), vec![0, 1, 3, 4]);
        // evt_2 already existed before the batch: the database returned no row for it.
        let row = |id, link_id, event_id: &str| InsertedEvent {
            id,
            link_id,
            event_id: event_id.to_string(),
        };
        let inserted = vec![
            row(10, a, "evt_1"),
            row(11, b, "evt_1"),
            row(12, a, "evt_3"),
        ];
        assert_eq!(
            resolve(&keys, &inserted),
            vec![Some(10), None, None, Some(11), Some(12), None]
        );
    }
}
