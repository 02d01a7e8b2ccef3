//! Shared test helpers: an in-process emulator on port 0 with its own store folder, and a real
//! HTTP webhook receiver that records every request (headers + exact body bytes).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const KEY: &str = "test-api-key-0123456789";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for folders, containers and volumes.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// Silent unless TEST_LOG=1.
pub fn init_tracing() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("waha_emulator=debug")
            .with_test_writer()
            .try_init();
    }
}

/// An emulator running in this process.
pub struct Emu {
    pub base: String,
    pub store: PathBuf,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    keep_store: bool,
}

/// Fast timings; tests override what they exercise.
pub fn fast_defaults() -> Vec<(String, String)> {
    [
        ("WAHA_API_KEY", KEY),
        ("EMULATOR_STARTING_MS", "50"),
        ("EMULATOR_WAIT_RUNNING_MS", "300"),
        ("EMULATOR_WAIT_STATUS_MS", "700"),
        ("EMULATOR_ACK_SERVER_MS", "50"),
        ("EMULATOR_ACK_DEVICE_MS", "100"),
        ("EMULATOR_ACK_READ_MS", "150"),
        ("EMULATOR_STOP_MS", "50"),
        ("EMULATOR_LOGOUT_MS", "50"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Emu {
    pub async fn start(vars: &[(&str, &str)]) -> Emu {
        let store = std::env::temp_dir().join(unique("waha-emu-test"));
        Self::start_in(store, vars).await
    }

    /// Starts on an existing store folder (restart tests).
    pub async fn start_in(store: PathBuf, vars: &[(&str, &str)]) -> Emu {
        init_tracing();
        let mut all: HashMap<String, String> = fast_defaults().into_iter().collect();
        all.insert(
            "WAHA_LOCAL_STORE_BASE_DIR".into(),
            store.display().to_string(),
        );
        for (k, v) in vars {
            all.insert((*k).to_owned(), (*v).to_owned());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        all.entry("WAHA_BASE_URL".into())
            .or_insert_with(|| format!("http://{addr}"));
        let config = waha_emulator::Config::from_vars(all).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let emu = waha_emulator::Emulator::new(config);
        let task = tokio::spawn(async move {
            emu.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Emu {
            base: format!("http://{addr}"),
            store,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            task: Some(task),
            keep_store: false,
        }
    }

    /// Stops the server, keeping the store folder for a restart; returns it.
    pub async fn stop_keep_store(mut self) -> PathBuf {
        self.keep_store = true;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.store.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("X-Api-Key", KEY)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get(path).await;
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, self.url(path))
            .header("X-Api-Key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, body).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::DELETE, path, json!({})).await
    }

    pub async fn status_of(&self, session: &str) -> String {
        let (_, v) = self.get_json(&format!("/api/sessions/{session}")).await;
        v["status"].as_str().unwrap_or("").to_owned()
    }

    /// Polls until the session has `status` (up to `timeout`).
    pub async fn wait_status(&self, session: &str, status: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.status_of(session).await;
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "session {session} did not reach {status} within {timeout:?} (still {now})"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Creates and starts a session, scans it and waits for WORKING.
    pub async fn working_session(&self, session: &str, phone: &str, config: Value) {
        let (code, body) = self
            .post(
                "/api/sessions",
                json!({"name": session, "start": true, "config": config}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        self.wait_status(session, "SCAN_QR_CODE", Duration::from_secs(10))
            .await;
        let (code, body) = self
            .post(
                &format!("/__emulator/sessions/{session}/scan"),
                json!({"phone": phone, "pushName": "Agent"}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "WORKING");
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if !self.keep_store {
            let _ = std::fs::remove_dir_all(&self.store);
        }
    }
}

/// One request seen by the receiver.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
    pub fn event(&self) -> String {
        self.json()["event"].as_str().unwrap_or("").to_owned()
    }
}

/// A real HTTP webhook receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    /// Status code answered (200 unless changed).
    pub answer: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Binds `ip:0` (`0.0.0.0` when a container must reach it).
    pub async fn start(ip: &str) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let answer = Arc::new(AtomicU16::new(200));
        let (h, a) = (hits.clone(), answer.clone());
        let app = Router::new().route(
            "/{*path}",
            post(move |headers: HeaderMap, body: Bytes| {
                let (h, a) = (h.clone(), a.clone());
                async move {
                    h.lock().unwrap().push(Hit {
                        at: Instant::now(),
                        headers,
                        body,
                    });
                    StatusCode::from_u16(a.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            addr,
            hits,
            answer,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.addr.port())
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Hits for `event` (and optionally a payload predicate).
    pub fn of(&self, event: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.event() == event)
            .collect()
    }

    /// Polls until `pred` holds on the hits, or panics after `timeout`.
    pub async fn wait<F: Fn(&[Hit]) -> bool>(
        &self,
        what: &str,
        timeout: Duration,
        pred: F,
    ) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            if pred(&hits) {
                return hits;
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = hits
                    .iter()
                    .map(|h| format!("{} {}", h.event(), h.json()["payload"]["status"]))
                    .collect();
                panic!("timed out waiting for {what}; received: {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a `session.status` with the given status.
    pub async fn wait_status(&self, status: &str, timeout: Duration) -> Vec<Hit> {
        self.wait(&format!("session.status {status}"), timeout, |hits| {
            hits.iter()
                .any(|h| h.event() == "session.status" && h.json()["payload"]["status"] == status)
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Lowercase hex HMAC-SHA512, computed independently of the emulator.
pub fn hmac_sha512_hex(key: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The keys of the top-level JSON object, in the order they appear in the raw text.
pub fn top_level_keys(raw: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(raw).unwrap();
    let mut keys = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let mut current = String::new();
    let mut expecting_key = false;
    let mut string_is_key = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
                current.push(c);
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                if string_is_key {
                    keys.push(std::mem::take(&mut current));
                }
                current.clear();
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                string_is_key = depth == 1 && expecting_key;
                expecting_key = false;
            }
            '{' | '[' => {
                depth += 1;
                expecting_key = depth == 1 && c == '{';
            }
            '}' | ']' => depth -= 1,
            ',' if depth == 1 => expecting_key = true,
            _ => {}
        }
    }
    keys
}
