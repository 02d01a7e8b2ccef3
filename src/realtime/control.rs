//! Ending sockets when the account or session behind them ends, on every replica.
//!
//! A WebSocket is authenticated once, at the upgrade; what it may keep receiving afterwards
//! is decided here. Whoever ends an account's access — deactivation, a password change, a
//! logout, a refresh-token family revoked for reuse — calls [`end_sockets`] in the same
//! transaction: it queues a `NOTIFY` on [`CONTROL_CHANNEL`], delivered only if the
//! transaction commits, that every replica's listener hands to its hub, which tells the
//! matching sockets to close with the reason's code ([`CloseReason::code`]).
//!
//! Invariants:
//! - **Close codes are a contract** (the web client treats 4001–4003 as "signed out, with
//!   this reason"): 4001 `account_inactive`, 4002 `password_changed` / `session_ended`,
//!   4003 `token_expired`; the reason string travels in the close frame.
//! - **A missed notice is caught up.** When the NOTIFY bridge reconnects, sockets re-check
//!   their account and session in the database ([`check`]), as they re-read events.
//!
//! The path of a notice: [`end_sockets`] → `NOTIFY` [`CONTROL_CHANNEL`] →
//! [`super::listener`] → [`super::hub::Hub::close`] → the socket task closes
//! ([`super::ws`]).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;

/// The NOTIFY channel carrying socket-closing notices.
pub const CONTROL_CHANNEL: &str = "puente_control";

/// Why a socket is closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The account was deactivated.
    AccountInactive,
    /// The password changed: every earlier session ended.
    PasswordChanged,
    /// The session was ended (logout, or its refresh token was reused).
    SessionEnded,
    /// The access token the socket was opened (or last refreshed) with expired.
    TokenExpired,
}

impl CloseReason {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Self::AccountInactive => 4001,
            Self::PasswordChanged | Self::SessionEnded => 4002,
            Self::TokenExpired => 4003,
        }
    }

    /// The close frame's reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountInactive => "account_inactive",
            Self::PasswordChanged => "password_changed",
            Self::SessionEnded => "session_ended",
            Self::TokenExpired => "token_expired",
        }
    }
}

/// Which of a user's sockets a notice closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "session")]
pub enum Scope {
    /// Every socket of the user.
    All,
    /// Every socket but those of this session (the caller's new one).
    AllBut(Uuid),
    /// The sockets of this session only.
    Session(Uuid),
}

impl Scope {
    /// Does the notice reach a socket of session `session`?
    pub fn covers(self, session: Option<Uuid>) -> bool {
        match self {
            Self::All => true,
            Self::AllBut(keep) => session != Some(keep),
            Self::Session(s) => session == Some(s),
        }
    }
}

/// What travels over [`CONTROL_CHANNEL`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ControlNotice {
    pub user: Uuid,
    pub scope: Scope,
    pub reason: CloseReason,
}

/// Close `user`'s sockets in `scope` on every replica once the caller's transaction commits.
pub async fn end_sockets(
    conn: &mut PgConnection,
    user: Uuid,
    scope: Scope,
    reason: CloseReason,
) -> Result<()> {
    let text = serde_json::to_string(&ControlNotice {
        user,
        scope,
        reason,
    })
    .unwrap_or_default();
    crate::db::realtime::notify(conn, CONTROL_CHANNEL, &text).await
}

/// Re-check a socket's account and session: the reason to close it, if any.
pub async fn check(
    db: &sqlx::PgPool,
    user: Uuid,
    session: Option<Uuid>,
) -> Result<Option<CloseReason>> {
    let row = crate::db::tokens::socket_standing(db, user, session).await?;
    Ok(match row {
        None => Some(CloseReason::AccountInactive),
        Some((false, _)) => Some(CloseReason::AccountInactive),
        Some((true, false)) => Some(CloseReason::SessionEnded),
        Some((true, true)) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_scopes() {
        assert_eq!(CloseReason::AccountInactive.code(), 4001);
        assert_eq!(CloseReason::PasswordChanged.code(), 4002);
        assert_eq!(CloseReason::SessionEnded.code(), 4002);
        assert_eq!(CloseReason::TokenExpired.code(), 4003);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(Scope::All.covers(None));
        assert!(Scope::AllBut(a).covers(Some(b)) && !Scope::AllBut(a).covers(Some(a)));
        assert!(Scope::Session(a).covers(Some(a)) && !Scope::Session(a).covers(None));
        let n: ControlNotice = serde_json::from_str(
            &serde_json::to_string(&ControlNotice {
                user: a,
                scope: Scope::AllBut(b),
                reason: CloseReason::PasswordChanged,
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(n.scope, Scope::AllBut(b));
    }
}
