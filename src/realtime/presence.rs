//! Presence: tells the people a user talks to when that user comes online or goes offline.
//!
//! A `presence` signal `{user_id, online, at}` goes to the user's counterparts: the agent or
//! buyer on the other side of their in-app conversations with activity in the last
//! [`RECENT_DAYS`] days, the most recent [`MAX_RECIPIENTS`] of them.
//!
//! Across replicas: each process has a row in `realtime_processes` with a heartbeat every
//! [`HEARTBEAT`], and a row in `realtime_presence` per user holding a socket on it. When a
//! user's first socket on this process opens (or last one closes), one task per process
//! ([`spawn`]) adds (or removes) that row and, under a per-user advisory lock, looks for the
//! user on another live process: only when there is none does it announce the change. So a
//! user moving between replicas, or holding sockets on two, is not announced offline while
//! still online somewhere.
//!
//! Limits, by design: a process that dies without shutting down keeps its users "online" for
//! the other replicas until its heartbeat is [`STALE_SECS`] old, and their `offline` is never
//! announced (clients should treat `online` as "until told otherwise or until the counterpart
//! stops answering"). A brief reconnect can announce offline then online. Transitions are
//! coalesced: a socket that opens and closes before the task looks announces nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::hub::Hub;
use super::protocol::{Presence, Signal};
use super::signals::signal;
use crate::core::Core;
use crate::db::presence as db;
use crate::error::Result;

/// How often a process proves it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A process whose heartbeat is older than this no longer counts (three missed beats).
pub const STALE_SECS: f64 = 45.0;
/// Dead processes' rows are removed after this long.
const FORGET_SECS: f64 = 600.0;
/// Conversations count when their last activity is this recent.
pub const RECENT_DAYS: i32 = 30;
/// At most this many people are told about one user's presence.
pub const MAX_RECIPIENTS: i64 = 200;
/// Transitions applied at once (each is one short transaction).
const CONCURRENCY: usize = 8;

/// Run this process's presence task until `shutdown`; on shutdown it announces its users
/// offline (where they have no socket on another replica) and removes its rows.
pub fn spawn(core: &Core, hub: Arc<Hub>) -> tokio::task::JoinHandle<()> {
    let (pool, shutdown) = (core.db.clone(), core.shutdown.clone());
    core.spawn(async move {
        let mut task = Task {
            pool,
            hub: hub.clone(),
            announced: HashSet::new(),
            retry: HashSet::new(),
        };
        if let Err(e) = task.beat().await {
            tracing::warn!(error = %e, "presence: registering this process failed; will retry");
        }
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.reset();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = hub.presence_changed() => {}
                _ = beat.tick() => {
                    if let Err(e) = task.beat().await {
                        tracing::warn!(error = %e, "presence heartbeat failed");
                    }
                    let retry = std::mem::take(&mut task.retry);
                    task.apply(retry).await;
                }
            }
            let changed = hub.take_presence_changes();
            task.apply(changed).await;
        }
        task.leave().await;
    })
}

struct Task {
    pool: PgPool,
    hub: Arc<Hub>,
    /// Users this process has a `realtime_presence` row for.
    announced: HashSet<Uuid>,
    /// Users whose transition failed (database trouble); tried again at the next heartbeat.
    retry: HashSet<Uuid>,
}

impl Task {
    /// Record the heartbeat; if this process's row was gone (it was considered dead),
    /// register again, with a row for every user it announced.
    async fn beat(&mut self) -> Result<()> {
        let process = self.hub.process_id();
        let mut tx = self.pool.begin().await?;
        let inserted = db::heartbeat(&mut tx, process).await?;
        if inserted && !self.announced.is_empty() {
            let users: Vec<Uuid> = self.announced.iter().copied().collect();
            db::add_users(&mut tx, &users, process).await?;
        }
        db::forget_processes(&mut tx, FORGET_SECS).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Bring the database and the counterparts in line with the hub for these users.
    async fn apply(&mut self, users: HashSet<Uuid>) {
        let todo: Vec<(Uuid, bool)> = users
            .into_iter()
            .filter_map(|u| {
                let here = self.hub.has(u);
                (here != self.announced.contains(&u)).then_some((u, here))
            })
            .collect();
        if todo.is_empty() {
            return;
        }
        let process = self.hub.process_id();
        let pool = &self.pool;
        let done: Vec<(Uuid, bool, Result<()>)> = futures_util::stream::iter(todo)
            .map(|(user, online)| async move {
                (user, online, transition(pool, process, user, online).await)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (user, online, result) in done {
            match result {
                Ok(()) if online => {
                    self.announced.insert(user);
                }
                Ok(()) => {
                    self.announced.remove(&user);
                }
                Err(e) => {
                    tracing::warn!(%user, error = %e, "presence transition failed; will retry");
                    self.retry.insert(user);
                }
            }
        }
    }

    /// Shutting down: everyone here goes offline (unless online elsewhere); rows removed.
    async fn leave(mut self) {
        let process = self.hub.process_id();
        let users = std::mem::take(&mut self.announced);
        let pool = &self.pool;
        let work = futures_util::stream::iter(users)
            .map(|user| async move {
                if let Err(e) = transition(pool, process, user, false).await {
                    tracing::debug!(%user, error = %e, "presence: offline on shutdown failed");
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>();
        if tokio::time::timeout(Duration::from_secs(5), work)
            .await
            .is_err()
        {
            tracing::warn!("presence: not every user was announced offline before shutdown");
        }
        if let Err(e) = db::remove_process(&self.pool, process).await {
            tracing::warn!(error = %e, "presence: removing this process's row failed");
        }
    }
}

/// Record one user's transition on this process and, if no other live process holds a socket
/// of theirs, announce it to their counterparts. Serialised per user across replicas.
async fn transition(pool: &PgPool, process: Uuid, user: Uuid, online: bool) -> Result<()> {
    let mut tx = pool.begin().await?;
    db::lock_user(&mut tx, user).await?;
    if online {
        db::add(&mut tx, user, process).await?;
    } else {
        db::remove(&mut tx, user, process).await?;
    }
    if !db::online_elsewhere(&mut tx, user, process, STALE_SECS).await? {
        let to = counterparts(&mut tx, user).await?;
        let presence = Signal::presence(Presence {
            user_id: user,
            online,
            at: Utc::now(),
        });
        signal(&mut tx, &to, &presence).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The other party of `user`'s recently active in-app conversations, most recent first.
pub async fn counterparts(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Uuid>> {
    db::counterparts(conn, user, RECENT_DAYS, MAX_RECIPIENTS).await
}
