//! Link quotas: each link is a container, so an agency runs at most its quota (3 to start,
//! raised by an operator), the installation at most `--max-links`, and one agent creates at
//! most `--link-creates-per-hour` links an hour (create/delete loops churn containers).

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{docker, expect_problem, expect_status, Fleet, Session, TestApp};

/// Wait until the instance has exactly `n` session containers (the reconciles the creates and
/// deletes started are done), then stop the server, so that nothing re-creates a container
/// after the fleet is cleaned up at the end of the test.
async fn settle(app: &TestApp, fleet: &Fleet, n: usize) {
    let filter = format!("label=puente.instance={}", fleet.instance);
    for _ in 0..120 {
        let (_, ids) = docker(&["ps", "-aq", "--filter", &filter]);
        if ids.split_whitespace().count() == n {
            app.stop();
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the instance never settled at {n} container(s)");
}

async fn create(app: &TestApp, agent: &Session) -> reqwest::Response {
    app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
        .await
}

#[sqlx::test]
async fn an_agency_runs_at_most_its_quota_until_an_operator_raises_it(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool.clone(), |_| {}).await;
    let admin = app.register_admin("ana@quota.example", "Quota Homes").await;
    let mut agents = Vec::new();
    for i in 0..4 {
        agents.push(
            app.register_agent(&admin, &format!("agent{i}@quota.example"))
                .await,
        );
    }
    for agent in &agents[..3] {
        expect_status(create(&app, agent).await, StatusCode::CREATED).await;
    }
    // The fourth agent of a new agency: the agency's quota (3) is used up.
    let p = expect_problem(
        create(&app, &agents[3]).await,
        StatusCode::CONFLICT,
        "agency_link_quota_reached",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("3 of its 3"), "{p}");

    // Only an operator raises it, with a valid number, and it is audited.
    let agency: uuid::Uuid =
        sqlx::query_scalar("select agency_id from users where email = 'ana@quota.example'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let path = format!("/api/v1/admin/agencies/{agency}/quota");
    let put = |token: String, body: serde_json::Value| {
        let req = reqwest::Client::new()
            .put(app.url(&path))
            .bearer_auth(token)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    expect_problem(
        put(admin.access.clone(), json!({"link_quota": 10})).await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let op = app.operator("ops@quota.example").await;
    expect_problem(
        put(op.access.clone(), json!({"link_quota": -1})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let missing = format!("/api/v1/admin/agencies/{}/quota", uuid::Uuid::now_v7());
    let resp = reqwest::Client::new()
        .put(app.url(&missing))
        .bearer_auth(&op.access)
        .json(&json!({"link_quota": 5}))
        .send()
        .await
        .unwrap();
    expect_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let body = expect_status(
        put(op.access.clone(), json!({"link_quota": 4})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["link_quota"], 4);
    assert_eq!(body["live_links"], 3);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'agency.quota' and target_id = $1",
    )
    .bind(agency.to_string())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    expect_status(create(&app, &agents[3]).await, StatusCode::CREATED).await;
    settle(&app, &fleet, 4).await;
}

#[sqlx::test]
async fn the_installation_runs_at_most_its_global_cap(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool, |c| c.waha.max_links = 1).await;
    let a = app.register_admin("ana@cap-a.example", "Cap A").await;
    let b = app.register_admin("bea@cap-b.example", "Cap B").await;
    let agent_a = app.register_agent(&a, "agent@cap-a.example").await;
    let agent_b = app.register_agent(&b, "agent@cap-b.example").await;
    expect_status(create(&app, &agent_a).await, StatusCode::CREATED).await;
    // Another agency, well within its own quota, still meets the installation's cap.
    expect_problem(
        create(&app, &agent_b).await,
        StatusCode::CONFLICT,
        "link_capacity_reached",
    )
    .await;
    settle(&app, &fleet, 1).await;
}

#[sqlx::test]
async fn one_agent_creates_at_most_so_many_links_an_hour(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool, |c| c.waha.link_creates_per_hour = 2).await;
    let admin = app.register_admin("ana@churn.example", "Churn Homes").await;
    let agent = app.register_agent(&admin, "agent@churn.example").await;
    for _ in 0..2 {
        let link = expect_status(create(&app, &agent).await, StatusCode::CREATED).await;
        let id = link["id"].as_str().unwrap();
        let resp = app
            .delete(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
            .await;
        assert!(resp.status().is_success(), "delete: {}", resp.status());
    }
    let resp = create(&app, &agent).await;
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    expect_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let retry = retry.expect("a Retry-After header");
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    settle(&app, &fleet, 0).await;
}
