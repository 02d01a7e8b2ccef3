//! `TestApp`: a Puente server on port 0 against a fresh database (from `#[sqlx::test]`), with
//! one helper per endpoint. Tracing stays silent unless `TEST_LOG=1`.

use std::sync::Once;

use puente::app::{App, AppState};
use puente::config::ServeConfig;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery";

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            puente::telemetry::init(&puente::config::LogArgs {
                log_format: puente::config::LogFormat::Pretty,
                log_filter: "debug,sqlx=warn,hyper=info,bollard=info".into(),
            });
        }
    });
}

pub struct TestApp {
    pub base: String,
    /// `http://127.0.0.1:<port>` of the webhook-only listener, when the test set
    /// `webhook_bind`.
    pub webhooks_base: Option<String>,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub state: AppState,
    shutdown: CancellationToken,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A signed-in account as seen by tests.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl Session {
    fn from_body(body: Value) -> Self {
        Self {
            id: body["user"]["id"].as_str().unwrap_or_default().to_string(),
            access: body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            refresh: body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body,
        }
    }
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, |_| {}).await
    }

    pub async fn spawn_with(pool: PgPool, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        init_tracing();
        let mut config = ServeConfig::for_tests("postgres://unused");
        tweak(&mut config);
        config.validate().expect("valid test config");
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .expect("bind");
        let webhook_listener = match config.webhook_bind {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.expect("bind")),
            None => None,
        };
        let app = App::build_with_listeners(config, pool.clone(), listener, webhook_listener);
        let addr = app.local_addr().expect("addr");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()));
        let webhooks_base = app
            .webhook_addr()
            .map(|a| format!("http://127.0.0.1:{}", a.expect("addr").port()));
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(app.run(async move { stop.cancelled().await }));
        Self {
            base: format!("http://{addr}"),
            webhooks_base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            pool,
            state,
            shutdown,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Ask the server to stop, as SIGTERM would.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn patch(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.patch(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn register(&self, body: Value) -> Response {
        self.post("/api/v1/auth/register", &body, None).await
    }

    pub async fn register_buyer(&self, email: &str) -> Session {
        let resp = self
            .register(json!({"email": email, "password": PASSWORD, "display_name": "Bea Buyer"}))
            .await;
        Session::from_body(expect_status(resp, StatusCode::CREATED).await)
    }

    pub async fn register_admin(&self, email: &str, agency: &str) -> Session {
        let resp = self
            .register(
                json!({"email": email, "password": PASSWORD, "display_name": "Alba Admin",
                             "account_type": "agency_admin", "agency_name": agency}),
            )
            .await;
        Session::from_body(expect_status(resp, StatusCode::CREATED).await)
    }

    pub async fn invite(&self, admin: &Session, email: Option<&str>) -> String {
        let resp = self
            .post(
                "/api/v1/agency/invites",
                &json!({"email": email}),
                Some(&admin.access),
            )
            .await;
        let body = expect_status(resp, StatusCode::CREATED).await;
        body["code"].as_str().expect("code").to_string()
    }

    pub async fn register_agent(&self, admin: &Session, email: &str) -> Session {
        let code = self.invite(admin, None).await;
        let resp = self
            .register(
                json!({"email": email, "password": PASSWORD, "display_name": "Diego Agent",
                             "account_type": "agent", "invite_code": code}),
            )
            .await;
        Session::from_body(expect_status(resp, StatusCode::CREATED).await)
    }

    /// Operators are made by the CLI in real life; here straight in the database.
    pub async fn operator(&self, email: &str) -> Session {
        let hash = puente::auth::password::hash(PASSWORD.into())
            .await
            .expect("hash");
        sqlx::query("insert into users (id, email, password_hash, display_name, role) values ($1, $2, $3, 'Op', 'operator')")
            .bind(uuid::Uuid::now_v7())
            .bind(email)
            .bind(hash)
            .execute(&self.pool)
            .await
            .expect("insert operator");
        self.login(email, PASSWORD).await
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        Session::from_body(
            expect_status(self.login_raw(email, password).await, StatusCode::OK).await,
        )
    }

    pub async fn refresh_raw(&self, refresh: &str) -> Response {
        self.post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh}),
            None,
        )
        .await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get("/api/v1/me", Some(token)).await
    }
}

/// Assert the status (printing the body when it differs) and return the JSON body.
pub async fn expect_status(resp: Response, status: StatusCode) -> Value {
    let got = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Assert a problem response: status, content type, code, and a request id matching the header.
pub async fn expect_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    let got = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let header_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "unexpected status; body: {text}");
    assert_eq!(ctype, "application/problem+json", "body: {text}");
    let body: Value = serde_json::from_str(&text).expect("problem body is JSON");
    assert_eq!(body["code"], code, "body: {text}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], format!("urn:puente:problem:{code}"));
    assert!(!header_id.is_empty());
    assert_eq!(
        body["request_id"],
        header_id.as_str(),
        "request id in body and header"
    );
    body
}

/// The WAHA image the link tests run (built by scripts/build-waha-image).
pub fn waha_image() -> String {
    std::env::var("PUENTE_WAHA_IMAGE").unwrap_or_else(|_| "puente/waha-emulator:dev".into())
}

/// Run the docker CLI; (success, stdout).
pub fn docker(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Removes every container and volume of a test's Puente instance when dropped.
///
/// The server is told to stop first, and the sweep runs twice around a pause: a create the
/// supervisor had already sent to the engine finishes inside the pause, and the test's
/// single-threaded runtime, blocked here, cannot send another.
pub struct Fleet {
    pub instance: String,
    stop: CancellationToken,
}

impl Fleet {
    fn sweep(&self) -> usize {
        let filter = format!("label=puente.instance={}", self.instance);
        let (_, ids) = docker(&["ps", "-aq", "--filter", &filter]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        let found = ids.len();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            docker(&args);
        }
        let (_, vols) = docker(&["volume", "ls", "-q", "--filter", &filter]);
        let vols: Vec<&str> = vols.split_whitespace().collect();
        if !vols.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(vols);
            docker(&args);
        }
        found
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop.cancel();
        self.sweep();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let late = self.sweep();
        if late > 0 {
            tracing::warn!(instance = %self.instance, late, "removed containers created during teardown");
        }
    }
}

/// Settings for tests that run WAHA containers: Puente listens on all interfaces (the
/// containers post webhooks to host.docker.internal), its own instance label, fast emulator
/// timings, quick reconcile passes.
pub fn fleet_config(c: &mut ServeConfig, instance: &str) {
    c.bind = "0.0.0.0:0".parse().unwrap();
    c.waha.instance = instance.to_string();
    c.waha.waha_image = waha_image();
    c.waha.reconcile_interval_secs = 2;
    c.waha.waha_memory_mb = Some(128);
    c.waha.waha_extra_env = vec![
        "EMULATOR_STARTING_MS=300".into(),
        "EMULATOR_WAIT_RUNNING_MS=1000".into(),
        "EMULATOR_WAIT_STATUS_MS=1000".into(),
        "EMULATOR_ACK_SERVER_MS=100".into(),
        "EMULATOR_ACK_DEVICE_MS=200".into(),
        "EMULATOR_ACK_READ_MS=300".into(),
        // Real WAHA takes seconds to stop or log out; small here.
        "EMULATOR_STOP_MS=300".into(),
        "EMULATOR_LOGOUT_MS=300".into(),
        "WHATSAPP_HOOK_RETRIES_DELAY_SECONDS=1".into(),
    ];
}

impl TestApp {
    /// A Puente whose supervisor manages real containers of a fresh instance.
    pub async fn spawn_fleet(pool: PgPool, tweak: impl FnOnce(&mut ServeConfig)) -> (Self, Fleet) {
        let instance = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let app = Self::spawn_with(pool, |c| {
            fleet_config(c, &instance);
            tweak(c);
        })
        .await;
        let fleet = Fleet {
            instance,
            stop: app.shutdown.clone(),
        };
        (app, fleet)
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Base URL and API key of a link's emulator, to drive the "phone".
    pub async fn emulator(&self, link_id: &str) -> (String, String) {
        let id: uuid::Uuid = link_id.parse().unwrap();
        let row = puente::db::links::find(&self.pool, id)
            .await
            .unwrap()
            .expect("link");
        let base = puente::links::service::base_url(&self.state, &row)
            .await
            .expect("emulator reachable");
        let key = puente::links::keys::api_key(
            self.state.config.waha.master_secret.expose().as_bytes(),
            id,
            row.key_version,
        );
        (base, key)
    }

    /// POST to the emulator's control API for the link's session.
    pub async fn phone(&self, link_id: &str, action: &str, body: &Value) -> Value {
        let (base, key) = self.emulator(link_id).await;
        let resp = self
            .client
            .post(format!("{base}/__emulator/sessions/default/{action}"))
            .header("x-api-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "emulator {action}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Poll GET /api/v1/whatsapp/links/{id} until `pred` holds.
    pub async fn wait_link(
        &self,
        token: &str,
        id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let mut last = Value::Null;
        while std::time::Instant::now() < deadline {
            let resp = self
                .get(&format!("/api/v1/whatsapp/links/{id}"), Some(token))
                .await;
            if resp.status() == StatusCode::OK {
                last = resp.json().await.unwrap();
                if pred(&last) {
                    return last;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        panic!("link never became {what}; last: {last}");
    }
}

/// A WebSocket client of `/api/v1/ws`.
pub struct Ws {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pub seen: Vec<Value>,
}

impl Ws {
    pub async fn connect(app: &TestApp, token: &str, since: Option<i64>) -> Self {
        let mut url = format!(
            "{}/api/v1/ws?access_token={token}",
            app.base.replace("http://", "ws://")
        );
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Self {
            stream,
            seen: Vec::new(),
        }
    }

    /// The next JSON frame, or None after `secs` without one.
    pub async fn next(&mut self, secs: u64) -> Option<Value> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match msg.ok()? {
                tokio_tungstenite::tungstenite::Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("JSON frame");
                    self.seen.push(v.clone());
                    return Some(v);
                }
                tokio_tungstenite::tungstenite::Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Wait for a frame matching `pred` (up to `secs`), panicking with what was seen.
    pub async fn wait(&mut self, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            let left = deadline
                .saturating_duration_since(std::time::Instant::now())
                .as_secs()
                .max(1);
            match self.next(left).await {
                Some(v) if pred(&v) => return v,
                Some(_) => continue,
                None => break,
            }
        }
        panic!("no {what} frame; seen: {:#?}", self.seen);
    }

    pub async fn send(&mut self, v: Value) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(
                v.to_string().into(),
            ))
            .await
            .unwrap();
    }
}

/// Counts the SQL statements sqlx runs while serving requests to one route (the `http` span
/// of `puente::http::observe` names it), whatever the server does meanwhile elsewhere.
///
/// Install it with [`StatementCounter::install`] on the test's own thread: `#[sqlx::test]`
/// runs the test and the server it spawned on one current-thread runtime, so the
/// thread-local subscriber sees every statement a handler runs.
#[derive(Clone)]
pub struct StatementCounter {
    route: &'static str,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Marks the `http` spans of the route being counted.
struct CountedRoute;

impl StatementCounter {
    pub fn install(route: &'static str) -> (Self, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        // With a single dispatcher registered, tracing decides whether a callsite is enabled
        // by asking the default subscriber of whichever thread reaches it first — another
        // test's thread, which has none — and caches "never" for everyone. A second, idle,
        // dispatcher that lives as long as the process makes it ask every dispatcher.
        static IDLE: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        IDLE.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let counter = Self {
            route,
            count: Default::default(),
        };
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(counter.clone()));
        (counter, guard)
    }

    /// Statements counted so far; resets the count.
    pub fn take(&self) -> usize {
        self.count.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

impl<S> tracing_subscriber::Layer<S> for StatementCounter
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Route(Option<String>);
        impl tracing::field::Visit for Route {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "route" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        if attrs.metadata().name() != "http" {
            return;
        }
        let mut route = Route(None);
        attrs.record(&mut route);
        if route.0.as_deref() == Some(self.route) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(CountedRoute);
            }
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let counted = ctx
            .event_scope(event)
            .is_some_and(|mut scope| scope.any(|s| s.extensions().get::<CountedRoute>().is_some()));
        if counted {
            self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
