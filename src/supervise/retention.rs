//! Retention: the leader's hourly sweep of what only grows — users' realtime events, settled
//! webhook events, finished outbox jobs and files nothing carries — each after its own
//! setting (`PUENTE_KEEP_*`). Deletes run in batches of [`BATCH`] rows, each its own
//! statement, so no sweep holds locks for long; a file's bytes are deleted after its row.

use crate::core::Core;
use crate::db;
use crate::error::Result;

/// Rows removed per statement.
pub const BATCH: i64 = 5_000;

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub realtime_events: u64,
    pub webhook_events: u64,
    pub outbox_jobs: u64,
    pub files: u64,
}

impl Removed {
    pub fn total(&self) -> u64 {
        self.realtime_events + self.webhook_events + self.outbox_jobs + self.files
    }
}

/// Run every rule to completion (batch after batch until one comes back short).
pub async fn sweep(core: &Core) -> Result<Removed> {
    let cfg = &core.config;
    let mut removed = Removed {
        realtime_events: crate::realtime::prune(&core.db, cfg.keep_realtime_days).await?,
        ..Removed::default()
    };
    loop {
        let n = db::events::prune_settled(&core.db, cfg.keep_webhook_events_days, BATCH).await?;
        removed.webhook_events += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let n = db::outbox::prune_done(&core.db, cfg.keep_outbox_days, BATCH).await?;
        removed.outbox_jobs += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let keys =
            db::files::take_unreferenced(&core.db, cfg.keep_unsent_files_hours, BATCH).await?;
        let n = keys.len() as u64;
        for (key, thumb) in keys {
            for k in std::iter::once(key).chain(thumb) {
                if let Err(e) = core.files.delete(&k).await {
                    tracing::warn!(key = %k, error = %e, "retention: a file's bytes could not be deleted");
                }
            }
        }
        removed.files += n;
        if n < BATCH as u64 {
            break;
        }
    }
    Ok(removed)
}

/// The sweep as the housekeeping tick runs it: figures logged, failures logged and left
/// for the next tick.
pub async fn run(core: &Core) {
    match sweep(core).await {
        Ok(r) if r.total() > 0 => tracing::info!(
            realtime_events = r.realtime_events,
            webhook_events = r.webhook_events,
            outbox_jobs = r.outbox_jobs,
            files = r.files,
            "retention sweep removed old rows"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "retention sweep failed; next hour"),
    }
}
