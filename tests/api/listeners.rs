//! The two listeners: with `webhook_bind` set, the WAHA webhooks are served on that address
//! only, it serves nothing else, and the public address answers them 404. Unset, the public
//! address serves them as before.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, TestApp};

/// A link row (no container) and a correctly signed `session.status` event for it.
async fn link_and_event(app: &TestApp) -> (Uuid, Vec<u8>, String) {
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let agency: Uuid = admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = Uuid::now_v7();
    puente::db::links::insert(
        &app.pool,
        id,
        agent.id.parse().unwrap(),
        agency,
        "GOWS",
        "puente/waha-emulator:dev",
        "x",
    )
    .await
    .unwrap();
    let body = serde_json::to_vec(&json!({
        "id": "evt_listeners_1", "timestamp": 1_767_000_000_000_i64, "event": "session.status",
        "session": "default", "payload": {"status": "STARTING"}, "engine": "GOWS",
    }))
    .unwrap();
    let key = puente::links::keys::hmac_key(
        app.state.config.waha.master_secret.expose().as_bytes(),
        id,
        1,
    );
    let sig = puente::waha::signature::sign(key.as_bytes(), &body);
    (id, body, sig)
}

async fn post_event(
    app: &TestApp,
    base: &str,
    link: Uuid,
    body: &[u8],
    sig: &str,
) -> reqwest::Response {
    app.client
        .post(format!("{base}/webhooks/waha/{link}"))
        .header("content-type", "application/json")
        .header("x-webhook-hmac", sig)
        .header("x-webhook-hmac-algorithm", "sha512")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn stored_events(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from waha_events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn with_a_webhook_listener_webhooks_are_served_there_and_only_there(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.waha.supervise = false;
        c.webhook_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let hooks = app.webhooks_base.clone().expect("a webhook listener");
    let (link, body, sig) = link_and_event(&app).await;

    // The public address does not know the route: 404, and nothing is stored.
    let resp = post_event(&app, &app.base, link, &body, &sig).await;
    expect_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(stored_events(&app).await, 0);

    // The webhook listener takes it.
    let resp = post_event(&app, &hooks, link, &body, &sig).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stored_events(&app).await, 1);

    // It still checks signatures.
    let resp = post_event(&app, &hooks, link, &body, "00").await;
    expect_problem(resp, StatusCode::UNAUTHORIZED, "invalid_signature").await;

    // And serves nothing else: not the API, not the health or metrics endpoints.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/me",
        "/api/openapi.json",
    ] {
        let resp = app
            .client
            .get(format!("{hooks}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = app
        .client
        .post(format!("{hooks}/api/v1/auth/login"))
        .json(&json!({"email": "admin@costa.example", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The public address keeps serving the rest.
    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Containers are told to post to the webhook listener's port.
    let port = hooks.rsplit(':').next().unwrap();
    assert!(
        app.state.webhook_base.ends_with(&format!(":{port}")),
        "{} should use port {port}",
        app.state.webhook_base
    );
}

#[sqlx::test]
async fn without_a_webhook_listener_the_public_address_serves_webhooks(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    assert!(app.webhooks_base.is_none());
    let (link, body, sig) = link_and_event(&app).await;
    let resp = post_event(&app, &app.base, link, &body, &sig).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stored_events(&app).await, 1);
}

#[test]
fn the_webhook_address_must_differ_from_the_public_one() {
    let mut config = puente::config::ServeConfig::for_tests("postgres://unused");
    config.bind = "127.0.0.1:8080".parse().unwrap();
    config.webhook_bind = Some(config.bind);
    assert!(config.validate().is_err());
    config.webhook_bind = Some("127.0.0.1:8081".parse().unwrap());
    assert!(config.validate().is_ok());
}

#[sqlx::test]
async fn healthcheck_passes_on_a_ready_server_and_fails_on_a_closed_port(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    // `0.0.0.0` (what the image binds) is asked on loopback.
    let args = puente::config::HealthcheckArgs {
        bind: format!("0.0.0.0:{port}").parse().unwrap(),
        bind_subnet: None,
        timeout_secs: 5,
    };
    puente::cli::healthcheck(&args).await.expect("ready");
    // With `--bind-subnet` (a server on "its address in that subnet"), it asks that address.
    let args = puente::config::HealthcheckArgs {
        bind: format!("0.0.0.0:{port}").parse().unwrap(),
        bind_subnet: Some("127.0.0.0/8".parse().unwrap()),
        timeout_secs: 5,
    };
    puente::cli::healthcheck(&args)
        .await
        .expect("ready through the subnet's address");
    let args = puente::config::HealthcheckArgs {
        bind: format!("0.0.0.0:{port}").parse().unwrap(),
        bind_subnet: Some("203.0.113.0/24".parse().unwrap()),
        timeout_secs: 2,
    };
    let err = puente::cli::healthcheck(&args)
        .await
        .expect_err("no address in that subnet");
    assert!(
        err.to_string().contains("no address in 203.0.113.0/24"),
        "{err:#}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let args = puente::config::HealthcheckArgs {
        bind: closed.local_addr().unwrap(),
        bind_subnet: None,
        timeout_secs: 2,
    };
    drop(closed);
    assert!(puente::cli::healthcheck(&args).await.is_err());
}
