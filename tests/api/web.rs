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
    assert_eq!(
        header(&resp, "vary"),
        "accept-encoding",
        "shared caches keep the variants apart"
    );
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

// ---------------------------------------------------------------------------------------
// Browser sign-in: /api/v1/auth/web/*

/// The browser's cookie jar for one session, kept by hand so tests can replay old cookies.
#[derive(Debug, Clone, Default)]
struct Jar {
    rt: Option<String>,
    csrf: Option<String>,
}

impl Jar {
    fn header(&self) -> String {
        let mut parts = Vec::new();
        if let Some(rt) = &self.rt {
            parts.push(format!("puente_rt={rt}"));
        }
        if let Some(c) = &self.csrf {
            parts.push(format!("puente_csrf={c}"));
        }
        parts.join("; ")
    }
}

/// The `Set-Cookie` line for `name`, if the response has one.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(line: &str) -> String {
    line.split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

fn attrs(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_string())
        .collect()
}

/// Read both cookies a response set into a jar.
fn jar_from(resp: &reqwest::Response) -> Jar {
    Jar {
        rt: set_cookie(resp, "puente_rt").map(|l| cookie_value(&l)),
        csrf: set_cookie(resp, "puente_csrf").map(|l| cookie_value(&l)),
    }
}

/// POST to a web-auth route as a same-origin browser would: the jar's cookies, the CSRF
/// header when given, plus `extra` headers.
async fn web_post(
    app: &TestApp,
    route: &str,
    jar: &Jar,
    csrf: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/auth/web/{route}")));
    if !extra.iter().any(|(k, _)| *k == "sec-fetch-site") {
        req = req.header("sec-fetch-site", "same-origin");
    }
    let cookies = jar.header();
    if !cookies.is_empty() {
        req = req.header("cookie", cookies);
    }
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn web_login(app: &TestApp, email: &str) -> (Jar, serde_json::Value) {
    let resp = web_post(
        app,
        "login",
        &Jar::default(),
        None,
        &[],
        Some(serde_json::json!({"email": email, "password": crate::helpers::PASSWORD})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let jar = jar_from(&resp);
    (jar, resp.json().await.unwrap())
}

async fn web_refresh(app: &TestApp, jar: &Jar) -> reqwest::Response {
    web_post(app, "refresh", jar, jar.csrf.as_deref(), &[], None).await
}

#[sqlx::test]
async fn web_login_sets_an_httponly_refresh_cookie_and_a_csrf_cookie(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("bea@example.com").await;
    let resp = web_post(
        &app,
        "login",
        &Jar::default(),
        None,
        &[],
        Some(serde_json::json!({"email": "bea@example.com", "password": crate::helpers::PASSWORD})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control"), "no-store");
    let rt = set_cookie(&resp, "puente_rt").expect("refresh cookie");
    let csrf = set_cookie(&resp, "puente_csrf").expect("csrf cookie");
    let rt_attrs = attrs(&rt);
    for a in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth/web",
        "Max-Age=2592000",
    ] {
        assert!(rt_attrs.iter().any(|x| x == a), "{a} missing: {rt}");
    }
    assert!(!rt_attrs.iter().any(|x| x == "Secure"), "plain http: {rt}");
    let csrf_attrs = attrs(&csrf);
    for a in ["SameSite=Strict", "Path=/", "Max-Age=2592000"] {
        assert!(csrf_attrs.iter().any(|x| x == a), "{a} missing: {csrf}");
    }
    assert!(
        !csrf_attrs.iter().any(|x| x == "HttpOnly"),
        "the app reads it: {csrf}"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "never in the body: {body}"
    );
    assert_eq!(
        body["csrf_token"].as_str(),
        Some(cookie_value(&csrf).as_str())
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], "bea@example.com");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), StatusCode::OK);

    // Registering in the browser: 201, the same cookies and body.
    let resp = web_post(
        &app,
        "register",
        &Jar::default(),
        None,
        &[],
        Some(serde_json::json!({"email": "new@example.com", "password": crate::helpers::PASSWORD, "display_name": "Nora"})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let jar = jar_from(&resp);
    assert!(jar.rt.is_some() && jar.csrf.is_some());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["user"]["role"], "buyer");
    assert_eq!(web_refresh(&app, &jar).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn cookies_are_secure_when_the_public_url_is_https(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.public_url = "https://puente.example".into();
        c.refresh_token_ttl_days = 7;
    })
    .await;
    app.register_buyer("bea@example.com").await;
    let resp = web_post(
        &app,
        "login",
        &Jar::default(),
        None,
        &[],
        Some(serde_json::json!({"email": "bea@example.com", "password": crate::helpers::PASSWORD})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    for name in ["puente_rt", "puente_csrf"] {
        let line = set_cookie(&resp, name).unwrap();
        let a = attrs(&line);
        assert!(a.iter().any(|x| x == "Secure"), "{line}");
        assert!(a.iter().any(|x| x == "Max-Age=604800"), "{line}");
    }
}

#[sqlx::test]
async fn refresh_via_the_cookie_works_and_rotates_both_cookies(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("bea@example.com").await;
    let (jar, _) = web_login(&app, "bea@example.com").await;

    let resp = web_refresh(&app, &jar).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let next = jar_from(&resp);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_ne!(next.rt, jar.rt, "the refresh cookie rotates");
    assert_ne!(next.csrf, jar.csrf, "the CSRF token rotates");
    assert_eq!(body["csrf_token"].as_str(), next.csrf.as_deref());
    let me = app.me(body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["id"], s.id.as_str());

    // And again with the new cookies.
    assert_eq!(web_refresh(&app, &next).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn refresh_refuses_missing_wrong_or_cross_site_csrf(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("bea@example.com").await;
    let (jar, _) = web_login(&app, "bea@example.com").await;
    let csrf = jar.csrf.clone().unwrap();

    // No header.
    expect_problem(
        web_post(&app, "refresh", &jar, None, &[], None).await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    // A wrong one, an empty one, one of the wrong length.
    for wrong in ["x".repeat(csrf.len()), String::new(), format!("{csrf}x")] {
        expect_problem(
            web_post(&app, "refresh", &jar, Some(&wrong), &[], None).await,
            StatusCode::FORBIDDEN,
            "csrf_failed",
        )
        .await;
    }
    // The header without the cookie it must match.
    let no_csrf_cookie = Jar {
        rt: jar.rt.clone(),
        csrf: None,
    };
    expect_problem(
        web_post(&app, "refresh", &no_csrf_cookie, Some(&csrf), &[], None).await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    // The right token from another site.
    for site in ["cross-site", "same-site"] {
        expect_problem(
            web_post(
                &app,
                "refresh",
                &jar,
                Some(&csrf),
                &[("sec-fetch-site", site)],
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "csrf_failed",
        )
        .await;
    }
    expect_problem(
        web_post(
            &app,
            "refresh",
            &jar,
            Some(&csrf),
            &[("origin", "https://evil.example")],
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    expect_problem(
        web_post(
            &app,
            "refresh",
            &jar,
            Some(&csrf),
            &[("origin", "null")],
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    // None of that spent the session: the real thing still works, from our own origin.
    let own = app.base.clone();
    let resp = web_post(
        &app,
        "refresh",
        &jar,
        Some(&csrf),
        &[("origin", &own)],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[sqlx::test]
async fn web_login_and_register_refuse_cross_site_requests(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("bea@example.com").await;
    let login =
        serde_json::json!({"email": "bea@example.com", "password": crate::helpers::PASSWORD});
    let resp = web_post(
        &app,
        "login",
        &Jar::default(),
        None,
        &[("sec-fetch-site", "cross-site")],
        Some(login.clone()),
    )
    .await;
    assert!(set_cookie(&resp, "puente_rt").is_none());
    expect_problem(resp, StatusCode::FORBIDDEN, "csrf_failed").await;
    expect_problem(
        web_post(
            &app,
            "register",
            &Jar::default(),
            None,
            &[("origin", "https://evil.example")],
            Some(serde_json::json!({"email": "x@example.com", "password": crate::helpers::PASSWORD, "display_name": "X"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    // A direct navigation or a non-browser client (no fetch metadata) is fine.
    let resp = app.post("/api/v1/auth/web/login", &login, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[sqlx::test]
async fn reusing_an_old_refresh_cookie_ends_the_whole_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("bea@example.com").await;
    let (first, _) = web_login(&app, "bea@example.com").await;
    let resp = web_refresh(&app, &first).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second = jar_from(&resp);

    // The old cookie comes back (with a valid CSRF pair): theft suspected.
    let replay = Jar {
        rt: first.rt.clone(),
        csrf: second.csrf.clone(),
    };
    let resp = web_refresh(&app, &replay).await;
    let cleared = set_cookie(&resp, "puente_rt").expect("cookie cleared");
    assert!(
        attrs(&cleared).iter().any(|a| a == "Max-Age=0"),
        "{cleared}"
    );
    assert!(set_cookie(&resp, "puente_csrf").is_some_and(|c| c.contains("Max-Age=0")));
    expect_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    // The current cookie died with its family.
    expect_problem(
        web_refresh(&app, &second).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;
}

#[sqlx::test]
async fn logout_clears_both_cookies_and_the_cookie_no_longer_refreshes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("bea@example.com").await;
    let (jar, _) = web_login(&app, "bea@example.com").await;

    // With a session cookie, logout needs the CSRF token.
    expect_problem(
        web_post(&app, "logout", &jar, None, &[], None).await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    assert_eq!(web_refresh(&app, &jar).await.status(), StatusCode::OK);
    let (jar, _) = web_login(&app, "bea@example.com").await;

    let resp = web_post(&app, "logout", &jar, jar.csrf.as_deref(), &[], None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for name in ["puente_rt", "puente_csrf"] {
        let line = set_cookie(&resp, name).expect("cleared");
        assert_eq!(cookie_value(&line), "", "{line}");
        assert!(attrs(&line).iter().any(|a| a == "Max-Age=0"), "{line}");
    }
    let rt = set_cookie(&resp, "puente_rt").unwrap();
    assert!(
        rt.contains("Path=/api/v1/auth/web"),
        "same path, or it would not clear: {rt}"
    );
    expect_problem(
        web_refresh(&app, &jar).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;

    // Without any cookie: still 204, still clears.
    let resp = web_post(&app, "logout", &Jar::default(), None, &[], None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&resp, "puente_rt").is_some());
    // But never from another site.
    expect_problem(
        web_post(
            &app,
            "logout",
            &Jar::default(),
            None,
            &[("sec-fetch-site", "cross-site")],
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
}

#[sqlx::test]
async fn refresh_failures_say_why(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.register_admin("admin@costa.example", "Costa").await;
    app.register_agent(&admin, "diego@costa.example").await;

    // No cookie at all: a first visit.
    let resp = web_post(&app, "refresh", &Jar::default(), None, &[], None).await;
    assert!(set_cookie(&resp, "puente_rt").is_some_and(|c| c.contains("Max-Age=0")));
    expect_problem(resp, StatusCode::UNAUTHORIZED, "session_missing").await;

    // An unknown cookie.
    let junk = Jar {
        rt: Some("not-a-token".into()),
        csrf: Some("c".into()),
    };
    expect_problem(
        web_refresh(&app, &junk).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;

    // Expired.
    let (jar, _) = web_login(&app, "admin@costa.example").await;
    sqlx::query("update refresh_tokens set expires_at = now() - interval '1 minute' where user_id = $1::uuid")
        .bind(&admin.id)
        .execute(&app.pool)
        .await
        .unwrap();
    expect_problem(
        web_refresh(&app, &jar).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_expired",
    )
    .await;

    // Deactivated.
    let (jar, body) = web_login(&app, "diego@costa.example").await;
    let agent_id = body["user"]["id"].as_str().unwrap().to_string();
    let admin = app
        .login("admin@costa.example", crate::helpers::PASSWORD)
        .await;
    let resp = app
        .post(
            &format!("/api/v1/agency/agents/{agent_id}/deactivate"),
            &serde_json::json!({}),
            Some(&admin.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    expect_problem(
        web_refresh(&app, &jar).await,
        StatusCode::UNAUTHORIZED,
        "account_inactive",
    )
    .await;
}

#[sqlx::test]
async fn web_login_shares_the_login_rate_limit(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("bea@example.com").await;
    let wrong = serde_json::json!({"email": "bea@example.com", "password": "wrong password here"});
    // Five attempts per account per minute, counted across both endpoints.
    for _ in 0..3 {
        let resp = app.post("/api/v1/auth/login", &wrong, None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    for _ in 0..2 {
        let resp = web_post(
            &app,
            "login",
            &Jar::default(),
            None,
            &[],
            Some(wrong.clone()),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = web_post(&app, "login", &Jar::default(), None, &[], Some(wrong)).await;
    assert!(resp.headers().get("retry-after").is_some());
    expect_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
