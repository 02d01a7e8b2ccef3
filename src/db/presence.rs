//! Presence across replicas: `realtime_processes` (one row per live process, with its
//! heartbeat) and `realtime_presence` (one row per user holding a socket on a process).
//!
//! Invariant: a user's rows are changed only under [`lock_user`], so the replicas' decisions
//! "is this user online anywhere else?" are serialised per user.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::Result;

/// Record `process`'s heartbeat; true when its row was (re)created, i.e. the process was
/// unknown or had been forgotten as dead.
pub async fn heartbeat(conn: &mut PgConnection, process: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"insert into realtime_processes (id) values ($1)
               on conflict (id) do update set heartbeat_at = now()
               returning (xmax = 0) as "inserted!""#,
        process
    )
    .fetch_one(conn)
    .await?)
}

/// Presence rows on `process` for those of `users` that still exist.
pub async fn add_users(conn: &mut PgConnection, users: &[Uuid], process: Uuid) -> Result<()> {
    sqlx::query!(
        r#"insert into realtime_presence (user_id, process_id)
                   select u, $2 from unnest($1::uuid[]) u join users on users.id = u
                   on conflict do nothing"#,
        users,
        process
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Remove processes whose heartbeat is older than `secs` (their presence rows go with them).
pub async fn forget_processes(conn: &mut PgConnection, secs: f64) -> Result<()> {
    sqlx::query!(
        "delete from realtime_processes where heartbeat_at < now() - make_interval(secs => $1)",
        secs
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Remove one process's row (and so its presence rows).
pub async fn remove_process(db: impl PgExecutor<'_>, process: Uuid) -> Result<()> {
    sqlx::query!("delete from realtime_processes where id = $1", process)
        .execute(db)
        .await?;
    Ok(())
}

/// Take `user`'s presence lock until the transaction ends.
pub async fn lock_user(conn: &mut PgConnection, user: Uuid) -> Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('puente.presence:' || $1::uuid::text, 0))",
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `user` holds a socket on `process`.
pub async fn add(conn: &mut PgConnection, user: Uuid, process: Uuid) -> Result<()> {
    sqlx::query!(
        "insert into realtime_presence (user_id, process_id) values ($1, $2) on conflict do nothing",
        user,
        process
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `user` no longer holds a socket on `process`.
pub async fn remove(conn: &mut PgConnection, user: Uuid, process: Uuid) -> Result<()> {
    sqlx::query!(
        "delete from realtime_presence where user_id = $1 and process_id = $2",
        user,
        process
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Does `user` hold a socket on a process other than `process` whose heartbeat is younger
/// than `stale_secs`?
pub async fn online_elsewhere(
    conn: &mut PgConnection,
    user: Uuid,
    process: Uuid,
    stale_secs: f64,
) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (
               select 1 from realtime_presence p join realtime_processes r on r.id = p.process_id
               where p.user_id = $1 and p.process_id <> $2
                 and r.heartbeat_at > now() - make_interval(secs => $3)
           ) as "elsewhere!""#,
        user,
        process,
        stale_secs
    )
    .fetch_one(conn)
    .await?)
}

/// The other party of `user`'s in-app conversations active in the last `recent_days` days,
/// most recent first, at most `limit`.
pub async fn counterparts(
    conn: &mut PgConnection,
    user: Uuid,
    recent_days: i32,
    limit: i64,
) -> Result<Vec<Uuid>> {
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
        recent_days,
        limit
    )
    .fetch_all(conn)
    .await?)
}
