//! Agencies: admins, invites, agents joining, deactivation — and who may call what.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{expect_problem, expect_status, TestApp, PASSWORD};

#[sqlx::test]
async fn admin_invites_an_agent_who_joins_the_agency(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    assert_eq!(admin.body["user"]["agency_name"], "Costa Homes");
    let code = app.invite(&admin, Some("diego@costa.example")).await;
    assert_eq!(code.len(), 14);

    // The invite is bound to its email.
    expect_problem(
        app.register(
            json!({"email": "mallory@evil.example", "password": PASSWORD, "display_name": "M",
                            "account_type": "agent", "invite_code": code}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // Codes are case- and dash-insensitive.
    let typed = code.to_lowercase().replace('-', "");
    let body = expect_status(
        app.register(
            json!({"email": "diego@costa.example", "password": PASSWORD, "display_name": "Diego",
                            "account_type": "agent", "invite_code": typed}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["user"]["role"], "agent");
    assert_eq!(body["user"]["agency_id"], admin.body["user"]["agency_id"]);
    // A code works once.
    expect_problem(
        app.register(
            json!({"email": "eva@costa.example", "password": PASSWORD, "display_name": "Eva",
                            "account_type": "agent", "invite_code": code}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let staff = expect_status(
        app.get("/api/v1/agency/agents", Some(&admin.access)).await,
        StatusCode::OK,
    )
    .await;
    let emails: Vec<&str> = staff
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@costa.example", "diego@costa.example"]);

    let invites = expect_status(
        app.get("/api/v1/agency/invites", Some(&admin.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(invites.as_array().unwrap().len(), 1);
    assert!(invites[0]["used_at"].is_string());
    assert!(
        invites[0].get("code").is_none(),
        "codes are never shown again"
    );
}

#[sqlx::test]
async fn expired_invites_are_refused_and_limits_checked(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let code = app.invite(&admin, None).await;
    sqlx::query("update agency_invites set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    expect_problem(
        app.register(
            json!({"email": "d@costa.example", "password": PASSWORD, "display_name": "D",
                            "account_type": "agent", "invite_code": code}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post(
            "/api/v1/agency/invites",
            &json!({"expires_in_hours": 0}),
            Some(&admin.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post(
            "/api/v1/agency/invites",
            &json!({"email": "bad"}),
            Some(&admin.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[sqlx::test]
async fn deactivated_agents_lose_access_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    expect_status(app.me(&agent.access).await, StatusCode::OK).await;

    let body = expect_status(
        app.post(
            &format!("/api/v1/agency/agents/{}/deactivate", agent.id),
            &json!({}),
            Some(&admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["active"], false);
    // The access token stops working, refresh and login are refused.
    expect_problem(
        app.me(&agent.access).await,
        StatusCode::UNAUTHORIZED,
        "account_inactive",
    )
    .await;
    // Deactivation revoked the session; the refusal says why.
    expect_problem(
        app.refresh_raw(&agent.refresh).await,
        StatusCode::UNAUTHORIZED,
        "account_inactive",
    )
    .await;
    expect_problem(
        app.login_raw("diego@costa.example", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_inactive",
    )
    .await;

    let audit: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'agency.agent_deactivate' and target_id = $1")
        .bind(&agent.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audit, 1);

    expect_status(
        app.post(
            &format!("/api/v1/agency/agents/{}/reactivate", agent.id),
            &json!({}),
            Some(&admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    app.login("diego@costa.example", PASSWORD).await;

    // An admin cannot lock themselves out.
    expect_problem(
        app.post(
            &format!("/api/v1/agency/agents/{}/deactivate", admin.id),
            &json!({}),
            Some(&admin.access),
        )
        .await,
        StatusCode::CONFLICT,
        "cannot_change_self",
    )
    .await;
}

#[sqlx::test]
async fn agencies_cannot_touch_each_other(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin_a = app.register_admin("admin@a.example", "Agency A").await;
    let admin_b = app.register_admin("admin@b.example", "Agency B").await;
    let agent_b = app.register_agent(&admin_b, "agent@b.example").await;

    expect_problem(
        app.post(
            &format!("/api/v1/agency/agents/{}/deactivate", agent_b.id),
            &json!({}),
            Some(&admin_a.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_status(app.me(&agent_b.access).await, StatusCode::OK).await;
    let staff = expect_status(
        app.get("/api/v1/agency/agents", Some(&admin_a.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(staff.as_array().unwrap().len(), 1, "only agency A's staff");
}

#[sqlx::test]
async fn roles_are_enforced_on_every_protected_endpoint(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.register_admin("admin@a.example", "Agency A").await;
    let agent = app.register_agent(&admin, "agent@a.example").await;
    let buyer = app.register_buyer("buyer@example.com").await;
    let operator = app.operator("ops@puente.example").await;

    let admin_only_posts = [
        "/api/v1/agency/invites".to_string(),
        format!("/api/v1/agency/agents/{}/deactivate", agent.id),
    ];
    let admin_only_gets = ["/api/v1/agency/agents", "/api/v1/agency/invites"];
    for who in [&agent, &buyer, &operator] {
        for path in &admin_only_posts {
            expect_problem(
                app.post(path, &json!({}), Some(&who.access)).await,
                StatusCode::FORBIDDEN,
                "forbidden_role",
            )
            .await;
        }
        for path in admin_only_gets {
            expect_problem(
                app.get(path, Some(&who.access)).await,
                StatusCode::FORBIDDEN,
                "forbidden_role",
            )
            .await;
        }
    }
    for who in [&agent, &buyer, &admin] {
        expect_problem(
            app.get("/api/v1/admin/audit", Some(&who.access)).await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
    }
    // The unauthenticated get nothing.
    for path in ["/api/v1/me", "/api/v1/agency/agents", "/api/v1/admin/audit"] {
        expect_problem(
            app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "missing_token",
        )
        .await;
    }
    // The operator reads the audit log.
    let audit = expect_status(
        app.get("/api/v1/admin/audit?limit=2", Some(&operator.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit.as_array().unwrap().len(), 2);
    assert!(
        audit[0]["id"].as_i64().unwrap() > audit[1]["id"].as_i64().unwrap(),
        "newest first"
    );
    expect_problem(
        app.get("/api/v1/admin/audit?limit=0", Some(&operator.access))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.get("/api/v1/admin/audit?limit=abc", Some(&operator.access))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
}
