//! WhatsApp links: one WAHA container per linked number, its status, its QR, and the actions
//! agents and operators take on it.
//!
//! Invariants:
//! - A link's status changes only through [`service::transition`], which locks the row,
//!   ignores `session.status` reports older than the last one applied (WAHA does not order
//!   its webhooks), persists the change and publishes `link.status` in the same transaction.
//!   A link whose desired state is `deleted` no longer changes status.
//! - What should run is the link's [`DesiredState`](crate::model::DesiredState) (`running`,
//!   `stopped`, `deleted`), set by the actions; [`service::reconcile_link`] makes the container
//!   match it, serialised per link in this process ([`supervisor`]).
//! - Containers and volumes are named from the link id, so provisioning is idempotent across
//!   replicas: a second creator meets a name conflict and adopts the existing container.
//! - Per-link keys are derived, never stored or returned ([`keys`]).
//! - Every operation fails with one [`Error`] enum ([`errors`]): callers decide by variant
//!   (`is_transient`), and the edge turns it into a problem (503 when retryable).
//!
//! Layout: [`service`] (the operations behind the HTTP handlers, the CLI and the supervisor:
//! create, read, QR, pairing code, restart, logout, stop, delete, status transitions,
//! reconcile), [`placement`] (which Swarm node holds a link) and [`nodes`] (draining and
//! activating nodes), [`supervisor`] (this process's leadership flag, per-link locks and
//! Docker permits), [`spec`] (the container spec), [`keys`], [`qr`] (rendering), [`errors`].

pub mod errors;
pub mod keys;
pub mod nodes;
pub mod placement;
pub mod qr;
pub mod service;
pub mod spec;
pub mod supervisor;

pub use errors::Error;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::links::LinkRow;
use crate::model::MessageKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Row created; the container is being created.
    Provisioning,
    /// The container runs; the WhatsApp session is starting.
    Starting,
    /// Waiting for the agent to scan the QR code (or enter a pairing code).
    ScanQr,
    /// Linked and connected.
    Working,
    /// Needs an action; see the reason.
    Failed,
    /// Stopped on purpose.
    Stopped,
}

impl LinkStatus {
    /// How far along its way up a session is (provisioning → starting → scan → working;
    /// failed and stopped are ends). WAHA stamps reports in milliseconds and posts each on
    /// its own, so two reports of the same millisecond are ordered by this instead.
    pub fn progress(self) -> u8 {
        match self {
            Self::Provisioning => 0,
            Self::Starting => 1,
            Self::ScanQr => 2,
            Self::Working => 3,
            Self::Failed | Self::Stopped => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Starting => "starting",
            Self::ScanQr => "scan_qr",
            Self::Working => "working",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "provisioning" => Self::Provisioning,
            "starting" => Self::Starting,
            "scan_qr" => Self::ScanQr,
            "working" => Self::Working,
            "failed" => Self::Failed,
            "stopped" => Self::Stopped,
            other => return Err(format!("unknown link status {other:?}")),
        })
    }
}

/// Reasons a link is `failed` (or why it is in another state), as stored and returned.
pub mod reason {
    pub const QR_EXPIRED: &str = "qr_expired";
    pub const LOGGED_OUT: &str = "logged_out";
    pub const CRASHED: &str = "crashed";
    pub const IMAGE_MISSING: &str = "image_missing";
    pub const UNREACHABLE: &str = "unreachable";
    pub const SESSION_FAILED: &str = "session_failed";
    pub const CRASH_LOOP: &str = "crash_loop";
    pub const STOPPED_BY_OPERATOR: &str = "stopped_by_operator";
    pub const SILENT: &str = "silent_restarted";
    pub const PASSKEY: &str = "passkey_required";
    /// The session went FAILED without ever showing a QR code (or reaching WhatsApp): the
    /// engine could not connect — a different failure from a QR code left unscanned.
    pub const CONNECT_FAILED: &str = "connect_failed";
    /// The WAHA image is older than the oldest Puente accepts (it cannot sign webhooks).
    pub const IMAGE_TOO_OLD: &str = "image_too_old";
    /// Moved to another Swarm node (its node was drained); the login stayed on the old node.
    pub const MOVED_NODE: &str = "moved_node_needs_scan";
}

/// What WAHA's session status means for the link, given the status it had before.
/// `None`: a status we do not know; keep the current one.
pub fn map_session_status(
    waha: &str,
    previous: LinkStatus,
) -> Option<(LinkStatus, Option<&'static str>)> {
    Some(match waha {
        "STOPPED" => (LinkStatus::Starting, None),
        "STARTING" => (LinkStatus::Starting, None),
        "SCAN_QR_CODE" => (LinkStatus::ScanQr, None),
        "PASSKEY_REQUIRED" | "PASSKEY_CONFIRMATION_REQUIRED" => {
            (LinkStatus::ScanQr, Some(reason::PASSKEY))
        }
        "WORKING" => (LinkStatus::Working, None),
        "FAILED" => (
            LinkStatus::Failed,
            Some(match previous {
                LinkStatus::ScanQr => reason::QR_EXPIRED,
                LinkStatus::Working => reason::LOGGED_OUT,
                // Never got to a QR code: the engine could not reach WhatsApp.
                LinkStatus::Starting | LinkStatus::Provisioning => reason::CONNECT_FAILED,
                _ => reason::SESSION_FAILED,
            }),
        ),
        _ => return None,
    })
}

/// `2026.2.1`, `2025.3.2-plus`, `v2024.10.8` → the three numbers; `None` when unreadable.
pub fn parse_waha_version(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.trim().trim_start_matches(['v', 'V']);
    let mut parts = v.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The kinds of message a link can send, from what its WAHA reported (tier and version).
/// Before it reported anything: every kind (a refusal then fails the message for good, with
/// `not_supported_by_link`). Plus: every kind. Core: text only before 2026.6 (media is
/// Plus-only there); from 2026.6 text and media but no video (not implemented on Core).
pub fn can_send(row: &LinkRow) -> Vec<MessageKind> {
    sendable(row.waha_tier.as_deref(), row.waha_version.as_deref())
}

fn sendable(tier: Option<&str>, version: Option<&str>) -> Vec<MessageKind> {
    use MessageKind::*;
    match tier.map(str::to_ascii_uppercase).as_deref() {
        Some("CORE") => match version.and_then(parse_waha_version) {
            Some(v) if v < (2026, 6, 0) => vec![Text],
            _ => vec![Text, Image, Voice, Audio, File],
        },
        _ => vec![Text, Image, Video, Voice, Audio, File],
    }
}

/// What to tell the agent to do about a failure reason.
pub fn action_for(reason: Option<&str>) -> Option<&'static str> {
    match reason? {
        reason::QR_EXPIRED => Some("The QR code expired before it was scanned: restart the link to get a new one."),
        reason::LOGGED_OUT => Some("WhatsApp unlinked this device: restart the link and scan the new QR code."),
        reason::IMAGE_MISSING => Some("The WAHA image is not installed on the server: ask an operator."),
        reason::CRASH_LOOP | reason::CRASHED => Some("The session keeps crashing; it is restarted with backoff. Ask an operator if it persists."),
        reason::SESSION_FAILED => Some("The WhatsApp session failed: restart the link; if it fails again, log out and link again."),
        reason::UNREACHABLE => Some("The session container cannot be reached; it is being restarted."),
        reason::CONNECT_FAILED => Some("WhatsApp could not be reached: the session failed before it could show a QR code, so there was nothing to scan. Restart the link; if it fails again, ask an operator to check the server's internet access (firewall, proxy, DNS) and the WAHA version."),
        reason::MOVED_NODE => Some("The session was moved to another server and its WhatsApp login stayed on the old one: scan the new QR code to link again."),
        reason::IMAGE_TOO_OLD => Some("The server's WAHA image is too old to be used safely: ask an operator to install a newer one."),
        _ => None,
    }
}

/// The container's state as shown to agents and operators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerView {
    /// created | running | restarting | paused | exited | dead | removing | unknown | absent
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub restart_count: i64,
}

/// A link as its agent sees it. No keys, no container internals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkDto {
    pub id: Uuid,
    pub status: LinkStatus,
    pub status_reason: Option<String>,
    /// What to do about a failure, in words.
    pub action: Option<String>,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub engine: String,
    /// What the link's WAHA image says it is (`GET /api/server/version`), once read.
    pub waha_version: Option<String>,
    pub waha_engine: Option<String>,
    /// `CORE` or `PLUS`.
    pub waha_tier: Option<String>,
    /// The kinds of message this link can send, from its WAHA's tier and version: Core before
    /// 2026.6 sends text only (media is Plus-only there), no Core engine sends video.
    pub can_send: Vec<MessageKind>,
    pub qr_rotations: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub working_since: Option<DateTime<Utc>>,
    pub container: Option<ContainerView>,
}

impl LinkDto {
    pub fn from_row(row: &LinkRow, container: Option<ContainerView>) -> Self {
        Self {
            id: row.id,
            status: row.status.parse().unwrap_or(LinkStatus::Failed),
            status_reason: row.status_reason.clone(),
            action: action_for(row.status_reason.as_deref()).map(str::to_string),
            phone: row.phone.clone(),
            push_name: row.push_name.clone(),
            engine: row.engine.clone(),
            waha_version: row.waha_version.clone(),
            waha_engine: row.waha_engine.clone(),
            waha_tier: row.waha_tier.clone(),
            can_send: can_send(row),
            qr_rotations: row.qr_rotations,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_event_at: row.last_event_at,
            working_since: row.working_since,
            container,
        }
    }
}

/// Docker names derived from a link id.
pub fn container_name(id: Uuid) -> String {
    format!("puente-waha-{}", id.simple())
}

pub fn volume_name(id: Uuid) -> String {
    format!("puente-waha-{}-sessions", id.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_link_can_send_follows_its_waha() {
        use crate::model::MessageKind::*;
        assert_eq!(sendable(Some("CORE"), Some("2026.2.1")), vec![Text]);
        assert_eq!(
            sendable(Some("CORE"), Some("2026.6.0")),
            vec![Text, Image, Voice, Audio, File]
        );
        assert!(sendable(Some("PLUS"), Some("2026.2.1")).contains(&Video));
        assert!(
            sendable(None, None).contains(&Video),
            "nothing known yet: let WAHA say"
        );
    }

    #[test]
    fn session_status_mapping() {
        use LinkStatus::*;
        assert_eq!(
            map_session_status("SCAN_QR_CODE", Starting),
            Some((ScanQr, None))
        );
        assert_eq!(map_session_status("WORKING", ScanQr), Some((Working, None)));
        assert_eq!(
            map_session_status("FAILED", ScanQr),
            Some((Failed, Some(reason::QR_EXPIRED)))
        );
        assert_eq!(
            map_session_status("FAILED", Working),
            Some((Failed, Some(reason::LOGGED_OUT)))
        );
        assert_eq!(
            map_session_status("FAILED", Starting),
            Some((Failed, Some(reason::CONNECT_FAILED)))
        );
        assert_eq!(
            map_session_status("FAILED", Stopped),
            Some((Failed, Some(reason::SESSION_FAILED)))
        );
        assert_eq!(
            map_session_status("PASSKEY_REQUIRED", Starting),
            Some((ScanQr, Some(reason::PASSKEY)))
        );
        assert_eq!(map_session_status("SOMETHING_NEW", Working), None);
        for s in [Provisioning, Starting, ScanQr, Working, Failed, Stopped] {
            assert_eq!(s.as_str().parse::<LinkStatus>(), Ok(s));
        }
    }

    #[test]
    fn names_derive_from_the_id() {
        let id = Uuid::nil();
        assert_eq!(
            container_name(id),
            "puente-waha-00000000000000000000000000000000"
        );
        assert!(volume_name(id).ends_with("-sessions"));
    }
}
