//! The composition root: builds the [`Core`] and the HTTP state, binds the listeners, starts
//! the background workers and runs until a shutdown signal, then drains them. Tests use [`App::build_with_pool`] to bind port 0 on a fresh database.
//!
//! One listener serves the public API. With `--webhook-bind`, a second one serves only the
//! WAHA webhooks, and the public one stops serving them: the session containers' network then
//! reaches nothing but the webhook receiver.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{ServeConfig, Subnet};
use crate::core::Core;

pub use crate::http::state::AppState;

pub struct App {
    listener: TcpListener,
    /// The webhook-only listener (`--webhook-bind`); `None`: webhooks are on `listener`.
    webhook_listener: Option<TcpListener>,
    state: AppState,
}

impl App {
    /// Connect to the database, apply migrations, and bind the configured address.
    pub async fn build(mut config: ServeConfig) -> anyhow::Result<Self> {
        config.validate()?;
        // "My address on that network" (`--bind-subnet`), for hosts whose address is not fixed.
        config.bind = Subnet::resolve(config.bind_subnet.as_ref(), config.bind)
            .context("PUENTE_BIND_SUBNET")?;
        config.webhook_bind = match config.webhook_bind {
            Some(addr) => Some(
                Subnet::resolve(config.webhook_bind_subnet.as_ref(), addr)
                    .context("PUENTE_WEBHOOK_BIND_SUBNET")?,
            ),
            None => None,
        };
        let pool = connect_waiting(&config).await?;
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
        let state = AppState::new(Core::new(config, pool, webhook_base));
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
        crate::realtime::spawn(&state.core, state.hub.clone());
        crate::chat::outbox::spawn(state.core.clone());
        // The webhook writer; it drains its queue once `token` is cancelled.
        crate::ingest::writer::spawn(&state.core, &state.webhooks);
        if state.config.waha.supervise {
            crate::supervise::spawn(state.core.clone());
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
        let deadline = tokio::time::Instant::now() + grace;
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
        // Then the background tasks (webhook writer, outbox, supervisor, presence, …), which
        // watch the same token, within what is left of the grace period.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        state.core.drain(left).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Connect to PostgreSQL, retrying for up to `--db-wait-secs` while it is still starting (a
/// stack starts its services together); every failed attempt is logged without the URL.
async fn connect_waiting(config: &ServeConfig) -> anyhow::Result<PgPool> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.db_wait_secs);
    let mut pause = Duration::from_millis(250);
    loop {
        match crate::db::connect(
            config.db.database_url.expose(),
            config.db.db_max_connections,
        )
        .await
        {
            Ok(pool) => return Ok(pool),
            Err(e) if tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "PostgreSQL is not reachable yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.context("connecting to PostgreSQL")),
        }
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
