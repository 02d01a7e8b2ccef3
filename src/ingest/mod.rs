//! WAHA webhooks: `POST /webhooks/waha/{link_id}`.
//!
//! Invariants:
//! - **Verified first.** The body must carry `X-Webhook-Hmac`, the lowercase hex
//!   HMAC-SHA512 of the exact bytes under the link's key, compared in constant time. An
//!   unknown link, a missing or a wrong signature all get the same 401 and nothing is kept.
//! - **Durable before 2xx.** A verified event is inserted into `waha_events` (unique on the
//!   link and the envelope id) and committed before the answer; a redelivery finds the row
//!   and changes nothing. A verified body that is not JSON is kept (status `malformed`) for
//!   inspection and answered 400.
//! - **Group commit.** Handlers do not write events themselves: they queue them on the
//!   [`Inbox`], a bounded channel drained by one writer task per process, and wait for their
//!   own outcome. The writer takes whatever is queued (up to [`MAX_BATCH`]), inserts it with
//!   one multi-row statement that also touches the links' `last_event_at` — one transaction,
//!   one WAL flush for the whole batch — and only then answers each waiter. If that
//!   transaction fails, its events are retried one by one, so one bad row cannot fail the
//!   others: each waiter is answered by its own event's outcome, a 503 only for an event that
//!   could not be stored (WAHA redelivers it). Nothing is acknowledged that was not committed.
//! - **Storable by construction.** `\u0000` in a body (refused by PostgreSQL's `jsonb` and
//!   `text`) is stored as U+FFFD in the parsed payload and in everything applied from it
//!   ([`crate::waha::types::json_without_nul`]); the raw body keeps the exact bytes. A full channel makes handlers wait (backpressure),
//!   it never drops an event.
//! - **Applied after.** Applying happens once the event is committed, off the request path,
//!   so WAHA gets its answer fast. Each link's new events are applied in arrival order by at
//!   most one task per process (they would serialise on the link's advisory lock anyway, and
//!   this keeps them from holding pool connections while they wait). An event that could not
//!   be applied stays pending for the supervisor's sweep to retry.
//!
//! Layout: [`apply`] (claiming and dispatching stored events), [`messages`] (contacts,
//! conversations, messages, acks, edits, reactions, revokes, presence), [`catchup`]
//! (recovering what webhooks missed through WAHA's chats API).

pub mod apply;
pub mod catchup;
pub mod messages;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::Postgres;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::db;
use crate::error::{AppError, Result};
use crate::http::state::AppState;
use crate::links::keys;
use crate::waha::signature;
use crate::waha::types::WebhookEnvelope;

/// Largest webhook body accepted (media arrive by URL, not inline).
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Most events the writer commits in one transaction.
pub const MAX_BATCH: usize = 256;
/// Events that may wait for the writer before handlers are held back.
pub const QUEUE_CAPACITY: usize = 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/waha/{link_id}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

fn refused() -> AppError {
    AppError::unauthorized(
        "invalid_signature",
        "The webhook signature is missing or wrong.",
    )
}

fn not_stored() -> AppError {
    AppError::unavailable(
        "event_not_stored",
        "The event could not be stored; deliver it again.",
    )
}

pub async fn receive(
    State(state): State<AppState>,
    Path(link_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let link_id: Uuid = link_id.parse().map_err(|_| refused())?;
    let Some(link) = db::links::find(&state.db, link_id).await? else {
        return Err(refused());
    };
    let signature = headers
        .get("x-webhook-hmac")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    let key = keys::hmac_key(
        state.config.waha.master_secret.expose().as_bytes(),
        link.id,
        link.key_version,
    );
    if !signature::verify(key.as_bytes(), &body, signature) {
        tracing::warn!(link = %link.id, "webhook with a bad signature refused");
        metrics::counter!("webhooks_refused_total").increment(1);
        return Err(refused());
    }

    let envelope = match WebhookEnvelope::from_slice(&body) {
        Ok(env) => env,
        Err(e) => {
            let id = store_malformed(&state, link.id, &body, &e.to_string()).await?;
            tracing::warn!(link = %link.id, event_row = id, "malformed webhook body kept for inspection");
            return Err(AppError::bad_request(
                "malformed_json",
                "The webhook body is not a WAHA event.",
            ));
        }
    };
    // Older WAHA builds send no id: fall back to the body's hash, which still dedupes
    // byte-identical redeliveries.
    let event_id = envelope
        .id
        .clone()
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&body))));
    // jsonb refuses U+0000: the stored payload has U+FFFD in its place (the raw body is kept).
    let payload: Value = crate::waha::types::json_without_nul(&body).unwrap_or(Value::Null);
    metrics::counter!("webhooks_received_total", "event" => envelope.event.clone()).increment(1);
    let stored = state
        .inbox
        .store(NewEvent {
            link_id: link.id,
            event_id,
            event: envelope.event,
            body,
            payload,
        })
        .await?;
    let status = match stored {
        Stored::Inserted => "stored",
        Stored::Duplicate => "duplicate",
    };
    Ok((StatusCode::OK, Json(json!({ "status": status }))))
}

async fn store_malformed(state: &AppState, link: Uuid, body: &[u8], error: &str) -> Result<i64> {
    let error: String = error.chars().take(300).collect();
    Ok(sqlx::query_scalar!(
        "insert into waha_events (link_id, body, status, error) values ($1, $2, 'malformed', $3) returning id",
        link,
        body,
        error
    )
    .fetch_one(&state.db)
    .await?)
}

/// A verified event on its way into `waha_events`.
#[derive(Debug)]
pub struct NewEvent {
    pub link_id: Uuid,
    /// The envelope id (or the body's hash): unique per link.
    pub event_id: String,
    pub event: String,
    /// The exact bytes WAHA signed.
    pub body: Bytes,
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

/// One waiter: the event and where to send its outcome (`Err` when the batch failed).
struct Job {
    event: NewEvent,
    reply: oneshot::Sender<std::result::Result<Stored, ()>>,
}

/// The handlers' side of the group-commit writer. Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    /// Bounded: when the writer falls behind, handlers wait here (backpressure, no drops).
    tx: mpsc::Sender<Job>,
    /// The writer's end, until [`spawn_writer`] takes it (once per process).
    rx: Arc<Mutex<Option<mpsc::Receiver<Job>>>>,
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Inbox {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        Self {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
        }
    }

    /// Queue a verified event and wait until the batch holding it is committed.
    pub async fn store(&self, event: NewEvent) -> Result<Stored> {
        let (reply, outcome) = oneshot::channel();
        // Fails only once the writer has stopped (shutting down): WAHA will redeliver.
        self.tx
            .send(Job { event, reply })
            .await
            .map_err(|_| not_stored())?;
        outcome
            .await
            .map_err(|_| not_stored())?
            .map_err(|()| not_stored())
    }
}

/// Start this process's writer (a no-op when it already runs). It stops when the app's
/// shutdown token is cancelled, after committing and answering everything already queued.
pub fn spawn_writer(state: AppState) {
    let rx = match state.inbox.rx.lock() {
        Ok(mut slot) => slot.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(rx) = rx {
        state.core.clone().spawn(writer(state, rx));
    }
}

async fn writer(state: AppState, mut rx: mpsc::Receiver<Job>) {
    let appliers = Appliers::default();
    let mut conn: Option<PoolConnection<Postgres>> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            () = state.shutdown.cancelled() => None,
            // The pool is closing (tests end this way): give the connection back so closing
            // is not held up; a later batch would get `PoolClosed` and answer 503.
            () = state.db.close_event(), if conn.is_some() => {
                conn = None;
                continue;
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        fill(&mut rx, &mut batch);
        commit_batch(&state, &appliers, &mut conn, &mut batch).await;
    }
    // Refuse new work, then finish what is queued: every waiter gets an answer.
    rx.close();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        fill(&mut rx, &mut batch);
        commit_batch(&state, &appliers, &mut conn, &mut batch).await;
    }
    tracing::debug!("webhook writer stopped");
}

/// Add whatever else is already queued, up to [`MAX_BATCH`]; never waits.
fn fill(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Commit one batch, answer its waiters, hand the new rows to the appliers. Drains `batch`.
async fn commit_batch(
    state: &AppState,
    appliers: &Appliers,
    conn: &mut Option<PoolConnection<Postgres>>,
    batch: &mut Vec<Job>,
) {
    let jobs = std::mem::take(batch);
    metrics::histogram!("webhook_commit_batch_size").record(jobs.len() as f64);
    let keys: Vec<(Uuid, &str)> = jobs
        .iter()
        .map(|j| (j.event.link_id, j.event.event_id.as_str()))
        .collect();
    let first_of = first_occurrences(&keys);
    let started = std::time::Instant::now();
    let result = insert_distinct(state, conn, &jobs, &first_of).await;
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
                // The handler may have gone (client hung up): the event is stored regardless.
                let _ = job.reply.send(Ok(stored));
            }
            appliers.enqueue(state, new_rows);
        }
        Err(e) if first_of.len() > 1 => {
            tracing::warn!(error = %e, events = jobs.len(), "committing a webhook batch failed; storing its events one by one");
            metrics::counter!("webhook_commit_failures_total").increment(1);
            if let Some(mut c) = conn.take() {
                c.close_on_drop();
            }
            let keys = keys_owned(&keys);
            commit_one_by_one(state, appliers, conn, jobs, &keys, &first_of).await;
        }
        Err(e) => {
            tracing::error!(error = %e, events = jobs.len(), "committing webhook events failed; answering 503");
            metrics::counter!("webhook_commit_failures_total").increment(1);
            // The connection may be broken: do not hand it back to the pool.
            if let Some(mut c) = conn.take() {
                c.close_on_drop();
            }
            for job in jobs {
                let _ = job.reply.send(Err(()));
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
    state: &AppState,
    appliers: &Appliers,
    conn: &mut Option<PoolConnection<Postgres>>,
    jobs: Vec<Job>,
    keys: &[(Uuid, String)],
    first_of: &[usize],
) {
    let mut outcome: HashMap<(Uuid, String), std::result::Result<Option<i64>, ()>> = HashMap::new();
    let mut new_rows = Vec::new();
    for &i in first_of {
        let result = insert_distinct(state, conn, &jobs, &[i]).await;
        let key = keys[i].clone();
        match result {
            Ok(rows) => {
                let row = rows.first().map(|r| r.0);
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
                outcome.insert(key, Err(()));
            }
        }
    }
    let mut answered: std::collections::HashSet<(Uuid, String)> = Default::default();
    for (i, job) in jobs.into_iter().enumerate() {
        let reply = match outcome.get(&keys[i]) {
            // The first copy of an inserted event gets "inserted", later copies "duplicate".
            Some(Ok(Some(_))) if answered.insert(keys[i].clone()) => Ok(Stored::Inserted),
            Some(Ok(_)) => Ok(Stored::Duplicate),
            Some(Err(())) | None => Err(()),
        };
        let _ = job.reply.send(reply);
    }
    appliers.enqueue(state, new_rows);
}

/// Indices of the first job of each distinct (link, event id), in batch order.
fn first_occurrences(keys: &[(Uuid, &str)]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.iter()
        .enumerate()
        .filter(|(_, k)| seen.insert(**k))
        .map(|(i, _)| i)
        .collect()
}

/// For each job, the row it inserted, or `None` when it is a duplicate: the first copy of
/// an inserted key gets the row, every other copy (and every key not returned) is a
/// duplicate.
fn resolve(keys: &[(Uuid, &str)], inserted: &[(i64, Uuid, String)]) -> Vec<Option<i64>> {
    let mut rows: HashMap<(Uuid, &str), i64> = inserted
        .iter()
        .map(|(id, link, event)| ((*link, event.as_str()), *id))
        .collect();
    keys.iter().map(|k| rows.remove(k)).collect()
}

/// One statement, hence one transaction and one commit: insert the distinct events (a
/// conflict with an existing row inserts nothing) and touch the `last_event_at` of the links
/// that got a new event. Returns the inserted rows.
async fn insert_distinct(
    state: &AppState,
    conn: &mut Option<PoolConnection<Postgres>>,
    jobs: &[Job],
    first_of: &[usize],
) -> anyhow::Result<Vec<(i64, Uuid, String)>> {
    let mut links = Vec::with_capacity(first_of.len());
    let mut event_ids = Vec::with_capacity(first_of.len());
    let mut events = Vec::with_capacity(first_of.len());
    let mut bodies = Vec::with_capacity(first_of.len());
    let mut payloads = Vec::with_capacity(first_of.len());
    for &i in first_of {
        let e = &jobs[i].event;
        links.push(e.link_id);
        event_ids.push(e.event_id.clone());
        events.push(e.event.clone());
        bodies.push(e.body.to_vec());
        payloads.push(e.payload.clone());
    }
    // The writer keeps one connection while it works, so a flood of other queries (applies,
    // reads) cannot starve it of the pool.
    let c = match conn {
        Some(c) => c,
        None => conn.insert(state.db.acquire().await?),
    };
    let rows = sqlx::query!(
        r#"with ins as (
               insert into waha_events (link_id, event_id, event, body, payload)
               select * from unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[])
               on conflict (link_id, event_id) where event_id is not null do nothing
               returning id, link_id, event_id
           ), touched as (
               update whatsapp_links set last_event_at = now()
               where id in (select link_id from ins)
           )
           select id as "id!", link_id as "link_id!", event_id as "event_id!" from ins"#,
        &links,
        &event_ids,
        &events,
        &bodies,
        &payloads
    )
    .fetch_all(&mut **c)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.link_id, r.event_id))
        .collect())
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
    fn enqueue(&self, state: &AppState, rows: Vec<(Uuid, i64)>) {
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
            let (me, st) = (self.clone(), state.clone());
            state.spawn(async move { me.drain(&st, link).await });
        }
    }

    /// Apply the link's queued events one by one; the task ends (and its entry goes) when
    /// the queue is empty, under the same lock `enqueue` takes, so no row is stranded.
    async fn drain(&self, state: &AppState, link: Uuid) {
        loop {
            let next = {
                let mut queues = self.lock();
                let next = queues.get_mut(&link).and_then(VecDeque::pop_front);
                if next.is_none() {
                    queues.remove(&link);
                }
                next
            };
            let Some(row_id) = next else { return };
            apply::apply_stored(state, row_id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let inserted = vec![
            (10, a, "evt_1".to_string()),
            (11, b, "evt_1".to_string()),
            (12, a, "evt_3".to_string()),
        ];
        assert_eq!(
            resolve(&keys, &inserted),
            vec![Some(10), None, None, Some(11), Some(12), None]
        );
    }
}
