//! Building and running the server: shared state, the listeners, background tasks and
//! graceful shutdown. Tests use [`App::build_with_pool`] to bind port 0 on a fresh database.
//!
//! One listener serves the public API. With `--webhook-bind`, a second one serves only the
//! WAHA webhooks, and the public one stops serving them: the session containers' network then
//! reaches nothing but the webhook receiver.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::ratelimit::LoginLimiter;
use crate::auth::tokens::JwtKeys;
use crate::config::ServeConfig;
use crate::realtime::hub::Hub;
use crate::runtime::ContainerRuntime;
use crate::supervise::Supervisor;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<ServeConfig>,
    pub jwt: Arc<JwtKeys>,
    pub login_limiter: Arc<LoginLimiter>,
    pub metrics: PrometheusHandle,
    pub runtime: Arc<dyn ContainerRuntime>,
    /// Routes realtime events to the sockets this process holds.
    pub hub: Arc<Hub>,
    /// Leadership flag, per-link locks and the Docker semaphore of the supervisor.
    pub supervisor: Arc<Supervisor>,
    /// Shared HTTP client (connection pools) for calls to WAHA containers.
    pub http: reqwest::Client,
    /// Where file bytes live (media, uploads).
    pub files: Arc<dyn crate::files::FileStore>,
    /// Wakes the outbox worker when new work is queued in this process.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Where WAHA containers post their webhooks (scheme, host, port; no path).
    pub webhook_base: String,
    /// Webhook group commit: handlers queue verified events here and one writer task
    /// commits them in batches (`crate::ingest`); started in [`App::run`].
    pub inbox: crate::ingest::Inbox,
    /// The in-app word filter, built once from `--blocked-word`.
    pub word_filter: Arc<crate::moderation::WordFilter>,
    /// Cancelled when the server begins shutting down; long-lived tasks (sockets, loops)
    /// watch it to finish cleanly.
    pub shutdown: CancellationToken,
}

pub struct App {
    listener: TcpListener,
    /// The webhook-only listener (`--webhook-bind`); `None`: webhooks are on `listener`.
    webhook_listener: Option<TcpListener>,
    state: AppState,
}

impl App {
    /// Connect to the database, apply migrations, and bind the configured address.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let pool = crate::db::connect(
            config.db.database_url.expose(),
            config.db.db_max_connections,
        )
        .await
        .context("connecting to PostgreSQL")?;
        crate::db::migrate(&pool)
            .await
            .context("applying migrations")?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let webhook_listener = match config.webhook_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr} (webhooks)"))?,
            ),
            None => None,
        };
        Ok(Self::build_with_listeners(
            config,
            pool,
            listener,
            webhook_listener,
        ))
    }

    /// Assemble the app on an existing pool and listener (tests bind port 0).
    pub fn build_with_pool(config: ServeConfig, pool: PgPool, listener: TcpListener) -> Self {
        Self::build_with_listeners(config, pool, listener, None)
    }

    /// [`App::build_with_pool`] with a separate listener for the webhooks. Whether the public
    /// listener still serves them follows `config.webhook_bind`, not this argument.
    pub fn build_with_listeners(
        config: ServeConfig,
        pool: PgPool,
        listener: TcpListener,
        webhook_listener: Option<TcpListener>,
    ) -> Self {
        let runtime: Arc<dyn ContainerRuntime> = crate::runtime::from_config(&config);
        let port = webhook_listener
            .as_ref()
            .unwrap_or(&listener)
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(8080);
        let webhook_base = config
            .waha
            .webhook_base_url
            .clone()
            .unwrap_or_else(|| format!("http://host.docker.internal:{port}"));
        // No redirects: a redirect must never carry a link's API key to another host.
        let http = crate::waha::WahaClient::http_client().unwrap_or_default();
        let state = AppState {
            db: pool,
            jwt: Arc::new(JwtKeys::new(
                config.jwt_secret.expose().as_bytes(),
                config.access_token_ttl_secs,
            )),
            login_limiter: Arc::new(LoginLimiter::new(
                config.login_rate_per_ip,
                config.login_rate_per_account,
            )),
            metrics: crate::metrics::install(),
            runtime,
            hub: Hub::new(),
            supervisor: Supervisor::new(config.waha.docker_concurrency),
            http,
            webhook_base,
            files: Arc::new(crate::files::LocalDisk::new(config.data_dir.clone())),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            inbox: crate::ingest::Inbox::new(),
            word_filter: Arc::new(crate::moderation::WordFilter::new(&config.blocked_words)),
            shutdown: CancellationToken::new(),
            config: Arc::new(config),
        };
        Self {
            listener,
            webhook_listener,
            state,
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the webhook-only listener is bound, if there is one.
    pub fn webhook_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.webhook_listener.as_ref().map(TcpListener::local_addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `signal` resolves, then stop accepting, let in-flight requests finish
    /// (up to the configured grace period) and return.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let token = state.shutdown.clone();
        let grace = Duration::from_secs(state.config.shutdown_grace_secs);
        let router = crate::http::router(state.clone());
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, webhook_base = %state.webhook_base, "listening");
        let webhooks = match self.webhook_listener {
            Some(listener) => {
                tracing::info!(addr = %listener.local_addr()?, "listening for webhooks");
                Some((listener, crate::http::webhook_router(state.clone())))
            }
            None => None,
        };
        crate::realtime::listener::spawn(state.db.clone(), state.hub.clone(), token.clone());
        crate::realtime::presence::spawn(state.db.clone(), state.hub.clone(), token.clone());
        crate::chat::outbox::spawn(state.clone());
        // The webhook writer; it drains its queue once `token` is cancelled.
        crate::ingest::spawn_writer(state.clone());
        if state.config.waha.supervise {
            crate::supervise::spawn(state.clone());
        }

        let serve = |listener: TcpListener, router: axum::Router| {
            let serve_token = token.clone();
            let server = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { serve_token.cancelled().await });
            async move { server.await }
        };
        let public = serve(self.listener, router);
        let webhooks = webhooks.map(|(listener, router)| serve(listener, router));
        // One task owns both servers: it ends when both have drained (or one has failed).
        let mut server = tokio::spawn(async move {
            match webhooks {
                Some(webhooks) => tokio::try_join!(public, webhooks).map(|_| ()),
                None => public.await,
            }
        });

        tokio::select! {
            res = &mut server => {
                res.context("server task")?.context("server")?;
                return Ok(());
            }
            () = signal => {
                tracing::info!("shutdown requested; finishing in-flight requests");
                token.cancel();
            }
        }
        match tokio::time::timeout(grace, &mut server).await {
            Ok(res) => res.context("server task")?.context("server")?,
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "grace period over; closing remaining connections"
                );
                server.abort();
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
