//! The bridge from PostgreSQL NOTIFY to the in-process hub. One task per process, listening
//! on the event channel, the signal channel and the control channel (sockets to close); it reconnects with backoff, and after a
//! reconnect bumps the hub's epoch so sockets re-read the events they may have missed while it
//! was away (signals missed meanwhile are gone, by design).

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::control::{ControlNotice, CONTROL_CHANNEL};
use super::hub::Hub;
use super::{Event, Notice, SignalNotice, CHANNEL, SIGNAL_CHANNEL};
use crate::core::Core;

pub fn spawn(core: &Core, hub: Arc<Hub>) -> tokio::task::JoinHandle<()> {
    let (pool, shutdown) = (core.db.clone(), core.shutdown.clone());
    core.spawn(async move {
        let mut backoff = Duration::from_millis(200);
        let mut first = true;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match run(&pool, &hub, &shutdown, &mut first).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime listener lost its connection; reconnecting");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    })
}

async fn run(
    pool: &PgPool,
    hub: &Hub,
    shutdown: &CancellationToken,
    first: &mut bool,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener
        .listen_all([CHANNEL, SIGNAL_CHANNEL, CONTROL_CHANNEL])
        .await?;
    if !*first {
        hub.bump_epoch();
    }
    *first = false;
    loop {
        let note = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            note = listener.try_recv() => note?,
        };
        let Some(note) = note else {
            // The connection dropped; sqlx reconnects on the next call. Sockets re-read.
            hub.bump_epoch();
            continue;
        };
        if note.channel() == CONTROL_CHANNEL {
            match serde_json::from_str::<ControlNotice>(note.payload()) {
                Ok(n) => hub.close(n.user, n.scope, n.reason),
                Err(e) => tracing::warn!(error = %e, "unreadable realtime control notice"),
            }
            continue;
        }
        if note.channel() == SIGNAL_CHANNEL {
            match serde_json::from_str::<SignalNotice>(note.payload()) {
                Ok(n) => {
                    let signal = Arc::new(n.signal);
                    for user in n.users {
                        hub.dispatch_signal(user, signal.clone());
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreadable realtime signal"),
            }
            continue;
        }
        let notice: Notice = match serde_json::from_str(note.payload()) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable realtime notice");
                continue;
            }
        };
        if !hub.has(notice.user) {
            continue;
        }
        let event = match notice.event {
            Some(ev) => ev,
            None => match fetch(pool, notice.user, notice.seq).await {
                Some(ev) => ev,
                None => continue,
            },
        };
        hub.dispatch(notice.user, Arc::new(event));
    }
}

async fn fetch(pool: &PgPool, user: uuid::Uuid, seq: i64) -> Option<Event> {
    super::events_after(pool, user, seq - 1, 1)
        .await
        .ok()?
        .into_iter()
        .find(|e| e.seq == seq)
}
