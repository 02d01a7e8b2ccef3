//! Supervision of the WAHA fleet: leadership, the reconciler, and reactions to Docker events.
//!
//! One replica leads (it holds a PostgreSQL session advisory lock on a dedicated connection;
//! if that connection dies, leadership passes to another replica). The leader, on start and
//! then every `reconcile_interval_secs` or sooner when poked, makes every link's container
//! match the database (create what is missing, start what stopped — with crash-loop
//! backoff —, probe silent links) and removes containers of this instance that no live link
//! owns. Docker's event stream pokes it as soon as a container dies or disappears. Containers
//! without this instance's label are never touched.
//!
//! Any replica may also reconcile a single link on demand ([`crate::links::service::kick`])
//! when an API call changes it; per-link locks serialise that with the leader's pass in this
//! process, and deterministic names make it safe across processes. A semaphore bounds
//! concurrent Docker work. The lock and the NOTIFY channel live in [`crate::db::leadership`];
//! the reconcile of one link in [`crate::links::service::reconcile_link`].
//!
//! The leader also runs the hourly [`retention`] sweep.
//!
//! The same code supervises a Docker Swarm (`PUENTE_RUNTIME=swarm`) through the runtime trait:
//! there a link's "container" is its single-replica service (the id is the service id), its
//! state the current task's. Swarm's restart policy acts first (a task being replaced reads as
//! `restarting`, which the reconciler leaves alone); when Swarm gives up, the reconciler starts
//! a new task with its own backoff. Events are the task containers' on the manager's node; the
//! periodic pass covers the other nodes.

pub mod retention;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use uuid::Uuid;

use crate::core::Core;
use crate::db::{self, leadership::LeaderLock};
use crate::links::service::{containers_by_link, reconcile_link};
use crate::links::LinkStatus;
use crate::runtime::LABEL_INSTANCE;

/// Advisory lock key of the leader ("puente" in ASCII).
const LEADER_KEY: i64 = 0x7075_656e_7465;
/// NOTIFY channel asking the leader for a reconcile pass.
pub const RECONCILE_CHANNEL: &str = "puente_reconcile";

/// Run the leadership loop until shutdown.
pub fn spawn(state: Core) -> tokio::task::JoinHandle<()> {
    state.tasks.clone().spawn(async move {
        loop {
            if state.shutdown.is_cancelled() {
                return;
            }
            match try_lead(&state).await {
                Ok(true) => {}
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "leadership attempt failed"),
            }
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(3)) => {}
            }
        }
    })
}

/// Try to take the lock; if taken, lead until the lock connection fails or shutdown.
async fn try_lead(state: &Core) -> anyhow::Result<bool> {
    let Some(mut lock) = db::leadership::try_lock(&state.db, LEADER_KEY).await? else {
        return Ok(false);
    };
    state.supervisor.set_leader(true);
    metrics::gauge!("supervisor_leader").set(1.0);
    tracing::info!("this process leads the supervisor");
    let result = lead(state, &mut lock).await;
    state.supervisor.set_leader(false);
    metrics::gauge!("supervisor_leader").set(0.0);
    lock.release().await;
    result.map(|()| true)
}

async fn lead(state: &Core, lock: &mut LeaderLock) -> anyhow::Result<()> {
    let token = state.shutdown.child_token();
    let _stop_helpers = token.clone().drop_guard();
    spawn_event_watch(state.clone(), token.clone());
    // On taking the lead (e.g. after a restart), recover what webhooks may have missed.
    if let Ok(links) = db::links::list_live(&state.db).await {
        for l in links
            .iter()
            .filter(|l| l.status == LinkStatus::Working.as_str())
        {
            crate::ingest::catchup::spawn(state.clone(), l.id);
        }
    }
    spawn_notify_watch(state.clone(), token.clone());
    let mut tick = tokio::time::interval(Duration::from_secs(
        state.config.waha.reconcile_interval_secs.max(1),
    ));
    let mut lock_check = tokio::time::interval(Duration::from_secs(5));
    let mut housekeeping = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => pass(state).await,
            () = state.supervisor.poked() => pass(state).await,
            _ = lock_check.tick() => {
                lock.check().await?;
            }
            _ = housekeeping.tick() => retention::run(state).await,
        }
    }
}

/// One full reconcile pass.
pub async fn pass(state: &Core) {
    let started = std::time::Instant::now();
    let links = match db::links::list_live(&state.db).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "reconcile: cannot read links");
            return;
        }
    };
    let mut set = tokio::task::JoinSet::new();
    for link in &links {
        let state = state.clone();
        let id = link.id;
        set.spawn(async move {
            if let Err(e) = reconcile_link(&state, id).await {
                tracing::warn!(link = %id, code = e.code(), error = %e, "reconcile failed");
            }
        });
    }
    while set.join_next().await.is_some() {}
    remove_orphans(state).await;
    crate::ingest::apply::sweep(state).await;
    metrics::histogram!("reconcile_pass_seconds").record(started.elapsed().as_secs_f64());
}

/// Remove containers of this instance whose link is unknown or deleted. The containers are
/// listed before the links are read: a link's row commits before its container is created,
/// so a container listed here belongs to a row the read below sees (read the other way
/// round, a link created in between would lose its new container).
async fn remove_orphans(state: &Core) {
    let containers = containers_by_link(state).await;
    let known: HashSet<Uuid> = match db::links::all_ids(&state.db).await {
        Ok(ids) => ids
            .into_iter()
            .filter(|(_, deleted)| !deleted)
            .map(|(id, _)| id)
            .collect(),
        Err(_) => return,
    };
    for (link, info) in containers {
        if known.contains(&link) {
            continue;
        }
        let _permit = state.supervisor.docker_permit().await;
        match state.runtime.remove_container(&info.id).await {
            Ok(()) => {
                tracing::warn!(container = %info.name, link = %link, "removed an orphan container")
            }
            Err(e) => {
                tracing::warn!(container = %info.name, error = %e, "could not remove an orphan container")
            }
        }
    }
}

/// Docker events → reconcile the affected link at once.
fn spawn_event_watch(state: Core, token: tokio_util::sync::CancellationToken) {
    state.tasks.clone().spawn(async move {
        loop {
            let mut events = state
                .runtime
                .events(LABEL_INSTANCE, &state.config.waha.instance);
            loop {
                let next = tokio::select! {
                    () = token.cancelled() => return,
                    e = events.next() => e,
                };
                match next {
                    Some(Ok(ev)) => {
                        if matches!(
                            ev.action.as_str(),
                            "die" | "destroy" | "oom" | "stop" | "kill"
                        ) {
                            if let Some(link) = ev
                                .labels
                                .get(crate::runtime::LABEL_LINK)
                                .and_then(|l| l.parse().ok())
                            {
                                tracing::info!(link = %link, action = %ev.action, "container event");
                                let state2 = state.clone();
                                state.tasks.clone().spawn(async move {
                                    // Let Docker's own restart policy act first.
                                    tokio::time::sleep(Duration::from_millis(1500)).await;
                                    crate::links::service::kick(&state2, link);
                                });
                            } else {
                                state.supervisor.poke();
                            }
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "docker event stream error");
                        break;
                    }
                    None => break,
                }
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    });
}

/// Other replicas ask the leader for a pass through NOTIFY.
fn spawn_notify_watch(state: Core, token: tokio_util::sync::CancellationToken) {
    state.tasks.clone().spawn(async move {
        loop {
            let attempt = async {
                let mut pokes = db::leadership::listen(&state.db, RECONCILE_CHANNEL).await?;
                loop {
                    pokes.next().await?;
                    state.supervisor.poke();
                }
                #[allow(unreachable_code)]
                Ok::<(), crate::error::AppError>(())
            };
            tokio::select! {
                () = token.cancelled() => return,
                r = attempt => if let Err(e) = r { tracing::debug!(error = %e, "reconcile listener error") },
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    });
}
