//! [`RunningCatchups`]: which links have a catch-up running in this process.
//!
//! Owned by the process's `Core` (`core.catchups`), so there is no hidden global: a second
//! `Core` (another app in the same test binary) has its own. At most one catch-up runs per link
//! per process; a link's slot is taken with [`RunningCatchups::claim`] and freed when the
//! returned [`CatchupSlot`] drops — when the catch-up ends, fails or panics. This file imports
//! nothing of the crate, so `Core` can hold it without depending on the rest of `ingest`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

/// Cheap to share (`Arc`); the std mutex is never held across an `.await`.
#[derive(Debug, Default)]
pub struct RunningCatchups {
    links: Mutex<HashSet<Uuid>>,
}

/// A link's slot, held while its catch-up runs.
#[derive(Debug)]
pub struct CatchupSlot {
    owner: Arc<RunningCatchups>,
    link: Uuid,
}

impl RunningCatchups {
    fn links(&self) -> MutexGuard<'_, HashSet<Uuid>> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the link's slot; `None` when a catch-up already runs for it.
    pub fn claim(self: &Arc<Self>, link: Uuid) -> Option<CatchupSlot> {
        self.links().insert(link).then(|| CatchupSlot {
            owner: Arc::clone(self),
            link,
        })
    }
}

impl Drop for CatchupSlot {
    fn drop(&mut self) {
        self.owner.links().remove(&self.link);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_link_until_it_drops() {
        let running = Arc::new(RunningCatchups::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let slot = running.claim(a);
        assert!(slot.is_some());
        assert!(running.claim(a).is_none());
        assert!(running.claim(b).is_some(), "another link has its own slot");
        drop(slot);
        assert!(running.claim(a).is_some(), "free again once the slot drops");
    }
}
