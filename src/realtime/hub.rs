//! In-process routing of events and signals to the sockets this process holds.
//!
//! A std `Mutex` guards the subscriber map: it is held only to clone senders or edit the map,
//! never across an `.await`. Each socket has a bounded queue; when an event finds it full the
//! socket's `lagged` flag is raised and the socket task sends a `resync` instead of the events
//! it missed. A signal that finds it full is dropped (signals are live-only, see
//! [`super::signals`]).
//!
//! The hub also notes presence transitions: a user's first socket on this process opening, or
//! their last one closing, puts them in a small "dirty" set and wakes the presence task
//! ([`super::presence`]), which does the database work outside the lock.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch, Notify};
use uuid::Uuid;

use super::control::{CloseReason, Scope};
use super::protocol::{Event, Signal};

/// Queue length per socket.
pub const SOCKET_QUEUE: usize = 256;

/// What a socket's queue carries.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A stored event, with its sequence number.
    Event(Arc<Event>),
    /// A live-only signal (typing, presence).
    Signal(Arc<Signal>),
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Delivery>,
    lagged: Arc<AtomicBool>,
    /// The session of the token the socket holds (it changes when the client refreshes).
    session: Arc<Mutex<Option<Uuid>>>,
    /// Told why when the socket must close; apart from the bounded queue, so it is never
    /// dropped for lack of room.
    close: watch::Sender<Option<CloseReason>>,
}

/// A socket's end of its subscription. Dropping it unsubscribes.
pub struct Subscription {
    pub rx: mpsc::Receiver<Delivery>,
    pub lagged: Arc<AtomicBool>,
    /// Changes to `Some(reason)` when the socket must close ([`Hub::close`]).
    pub closed: watch::Receiver<Option<CloseReason>>,
    session: Arc<Mutex<Option<Uuid>>>,
    hub: Arc<Hub>,
    user: Uuid,
    id: u64,
}

impl Subscription {
    /// The socket now holds a token of this session.
    pub fn set_session(&self, session: Option<Uuid>) {
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = session;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(self.user, self.id);
    }
}

pub struct Hub {
    /// user → that user's sockets on this process.
    subscribers: Mutex<HashMap<Uuid, Vec<Subscriber>>>,
    next_id: AtomicU64,
    /// Bumped whenever the NOTIFY bridge reconnects: sockets then re-read from the table.
    epoch: AtomicU64,
    /// Users whose first socket here opened or last one closed since the presence task last
    /// looked. Bounded by the users with sockets (plus those who just left).
    presence_dirty: Mutex<HashSet<Uuid>>,
    /// Wakes the presence task when `presence_dirty` gains a user.
    presence_wake: Notify,
    /// This process's id in `realtime_processes` (presence across replicas).
    process_id: Uuid,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            subscribers: Mutex::default(),
            next_id: AtomicU64::default(),
            epoch: AtomicU64::default(),
            presence_dirty: Mutex::default(),
            presence_wake: Notify::new(),
            process_id: Uuid::new_v4(),
        }
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Register a socket for `user` (holding a token of `session`), unless they already hold
    /// `max` sockets here.
    pub fn subscribe(
        self: &Arc<Self>,
        user: Uuid,
        session: Option<Uuid>,
        max: usize,
    ) -> Option<Subscription> {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let session = Arc::new(Mutex::new(session));
        let (close, closed) = watch::channel(None);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            let list = map.entry(user).or_default();
            list.retain(|s| !s.tx.is_closed());
            if list.len() >= max {
                if list.is_empty() {
                    map.remove(&user);
                }
                return None;
            }
            list.push(Subscriber {
                id,
                tx,
                lagged: lagged.clone(),
                session: session.clone(),
                close,
            });
            list.len() == 1
        };
        if first {
            self.mark_presence(user);
        }
        metrics::gauge!("ws_connections").increment(1.0);
        Some(Subscription {
            rx,
            lagged,
            closed,
            session,
            hub: self.clone(),
            user,
            id,
        })
    }

    fn remove(&self, user: Uuid, id: u64) {
        let last = {
            let mut map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            match map.get_mut(&user) {
                Some(list) => {
                    list.retain(|s| s.id != id);
                    let empty = list.is_empty();
                    if empty {
                        map.remove(&user);
                    }
                    empty
                }
                None => false,
            }
        };
        if last {
            self.mark_presence(user);
        }
        metrics::gauge!("ws_connections").decrement(1.0);
    }

    fn mark_presence(&self, user: Uuid) {
        self.presence_dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user);
        self.presence_wake.notify_one();
    }

    /// Hand an event to every socket of `user` on this process.
    pub fn dispatch(&self, user: Uuid, event: Arc<Event>) {
        for (tx, lagged) in self.senders(user) {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                tx.try_send(Delivery::Event(event.clone()))
            {
                lagged.store(true, Ordering::Release);
                metrics::counter!("ws_lagged_total").increment(1);
            }
        }
    }

    /// Tell `user`'s sockets on this process in `scope` to close, with `reason`.
    pub fn close(&self, user: Uuid, scope: Scope, reason: CloseReason) {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        for s in map.get(&user).into_iter().flatten() {
            let session = *s.session.lock().unwrap_or_else(|e| e.into_inner());
            if scope.covers(session) {
                s.close.send_replace(Some(reason));
            }
        }
    }

    /// Hand a signal to every socket of `user` on this process; a full queue drops it.
    pub fn dispatch_signal(&self, user: Uuid, signal: Arc<Signal>) {
        for (tx, _) in self.senders(user) {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                tx.try_send(Delivery::Signal(signal.clone()))
            {
                metrics::counter!("ws_signals_dropped_total").increment(1);
            }
        }
    }

    fn senders(&self, user: Uuid) -> Vec<(mpsc::Sender<Delivery>, Arc<AtomicBool>)> {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&user)
            .map(|list| {
                list.iter()
                    .map(|s| (s.tx.clone(), s.lagged.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Does this process hold a socket of `user`?
    pub fn has(&self, user: Uuid) -> bool {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&user).is_some_and(|l| !l.is_empty())
    }

    /// The users holding at least one socket here.
    pub fn users(&self) -> Vec<Uuid> {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }

    pub fn connections(&self) -> usize {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(Vec::len).sum()
    }

    /// Sockets whose queue overflowed and that have not sent their `resync` yet.
    pub fn lagging(&self) -> usize {
        let map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        map.values()
            .flatten()
            .filter(|s| s.lagged.load(Ordering::Acquire))
            .count()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The bridge missed notifications (it reconnected): every socket must re-read.
    pub fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn process_id(&self) -> Uuid {
        self.process_id
    }

    /// Take the users whose presence may have changed (for the presence task).
    pub fn take_presence_changes(&self) -> HashSet<Uuid> {
        std::mem::take(
            &mut *self
                .presence_dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Resolves when [`Hub::take_presence_changes`] may have something.
    pub async fn presence_changed(&self) {
        self.presence_wake.notified().await;
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
        let mut s1 = hub.subscribe(a, None, 2).unwrap();
        let _s2 = hub.subscribe(a, None, 2).unwrap();
        assert!(hub.subscribe(a, None, 2).is_none(), "cap per user");
        let mut sb = hub.subscribe(b, None, 2).unwrap();
        hub.dispatch(a, ev(1));
        assert!(matches!(s1.rx.recv().await.unwrap(), Delivery::Event(e) if e.seq == 1));
        assert!(sb.rx.try_recv().is_err(), "b got nothing");
        for i in 0..(SOCKET_QUEUE as i64 + 5) {
            hub.dispatch(b, ev(i));
        }
        assert!(sb.lagged.load(Ordering::Acquire));
        assert!(!s1.lagged.load(Ordering::Acquire));
        drop(s1);
        assert!(hub.subscribe(a, None, 2).is_some(), "a slot freed on drop");
    }

    #[tokio::test]
    async fn notes_first_open_and_last_close_only() {
        let hub = Hub::new();
        let a = Uuid::new_v4();
        let s1 = hub.subscribe(a, None, 5).unwrap();
        assert_eq!(hub.take_presence_changes(), HashSet::from([a]));
        let s2 = hub.subscribe(a, None, 5).unwrap();
        drop(s1);
        assert!(hub.take_presence_changes().is_empty(), "still one socket");
        drop(s2);
        assert_eq!(hub.take_presence_changes(), HashSet::from([a]));
        assert!(!hub.has(a));
    }

    #[tokio::test]
    async fn a_full_queue_drops_signals_without_lagging() {
        let hub = Hub::new();
        let a = Uuid::new_v4();
        let s = hub.subscribe(a, None, 1).unwrap();
        let sig = Arc::new(Signal::typing(crate::realtime::protocol::Typing {
            conversation_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            typing: true,
            expires_in_ms: 6000,
        }));
        for _ in 0..(SOCKET_QUEUE + 5) {
            hub.dispatch_signal(a, sig.clone());
        }
        assert!(!s.lagged.load(Ordering::Acquire));
        assert_eq!(hub.lagging(), 0);
        hub.dispatch(a, ev(1));
        assert_eq!(hub.lagging(), 1);
    }
}
