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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let app = App::build_with_pool(config, pool.clone(), listener);
        let addr = app.local_addr().expect("addr");
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(app.run(async move { stop.cancelled().await }));
        Self {
            base: format!("http://{addr}"),
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
