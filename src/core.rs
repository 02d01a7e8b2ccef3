//! [`Core`]: what the domain needs to do its work, built once per process.
//!
//! The database pool, the settings, the token keys, the container runtime and the WAHA
//! connector (one shared HTTP client), the file store, the wake-ups between parts, and the
//! owner of every background task. The HTTP edge wraps it with what only the edge needs
//! (`crate::http::state::AppState`: the socket hub, the login limiter, the metrics handle, the
//! webhook queue); the CLI builds one without binding a port.
//!
//! **Owned tasks.** Background work is spawned with [`Core::spawn`], never `tokio::spawn`:
//! one [`TaskTracker`] owns it all, so shutdown cancels [`Core::shutdown`] and then waits for
//! every task ([`Core::drain`]) within the grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::tokens::JwtKeys;
use crate::config::ServeConfig;
use crate::files::FileStore;
use crate::links::supervisor::Supervisor;
use crate::moderation::words::WordFilter;
use crate::runtime::ContainerRuntime;

/// Cheap to clone (every field is shared).
#[derive(Clone)]
pub struct Core {
    pub db: PgPool,
    pub config: Arc<ServeConfig>,
    pub jwt: Arc<JwtKeys>,
    pub runtime: Arc<dyn ContainerRuntime>,
    /// Leadership flag, per-link locks and the Docker semaphore of this process.
    pub supervisor: Arc<Supervisor>,
    /// Shared HTTP client (connection pools) for calls to WAHA containers; no redirects.
    pub http: reqwest::Client,
    /// Where file bytes live (media, uploads).
    pub files: Arc<dyn FileStore>,
    /// Wakes the outbox worker when new work is queued in this process.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The links with a catch-up running in this process (at most one each).
    pub catchups: Arc<crate::ingest::running::RunningCatchups>,
    /// Where WAHA containers post their webhooks (scheme, host, port; no path).
    pub webhook_base: String,
    /// The in-app word filter, built once from `--blocked-word`.
    pub word_filter: Arc<WordFilter>,
    /// Cancelled when the process begins shutting down; every long-lived task watches it.
    pub shutdown: CancellationToken,
    /// Owns every background task (see the module docs).
    pub tasks: TaskTracker,
}

impl Core {
    /// Build the core on an open, migrated pool. `webhook_base` is where session containers
    /// reach this process's webhook receiver.
    pub fn new(config: ServeConfig, pool: PgPool, webhook_base: String) -> Self {
        Self {
            db: pool,
            jwt: Arc::new(JwtKeys::new(
                config.jwt_secret.expose().as_bytes(),
                config.access_token_ttl_secs,
            )),
            runtime: runtime_from(&config),
            supervisor: Supervisor::new(config.waha.docker_concurrency),
            http: crate::waha::WahaClient::http_client().unwrap_or_default(),
            files: Arc::new(crate::files::LocalDisk::new(config.data_dir.clone())),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            catchups: Arc::default(),
            webhook_base,
            word_filter: Arc::new(WordFilter::new(&config.blocked_words)),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            config: Arc::new(config),
        }
    }

    /// For tools that run without a server (the CLI): connect, migrate, and build.
    pub async fn connect(config: ServeConfig) -> anyhow::Result<Self> {
        use anyhow::Context;
        config.validate()?;
        let pool = crate::db::connect(config.db.database_url.expose(), 4)
            .await
            .context("connecting to PostgreSQL")?;
        crate::db::migrate(&pool)
            .await
            .context("applying migrations")?;
        let base = config
            .waha
            .webhook_base_url
            .clone()
            .unwrap_or_else(|| format!("http://host.docker.internal:{}", config.bind.port()));
        Ok(Self::new(config, pool, base))
    }

    /// Run `task` in the background, owned by this process: shutdown waits for it.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Cancel [`Core::shutdown`] and wait up to `grace` for every owned task to finish.
    /// Returns whether they all did.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        let done = tokio::time::timeout(grace, self.tasks.wait()).await.is_ok();
        if !done {
            tracing::warn!(
                left = self.tasks.len(),
                grace_secs = grace.as_secs(),
                "background tasks still running at the end of the grace period"
            );
        }
        done
    }
}

/// The runtime `PUENTE_RUNTIME` names, on `DOCKER_HOST`.
fn runtime_from(config: &ServeConfig) -> Arc<dyn ContainerRuntime> {
    use crate::config::RuntimeKind;
    use crate::runtime::{docker::DockerRuntime, swarm::SwarmRuntime};
    let host = config.docker_host.clone();
    match config.waha.runtime {
        RuntimeKind::Docker => Arc::new(DockerRuntime::new(host)),
        RuntimeKind::Swarm => Arc::new(SwarmRuntime::new(host, config.waha.swarm_publish_mode)),
    }
}
