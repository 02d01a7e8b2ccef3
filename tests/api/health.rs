//! Health, readiness, metrics, request ids, OpenAPI and graceful shutdown.

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{expect_problem, expect_status, TestApp};

#[sqlx::test]
async fn healthz_is_ok(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = expect_status(app.get("/healthz", None).await, StatusCode::OK).await;
    assert_eq!(body["status"], "ok");
}

#[sqlx::test]
async fn readyz_checks_database_and_the_real_docker_engine(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(body["database"], "ok");
    assert_eq!(
        body["docker"], "ok",
        "the Docker engine must be running for the tests"
    );
}

#[sqlx::test]
async fn readyz_is_503_when_docker_is_unreachable(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.docker_host = Some("unix:///nonexistent/docker.sock".into())
    })
    .await;
    let body = expect_problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("database: ok"), "{detail}");
    assert!(detail.contains("docker: unreachable"), "{detail}");
}

#[sqlx::test]
async fn readyz_is_503_when_the_database_is_gone(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    pool.close().await;
    let body = expect_problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("database: unreachable"));
}

#[sqlx::test]
async fn metrics_expose_requests_latency_and_pool(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.get("/healthz", None).await;
    app.get("/api/v1/no-such-route", None).await;
    let resp = app.get("/metrics", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"db_pool_connections{state="idle"}"#),
        "{text}"
    );
    assert!(text.contains("db_pool_max_connections"), "{text}");
}

#[sqlx::test]
async fn request_ids_are_made_or_echoed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let resp = app.get("/healthz", None).await;
    let made = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 32);
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
    // Unsafe incoming ids are replaced, not echoed.
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "<script>");
}

#[sqlx::test]
async fn openapi_document_and_docs_page(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = expect_status(app.get("/api/openapi.json", None).await, StatusCode::OK).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/me",
        "/api/v1/agency/invites",
        "/readyz",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let resp = app.get("/docs/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );
}

#[sqlx::test]
async fn graceful_shutdown_stops_the_server(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    app.stop();
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), app.server).await;
    assert!(
        matches!(res, Ok(Ok(Ok(())))),
        "server returned cleanly: {res:?}"
    );
    assert!(app.state.shutdown.is_cancelled());
    assert!(
        reqwest::get(format!("{}/healthz", app.base)).await.is_err(),
        "no longer accepting"
    );
}
