//! Register, login, refresh, logout, /me — and every bad input and forged token we can think of.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{expect_problem, expect_status, TestApp, PASSWORD};

fn field_errors(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[sqlx::test]
async fn buyer_registers_logs_in_reads_me_and_refreshes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("Bea@Example.com").await;
    assert_eq!(s.body["token_type"], "Bearer");
    assert_eq!(s.body["expires_in"], 900);
    assert_eq!(s.body["user"]["role"], "buyer");
    assert_eq!(
        s.body["user"]["email"], "bea@example.com",
        "email is normalised"
    );
    assert!(s.body["user"].get("password_hash").is_none());

    let login = app.login("bea@example.com", PASSWORD).await;
    let me = expect_status(app.me(&login.access).await, StatusCode::OK).await;
    assert_eq!(me["id"], login.id.as_str());
    assert_eq!(me["display_name"], "Bea Buyer");

    let refreshed = expect_status(app.refresh_raw(&login.refresh).await, StatusCode::OK).await;
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, login.refresh, "refresh rotates");
    let me = expect_status(
        app.me(refreshed["access_token"].as_str().unwrap()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["id"], login.id.as_str());
}

#[sqlx::test]
async fn access_token_claims_are_as_documented(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.register_admin("admin@a.example", "Agency A").await;
    let payload = admin.access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["sub"], admin.id.as_str());
    assert_eq!(claims["role"], "agency_admin");
    assert_eq!(claims["agency"], admin.body["user"]["agency_id"]);
    for claim in ["exp", "iat", "jti", "iss"] {
        assert!(!claims[claim].is_null(), "{claim}");
    }
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(admin.access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
}

#[sqlx::test]
async fn registration_validates_every_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for email in ["", "not-an-email", "a@b", "a b@c.com", "@c.com"] {
        let body = expect_problem(
            app.register(json!({"email": email, "password": PASSWORD, "display_name": "X"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(field_errors(&body), ["email"], "{email}");
    }
    for password in ["short", "password123", "aaaaaaaaaaaaaaa", "1234567890"] {
        let body = expect_problem(
            app.register(json!({"email": "x@y.com", "password": password, "display_name": "X"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(field_errors(&body), ["password"], "{password}");
    }
    // Several problems are reported together.
    let body = expect_problem(
        app.register(json!({"email": "nope", "password": "x", "display_name": " ", "phone": "12"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_errors(&body),
        ["email", "password", "display_name", "phone"]
    );
    // Role-specific fields.
    let body = expect_problem(
        app.register(json!({"email": "x@y.com", "password": PASSWORD, "display_name": "X", "account_type": "agency_admin"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&body), ["agency_name"]);
    let body = expect_problem(
        app.register(json!({"email": "x@y.com", "password": PASSWORD, "display_name": "X", "account_type": "agent"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&body), ["invite_code"]);
    // Nobody can sign themselves up as an operator.
    expect_problem(
        app.register(json!({"email": "x@y.com", "password": PASSWORD, "display_name": "X", "account_type": "operator"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing was created by refused registrations");
}

#[sqlx::test]
async fn duplicate_email_is_409_whatever_the_case(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("ana@example.com").await;
    expect_problem(
        app.register(
            json!({"email": "ANA@example.com", "password": PASSWORD, "display_name": "Other"}),
        )
        .await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
}

#[sqlx::test]
async fn wrong_password_and_unknown_user_get_the_same_answer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register_buyer("ana@example.com").await;
    let mut wrong = expect_problem(
        app.login_raw("ana@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let mut unknown = expect_problem(
        app.login_raw("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    wrong["request_id"] = Value::Null;
    unknown["request_id"] = Value::Null;
    assert_eq!(wrong, unknown);
}

#[sqlx::test]
async fn forged_expired_and_malformed_tokens_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("ana@example.com").await;
    let [h, p, sig]: [&str; 3] = s.access.split('.').collect::<Vec<_>>().try_into().unwrap();

    // No token, wrong scheme, garbage.
    expect_problem(
        app.get("/api/v1/me", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    let resp = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Basic {}", s.access))
        .send()
        .await
        .unwrap();
    expect_problem(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    expect_problem(
        app.me("garbage").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Tampered payload: promote ourselves to operator, keep the signature.
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    claims["role"] = json!("operator");
    let tampered = format!("{h}.{}.{sig}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    expect_problem(
        app.me(&tampered).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // alg: none.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    expect_problem(
        app.me(&format!("{none_header}.{p}.")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Signed with another secret.
    let other = puente::auth::tokens::JwtKeys::new(b"some-other-secret-some-other-secret", 900);
    let user = uuid::Uuid::parse_str(&s.id).unwrap();
    let foreign = other
        .issue(user, puente::model::Role::Operator, None)
        .unwrap();
    expect_problem(
        app.me(&foreign).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Expired (right secret, exp in the past).
    let now = puente::auth::tokens::now_secs();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": s.id, "role": "buyer", "iat": now - 3600, "exp": now - 1800, "jti": uuid::Uuid::new_v4(), "iss": "puente"}),
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-test-secret-test-secret-0123456789"),
    )
    .unwrap();
    expect_problem(
        app.me(&expired).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;

    // The refresh token is not an access token.
    expect_problem(
        app.me(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[sqlx::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_family(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("ana@example.com").await;
    let other_session = app.login("ana@example.com", PASSWORD).await;

    let second = expect_status(app.refresh_raw(&s.refresh).await, StatusCode::OK).await;
    let second_refresh = second["refresh_token"].as_str().unwrap().to_string();

    // The first token again: theft suspected.
    expect_problem(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_reused",
    )
    .await;
    // Its successor is dead too…
    expect_problem(
        app.refresh_raw(&second_refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;
    // …but another login (another family) is untouched.
    expect_status(
        app.refresh_raw(&other_session.refresh).await,
        StatusCode::OK,
    )
    .await;
    // The event is in the audit log.
    let n: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'auth.refresh_reuse'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(n, 1);
    // Garbage and oversized tokens.
    expect_problem(
        app.refresh_raw("nope").await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    expect_problem(
        app.refresh_raw(&"x".repeat(5000)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[sqlx::test]
async fn expired_refresh_token_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("ana@example.com").await;
    sqlx::query("update refresh_tokens set expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    expect_problem(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_expired",
    )
    .await;
}

#[sqlx::test]
async fn logout_ends_the_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("ana@example.com").await;
    let resp = app
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": s.refresh}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;
    // Logging out twice, or with an unknown token, is harmless.
    let resp = app
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": s.refresh}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": "unknown"}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

#[sqlx::test]
async fn login_is_rate_limited_per_account(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.login_rate_per_account = 3).await;
    app.register_buyer("ana@example.com").await;
    for _ in 0..3 {
        expect_problem(
            app.login_raw("ana@example.com", "wrong password!").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let resp = app.login_raw("ANA@example.com", PASSWORD).await;
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    expect_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Other accounts are unaffected.
    app.register_buyer("bob@example.com").await;
    app.login("bob@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn login_is_rate_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.login_rate_per_ip = 4).await;
    for i in 0..4 {
        expect_problem(
            app.login_raw(&format!("u{i}@example.com"), "whatever pass")
                .await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let resp = app.login_raw("u9@example.com", "whatever pass").await;
    assert!(resp.headers().contains_key("retry-after"));
    expect_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[sqlx::test]
async fn forwarded_for_is_only_trusted_when_configured(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.login_rate_per_ip = 2;
        c.trust_forwarded_for = true;
    })
    .await;
    let attempt = |ip: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.1, {ip}"))
            .json(&json!({"email": format!("{ip}@example.com"), "password": "whatever pass"}))
            .send()
    };
    assert_eq!(
        attempt("198.51.100.1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("198.51.100.1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("198.51.100.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt("198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "another client IP has its own budget"
    );
}

#[sqlx::test]
async fn patch_me_updates_profile_and_password(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let s = app.register_buyer("ana@example.com").await;
    let other = app.login("ana@example.com", PASSWORD).await;

    let body = expect_status(
        app.patch(
            "/api/v1/me",
            &json!({"display_name": "Ana María", "phone": "+34 600 000 001"}),
            Some(&s.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["user"]["display_name"], "Ana María");
    assert_eq!(body["user"]["phone"], "34600000001");
    assert!(body.get("tokens").is_none());

    let body = expect_status(
        app.patch("/api/v1/me", &json!({"phone": null}), Some(&s.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(body["user"]["phone"].is_null());

    // Password change needs the current password, and a good new one.
    let e = expect_problem(
        app.patch(
            "/api/v1/me",
            &json!({"new_password": "a brand new secret"}),
            Some(&s.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&e), ["current_password"]);
    let e = expect_problem(
        app.patch(
            "/api/v1/me",
            &json!({"current_password": "wrong one!!", "new_password": "a brand new secret"}),
            Some(&s.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&e), ["current_password"]);
    let e = expect_problem(
        app.patch(
            "/api/v1/me",
            &json!({"current_password": PASSWORD, "new_password": "short"}),
            Some(&s.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&e), ["new_password"]);

    let body = expect_status(
        app.patch(
            "/api/v1/me",
            &json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
            Some(&s.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let fresh_refresh = body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Every earlier session ended; the new one works; the new password works.
    expect_problem(
        app.refresh_raw(&other.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;
    expect_status(app.refresh_raw(&fresh_refresh).await, StatusCode::OK).await;
    expect_problem(
        app.login_raw("ana@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    app.login("ana@example.com", "a brand new secret").await;
}

/// A connection of its own (the test pool is the server's, and small).
async fn own_connection(pool: &PgPool) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap()
}

/// Sessions of this test's database waiting for a lock.
async fn lock_waiters(conn: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock'",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

async fn until_lock_waiters(pool: &PgPool, n: i64) {
    let mut conn = own_connection(pool).await;
    for _ in 0..400 {
        if lock_waiters(&mut conn).await >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("never {n} sessions waiting for a lock");
}

#[sqlx::test]
async fn a_refresh_racing_a_password_change_does_not_survive_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let s = app.register_buyer("race@example.com").await;
    // Hold the refresh token's row, so the refresh and the password change queue behind it
    // in a known order: the refresh first, then the change.
    let mut holder = own_connection(&pool).await;
    let mut hold = sqlx::Connection::begin(&mut holder).await.unwrap();
    sqlx::query("select id from refresh_tokens where user_id = $1::uuid for update")
        .bind(&s.id)
        .fetch_all(&mut *hold)
        .await
        .unwrap();
    let refresh = app.refresh_raw(&s.refresh);
    let change = async {
        until_lock_waiters(&pool, 1).await;
        let resp = app
            .patch(
                "/api/v1/me",
                &json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
                Some(&s.access),
            )
            .await;
        resp
    };
    let release = async {
        until_lock_waiters(&pool, 2).await;
        hold.commit().await.unwrap();
    };
    let (refreshed, changed, ()) = tokio::join!(refresh, change, release);
    assert_eq!(changed.status(), StatusCode::OK);
    // Whatever the refresh got, it ended with the password change: its token is dead.
    if refreshed.status() == StatusCode::OK {
        let got: Value = refreshed.json().await.unwrap();
        let again = app
            .refresh_raw(got["refresh_token"].as_str().unwrap())
            .await;
        expect_problem(again, StatusCode::UNAUTHORIZED, "refresh_token_revoked").await;
    } else {
        expect_problem(refreshed, StatusCode::UNAUTHORIZED, "refresh_token_revoked").await;
    }
    let live: i64 = sqlx::query_scalar(
        "select count(*) from refresh_tokens
         where user_id = $1::uuid and revoked_at is null and used_at is null",
    )
    .bind(&s.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(live, 1, "only the password change's own new session lives");
}
