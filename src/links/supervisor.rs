//! What this process's link work shares: whether it leads the fleet's supervision, one lock
//! per link (so an API call and the reconciler never work on the same link at once here),
//! and a semaphore that bounds concurrent Docker work. Held by [`crate::core::Core`]; the
//! leadership loop itself is `crate::supervise`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedMutexGuard, Semaphore, SemaphorePermit};
use uuid::Uuid;

pub struct Supervisor {
    /// Pokes the leader's loop for an early pass.
    trigger: Notify,
    leader: AtomicBool,
    /// Per-link async locks (the map itself is guarded by a std Mutex never held across await).
    link_locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// Bounds concurrent Docker work.
    docker: Semaphore,
}

impl Supervisor {
    pub fn new(docker_concurrency: usize) -> Arc<Self> {
        Arc::new(Self {
            trigger: Notify::new(),
            leader: AtomicBool::new(false),
            link_locks: Mutex::new(HashMap::new()),
            docker: Semaphore::new(docker_concurrency.max(1)),
        })
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// Ask for a reconcile pass soon (this process's leader loop, if it leads).
    pub fn poke(&self) {
        self.trigger.notify_one();
    }

    /// Set by the leadership loop (`crate::supervise`).
    pub fn set_leader(&self, leads: bool) {
        self.leader.store(leads, Ordering::Release);
    }

    /// Resolves at the next [`Supervisor::poke`].
    pub async fn poked(&self) {
        self.trigger.notified().await;
    }

    pub async fn lock_link(&self, id: Uuid) -> OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.link_locks.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > 10_000 {
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(id).or_default().clone()
        };
        lock.lock_owned().await
    }

    pub async fn docker_permit(&self) -> Option<SemaphorePermit<'_>> {
        self.docker.acquire().await.ok()
    }
}
