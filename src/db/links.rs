//! WhatsApp links: one row per linked (or linking) number.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::Result;
use crate::model::DesiredState;

#[derive(Debug, Clone)]
pub struct LinkRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub agency_id: Uuid,
    pub status: String,
    pub status_reason: Option<String>,
    pub desired_state: DesiredState,
    pub engine: String,
    pub image: String,
    pub key_version: i32,
    pub container_id: Option<String>,
    pub container_name: Option<String>,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub wa_id: Option<String>,
    pub wa_lid: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub restart_count: i32,
    pub consecutive_failures: i32,
    pub last_restart_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub status_at: Option<DateTime<Utc>>,
    pub qr_rotations: i32,
    pub last_probe_at: Option<DateTime<Utc>>,
    pub working_since: Option<DateTime<Utc>>,
    /// `GET /api/server/version` of the link's WAHA, read at each container start.
    pub waha_version: Option<String>,
    pub waha_engine: Option<String>,
    /// `CORE` or `PLUS`.
    pub waha_tier: Option<String>,
    /// The container start whose session Puente last prepared (see `links::service`).
    pub session_prepared_for: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    agent: Uuid,
    agency: Uuid,
    engine: &str,
    image: &str,
    container_name: &str,
) -> Result<LinkRow> {
    Ok(sqlx::query_as!(
        LinkRow,
        r#"insert into whatsapp_links (id, agent_id, agency_id, engine, image, container_name)
           values ($1, $2, $3, $4, $5, $6)
           returning id, agent_id, agency_id, status, status_reason,
                     desired_state as "desired_state: DesiredState", engine, image,
                     key_version, container_id, container_name, phone, push_name, wa_id, wa_lid,
                     last_event_at, restart_count, consecutive_failures, last_restart_at,
                     next_attempt_at, status_at, qr_rotations, last_probe_at, working_since,
                  waha_version, waha_engine, waha_tier, session_prepared_for,
                     created_at, updated_at, deleted_at"#,
        id,
        agent,
        agency,
        engine,
        image,
        container_name
    )
    .fetch_one(db)
    .await?)
}

/// Links an agent has that are not deleted.
pub async fn count_for_agent(db: impl PgExecutor<'_>, agent: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from whatsapp_links where agent_id = $1 and deleted_at is null"#,
        agent
    )
    .fetch_one(db)
    .await?)
}

/// An agency's link quota and live links, locking its row so concurrent creates in the agency
/// count one after the other. `None`: no such agency.
pub async fn agency_quota(db: impl PgExecutor<'_>, agency: Uuid) -> Result<Option<(i64, i64)>> {
    let row = sqlx::query!(
        r#"select a.link_quota::bigint as "quota!",
                  (select count(*) from whatsapp_links l
                    where l.agency_id = a.id and l.deleted_at is null) as "live!"
             from agencies a where a.id = $1 for update of a"#,
        agency
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.quota, r.live)))
}

/// Live links of the whole installation, after taking the transaction-scoped lock that
/// serialises link creation across agencies and replicas (so the global cap holds).
pub async fn live_count_locked(conn: &mut sqlx::PgConnection) -> Result<i64> {
    sqlx::query!("select pg_advisory_xact_lock(7306238466452107603)")
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from whatsapp_links where deleted_at is null"#
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Links `agent` created in the last hour (deleted ones too), and when the oldest of them
/// leaves that window.
pub async fn created_last_hour(
    db: impl PgExecutor<'_>,
    agent: Uuid,
) -> Result<(i64, Option<chrono::DateTime<chrono::Utc>>)> {
    let row = sqlx::query!(
        r#"select count(*) as "n!", min(created_at) as "oldest"
             from whatsapp_links where agent_id = $1 and created_at > now() - interval '1 hour'"#,
        agent
    )
    .fetch_one(db)
    .await?;
    Ok((row.n, row.oldest))
}

/// Set an agency's link quota; `None`: no such agency.
pub async fn set_agency_quota(
    db: impl PgExecutor<'_>,
    agency: Uuid,
    quota: i32,
) -> Result<Option<AgencyQuota>> {
    Ok(sqlx::query_as!(
        AgencyQuota,
        r#"update agencies a set link_quota = $2, updated_at = now() where a.id = $1
           returning a.id, a.name, a.link_quota::bigint as "link_quota!",
                     (select count(*) from whatsapp_links l
                       where l.agency_id = a.id and l.deleted_at is null) as "live_links!""#,
        agency,
        quota
    )
    .fetch_optional(db)
    .await?)
}

/// An agency's quota and what it uses.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AgencyQuota {
    pub id: Uuid,
    pub name: String,
    /// How many live WhatsApp links the agency may have.
    pub link_quota: i64,
    pub live_links: i64,
}

pub async fn list_for_agent(db: impl PgExecutor<'_>, agent: Uuid) -> Result<Vec<LinkRow>> {
    Ok(sqlx::query_as!(
        LinkRow,
        r#"select id, agent_id, agency_id, status, status_reason,
                  desired_state as "desired_state: DesiredState", engine, image,
                  key_version, container_id, container_name, phone, push_name, wa_id, wa_lid,
                  last_event_at, restart_count, consecutive_failures, last_restart_at,
                  next_attempt_at, status_at, qr_rotations, last_probe_at, working_since,
                  waha_version, waha_engine, waha_tier, session_prepared_for,
                  created_at, updated_at, deleted_at
           from whatsapp_links where agent_id = $1 and deleted_at is null order by created_at"#,
        agent
    )
    .fetch_all(db)
    .await?)
}

/// A live (not deleted) link by id.
pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<LinkRow>> {
    Ok(sqlx::query_as!(
        LinkRow,
        r#"select id, agent_id, agency_id, status, status_reason,
                  desired_state as "desired_state: DesiredState", engine, image,
                  key_version, container_id, container_name, phone, push_name, wa_id, wa_lid,
                  last_event_at, restart_count, consecutive_failures, last_restart_at,
                  next_attempt_at, status_at, qr_rotations, last_probe_at, working_since,
                  waha_version, waha_engine, waha_tier, session_prepared_for,
                  created_at, updated_at, deleted_at
           from whatsapp_links where id = $1 and deleted_at is null"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// A link by id, deleted or not (to announce its deletion).
pub async fn find_including_deleted(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<LinkRow>> {
    Ok(sqlx::query_as!(
        LinkRow,
        r#"select id, agent_id, agency_id, status, status_reason,
                  desired_state as "desired_state: DesiredState", engine, image,
                  key_version, container_id, container_name, phone, push_name, wa_id, wa_lid,
                  last_event_at, restart_count, consecutive_failures, last_restart_at,
                  next_attempt_at, status_at, qr_rotations, last_probe_at, working_since,
                  waha_version, waha_engine, waha_tier, session_prepared_for,
                  created_at, updated_at, deleted_at
           from whatsapp_links where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Lock a live link row for a state transition.
pub async fn lock(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<LinkRow>> {
    Ok(sqlx::query_as!(
        LinkRow,
        r#"select id, agent_id, agency_id, status, status_reason,
                  desired_state as "desired_state: DesiredState", engine, image,
                  key_version, container_id, container_name, phone, push_name, wa_id, wa_lid,
                  last_event_at, restart_count, consecutive_failures, last_restart_at,
                  next_attempt_at, status_at, qr_rotations, last_probe_at, working_since,
                  waha_version, waha_engine, waha_tier, session_prepared_for,
                  created_at, updated_at, deleted_at
           from whatsapp_links where id = $1 and deleted_at is null for update"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Every link the supervisor must look after (not yet deleted, deletion pending included).
pub async fn list_live(db: impl PgExecutor<'_>) -> Result<Vec<LinkRow>> {
    Ok(sqlx::query_as!(
        LinkRow,
        r#"select id, agent_id, agency_id, status, status_reason,
                  desired_state as "desired_state: DesiredState", engine, image,
                  key_version, container_id, container_name, phone, push_name, wa_id, wa_lid,
                  last_event_at, restart_count, consecutive_failures, last_restart_at,
                  next_attempt_at, status_at, qr_rotations, last_probe_at, working_since,
                  waha_version, waha_engine, waha_tier, session_prepared_for,
                  created_at, updated_at, deleted_at
           from whatsapp_links where deleted_at is null order by created_at"#
    )
    .fetch_all(db)
    .await?)
}

/// Set status and reason. Working links record their phone; leaving `working` clears the
/// working-since mark; entering `scan_qr` resets or counts QR rotations.
pub async fn set_status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: &str,
    reason: Option<&str>,
    status_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query!(
        r#"update whatsapp_links set
               qr_rotations = case when $2 = 'scan_qr' then
                                  case when status = 'scan_qr' then qr_rotations + 1 else 1 end
                              else qr_rotations end,
               working_since = case when $2 = 'working' then coalesce(working_since, now()) else null end,
               consecutive_failures = case when $2 = 'working' then 0 else consecutive_failures end,
               status = $2, status_reason = $3,
               -- A session asking for a QR is logged out: whoever was linked is gone.
               phone = case when $2 = 'scan_qr' then null else phone end,
               push_name = case when $2 = 'scan_qr' then null else push_name end,
               wa_id = case when $2 = 'scan_qr' then null else wa_id end,
               wa_lid = case when $2 = 'scan_qr' then null else wa_lid end,
               status_at = coalesce($4, status_at),
               updated_at = now()
           where id = $1"#,
        id,
        status,
        reason,
        status_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Record WAHA's time of a status report that changed nothing else, so older reports stay
/// recognisable as older.
pub async fn set_status_at(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set status_at = $2 where id = $1",
        id,
        status_at
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_identity(
    db: impl PgExecutor<'_>,
    id: Uuid,
    phone: Option<&str>,
    push_name: Option<&str>,
    wa_id: Option<&str>,
    wa_lid: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        r#"update whatsapp_links set phone = coalesce($2, phone), push_name = coalesce($3, push_name),
               wa_id = coalesce($4, wa_id), wa_lid = coalesce($5, wa_lid), updated_at = now()
           where id = $1"#,
        id,
        phone,
        push_name,
        wa_id,
        wa_lid
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The phone was unlinked: forget who the link was logged in as.
pub async fn clear_identity(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set phone = null, push_name = null, wa_id = null, wa_lid = null, working_since = null where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_container(
    db: impl PgExecutor<'_>,
    id: Uuid,
    container_id: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set container_id = $2, updated_at = now() where id = $1",
        id,
        container_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_desired(db: impl PgExecutor<'_>, id: Uuid, desired: DesiredState) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set desired_state = $2, next_attempt_at = null, consecutive_failures = 0, updated_at = now() where id = $1",
        id,
        desired.as_str()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Want the link running again (a restart): from `running`, or from `stopped` only when
/// `over_a_stop` (an operator's stop is undone only by an operator). False when refused.
pub async fn set_running(db: impl PgExecutor<'_>, id: Uuid, over_a_stop: bool) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"update whatsapp_links set desired_state = 'running', next_attempt_at = null,
                  consecutive_failures = 0, updated_at = now()
            where id = $1 and (desired_state = 'running' or (desired_state = 'stopped' and $2))
           returning id"#,
        id,
        over_a_stop
    )
    .fetch_optional(db)
    .await?
    .is_some())
}

/// A (re)start Puente performed: count it and schedule the earliest next attempt.
pub async fn record_restart(
    db: impl PgExecutor<'_>,
    id: Uuid,
    failure: bool,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query!(
        r#"update whatsapp_links set restart_count = restart_count + 1, last_restart_at = now(),
               consecutive_failures = case when $2 then consecutive_failures + 1 else consecutive_failures end,
               next_attempt_at = $3, updated_at = now()
           where id = $1"#,
        id,
        failure,
        next_attempt_at
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_probed(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set last_probe_at = now() where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What the link's WAHA said it is.
pub async fn set_waha_version(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: Option<&str>,
    engine: Option<&str>,
    tier: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set waha_version = $2, waha_engine = $3, waha_tier = $4 where id = $1",
        id,
        version,
        engine,
        tier
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The session of the container started at `started_at` has been prepared.
pub async fn set_session_prepared(
    db: impl PgExecutor<'_>,
    id: Uuid,
    started_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set session_prepared_for = $2 where id = $1",
        id,
        started_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The container and volume are gone: the link is deleted (its conversations stay).
pub async fn mark_deleted(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!(
        "update whatsapp_links set deleted_at = now(), status = 'stopped', status_reason = 'deleted', container_id = null, updated_at = now() where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ids of every link row, deleted or not (orphan detection must know deleted ones too).
pub async fn all_ids(db: impl PgExecutor<'_>) -> Result<Vec<(Uuid, bool)>> {
    Ok(
        sqlx::query!(r#"select id, deleted_at is not null as "deleted!" from whatsapp_links"#)
            .fetch_all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r.deleted))
            .collect(),
    )
}

#[derive(Debug, Clone)]
pub struct AdminLinkRow {
    pub link: LinkRow,
    pub agent_email: String,
    pub agent_name: String,
    pub agency_name: String,
}

pub async fn list_admin(db: impl PgExecutor<'_>) -> Result<Vec<AdminLinkRow>> {
    let rows = sqlx::query!(
        r#"select l.id, l.agent_id, l.agency_id, l.status, l.status_reason,
                  l.desired_state as "desired_state: DesiredState", l.engine, l.image,
                  l.key_version, l.container_id, l.container_name, l.phone, l.push_name,
                  l.wa_id, l.wa_lid, l.last_event_at, l.restart_count, l.consecutive_failures,
                  l.last_restart_at, l.next_attempt_at, l.status_at, l.qr_rotations, l.last_probe_at,
                  l.working_since, l.waha_version, l.waha_engine, l.waha_tier,
                  l.session_prepared_for, l.created_at, l.updated_at, l.deleted_at,
                  u.email as agent_email, u.display_name as agent_name, a.name as agency_name
           from whatsapp_links l join users u on u.id = l.agent_id join agencies a on a.id = l.agency_id
           where l.deleted_at is null order by l.created_at"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AdminLinkRow {
            link: LinkRow {
                id: r.id,
                agent_id: r.agent_id,
                agency_id: r.agency_id,
                status: r.status,
                status_reason: r.status_reason,
                desired_state: r.desired_state,
                engine: r.engine,
                image: r.image,
                key_version: r.key_version,
                container_id: r.container_id,
                container_name: r.container_name,
                phone: r.phone,
                push_name: r.push_name,
                wa_id: r.wa_id,
                wa_lid: r.wa_lid,
                last_event_at: r.last_event_at,
                restart_count: r.restart_count,
                consecutive_failures: r.consecutive_failures,
                last_restart_at: r.last_restart_at,
                next_attempt_at: r.next_attempt_at,
                status_at: r.status_at,
                qr_rotations: r.qr_rotations,
                last_probe_at: r.last_probe_at,
                working_since: r.working_since,
                waha_version: r.waha_version,
                waha_engine: r.waha_engine,
                waha_tier: r.waha_tier,
                session_prepared_for: r.session_prepared_for,
                created_at: r.created_at,
                updated_at: r.updated_at,
                deleted_at: r.deleted_at,
            },
            agent_email: r.agent_email,
            agent_name: r.agent_name,
            agency_name: r.agency_name,
        })
        .collect())
}
