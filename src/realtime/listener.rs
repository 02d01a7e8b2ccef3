//! The bridge from PostgreSQL NOTIFY to this process's [`Hub`]: one task per process
//! ([`spawn`]) LISTENs on the three realtime channels and hands each notice to the hub,
//! which routes it by user to the sockets this process holds.
//!
//! | channel | notice | sent by | becomes |
//! |---|---|---|---|
//! | [`CHANNEL`] | [`Notice`] | [`super::events::publish`] | [`Hub::dispatch`] (only if a socket of the user is here; a notice without its event reads it from the table) |
//! | [`SIGNAL_CHANNEL`] | [`SignalNotice`] | [`super::signals::signal`] | [`Hub::dispatch_signal`] per addressee |
//! | [`CONTROL_CHANNEL`] | [`ControlNotice`] | [`super::control::end_sockets`] | [`Hub::close`] |
//!
//! Invariants: it reconnects with backoff, and after any reconnect (or a dropped connection)
//! bumps the hub's epoch, so every socket re-reads the events — and re-checks the account —
//! it may have missed while the bridge was away. Signals missed meanwhile are gone, by
//! design. An unreadable notice is logged and skipped, never fatal.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::control::{ControlNotice, CONTROL_CHANNEL};
use super::events::{Notice, CHANNEL};
use super::hub::Hub;
use super::signals::{SignalNotice, SIGNAL_CHANNEL};
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
    let mut listener =
        crate::db::realtime::listen(pool, &[CHANNEL, SIGNAL_CHANNEL, CONTROL_CHANNEL]).await?;
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
            None => match super::events::event(pool, notice.user, notice.seq).await {
                Ok(Some(ev)) => ev,
                _ => continue,
            },
        };
        hub.dispatch(notice.user, Arc::new(event));
    }
}
