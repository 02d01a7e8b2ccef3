//! Link operations: create, read, QR, pairing code, restart, logout, stop, delete, status
//! transitions, and [`reconcile_link`] — making one link's container match its desired state:
//! `deleted` removes the device's login, the container and the volume; `stopped` stops the
//! container; `running` creates, starts (with crash-loop [`backoff`]), prepares and probes it.
//! Restart, stop and delete record the desired state before they call the engine, so what the
//! engine could not do at once the next reconcile pass does.
//!
//! Session lifecycle invariants (WAHA Core keeps session config in memory only, starts a
//! session only because of `WHATSAPP_START_SESSION`, and ignores SIGTERM):
//! - **Every container start gets its session prepared** ([`prepare_session`]): WAHA's version
//!   is read and recorded (images older than [`MIN_WAHA_VERSION`] are refused and stopped),
//!   then the session is created or started with Puente's config. A start counts once, keyed by
//!   Docker's `StartedAt` (`session_prepared_for`), whoever started the container — Puente, an
//!   operator or Docker's restart policy; until it succeeds, every reconcile pass tries again.
//! - **A session a probe finds STOPPED or absent is repaired** (created / started again), not
//!   shown as "starting" forever.
//! - **A link's device is logged out before its container is removed**, so the phone keeps no
//!   dead linked device.
//! - **Containers are stopped with [`STOP_GRACE_SECS`]**: WAHA swallows SIGTERM, so any grace
//!   period is waited in full before Docker's SIGKILL.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::errors::{Error, Result};
use super::{
    container_name, keys, parse_waha_version, reason, spec, volume_name, ContainerView, LinkDto,
    LinkStatus,
};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::{self, links::LinkRow};
use crate::error::AppError;
use crate::model::{DesiredState, Role};
use crate::realtime;
use crate::runtime::{ContainerInfo, ContainerState, RuntimeError, LABEL_INSTANCE, LABEL_LINK};
use crate::waha::client::{Timeouts, WahaClient, WahaError};
use crate::waha::types::SessionStatus;

/// Grace period of every stop/restart of a session container. Real WAHA ignores SIGTERM (its
/// own handler swallows it), so Docker always waits this long and then kills; WAHA writes its
/// login as it goes, so nothing is lost by keeping it short.
pub const STOP_GRACE_SECS: i64 = 2;

/// The oldest WAHA accepted: images before 2025.3.2 send webhooks without HMAC.
pub const MIN_WAHA_VERSION: (u32, u32, u32) = (2025, 3, 2);

/// Who acted, for the audit log.
pub struct Actor<'a> {
    pub user: Option<&'a AuthUser>,
    pub ip: Option<&'a str>,
}

async fn audit(
    state: &Core,
    actor: &Actor<'_>,
    action: &str,
    link: Uuid,
    ok: bool,
    detail: serde_json::Value,
) {
    let entry = db::audit::Entry {
        actor: actor.user.map(|u| u.id),
        actor_role: actor.user.map(|u| u.role.as_str()),
        action,
        target_type: Some("whatsapp_link"),
        target_id: Some(link.to_string()),
        ok,
        detail,
        ip: actor.ip,
    };
    if let Err(e) = db::audit::record(&state.db, entry).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

fn view(info: &ContainerInfo) -> ContainerView {
    ContainerView {
        state: info.state.as_str().to_string(),
        started_at: info.started_at,
        restart_count: info.restart_count,
    }
}

fn absent() -> ContainerView {
    ContainerView {
        state: "absent".into(),
        started_at: None,
        restart_count: 0,
    }
}

/// Publish `link.status` for a link to its agent and the operators (inside `conn`'s tx).
async fn publish_status(conn: &mut sqlx::PgConnection, link: &LinkRow) -> Result<()> {
    let mut to = realtime::operator_ids(&mut *conn).await?;
    to.push(link.agent_id);
    let data = json!({
        "link_id": link.id,
        "status": link.status,
        "reason": link.status_reason,
        "action": super::action_for(link.status_reason.as_deref()),
        "phone": link.phone,
        "push_name": link.push_name,
        "qr_rotations": link.qr_rotations,
    });
    Ok(realtime::publish(conn, &to, "link.status", &data).await?)
}

/// The WhatsApp account a working link is logged in as.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<'a> {
    pub phone: Option<&'a str>,
    pub push_name: Option<&'a str>,
    pub wa_id: Option<&'a str>,
    pub lid: Option<&'a str>,
}

impl<'a> Identity<'a> {
    pub fn of(me: &'a crate::waha::types::Me, phone: Option<&'a str>) -> Self {
        Self {
            phone,
            push_name: me.push_name.as_deref(),
            wa_id: Some(me.id.as_str()),
            lid: me.lid.as_deref(),
        }
    }
}

/// Move a link to `status`. `status_at` is WAHA's event time when the change comes from a
/// `session.status` report; reports older than the last applied one are ignored, and so is
/// one of the same millisecond that would move the session back down its way up (WAHA posts
/// each webhook on its own: WORKING can land before the SCAN_QR_CODE of the same instant).
/// Returns whether anything changed.
pub async fn transition(
    state: &Core,
    link_id: Uuid,
    status: LinkStatus,
    why: Option<&str>,
    status_at: Option<DateTime<Utc>>,
    identity: Option<Identity<'_>>,
) -> Result<bool> {
    let mut tx = state.db.begin().await?;
    let Some(row) = db::links::lock(&mut *tx, link_id).await? else {
        return Ok(false);
    };
    if let (Some(new), Some(cur)) = (status_at, row.status_at) {
        let current: LinkStatus = row.status.parse().unwrap_or(LinkStatus::Starting);
        if new < cur || (new == cur && status.progress() < current.progress()) {
            tracing::debug!(link = %link_id, "stale session.status ignored");
            return Ok(false);
        }
    }
    if row.desired_state == DesiredState::Deleted {
        return Ok(false);
    }
    let same = row.status == status.as_str() && row.status_reason.as_deref() == why;
    // Every QR rotation is a change (a new code to show), other repeats are not.
    if same && status != LinkStatus::ScanQr && identity.is_none() {
        if status_at.is_some() {
            db::links::set_status_at(&mut *tx, link_id, status_at).await?;
            tx.commit().await?;
        }
        return Ok(false);
    }
    db::links::set_status(&mut *tx, link_id, status.as_str(), why, status_at).await?;
    if let Some(who) = identity {
        db::links::set_identity(
            &mut *tx,
            link_id,
            who.phone,
            who.push_name,
            who.wa_id,
            who.lid,
        )
        .await?;
    }
    let row = db::links::lock(&mut *tx, link_id)
        .await?
        .ok_or(Error::NotFound)?;
    publish_status(&mut tx, &row).await?;
    tx.commit().await?;
    tracing::info!(link = %link_id, status = %status, reason = ?why, "link status");
    if status == LinkStatus::ScanQr {
        // Each new QR goes to the agent as `link.qr`, whichever path saw the status first.
        let state = state.clone();
        state
            .tasks
            .clone()
            .spawn(async move { push_qr(&state, link_id).await });
    }
    Ok(true)
}

/// Create a link for the calling agent and start provisioning it.
pub async fn create(state: &Core, user: &AuthUser) -> Result<LinkDto> {
    let agency = user.agency()?;
    let cfg = &state.config.waha;
    let mut tx = state.db.begin().await?;
    // Serialise concurrent creates by the same agent so the limit holds.
    db::users::lock(&mut *tx, user.id).await?;
    let have = db::links::count_for_agent(&mut *tx, user.id).await?;
    if have >= cfg.max_links_per_agent {
        return Err(Error::AgentLimit {
            have,
            limit: cfg.max_links_per_agent,
        });
    }
    let (created, oldest) = db::links::created_last_hour(&mut *tx, user.id).await?;
    if created >= cfg.link_creates_per_hour {
        return Err(Error::CreateRate { oldest });
    }
    // The agency's quota (its row locked: concurrent creates in one agency queue here), then
    // the installation's cap (one lock across agencies and replicas).
    let (quota, live) = db::links::agency_quota(&mut *tx, agency)
        .await?
        .ok_or(Error::NotFound)?;
    if live >= quota {
        return Err(Error::AgencyQuota { live, quota });
    }
    if db::links::live_count_locked(&mut tx).await? >= cfg.max_links {
        return Err(Error::Capacity);
    }
    let id = Uuid::now_v7();
    let row = db::links::insert(
        &mut *tx,
        id,
        user.id,
        agency,
        &cfg.waha_engine,
        &cfg.waha_image,
        &container_name(id),
    )
    .await?;
    publish_status(&mut tx, &row).await?;
    tx.commit().await?;
    tracing::info!(link = %id, agent = %user.id, "link created");
    kick(state, id);
    Ok(LinkDto::from_row(&row, None))
}

/// A live link owned by the caller; anything else is "not found".
pub async fn owned(state: &Core, user: &AuthUser, id: Uuid) -> Result<LinkRow> {
    db::links::find(&state.db, id)
        .await?
        .filter(|l| l.agent_id == user.id && l.desired_state != DesiredState::Deleted)
        .ok_or(Error::NotFound)
}

/// Containers of this instance, by link id. An unreachable engine gives an empty map.
pub async fn containers_by_link(state: &Core) -> HashMap<Uuid, ContainerInfo> {
    match state
        .runtime
        .list_by_label(LABEL_INSTANCE, &state.config.waha.instance)
        .await
    {
        Ok(list) => list
            .into_iter()
            .filter_map(|c| {
                c.labels
                    .get(LABEL_LINK)
                    .and_then(|l| l.parse().ok())
                    .map(|id| (id, c))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing containers failed");
            HashMap::new()
        }
    }
}

pub async fn list_for_agent(state: &Core, user: &AuthUser) -> Result<Vec<LinkDto>> {
    let rows = db::links::list_for_agent(&state.db, user.id).await?;
    let containers = containers_by_link(state).await;
    Ok(rows
        .iter()
        .filter(|r| r.desired_state != DesiredState::Deleted)
        .map(|r| LinkDto::from_row(r, Some(containers.get(&r.id).map_or_else(absent, view))))
        .collect())
}

pub async fn dto(state: &Core, row: &LinkRow) -> LinkDto {
    let container = match state.runtime.inspect(&container_name(row.id)).await {
        Ok(Some(info)) => Some(view(&info)),
        Ok(None) => Some(absent()),
        Err(_) => None,
    };
    LinkDto::from_row(row, container)
}

/// Where this process reaches the link's WAHA.
pub async fn base_url(state: &Core, link: &LinkRow) -> Result<String> {
    let cfg = &state.config.waha;
    let name = container_name(link.id);
    if cfg.waha_network.is_some() {
        return Ok(format!("http://{name}:{}", spec::WAHA_PORT));
    }
    let info = state
        .runtime
        .inspect(&name)
        .await
        .map_err(Error::from)?
        .filter(|i| i.state == ContainerState::Running)
        .ok_or_else(|| Error::ContainerDown("The link's session container is not running."))?;
    let port = info
        .host_port
        .ok_or_else(|| Error::ContainerDown("The link's session container publishes no port."))?;
    let host = match cfg.waha_publish_host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        h => h,
    };
    Ok(format!("http://{host}:{port}"))
}

pub async fn client(state: &Core, link: &LinkRow) -> Result<WahaClient> {
    let base = base_url(state, link).await?;
    let key = keys::api_key(
        state.config.waha.master_secret.expose().as_bytes(),
        link.id,
        link.key_version,
    );
    WahaClient::new(state.http.clone(), &base, &key).map_err(Error::from)
}

/// Whether a link runs the WAHA emulator (development and demos) rather than real WAHA.
/// The emulator image is named `…/waha-emulator[:tag]`; real WAHA is `devlikeapro/waha…`.
pub fn is_emulator_image(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split([':', '@']).next() == Some("waha-emulator")
}

/// The emulator's simulated-phone page for a link, as the agent's browser opens it, or `None`
/// when the link runs real WAHA. The URL carries the link's WAHA API key, so it is only ever
/// given to the link's own agent. 409 `phone_not_published` when the container is reachable
/// only on a private Docker network; 503 `link_unreachable` while the container is not running.
pub async fn phone_url(state: &Core, link: &LinkRow) -> Result<Option<String>> {
    if !is_emulator_image(&link.image) {
        return Ok(None);
    }
    if state.config.waha.waha_network.is_some() {
        return Err(Error::PhoneNotPublished);
    }
    let base = base_url(state, link).await?;
    let key = keys::api_key(
        state.config.waha.master_secret.expose().as_bytes(),
        link.id,
        link.key_version,
    );
    Ok(Some(format!("{base}/__emulator/phone?x-api-key={key}")))
}

/// The current raw QR value; 409 when the link is not waiting for a scan.
pub async fn qr_raw(state: &Core, link: &LinkRow) -> Result<String> {
    if link.status != LinkStatus::ScanQr.as_str() {
        return Err(Error::NotScanning(format!(
            "The link is {}; a QR code exists only while it waits for a scan.",
            link.status
        )));
    }
    let c = client(state, link).await?;
    match c.qr_raw().await {
        Ok(raw) => Ok(raw),
        Err(WahaError::WrongStatus { status, .. }) => Err(Error::NotScanning(format!(
            "The WhatsApp session is {status}, not waiting for a scan."
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Fetch the current QR and push it to the agent as `link.qr`.
pub async fn push_qr(state: &Core, link_id: Uuid) {
    let result = async {
        let link = db::links::find(&state.db, link_id)
            .await?
            .ok_or(Error::NotFound)?;
        let raw = qr_raw(state, &link).await?;
        let image = super::qr::png_data_url(&raw)?;
        let mut tx = state.db.begin().await?;
        realtime::publish(
            &mut tx,
            &[link.agent_id],
            "link.qr",
            &json!({"link_id": link.id, "raw": raw, "image": image, "rotation": link.qr_rotations}),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = result {
        tracing::info!(link = %link_id, code = AppError::from(e).code(), "no QR pushed");
    }
}

pub async fn pairing_code(state: &Core, link: &LinkRow, phone: &str) -> Result<String> {
    let phone = crate::auth::service::normalize_phone(phone).ok_or(Error::InvalidPhone)?;
    if link.status != LinkStatus::ScanQr.as_str() {
        return Err(Error::NotScanning(format!(
            "The link is {}; pairing is possible only while it waits for a scan.",
            link.status
        )));
    }
    client(state, link)
        .await?
        .request_code(&phone)
        .await
        .map_err(Error::from)
}

/// Restart the link's container (the login survives on its volume). A link an operator
/// stopped is restarted only by an operator: its agent gets [`Error::StoppedByOperator`].
pub async fn restart(state: &Core, link: &LinkRow, actor: &Actor<'_>) -> Result<()> {
    let name = container_name(link.id);
    let by_operator = actor.user.is_some_and(|u| u.role == Role::Operator);
    if !db::links::set_running(&state.db, link.id, by_operator).await? {
        audit(
            state,
            actor,
            "link.restart",
            link.id,
            false,
            json!({"refused": "stopped_by_operator"}),
        )
        .await;
        return Err(Error::StoppedByOperator);
    }
    let result = match state.runtime.inspect(&name).await.map_err(Error::from)? {
        Some(_) => state
            .runtime
            .restart(&name, STOP_GRACE_SECS)
            .await
            .map_err(Error::from),
        None => Ok(()),
    };
    audit(
        state,
        actor,
        "link.restart",
        link.id,
        result.is_ok(),
        json!({}),
    )
    .await;
    result?;
    db::links::record_restart(&state.db, link.id, false, None).await?;
    transition(state, link.id, LinkStatus::Starting, None, None, None).await?;
    kick(state, link.id);
    spawn_prepare(state, link.id);
    Ok(())
}

/// Unlink the phone but keep the link: WAHA logs out and starts a fresh session (a new QR).
pub async fn logout(state: &Core, link: &LinkRow, actor: &Actor<'_>) -> Result<()> {
    let result = async {
        client(state, link)
            .await?
            .logout()
            .await
            .map_err(Error::from)
    }
    .await;
    audit(
        state,
        actor,
        "link.logout",
        link.id,
        result.is_ok(),
        json!({}),
    )
    .await;
    result?;
    db::links::clear_identity(&state.db, link.id).await?;
    transition(
        state,
        link.id,
        LinkStatus::Starting,
        Some(reason::LOGGED_OUT),
        None,
        None,
    )
    .await?;
    Ok(())
}

/// Stop the container and keep it stopped (operator action).
pub async fn stop(state: &Core, link: &LinkRow, actor: &Actor<'_>) -> Result<()> {
    db::links::set_desired(&state.db, link.id, DesiredState::Stopped).await?;
    let result = state
        .runtime
        .stop(&container_name(link.id), STOP_GRACE_SECS)
        .await
        .map_err(Error::from);
    audit(
        state,
        actor,
        "link.stop",
        link.id,
        result.is_ok(),
        json!({}),
    )
    .await;
    result?;
    transition(
        state,
        link.id,
        LinkStatus::Stopped,
        Some(reason::STOPPED_BY_OPERATOR),
        None,
        None,
    )
    .await?;
    Ok(())
}

/// Remove the container and its volume; the link's conversations stay. Returns false when the
/// engine could not be reached and the removal was left to the supervisor.
pub async fn delete(state: &Core, link: &LinkRow, actor: &Actor<'_>) -> Result<bool> {
    db::links::set_desired(&state.db, link.id, DesiredState::Deleted).await?;
    let done = remove_everything(state, link.id).await;
    audit(
        state,
        actor,
        "link.delete",
        link.id,
        done.is_ok(),
        json!({"deferred": done.is_err()}),
    )
    .await;
    match done {
        Ok(()) => Ok(true),
        Err(e) => {
            tracing::warn!(link = %link.id, error = %e, "removal deferred to the supervisor");
            Ok(false)
        }
    }
}

async fn remove_everything(state: &Core, link_id: Uuid) -> Result<()> {
    if let Some(link) = db::links::find_including_deleted(&state.db, link_id).await? {
        logout_before_removal(state, &link).await;
    }
    state
        .runtime
        .remove_container(&container_name(link_id))
        .await
        .map_err(Error::from)?;
    state
        .runtime
        .remove_volume(&volume_name(link_id))
        .await
        .map_err(Error::from)?;
    let mut tx = state.db.begin().await?;
    db::links::mark_deleted(&mut *tx, link_id).await?;
    if let Some(row) = db::links::find_including_deleted(&mut *tx, link_id).await? {
        publish_status(&mut tx, &row).await?;
    }
    tx.commit().await?;
    tracing::info!(link = %link_id, "link deleted");
    Ok(())
}

/// Log the device out of WhatsApp while the container still runs, so removing it leaves no
/// dead "linked device" on the phone (it counts toward WhatsApp's limit). Best effort: a
/// container that is not running or does not answer is removed anyway (and logged).
async fn logout_before_removal(state: &Core, link: &LinkRow) {
    let running = matches!(
        state.runtime.inspect(&container_name(link.id)).await,
        Ok(Some(ref info)) if info.state == ContainerState::Running
    );
    if !running {
        return;
    }
    // WAHA's logout takes seconds (it restarts the session); do not hold a delete much longer.
    let timeouts = Timeouts {
        call: Duration::from_secs(10),
        ..Timeouts::default()
    };
    let outcome = async {
        client(state, link)
            .await?
            .with_timeouts(timeouts)
            .logout()
            .await
            .map_err(Error::from)
    }
    .await;
    match outcome {
        Ok(_) => tracing::info!(link = %link.id, "logged out before removal"),
        Err(e) => tracing::warn!(
            link = %link.id,
            code = e.code(),
            "could not log out before removal; the phone may keep a stale linked device"
        ),
    }
}

/// Delay before the n-th consecutive restart of a crashing container.
pub fn backoff(failures: i32) -> Duration {
    let n = u32::try_from(failures.clamp(1, 10) - 1).unwrap_or(0);
    Duration::from_secs(5u64.saturating_mul(1 << n)).min(Duration::from_secs(300))
}

/// Reconcile one link now, in the background, from this process.
pub fn kick(core: &Core, link: Uuid) {
    let task = core.clone();
    core.spawn(async move {
        if let Err(e) = reconcile_link(&task, link).await {
            tracing::warn!(link = %link, code = e.code(), error = %e, "reconcile failed");
        }
    });
}

/// Make one link's container match its desired state. Idempotent; safe to call from any
/// replica (names are deterministic) and concurrently (serialised per link in-process).
pub async fn reconcile_link(state: &Core, link_id: Uuid) -> Result<()> {
    let _guard = state.supervisor.lock_link(link_id).await;
    let _permit = state.supervisor.docker_permit().await;
    let Some(link) = db::links::find(&state.db, link_id).await? else {
        return Ok(());
    };
    let rt = &state.runtime;
    let name = container_name(link.id);
    match link.desired_state {
        DesiredState::Deleted => return remove_everything(state, link.id).await,
        DesiredState::Stopped => {
            rt.stop(&name, STOP_GRACE_SECS).await.map_err(Error::from)?;
            if link.status != LinkStatus::Stopped.as_str() {
                // Only an operator makes a link's desired state `stopped`.
                transition(
                    state,
                    link.id,
                    LinkStatus::Stopped,
                    Some(reason::STOPPED_BY_OPERATOR),
                    None,
                    None,
                )
                .await?;
            }
            return Ok(());
        }
        DesiredState::Running => {}
    }
    let info = rt.inspect(&name).await.map_err(Error::from)?;
    match info {
        None => create_and_start(state, &link).await,
        Some(info)
            if matches!(
                info.state,
                ContainerState::Running | ContainerState::Restarting
            ) =>
        {
            if link.container_id.as_deref() != Some(info.id.as_str()) {
                db::links::set_container(&state.db, link.id, Some(&info.id)).await?;
            }
            if info.state == ContainerState::Running {
                if !prepared_for(&link, &info) {
                    if let Err(e) = prepare_session(state, &link, &info).await {
                        tracing::info!(link = %link.id, code = e.code(), "session not prepared yet");
                        // A start Puente did not make (Docker's restart policy, an operator):
                        // keep trying as soon as WAHA answers rather than at the next pass.
                        let recent = info
                            .started_at
                            .is_some_and(|t| Utc::now() - t < chrono::Duration::seconds(60));
                        if recent {
                            spawn_prepare(state, link.id);
                        }
                    }
                    return Ok(());
                }
                check_session(state, &link).await;
            }
            Ok(())
        }
        Some(_)
            if link.status == LinkStatus::Failed.as_str()
                && link.status_reason.as_deref() == Some(reason::IMAGE_TOO_OLD) =>
        {
            // Refused image: stays stopped until someone restarts the link.
            Ok(())
        }
        Some(info) => {
            // Exited, dead or never started: restart with crash-loop backoff.
            let now = Utc::now();
            if link.next_attempt_at.is_some_and(|t| t > now) {
                return Ok(());
            }
            let failures = link.consecutive_failures + 1;
            let next = now + chrono::Duration::from_std(backoff(failures)).unwrap_or_default();
            let was_created = info.state == ContainerState::Created;
            rt.start(&info.id).await.map_err(Error::from)?;
            db::links::record_restart(&state.db, link.id, !was_created, Some(next)).await?;
            let why = if failures >= 5 {
                reason::CRASH_LOOP
            } else {
                reason::CRASHED
            };
            tracing::warn!(link = %link.id, failures, exit = ?info.exit_code, "restarted a stopped container");
            spawn_prepare(state, link.id);
            transition(
                state,
                link.id,
                LinkStatus::Starting,
                (!was_created).then_some(why),
                None,
                None,
            )
            .await?;
            Ok(())
        }
    }
}

async fn create_and_start(state: &Core, link: &LinkRow) -> Result<()> {
    let rt = &state.runtime;
    let cfg = &state.config.waha;
    if !rt.image_exists(&link.image).await.map_err(Error::from)? {
        transition(
            state,
            link.id,
            LinkStatus::Failed,
            Some(reason::IMAGE_MISSING),
            None,
            None,
        )
        .await?;
        return Ok(());
    }
    rt.ensure_volume(&volume_name(link.id), &spec::labels(cfg, link))
        .await
        .map_err(Error::from)?;
    let mut spec = spec::container_spec(cfg, link, &state.webhook_base);
    // On a Swarm, pinned to the node that holds (or will hold) the link's volume.
    spec.node = super::placement::ensure(state, link).await?;
    let id = match rt.create_container(&spec).await {
        Ok(id) => id,
        Err(RuntimeError::Conflict { .. }) => {
            match rt.inspect(&spec.name).await.map_err(Error::from)? {
                Some(info) => info.id,
                None => return Ok(()),
            }
        }
        Err(RuntimeError::ImageMissing(_)) => {
            transition(
                state,
                link.id,
                LinkStatus::Failed,
                Some(reason::IMAGE_MISSING),
                None,
                None,
            )
            .await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    db::links::set_container(&state.db, link.id, Some(&id)).await?;
    rt.start(&id).await.map_err(Error::from)?;
    let recreated = link.container_id.is_some();
    if recreated {
        db::links::record_restart(&state.db, link.id, false, None).await?;
        tracing::warn!(link = %link.id, "container was missing; re-created it on the same volume");
    }
    transition(state, link.id, LinkStatus::Starting, None, None, None).await?;
    spawn_prepare(state, link.id);
    Ok(())
}

/// Session settings Puente needs beyond WAHA's defaults: NOWEB keeps no message history
/// unless its store is enabled, and the catch-up after downtime reads that history.
/// (GOWS stores messages by default; WEBJS reads them from WhatsApp Web.)
pub fn session_config(engine: &str) -> Option<serde_json::Value> {
    (engine == "NOWEB").then(
        || json!({"noweb": {"store": {"enabled": true, "fullSync": false}, "markOnline": true}}),
    )
}

/// Whether the session of this container start has been prepared already. Postgres keeps
/// microseconds, Docker nanoseconds: compare at microsecond precision.
fn prepared_for(link: &LinkRow, info: &ContainerInfo) -> bool {
    match (link.session_prepared_for, info.started_at) {
        (Some(done), Some(started)) => done.timestamp_micros() == started.timestamp_micros(),
        // A running container always has a start time; without one there is nothing to key on.
        (_, None) => true,
        (None, Some(_)) => false,
    }
}

/// Prepare the session of a container that was just (re)started, as soon as WAHA answers,
/// rather than waiting for the next reconcile pass. Owned by the reconciler in effect: when
/// this gives up, the next pass prepares it.
fn spawn_prepare(state: &Core, link_id: Uuid) {
    let state = state.clone();
    state.tasks.clone().spawn(async move {
        for _ in 0..60 {
            if state.shutdown.is_cancelled() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Ok(Some(link)) = db::links::find(&state.db, link_id).await else {
                return;
            };
            if link.desired_state != DesiredState::Running {
                return;
            }
            let answers = match client(&state, &link).await {
                Ok(c) => c.ping().await.is_ok(),
                Err(_) => false,
            };
            if !answers {
                continue;
            }
            let _guard = state.supervisor.lock_link(link_id).await;
            let Ok(Some(link)) = db::links::find(&state.db, link_id).await else {
                return;
            };
            let Ok(Some(info)) = state.runtime.inspect(&container_name(link_id)).await else {
                continue;
            };
            if info.state != ContainerState::Running || link.desired_state != DesiredState::Running
            {
                continue;
            }
            if prepared_for(&link, &info) {
                return;
            }
            match prepare_session(&state, &link, &info).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::info!(link = %link_id, code = e.code(), "session not prepared yet")
                }
            }
        }
    });
}

/// Make the session of this container start ready: read and record WAHA's version (refusing
/// and stopping images older than [`MIN_WAHA_VERSION`]), then create/start the session with
/// Puente's config ([`WahaClient::ensure_started`]). Recorded per container start, so a start
/// is prepared once and a failed attempt is retried by the next reconcile pass.
pub async fn prepare_session(state: &Core, link: &LinkRow, info: &ContainerInfo) -> Result<()> {
    let Some(started_at) = info.started_at else {
        return Ok(());
    };
    let c = client(state, link).await?;
    match c.server_version().await {
        Ok(v) => {
            db::links::set_waha_version(
                &state.db,
                link.id,
                v.version.as_deref(),
                v.engine.as_deref(),
                v.tier.as_deref(),
            )
            .await?;
            let parsed = v.version.as_deref().and_then(parse_waha_version);
            if parsed.is_some_and(|p| p < MIN_WAHA_VERSION) {
                tracing::warn!(
                    link = %link.id,
                    version = v.version.as_deref().unwrap_or(""),
                    "WAHA image too old (unsigned webhooks); refusing it"
                );
                db::links::set_session_prepared(&state.db, link.id, started_at).await?;
                transition(
                    state,
                    link.id,
                    LinkStatus::Failed,
                    Some(reason::IMAGE_TOO_OLD),
                    None,
                    None,
                )
                .await?;
                state
                    .runtime
                    .stop(&container_name(link.id), STOP_GRACE_SECS)
                    .await
                    .map_err(Error::from)?;
                return Ok(());
            }
            if parsed.is_none() {
                tracing::warn!(link = %link.id, "WAHA reported no readable version");
            }
        }
        // Not every build has the endpoint; the session is still prepared.
        Err(WahaError::NotFound) => {
            tracing::warn!(link = %link.id, "WAHA has no /api/server/version")
        }
        Err(e) => return Err(e.into()),
    }
    c.ensure_started(session_config(&link.engine))
        .await
        .map_err(Error::from)?;
    db::links::set_session_prepared(&state.db, link.id, started_at).await?;
    tracing::info!(link = %link.id, "session prepared for this container start");
    Ok(())
}

/// For a running container: catch up a status we may have missed, and probe silent links.
async fn check_session(state: &Core, link: &LinkRow) {
    let now = Utc::now();
    let current: Option<LinkStatus> = link.status.parse().ok();
    let stale_status = matches!(
        current,
        Some(LinkStatus::Provisioning | LinkStatus::Starting | LinkStatus::Failed)
    ) && now - link.updated_at > chrono::Duration::seconds(10);
    let silent_for = chrono::Duration::seconds(
        i64::try_from(state.config.waha.silent_after_secs).unwrap_or(600),
    );
    let quiet_since = link
        .last_event_at
        .or(link.working_since)
        .unwrap_or(link.updated_at);
    let silent = current == Some(LinkStatus::Working)
        && now - quiet_since > silent_for
        && link.last_probe_at.is_none_or(|p| now - p > silent_for);
    if !stale_status && !silent {
        return;
    }
    let probe = match client(state, link).await {
        Ok(c) => c.session().await,
        Err(e) => Err(WahaError::Unreachable(e.code().to_string())),
    };
    let _ = db::links::set_probed(&state.db, link.id).await;
    let needs_repair = match &probe {
        Ok(info) => info.status == SessionStatus::Stopped,
        Err(e) => matches!(e, WahaError::NotFound),
    };
    if needs_repair && link.status != LinkStatus::Failed.as_str() {
        repair_session(state, link).await;
        return;
    }
    let session = probe.map_err(Error::from);
    match session {
        Ok(info) => {
            let waha_status = info.status.as_str().to_string();
            if let Some((status, why)) = super::map_session_status(
                &waha_status,
                link.status.parse().unwrap_or(LinkStatus::Starting),
            ) {
                // A link that is already failed stays failed for the reason it was given
                // (`logged_out`, `qr_expired`): WAHA's FAILED says nothing more about why.
                let why = if status == LinkStatus::Failed && current == Some(LinkStatus::Failed) {
                    link.status_reason.as_deref().or(why)
                } else {
                    why
                };
                if stale_status {
                    let me = info.me.as_ref().filter(|_| status == LinkStatus::Working);
                    let phone = me.and_then(|m| m.phone());
                    let identity = me.map(|m| Identity::of(m, phone.as_deref()));
                    let _ = transition(state, link.id, status, why, None, identity).await;
                }
                if silent && status != LinkStatus::Working {
                    restart_silent(state, link).await;
                }
            }
        }
        Err(e) => {
            tracing::warn!(link = %link.id, code = e.code(), "session probe failed");
            if silent {
                restart_silent(state, link).await;
            }
        }
    }
}

/// The session is STOPPED (someone's `/stop`, a failed predefined start) or absent (an image
/// that does not create it, a `DELETE`): create/start it again with Puente's config.
async fn repair_session(state: &Core, link: &LinkRow) {
    tracing::warn!(link = %link.id, "session stopped or absent in a running container; starting it");
    let outcome = async {
        client(state, link)
            .await?
            .ensure_started(session_config(&link.engine))
            .await
            .map_err(Error::from)
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(link = %link.id, code = e.code(), "could not repair the session");
    }
}

async fn restart_silent(state: &Core, link: &LinkRow) {
    tracing::warn!(link = %link.id, "link silent and failing its probe; restarting its container");
    if state
        .runtime
        .restart(&container_name(link.id), STOP_GRACE_SECS)
        .await
        .is_ok()
    {
        let _ = db::links::record_restart(&state.db, link.id, false, None).await;
        let _ = transition(
            state,
            link.id,
            LinkStatus::Starting,
            Some(reason::SILENT),
            None,
            None,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_is_recognised_by_its_image_name() {
        assert!(is_emulator_image("puente/waha-emulator:dev"));
        assert!(is_emulator_image(
            "registry.example:5000/puente/waha-emulator@sha256:ab"
        ));
        assert!(is_emulator_image("waha-emulator"));
        assert!(!is_emulator_image("devlikeapro/waha:latest"));
        assert!(!is_emulator_image("devlikeapro/waha-plus"));
        assert!(!is_emulator_image("evil/waha-emulator-not:1"));
    }

    #[test]
    fn waha_versions_are_read_leniently_and_compared() {
        assert_eq!(parse_waha_version("2026.2.1"), Some((2026, 2, 1)));
        assert_eq!(parse_waha_version("2025.3.2-plus"), Some((2025, 3, 2)));
        assert_eq!(parse_waha_version("v2024.10.8"), Some((2024, 10, 8)));
        assert_eq!(parse_waha_version("2026.7"), Some((2026, 7, 0)));
        assert_eq!(parse_waha_version("latest"), None);
        assert_eq!(parse_waha_version(""), None);
        assert!(parse_waha_version("2025.3.1").unwrap() < MIN_WAHA_VERSION);
        assert!(parse_waha_version("2024.12.9").unwrap() < MIN_WAHA_VERSION);
        assert!(parse_waha_version("2025.3.2").unwrap() >= MIN_WAHA_VERSION);
        assert!(parse_waha_version("2025.10.1").unwrap() >= MIN_WAHA_VERSION);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(9), Duration::from_secs(300));
        assert_eq!(backoff(100), Duration::from_secs(300));
    }
}
