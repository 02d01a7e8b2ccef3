//! Short-lived, single-use tickets that open one WebSocket (`/api/v1/ws?ticket=…`), so a
//! browser need not put its access token in a URL.
//!
//! Invariants: the ticket itself is never stored, only its SHA-256; it lives [`TICKET_TTL_SECS`]
//! seconds; redeeming deletes its row in the same statement that reads it, so it works once
//! even when two replicas race for it. The user is re-read on redemption: a user deactivated
//! after asking for a ticket cannot use it. A ticket carries the expiry and session of the
//! access token that asked for it, so the socket it opens lives no longer than that token
//! (see [`super::ws`]) and ends with that session.

use crate::auth::extract::AuthUser;
use crate::auth::tokens::{now_secs, random_token, token_hash};
use crate::core::Core;
use crate::db::tickets as db;
use crate::error::{AppError, Result};
use crate::model::Role;

/// How long a ticket can be redeemed, in seconds.
pub const TICKET_TTL_SECS: i64 = 60;

/// Issue a ticket for `user`; returns the ticket (shown once).
pub async fn issue(core: &Core, user: &AuthUser) -> Result<String> {
    let ticket = random_token(32);
    let mut tx = core.db.begin().await?;
    // Housekeeping: expired tickets are useless.
    db::delete_expired(&mut tx).await?;
    db::insert(
        &mut tx,
        db::NewTicket {
            token_hash: &token_hash(&ticket),
            user_id: user.id,
            token_id: user.token_id,
            token_exp: user.token_exp as f64,
            session_id: user.session,
            ttl_secs: TICKET_TTL_SECS as f64,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ticket)
}

fn invalid() -> AppError {
    AppError::unauthorized(
        "invalid_ticket",
        "The ticket is unknown, already used or expired; ask for a new one.",
    )
}

/// Spend a ticket: the user it was issued to, or 401 when it is unknown, used or expired.
pub async fn redeem(core: &Core, ticket: &str) -> Result<AuthUser> {
    if ticket.is_empty() || ticket.len() > 100 {
        return Err(invalid());
    }
    let row = db::spend(&core.db, &token_hash(ticket))
        .await?
        .ok_or_else(invalid)?;
    if !row.live {
        return Err(invalid());
    }
    if !row.active {
        return Err(AppError::unauthorized(
            "account_inactive",
            "This account has been deactivated.",
        ));
    }
    let role: Role = row
        .role
        .parse()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    Ok(AuthUser {
        id: row.user_id,
        role,
        agency_id: row.agency_id,
        token_id: row.token_id,
        session: row.session_id,
        // A ticket from before tickets kept it: the shortest life a token could have left.
        token_exp: row
            .token_exp
            .and_then(|t| u64::try_from(t).ok())
            .unwrap_or_else(|| now_secs() + TICKET_TTL_SECS as u64),
    })
}
