//! One error shape everywhere: unknown routes, wrong methods, malformed and oversized bodies,
//! wrong content types, bad path parameters, validation.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{expect_problem, TestApp};

#[sqlx::test]
async fn unknown_route_is_a_404_problem(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    expect_problem(
        app.get("/api/v1/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get("/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test]
async fn wrong_method_is_a_405_problem_with_allow(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let resp = app.get("/api/v1/auth/login", None).await;
    let allow = resp
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    expect_problem(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert_eq!(allow.as_deref(), Some("POST"));
}

#[sqlx::test]
async fn malformed_json_is_a_400_problem(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    expect_problem(resp, StatusCode::BAD_REQUEST, "malformed_json").await;
}

#[sqlx::test]
async fn wrong_types_and_unknown_fields_are_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = expect_problem(
        app.post(
            "/api/v1/auth/login",
            &json!({"email": 5, "password": "x"}),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "body");
    expect_problem(
        app.post(
            "/api/v1/auth/login",
            &json!({"email": "a@b.co", "password": "x", "admin": true}),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[sqlx::test]
async fn missing_content_type_is_415(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .body(r#"{"email":"a@b.co","password":"x"}"#)
        .send()
        .await
        .unwrap();
    expect_problem(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[sqlx::test]
async fn oversized_bodies_are_413(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.max_body_bytes = 2048).await;
    let big = "x".repeat(4096);
    // With a Content-Length over the limit…
    let resp = app
        .post(
            "/api/v1/auth/login",
            &json!({"email": big, "password": "x"}),
            None,
        )
        .await;
    expect_problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // …and streamed without one.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"email\":\"".to_vec()),
        Ok(big.into_bytes()),
        Ok(b"\"}".to_vec()),
    ];
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    expect_problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // The server is still fine afterwards.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn bad_path_parameter_is_400(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.register_admin("admin@a.example", "Agency A").await;
    let resp = app
        .post(
            "/api/v1/agency/agents/not-a-uuid/deactivate",
            &json!({}),
            Some(&admin.access),
        )
        .await;
    expect_problem(resp, StatusCode::BAD_REQUEST, "invalid_path").await;
}
