//! A WAHA-compatible emulator: speaks the real WAHA HTTP and webhook contract
//! (`shared/waha-contract.md`) for development, demos and tests, with a control API that plays
//! the phone and a small simulated-phone page. No phone and no internet needed.
//!
//! # Layout
//! - [`config`] — environment variables, read as the real image reads them (+ `EMULATOR_*`).
//! - [`session`] — the session state machine, QR rotation, message store, events.
//! - [`store`] — the session folder on disk (`/app/.sessions/<engine>/<session>`).
//! - [`model`] — statuses, `me`, messages and their per-engine JSON shapes.
//! - [`webhook`] — envelopes, HMAC signing, delivery with retries.
//! - [`faults`] — fault injection (duplicates, reordering, delays, silence).
//! - [`http`] — the router: WAHA's API, `/__emulator/*` control API and the phone page.
//! - [`ids`], [`media`], [`validate`], [`error`] — helpers.
//!
//! Run in-process with [`Emulator::new`] + [`Emulator::serve`] on any listener (tests use port 0).

pub mod config;
pub mod error;
pub mod faults;
pub mod http;
pub mod ids;
pub mod media;
pub mod model;
pub mod session;
pub mod store;
pub mod validate;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;

/// A configured emulator, ready to serve.
pub struct Emulator {
    state: http::AppState,
}

impl Emulator {
    /// Builds the state. Must be called inside a tokio runtime (nothing is spawned yet).
    pub fn new(config: Config) -> Self {
        let config = Arc::new(config);
        let mgr = session::Manager::new(config.clone());
        Self {
            state: http::AppState {
                config,
                mgr,
                started_ms: ids::now_ms(),
            },
        }
    }

    /// The application router (for tests that drive it without a socket).
    pub fn router(&self) -> Router {
        http::router(self.state.clone())
    }

    /// Logs config warnings, restores/starts sessions and serves until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let config = &self.state.config;
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        if let Some(key) = &config.generated_api_key {
            tracing::warn!(
                "WAHA_API_KEY is not set or is too weak, generated a random API key for this run"
            );
            tracing::warn!("WAHA_API_KEY={key}");
        }
        tracing::info!(
            addr = %listener.local_addr()?,
            engine = config.engine.name(),
            flavor = ?config.flavor,
            version = %config.version,
            store = %config.store_dir.display(),
            "WAHA emulator listening"
        );
        self.state.mgr.boot();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Serves `config` on `listener` until SIGINT, or SIGTERM unless `EMULATOR_SIGTERM=ignore`.
pub async fn serve(config: Config, listener: TcpListener) -> std::io::Result<()> {
    let ignore_sigterm = config.ignore_sigterm;
    Emulator::new(config)
        .serve(listener, shutdown_signal(ignore_sigterm))
        .await
}

/// Resolves on SIGINT or SIGTERM (PID 1 in a container must handle them itself). With
/// `ignore_sigterm`, SIGTERM is logged and swallowed as real WAHA's own handler does, so
/// `docker stop` waits its full timeout and then kills the process.
pub async fn shutdown_signal(ignore_sigterm: bool) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => loop {
                s.recv().await;
                if !ignore_sigterm {
                    break;
                }
                tracing::warn!(
                    "SIGTERM received and ignored (EMULATOR_SIGTERM=ignore, as real WAHA)"
                );
            },
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
