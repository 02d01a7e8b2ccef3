//! Fault injection set through `POST /__emulator/faults` — the failure modes real WAHA shows in
//! production (contract §9): duplicate webhooks, reordering, slow delivery, "WORKING but silent".
//! The `exit` fault is handled by the HTTP layer (it ends the process).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The current faults. All off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Probability (0..=1) that a webhook is posted twice (same envelope, new request id).
    pub duplicate_rate: f64,
    /// Random extra delay 0..=N ms before each webhook's first attempt: later events overtake.
    pub reorder_max_ms: u64,
    /// Fixed extra delay before each webhook's first attempt.
    pub extra_delay_ms: u64,
    /// "WORKING but silent": status stays WORKING, no webhook leaves, acks stop progressing for
    /// the phone; sends are still accepted (201) as on real WAHA. Events are kept in a backlog and
    /// flushed in a burst when the session is restarted (which also clears this flag).
    pub silent: bool,
}

/// Shared, lock-protected faults. A std mutex: it is never held across an await.
#[derive(Debug, Default)]
pub struct FaultState {
    inner: Mutex<Faults>,
}

impl FaultState {
    pub fn snapshot(&self) -> Faults {
        match self.inner.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn set(&self, faults: Faults) {
        match self.inner.lock() {
            Ok(mut g) => *g = faults,
            Err(p) => *p.into_inner() = faults,
        }
    }

    pub fn clear_silent(&self) {
        let mut f = self.snapshot();
        if f.silent {
            f.silent = false;
            self.set(f);
        }
    }
}
