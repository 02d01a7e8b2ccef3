//! In-process routing of events to the sockets this process holds.
//!
//! A std `Mutex` guards the subscriber map: it is held only to clone senders or edit the map,
//! never across an `.await`. Each socket has a bounded queue; when a push finds it full the
//! socket's `lagged` flag is raised and the socket task sends a `resync` instead of the events
//! it missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::Event;

/// Queue length per socket.
pub const SOCKET_QUEUE: usize = 256;

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

/// A socket's end of its subscription. Dropping it unsubscribes.
pub struct Subscription {
    pub rx: mpsc::Receiver<Arc<Event>>,
    pub lagged: Arc<AtomicBool>,
    hub: Arc<Hub>,
    user: Uuid,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(self.user, self.id);
    }
}

#[derive(Default)]
pub struct Hub {
    /// user → that user's sockets on this process.
    subscribers: Mutex<HashMap<Uuid, Vec<Subscriber>>>,
    next_id: AtomicU64,
    /// Bumped whenever the NOTIFY bridge reconnects: sockets then re-read from the table.
    epoch: AtomicU64,
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Register a socket for `user`, unless they already hold `max` sockets here.
    pub fn subscribe(self: &Arc<Self>, user: Uuid, max: usize) -> Option<Subscription> {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            let list = map.entry(user).or_default();
            list.retain(|s| !s.tx.is_closed());
            if list.len() >= max {
                return None;
            }
            list.push(Subscriber {
                id,
                tx,
                lagged: lagged.clone(),
            });
        }
        metrics::gauge!("ws_connections").increment(1.0);
        Some(Subscription {
            rx,
            lagged,
            hub: self.clone(),
            user,
            id,
        })
    }

    fn remove(&self, user: Uuid, id: u64) {
        let mut map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get_mut(&user) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                map.remove(&user);
            }
        }
        metrics::gauge!("ws_connections").decrement(1.0);
    }

    /// Hand an event to every socket of `user` on this process.
    pub fn dispatch(&self, user: Uuid, event: Arc<Event>) {
        let targets: Vec<(mpsc::Sender<Arc<Event>>, Arc<AtomicBool>)> = {
            let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&user) {
                Some(list) => list
                    .iter()
                    .map(|s| (s.tx.clone(), s.lagged.clone()))
                    .collect(),
                None => return,
            }
        };
        for (tx, lagged) in targets {
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(event.clone()) {
                lagged.store(true, Ordering::Release);
                metrics::counter!("ws_lagged_total").increment(1);
            }
        }
    }

    /// Does this process hold a socket of `user`?
    pub fn has(&self, user: Uuid) -> bool {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&user).is_some_and(|l| !l.is_empty())
    }

    pub fn connections(&self) -> usize {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(Vec::len).sum()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The bridge missed notifications (it reconnected): every socket must re-read.
    pub fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn ev(seq: i64) -> Arc<Event> {
        Arc::new(Event {
            seq,
            kind: "t".into(),
            data: json!({}),
            at: Utc::now(),
        })
    }

    #[tokio::test]
    async fn routes_by_user_caps_sockets_and_flags_lag() {
        let hub = Hub::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut s1 = hub.subscribe(a, 2).unwrap();
        let _s2 = hub.subscribe(a, 2).unwrap();
        assert!(hub.subscribe(a, 2).is_none(), "cap per user");
        let mut sb = hub.subscribe(b, 2).unwrap();
        hub.dispatch(a, ev(1));
        assert_eq!(s1.rx.recv().await.unwrap().seq, 1);
        assert!(sb.rx.try_recv().is_err(), "b got nothing");
        for i in 0..(SOCKET_QUEUE as i64 + 5) {
            hub.dispatch(b, ev(i));
        }
        assert!(sb.lagged.load(Ordering::Acquire));
        assert!(!s1.lagged.load(Ordering::Acquire));
        drop(s1);
        assert!(hub.subscribe(a, 2).is_some(), "a slot freed on drop");
    }
}
