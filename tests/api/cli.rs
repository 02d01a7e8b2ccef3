//! The `puente` binary's admin subcommands, run for real against the test database.

use std::process::Command;

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{expect_problem, TestApp};

pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = pool
        .connect_options()
        .get_database()
        .expect("database name")
        .to_string();
    let (prefix, rest) = base.rsplit_once('/').expect("url with a database");
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{prefix}/{db}{query}")
}

fn puente(pool: &PgPool, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_puente"))
        .args(args)
        .env("DATABASE_URL", database_url(pool))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run puente")
}

#[sqlx::test]
async fn create_operator_then_log_in(pool: PgPool) {
    let out = puente(
        &pool,
        &[
            "admin",
            "create-operator",
            "--email",
            "Ops@Puente.example",
            "--password",
            "operator pass 2026",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = TestApp::spawn(pool.clone()).await;
    let s = app.login("ops@puente.example", "operator pass 2026").await;
    assert_eq!(s.body["user"]["role"], "operator");
    // A weak password is refused with a clear message and a failure exit.
    let out = puente(
        &pool,
        &[
            "admin",
            "create-operator",
            "--email",
            "o2@puente.example",
            "--password",
            "short",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    expect_problem(
        app.login_raw("o2@puente.example", "short").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[sqlx::test]
async fn seed_demo_is_idempotent_and_prints_the_accounts(pool: PgPool) {
    for _ in 0..2 {
        let out = puente(
            &pool,
            &["admin", "seed-demo", "--password", "demo password 1"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        for who in [
            "operator",
            "agency_admin",
            "agent",
            "buyer",
            "demo password 1",
        ] {
            assert!(stdout.contains(who), "{stdout}");
        }
    }
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .unwrap();
    let agencies: i64 = sqlx::query_scalar("select count(*) from agencies")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((users, agencies), (4, 1));
    let app = TestApp::spawn(pool).await;
    let agent = app
        .login("agent@costa-homes.example", "demo password 1")
        .await;
    assert_eq!(agent.body["user"]["agency_name"], "Costa Homes");
    // Listings a buyer can find on a fresh install, made once for both runs.
    let listings: i64 = sqlx::query_scalar("select count(*) from properties")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(listings, 3);
    let buyer = app.login("buyer@example.com", "demo password 1").await;
    let found = app
        .get("/api/v1/properties?city=M%C3%A1laga", Some(&buyer.access))
        .await;
    assert_eq!(found.status(), reqwest::StatusCode::OK);
    let found: serde_json::Value = found.json().await.unwrap();
    assert_eq!(found["items"].as_array().map(Vec::len), Some(2), "{found}");
}

#[test]
fn migrate_refuses_a_missing_database_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_puente"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}
