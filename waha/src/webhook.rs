//! Webhook delivery exactly as WAHA's `WebhookSender` does it (contract §5.2, §6).
//!
//! - The envelope is serialized once, fields in WAHA's order
//!   (`id, timestamp, event, session, metadata, me, payload, engine, environment`), and those exact
//!   bytes are posted and signed (`X-Webhook-Hmac` = hex HMAC-SHA512).
//! - Every (event, target) pair is its own task: no ordering guarantee, as in WAHA.
//! - Any non-2xx or network error is retried (`attempts` retries, so `attempts + 1` requests),
//!   with the same `X-Webhook-Request-Id` on every try.
//! - Fault injection (duplicates, random extra delay, fixed extra delay) happens here.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha512;

use crate::config::{RetryPolicy, WebhookTarget};
use crate::faults::FaultState;
use crate::ids;
use crate::model::Me;

/// `environment` in every envelope and in `/api/server/version`.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub version: String,
    pub engine: String,
    pub tier: String,
    pub browser: Option<String>,
    pub platform: String,
    pub worker: Worker,
}

#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    pub id: Option<String>,
}

/// The event envelope, fields in WAHA's serialization order.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub id: String,
    pub timestamp: i64,
    pub event: String,
    pub session: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    pub me: Option<Me>,
    pub payload: Value,
    pub engine: String,
    pub environment: Environment,
}

/// Event names `"*"` expands to: all of WAHA's events except `state.change` and `engine.event`.
pub const ALL_EVENTS: &[&str] = &[
    "session.status",
    "message",
    "message.reaction",
    "message.any",
    "message.ack",
    "message.ack.group",
    "message.waiting",
    "message.revoked",
    "message.edited",
    "state.change",
    "group.join",
    "group.leave",
    "group.v2.join",
    "group.v2.leave",
    "group.v2.update",
    "group.v2.participants",
    "presence.update",
    "poll.vote",
    "poll.vote.failed",
    "chat.archive",
    "call.received",
    "call.accepted",
    "call.rejected",
    "label.upsert",
    "label.deleted",
    "label.chat.added",
    "label.chat.deleted",
    "event.response",
    "event.response.failed",
    "engine.event",
];

/// Whether a target subscribed to `event`.
pub fn wants(target: &WebhookTarget, event: &str) -> bool {
    target
        .events
        .iter()
        .any(|e| e == event || (e == "*" && event != "state.change" && event != "engine.event"))
}

/// Lowercase hex HMAC-SHA512 of `body` with `key` (UTF-8).
pub fn sign(key: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha512>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Delay before retry number `n` (starting at 1), per policy (contract §6).
pub fn retry_delay(
    policy: RetryPolicy,
    delay: Duration,
    n: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let base = match policy {
        RetryPolicy::Constant => delay,
        RetryPolicy::Linear => delay * n,
        RetryPolicy::Exponential => {
            let exp = delay.mul_f64(2f64.powi(n.min(30) as i32));
            let jitter = rand::thread_rng().gen_range(0.0..0.2);
            exp + exp.mul_f64(jitter)
        }
    };
    match retry_after {
        Some(ra) => base.max(ra),
        None => base,
    }
}

/// Posts envelopes to webhook targets.
#[derive(Clone)]
pub struct Dispatcher {
    client: reqwest::Client,
    user_agent: String,
    faults: Arc<FaultState>,
}

impl Dispatcher {
    pub fn new(version: &str, timeout: Duration, faults: Arc<FaultState>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhook client with defaults");
                reqwest::Client::new()
            });
        Self {
            client,
            user_agent: format!("WAHA/{version}"),
            faults,
        }
    }

    /// Sends `envelope` to every target that wants it; returns immediately.
    pub fn dispatch(&self, envelope: &Envelope, targets: &[WebhookTarget]) {
        let wanted: Vec<&WebhookTarget> = targets
            .iter()
            .filter(|t| wants(t, &envelope.event))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let body = match serde_json::to_vec(envelope) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                tracing::error!(error = %e, "envelope not serializable");
                return;
            }
        };
        let faults = self.faults.snapshot();
        for target in wanted {
            let copies = if faults.duplicate_rate > 0.0
                && rand::thread_rng().gen_bool(faults.duplicate_rate.min(1.0))
            {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut extra = Duration::from_millis(faults.extra_delay_ms);
                if faults.reorder_max_ms > 0 {
                    extra += Duration::from_millis(
                        rand::thread_rng().gen_range(0..=faults.reorder_max_ms),
                    );
                }
                let job = Delivery {
                    client: self.client.clone(),
                    user_agent: self.user_agent.clone(),
                    target: target.clone(),
                    body: body.clone(),
                    timestamp: envelope.timestamp,
                    event: envelope.event.clone(),
                    event_id: envelope.id.clone(),
                };
                tokio::spawn(async move {
                    if !extra.is_zero() {
                        tokio::time::sleep(extra).await;
                    }
                    job.run().await;
                });
            }
        }
    }
}

struct Delivery {
    client: reqwest::Client,
    user_agent: String,
    target: WebhookTarget,
    body: Arc<Vec<u8>>,
    timestamp: i64,
    event: String,
    event_id: String,
}

impl Delivery {
    async fn run(self) {
        let request_id = ids::uniqid();
        let retries = self.target.attempts.unwrap_or(15);
        let delay = Duration::from_secs_f64(self.target.delay_seconds.unwrap_or(2.0).max(0.0));
        let policy = self.target.policy.unwrap_or(RetryPolicy::Constant);
        let hmac = self.target.hmac_key.as_deref().map(|k| sign(k, &self.body));
        for attempt in 0..=retries {
            let mut req = self
                .client
                .post(&self.target.url)
                .header("content-type", "application/json")
                .header("User-Agent", &self.user_agent);
            for (name, value) in &self.target.custom_headers {
                req = req.header(name.as_str(), value.as_str());
            }
            req = req
                .header("X-Webhook-Request-Id", &request_id)
                .header("X-Webhook-Timestamp", self.timestamp.to_string());
            if let Some(h) = &hmac {
                req = req
                    .header("X-Webhook-Hmac", h)
                    .header("X-Webhook-Hmac-Algorithm", "sha512");
            }
            let outcome = req.body(self.body.as_ref().clone()).send().await;
            let retry_after = match outcome {
                Ok(resp) if resp.status().is_success() => {
                    tracing::debug!(event = %self.event, id = %self.event_id, url = %self.target.url, attempt, "webhook delivered");
                    return;
                }
                Ok(resp) => {
                    tracing::warn!(event = %self.event, id = %self.event_id, url = %self.target.url, status = %resp.status(), attempt, "webhook answered non-2xx");
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|s| *s >= 0.0)
                        .map(Duration::from_secs_f64)
                }
                Err(e) => {
                    tracing::warn!(event = %self.event, id = %self.event_id, url = %self.target.url, error = %e, attempt, "webhook failed");
                    None
                }
            };
            if attempt == retries {
                break;
            }
            let wait = retry_delay(policy, delay, attempt + 1, retry_after);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        tracing::error!(event = %self.event, id = %self.event_id, url = %self.target.url, "webhook given up after {} attempts", retries + 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn contract_hmac_vector() {
        assert_eq!(
            sign("my-secret-key", br#"{"event":"message","session":"default","engine":"WEBJS"}"#),
            "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
        );
    }

    #[test]
    fn star_excludes_state_change_and_engine_event() {
        let t = WebhookTarget {
            url: "http://x".into(),
            events: vec!["*".into()],
            hmac_key: None,
            policy: None,
            delay_seconds: None,
            attempts: None,
            custom_headers: vec![],
        };
        assert!(wants(&t, "message"));
        assert!(!wants(&t, "engine.event"));
        assert!(!wants(&t, "state.change"));
    }

    #[test]
    fn policies() {
        let d = Duration::from_secs(2);
        assert_eq!(retry_delay(RetryPolicy::Constant, d, 3, None), d);
        assert_eq!(
            retry_delay(RetryPolicy::Linear, d, 3, None),
            Duration::from_secs(6)
        );
        let e = retry_delay(RetryPolicy::Exponential, d, 1, None);
        assert!(e >= Duration::from_secs(4) && e <= Duration::from_millis(4800));
        assert_eq!(
            retry_delay(RetryPolicy::Constant, d, 1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }
}
