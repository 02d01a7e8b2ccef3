//! Applying a link's queued events many to a transaction, a savepoint each.
//!
//! The writer stores webhooks a few hundred to a commit; applying them one transaction each
//! (a commit, a claim, the link's lock and row, a finish and a publish per event) left a
//! link's applier far behind. [`apply`] takes a link's queued events in arrival order and:
//! 1. reads them, unlocked, before any transaction ([`events::pending_events`]), and splits
//!    them into runs: the events that may share a transaction ([`Way::Batched`]) up to
//!    [`MAX_BATCH`], and those that need one of their own ([`Way::Alone`]: `session.status`,
//!    media), applied in their place in the order by [`dispatch::apply_read`];
//! 2. for a run, asks WAHA for the phones behind its `@lid` ids ([`LidPhones::ask`]), still
//!    with no transaction open;
//! 3. in one transaction: claims the run's rows that are still pending
//!    ([`events::claim_pending_many`], `SKIP LOCKED`), takes the link's lock, reads the link,
//!    then applies each claimed event in order inside a savepoint of its own
//!    ([`dispatch::route`]); settles them all in one statement ([`events::settle_all`]) and
//!    writes the run's [`Effects`] (its realtime events in one insert and one NOTIFY, the
//!    watermark, the deferred events its messages wake) before the commit;
//! 4. after the commit, applies the deferred events the run woke, as another run.
//!
//! Invariants:
//! - **At most once, in order.** As for one event ([`super::dispatch`]): a row is claimed and
//!   settled in the transaction holding its effects; the link's lock is held for the run;
//!   events apply in arrival order, each seeing what the ones before it wrote.
//! - **One bad event fails alone.** An event whose handler fails is rolled back to its
//!   savepoint, with its share of the [`Effects`] ([`Effects::undo`]); the failure is counted
//!   in the same transaction, exactly as [`dispatch::apply`] counts it (pending for the sweep,
//!   `failed` at [`MAX_ATTEMPTS`]); the run's other events commit.
//! - **A run that cannot commit is not lost.** If the transaction itself fails (the
//!   connection, a savepoint, the commit), nothing of it happened, and its events are applied
//!   one by one by [`dispatch::apply`].
//! - **No network inside the transaction**: lookups come before it; media messages go alone.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

use super::dispatch::{self, failure_text, Way, MAX_ATTEMPTS};
use super::effects::{Ctx, Effects};
use super::lookups::{self, LidPhones};
use super::messages::{self, Outcome};
use crate::core::Core;
use crate::db;
use crate::db::events::{self, Finished, Settled, StoredEvent};
use crate::waha::types::{MessagePayload, WebhookEnvelope};

/// Most events applied in one transaction. Larger runs share their commit among more events
/// but make the first of them wait for the last before anyone sees it.
pub const MAX_BATCH: usize = 128;

/// An event of a run, read and parsed before the transaction.
struct Planned {
    row: StoredEvent,
    /// The envelope, or why the body is not one (the event then fails, counted as any
    /// failure is).
    env: Result<WebhookEnvelope, String>,
}

/// Apply the link's events `ids` (row ids, in arrival order): those that may share a
/// transaction in runs of up to [`MAX_BATCH`], the others alone in their place. Returns the
/// link when one of them reported its session WORKING (the caller starts a catch-up).
pub async fn apply(core: &Core, link: Uuid, ids: &[i64]) -> Option<Uuid> {
    apply_ids(core, link, ids, Recheck::Deferred).await
}

/// Whether a run re-checks, after its commit, the events it left deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recheck {
    Deferred,
    /// Not the events such a re-check woke: one that defers again stays deferred (its
    /// message may be known by an id its own lookup does not use), instead of looping.
    No,
}

async fn apply_ids(core: &Core, link: Uuid, ids: &[i64], recheck: Recheck) -> Option<Uuid> {
    if ids.is_empty() {
        return None;
    }
    let rows = match events::pending_events(&core.db, ids).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, link = %link, "reading queued webhook events failed; the sweep retries them");
            return None;
        }
    };
    let mut by_id: HashMap<i64, StoredEvent> = rows.into_iter().map(|r| (r.id, r)).collect();
    let mut working = None;
    let mut run: Vec<Planned> = Vec::new();
    for id in ids {
        let Some(row) = by_id.remove(id) else {
            continue; // not pending any more: done, or another worker's
        };
        if row.link_id != link {
            working =
                working.or(dispatch::apply_read(core, row, recheck == Recheck::Deferred).await);
            continue;
        }
        let planned = Planned::of(row);
        let way = planned
            .env
            .as_ref()
            .map_or(Way::Batched, |env| dispatch::way(planned.event(), env));
        if way == Way::Alone {
            apply_run(core, link, std::mem::take(&mut run), recheck).await;
            let again = recheck == Recheck::Deferred;
            working = working.or(dispatch::apply_read(core, planned.row, again).await);
            continue;
        }
        run.push(planned);
        if run.len() == MAX_BATCH {
            apply_run(core, link, std::mem::take(&mut run), recheck).await;
        }
    }
    apply_run(core, link, run, recheck).await;
    working
}

/// Apply a run of batchable events, then what they woke.
async fn apply_run(core: &Core, link: Uuid, mut run: Vec<Planned>, recheck: Recheck) {
    if run.len() <= 1 {
        // Alone in its transaction, an event needs no savepoint: the single-event path does
        // the same in fewer statements (the latency floor, when events come one at a time).
        if let Some(p) = run.pop() {
            dispatch::apply_read(core, p.row, recheck == Recheck::Deferred).await;
        }
        return;
    }
    let ids: Vec<i64> = run.iter().map(|p| p.id()).collect();
    let lids = run.iter().filter_map(|p| {
        let env = p.env.as_ref().ok()?;
        lookups::lid_of_event(p.event(), env)
    });
    let phones = LidPhones::ask(core, link, lids).await;
    let started = std::time::Instant::now();
    match apply_in_one(core, link, run, &phones).await {
        Ok(Done {
            applied,
            woken,
            deferred,
        }) => {
            if applied > 0 {
                metrics::histogram!("webhook_apply_batch_size").record(applied as f64);
                metrics::histogram!("webhook_apply_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            if !woken.is_empty() {
                // Message events: they never report a session status.
                Box::pin(apply_ids(core, link, &woken, recheck)).await;
            }
            if deferred.is_empty() || recheck == Recheck::No {
                return;
            }
            // A message may have become known while the run deferred events on it (the
            // outbox recording our own send's id wakes only what was deferred when it
            // committed): wake those now.
            match events::wake_if_known(&core.db, link, &deferred).await {
                Ok(woken) if !woken.is_empty() => {
                    // Message events: they never report a session status.
                    Box::pin(apply_ids(core, link, &woken, Recheck::No)).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, link = %link, "re-checking deferred webhook events failed")
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, link = %link, events = ids.len(), "applying a batch of webhook events failed; applying them one by one");
            metrics::counter!("webhook_apply_batch_failures_total").increment(1);
            for id in ids {
                dispatch::apply_once(core, id, recheck == Recheck::Deferred).await;
            }
        }
    }
}

/// What a committed run did.
struct Done {
    /// Events settled (applied, skipped, deferred or failed), woken ones included.
    applied: usize,
    /// Deferred events woken but not applied in it (none, as the run wakes what waits on a
    /// message right after it; kept for safety), to apply after the commit.
    woken: Vec<i64>,
    /// The keys its events are left deferred on.
    deferred: Vec<String>,
}

impl Planned {
    fn of(row: StoredEvent) -> Self {
        let env = WebhookEnvelope::from_slice(&row.body).map_err(|e| e.to_string());
        Planned { row, env }
    }

    fn id(&self) -> i64 {
        self.row.id
    }

    fn event(&self) -> Option<&str> {
        self.row.event.as_deref()
    }

    /// The ids of the message this event brings (only new messages bring one).
    fn message_keys(&self) -> Vec<String> {
        match (self.event(), &self.env) {
            (Some("message") | Some("message.any"), Ok(env)) => env
                .payload_as::<MessagePayload>()
                .map(|m| messages::keys_of(&m))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

async fn apply_in_one(
    core: &Core,
    link: Uuid,
    run: Vec<Planned>,
    phones: &LidPhones,
) -> anyhow::Result<Done> {
    let ids: Vec<i64> = run.iter().map(|p| p.id()).collect();
    let mut tx = core.db.begin().await?;
    let claimed: HashSet<i64> = events::claim_pending_many(&mut tx, link, &ids)
        .await?
        .into_iter()
        .collect();
    if claimed.is_empty() {
        return Ok(Done {
            applied: 0,
            woken: Vec::new(),
            deferred: Vec::new(),
        });
    }
    events::lock_link(&mut tx, link).await?;
    let Some(link_row) = db::links::find(&mut *tx, link).await? else {
        let skipped: Vec<(i64, Settled)> = claimed
            .iter()
            .map(|id| (*id, Settled::Finished(Finished::Skipped)))
            .collect();
        events::settle_all(&mut tx, &skipped).await?;
        tx.commit().await?;
        return Ok(Done {
            applied: skipped.len(),
            woken: Vec::new(),
            deferred: Vec::new(),
        });
    };
    let mut queue: VecDeque<Planned> = run
        .into_iter()
        .filter(|p| claimed.contains(&p.id()))
        .collect();
    // Of the run's messages, those that events of earlier transactions are deferred on.
    let keys: Vec<String> = queue.iter().flat_map(Planned::message_keys).collect();
    let mut waited_on: HashSet<String> = if keys.is_empty() {
        HashSet::new()
    } else {
        events::deferred_among(&mut tx, link, &keys)
            .await?
            .into_iter()
            .collect()
    };
    let cx = Ctx {
        core,
        link: &link_row,
        phones,
    };
    let mut fx = Effects::default();
    let mut settled: HashMap<i64, Settled> = HashMap::with_capacity(queue.len());
    let mut failed: Vec<(i64, String)> = Vec::new();
    // Events of this run deferred on a message id, until a later one brings that message.
    let mut deferred_here: HashMap<String, Vec<Planned>> = HashMap::new();
    while let Some(p) = queue.pop_front() {
        let env = match &p.env {
            Ok(env) => env,
            Err(e) => {
                failed.push((p.id(), e.chars().take(300).collect()));
                continue;
            }
        };
        let mark = fx.mark();
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        let outcome = match dispatch::route(&cx, &mut sp, &mut fx, p.event(), env).await {
            Ok(outcome) => {
                sp.commit().await?;
                outcome
            }
            Err(e) => {
                sp.rollback().await?;
                fx.undo(mark);
                tracing::warn!(error = %e, event_row = p.id(), "applying a webhook event failed");
                settled.remove(&p.id());
                failed.push((p.id(), failure_text(&e)));
                continue;
            }
        };
        // What waits on the message this event brought is applied right after it, as when
        // each event had its own transaction: first what this run deferred, then what earlier
        // transactions did, oldest first.
        let keys = fx.take_stored();
        let mut woken: Vec<Planned> = keys
            .iter()
            .filter_map(|k| deferred_here.remove(k))
            .flatten()
            .collect();
        if keys.iter().any(|k| waited_on.contains(k)) {
            let ids = events::wake_deferred(&mut tx, link, &keys).await?;
            for k in &keys {
                waited_on.remove(k);
            }
            let rows = events::pending_events(&mut *tx, &ids).await?;
            woken.extend(rows.into_iter().map(Planned::of));
        }
        match outcome {
            Outcome::Applied => settled.insert(p.id(), Settled::Finished(Finished::Applied)),
            Outcome::Skipped => settled.insert(p.id(), Settled::Finished(Finished::Skipped)),
            Outcome::Deferred(key) => {
                let s = settled.insert(p.id(), Settled::Deferred(key.clone()));
                deferred_here.entry(key).or_default().push(p);
                s
            }
        };
        woken.sort_by_key(Planned::id);
        for w in woken.into_iter().rev() {
            queue.push_front(w);
        }
    }
    let applied = settled.len() + failed.len();
    let settled: Vec<(i64, Settled)> = settled.into_iter().collect();
    // One statement for the run; rows deferred here are written now, for later runs to find.
    events::settle_all(&mut tx, &settled).await?;
    for (id, error) in &failed {
        events::record_failure(&mut *tx, *id, error, MAX_ATTEMPTS).await?;
    }
    // The watermark and the realtime events of the run (what waits was woken as it went).
    let woken = fx.finish(&mut tx, link).await?;
    tx.commit().await?;
    let deferred = settled
        .into_iter()
        .filter_map(|(_, s)| match s {
            Settled::Deferred(key) => Some(key),
            Settled::Finished(_) => None,
        })
        .collect();
    Ok(Done {
        applied,
        woken,
        deferred,
    })
}
