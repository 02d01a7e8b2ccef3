//! The live-only half of realtime: [`signal`] sends a [`Signal`] (`typing`, `presence`) to
//! users' sockets on whichever replica holds them, through [`SIGNAL_CHANNEL`].
//!
//! Invariants:
//! - **Signals are not events.** A signal has no sequence number: it is not stored, not
//!   replayed on reconnect, not counted in the user's sequence, and dropped rather than
//!   resynced when a socket's queue is full or the NOTIFY bridge was away. It is only
//!   meaningful now; a client that missed it loses nothing it could act on later.
//! - **A notice fits.** Large audiences are split over several notices to stay under
//!   PostgreSQL's payload limit; a signal too large for any notice is dropped (and logged).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::events::INLINE_LIMIT;
use super::protocol::Signal;
use crate::db::realtime as db;
use crate::error::Result;

/// The NOTIFY channel carrying signals (not stored, no sequence number).
pub const SIGNAL_CHANNEL: &str = "puente_signals";

/// What travels over [`SIGNAL_CHANNEL`]: the addressees and the signal.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignalNotice {
    pub users: Vec<Uuid>,
    pub signal: Signal,
}

/// Send `signal` to every socket of `users`, on whichever replica it is. Within a transaction
/// it goes out on commit, otherwise at once.
pub async fn signal(conn: &mut PgConnection, users: &[Uuid], signal: &Signal) -> Result<()> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    if users.is_empty() {
        return Ok(());
    }
    let base = serde_json::to_string(signal).unwrap_or_default().len() + 32;
    if base > INLINE_LIMIT {
        tracing::warn!(
            kind = signal.kind(),
            size = base,
            "signal too large to send; dropped"
        );
        return Ok(());
    }
    // A UUID takes 39 bytes in the JSON list.
    let per_notice = ((INLINE_LIMIT - base) / 39).max(1);
    for chunk in users.chunks(per_notice) {
        let notice = SignalNotice {
            users: chunk.to_vec(),
            signal: signal.clone(),
        };
        let text = serde_json::to_string(&notice).unwrap_or_default();
        db::notify(&mut *conn, SIGNAL_CHANNEL, &text).await?;
    }
    Ok(())
}
