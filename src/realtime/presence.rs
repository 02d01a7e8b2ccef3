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
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::hub::Hub;
use crate::core::Core;
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
        let mut task = Presence {
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

struct Presence {
    pool: PgPool,
    hub: Arc<Hub>,
    /// Users this process has a `realtime_presence` row for.
    announced: HashSet<Uuid>,
    /// Users whose transition failed (database trouble); tried again at the next heartbeat.
    retry: HashSet<Uuid>,
}

impl Presence {
    /// Record the heartbeat; if this process's row was gone (it was considered dead),
    /// register again, with a row for every user it announced.
    async fn beat(&mut self) -> Result<()> {
        let process = self.hub.process_id();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query_scalar!(
            r#"insert into realtime_processes (id) values ($1)
               on conflict (id) do update set heartbeat_at = now()
               returning (xmax = 0) as "inserted!""#,
            process
        )
        .fetch_one(&mut *tx)
        .await?;
        if inserted && !self.announced.is_empty() {
            let users: Vec<Uuid> = self.announced.iter().copied().collect();
            sqlx::query!(
                r#"insert into realtime_presence (user_id, process_id)
                   select u, $2 from unnest($1::uuid[]) u join users on users.id = u
                   on conflict do nothing"#,
                &users,
                process
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query!(
            "delete from realtime_processes where heartbeat_at < now() - make_interval(secs => $1)",
            FORGET_SECS
        )
        .execute(&mut *tx)
        .await?;
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
        if let Err(e) = sqlx::query!("delete from realtime_processes where id = $1", process)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "presence: removing this process's row failed");
        }
    }
}

/// Record one user's transition on this process and, if no other live process holds a socket
/// of theirs, announce it to their counterparts. Serialised per user across replicas.
async fn transition(pool: &PgPool, process: Uuid, user: Uuid, online: bool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('puente.presence:' || $1::uuid::text, 0))",
        user
    )
    .execute(&mut *tx)
    .await?;
    if online {
        sqlx::query!(
            "insert into realtime_presence (user_id, process_id) values ($1, $2) on conflict do nothing",
            user,
            process
        )
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query!(
            "delete from realtime_presence where user_id = $1 and process_id = $2",
            user,
            process
        )
        .execute(&mut *tx)
        .await?;
    }
    let elsewhere = sqlx::query_scalar!(
        r#"select exists (
               select 1 from realtime_presence p join realtime_processes r on r.id = p.process_id
               where p.user_id = $1 and p.process_id <> $2
                 and r.heartbeat_at > now() - make_interval(secs => $3)
           ) as "elsewhere!""#,
        user,
        process,
        STALE_SECS
    )
    .fetch_one(&mut *tx)
    .await?;
    if !elsewhere {
        let to = counterparts(&mut tx, user).await?;
        super::signal(
            &mut tx,
            &to,
            "presence",
            &json!({"user_id": user, "online": online, "at": Utc::now()}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The other party of `user`'s recently active in-app conversations, most recent first.
pub async fn counterparts(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"select other as "other!" from (
               select case when agent_id = $1 then buyer_id else agent_id end as other,
                      coalesce(last_message_at, created_at) as at
               from conversations
               where channel = 'in_app' and (agent_id = $1 or buyer_id = $1)
                 and coalesce(last_message_at, created_at) > now() - make_interval(days => $2)
           ) c
           where other is not null and other <> $1
           group by other order by max(at) desc limit $3"#,
        user,
        RECENT_DAYS,
        MAX_RECIPIENTS
    )
    .fetch_all(conn)
    .await?)
}
