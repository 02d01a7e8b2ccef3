//! The web app at `/` (`--web-dir`) and the security headers of every response.

use std::path::PathBuf;

use reqwest::StatusCode;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{expect_problem, TestApp};

const INDEX: &str =
    "<!doctype html><title>Puente</title><script src=\"/assets/app-abc123.js\"></script>";
const SCRIPT: &str = "console.log('puente');";
const SECRET: &str = "not for the web";

/// A fake `dist/` in a fresh directory, with a secret file beside (not inside) it.
struct WebDir {
    root: PathBuf,
}

impl WebDir {
    fn new() -> Self {
        let root = std::env::temp_dir().join(format!("puente-web-{}", uuid::Uuid::new_v4()));
        let dist = root.join("dist");
        std::fs::create_dir_all(dist.join("assets")).unwrap();
        std::fs::write(dist.join("index.html"), INDEX).unwrap();
        std::fs::write(dist.join("assets/app-abc123.js"), SCRIPT).unwrap();
        std::fs::write(dist.join("favicon.svg"), "<svg/>").unwrap();
        std::fs::write(root.join("secret.txt"), SECRET).unwrap();
        Self { root }
    }

    fn dist(&self) -> PathBuf {
        self.root.join("dist")
    }
}

impl Drop for WebDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn spawn_web(pool: PgPool, dir: &WebDir) -> TestApp {
    let dist = dir.dist();
    TestApp::spawn_with(pool, |c| c.web_dir = Some(dist)).await
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Send `path` exactly as written (reqwest would normalise `..` and `%2e%2e` away);
/// returns the status code and the whole response text.
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[sqlx::test]
async fn serves_index_and_hashed_assets_with_their_caching(pool: PgPool) {
    let dir = WebDir::new();
    let app = spawn_web(pool, &dir).await;

    let resp = app.get("/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert_eq!(resp.text().await.unwrap(), INDEX);

    let resp = app.get("/index.html", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control"), "no-cache");

    let resp = app.get("/assets/app-abc123.js", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        header(&resp, "content-type").contains("javascript"),
        "{}",
        header(&resp, "content-type")
    );
    assert_eq!(
        header(&resp, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(resp.text().await.unwrap(), SCRIPT);

    let resp = app.get("/favicon.svg", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "image/svg+xml");

    // HEAD answers the same headers without a body.
    let resp = app
        .client
        .head(app.url("/assets/app-abc123.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(&resp, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(resp.text().await.unwrap().is_empty());
}

#[sqlx::test]
async fn client_side_routes_get_index_but_missing_assets_and_api_paths_do_not(pool: PgPool) {
    let dir = WebDir::new();
    let app = spawn_web(pool, &dir).await;

    for route in ["/inbox/123", "/links", "/settings/profile/", "/apis"] {
        let resp = app.get(route, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{route}");
        assert_eq!(header(&resp, "cache-control"), "no-cache", "{route}");
        assert_eq!(resp.text().await.unwrap(), INDEX, "{route}");
    }

    for missing in ["/assets/x.js", "/assets/", "/assets"] {
        expect_problem(
            app.get(missing, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    for server in [
        "/api/v1/nope",
        "/api",
        "/webhooks/nope",
        "/docs/nope.js",
        "/metrics/x",
        "/healthz/x",
        "/readyz/x",
    ] {
        expect_problem(
            app.get(server, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Other methods are not the app's.
    expect_problem(
        app.post("/inbox/123", &serde_json::json!({}), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The API itself still answers.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn no_path_leaves_the_directory(pool: PgPool) {
    let dir = WebDir::new();
    let app = spawn_web(pool, &dir).await;
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        &format!("/{}", dir.root.join("secret.txt").display()),
        &format!("//{}", dir.root.join("secret.txt").display()),
        &format!(
            "/{}",
            dir.root
                .join("secret.txt")
                .display()
                .to_string()
                .replace('/', "%2F")
        ),
    ] {
        let (status, text) = raw_get(&app, path).await;
        assert!(!text.contains(SECRET), "{path} leaked the secret: {text}");
        assert!(
            status == 404 || status == 400 || (status == 200 && text.contains(INDEX)),
            "{path}: {text}"
        );
    }
    let (status, _) = raw_get(&app, "/%2e%2e/secret.txt").await;
    assert_eq!(status, 404, "a traversal attempt is a 404, not the app");
}

#[sqlx::test]
async fn without_a_web_dir_the_root_is_a_problem_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert!(app.state.config.web_dir.is_none());
    expect_problem(app.get("/", None).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_problem(
        app.get("/inbox/123", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test]
async fn precompressed_files_are_served_when_accepted(pool: PgPool) {
    let dir = WebDir::new();
    std::fs::write(dir.dist().join("assets/app-abc123.js.gz"), b"GZIPPED").unwrap();
    let app = spawn_web(pool, &dir).await;
    let resp = app
        .client
        .get(app.url("/assets/app-abc123.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-encoding"), "gzip");
    assert!(header(&resp, "content-type").contains("javascript"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"GZIPPED");
    // A client that does not accept gzip gets the plain file.
    let resp = app.get("/assets/app-abc123.js", None).await;
    assert!(header(&resp, "content-encoding").is_empty());
    assert_eq!(resp.text().await.unwrap(), SCRIPT);
}

#[sqlx::test]
async fn app_responses_carry_the_strict_security_headers(pool: PgPool) {
    let dir = WebDir::new();
    let app = spawn_web(pool, &dir).await;
    for path in ["/", "/inbox/1", "/assets/app-abc123.js"] {
        let resp = app.get(path, None).await;
        let csp = header(&resp, "content-security-policy");
        assert_eq!(
            csp,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            "{path}"
        );
        assert!(!csp.contains("unsafe"), "{path}");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
        assert_eq!(header(&resp, "referrer-policy"), "no-referrer");
        assert_eq!(header(&resp, "x-frame-options"), "DENY");
        assert_eq!(header(&resp, "cross-origin-opener-policy"), "same-origin");
        let perms = header(&resp, "permissions-policy");
        for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
            assert!(perms.contains(feature), "{path}: {perms}");
        }
        assert!(
            resp.headers().get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
    }
}

#[sqlx::test]
async fn api_responses_get_the_basic_headers_and_https_adds_hsts(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.public_url = "https://puente.example".into()).await;
    for resp in [
        app.get("/healthz", None).await,
        app.get("/api/v1/me", None).await,
    ] {
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
        assert_eq!(header(&resp, "referrer-policy"), "no-referrer");
        assert_eq!(header(&resp, "x-frame-options"), "DENY");
        assert_eq!(
            header(&resp, "strict-transport-security"),
            "max-age=31536000"
        );
        assert!(
            resp.headers().get("content-security-policy").is_none(),
            "the app's CSP is for the app"
        );
    }
}

#[sqlx::test]
async fn swagger_ui_keeps_working_under_its_own_csp(pool: PgPool) {
    let dir = WebDir::new();
    let app = spawn_web(pool, &dir).await;
    let resp = app.get("/docs/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = header(&resp, "content-security-policy");
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(
        csp.contains("script-src 'self';"),
        "scripts stay strict: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-initializer.js"), "{html}");
    assert!(
        !html.contains("<script>"),
        "no inline script, so script-src 'self' is enough"
    );
    let resp = app.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("/api/openapi.json"));
    let resp = app.get("/api/openapi.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}
