//! [`AppState`]: what HTTP handlers can reach — the domain's [`Core`] plus what only the edge
//! needs (the sockets this process holds, the login limiter, the metrics handle, the webhook
//! queue). It derefs to [`Core`], so `state.db` and friends read as before, and handlers pass
//! `&state` wherever the domain asks for `&Core`.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::ratelimit::LoginLimiter;
use crate::core::Core;
use crate::ingest::queue::WebhookQueue;
use crate::realtime::hub::Hub;

/// Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub login_limiter: Arc<LoginLimiter>,
    pub metrics: PrometheusHandle,
    /// Routes realtime events to the sockets this process holds.
    pub hub: Arc<Hub>,
    /// Webhook group commit: the receiver queues verified events here and one writer task
    /// commits them in batches (`crate::ingest::writer`).
    pub webhooks: WebhookQueue,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        Self {
            login_limiter: Arc::new(LoginLimiter::new(
                core.config.login_rate_per_ip,
                core.config.login_rate_per_account,
            )),
            metrics: crate::metrics::install(),
            hub: Hub::new(),
            webhooks: WebhookQueue::new(),
            core,
        }
    }
}

impl Deref for AppState {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl FromRef<AppState> for Core {
    fn from_ref(state: &AppState) -> Core {
        state.core.clone()
    }
}
