//! The webhook endpoint: signatures, durability, redelivery, reordering, malformed bodies.
//! No containers here: the link row is made directly and WAHA's posts are forged (and signed
//! correctly, where the test wants them accepted).

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, TestApp};

async fn setup(pool: PgPool) -> (TestApp, Uuid, String) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let agent_id: Uuid = agent.id.parse().unwrap();
    let agency: Uuid = admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = Uuid::now_v7();
    puente::db::links::insert(
        &app.pool,
        id,
        agent_id,
        agency,
        "GOWS",
        "puente/waha-emulator:dev",
        "x",
    )
    .await
    .unwrap();
    let key = puente::links::keys::hmac_key(
        app.state.config.waha.master_secret.expose().as_bytes(),
        id,
        1,
    );
    (app, id, key)
}

fn envelope(event: &str, id: &str, ts: i64, payload: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "timestamp": ts, "event": event, "session": "default",
        "me": {"id": "34600000001@c.us", "pushName": "Diego"}, "payload": payload,
        "engine": "GOWS", "environment": {"version": "2026.7.1", "engine": "GOWS", "tier": "PLUS"}
    }))
    .unwrap()
}

async fn post(app: &TestApp, link: &str, body: Vec<u8>, sig: Option<String>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/webhooks/waha/{link}")))
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = sig {
        req = req
            .header("x-webhook-hmac", s)
            .header("x-webhook-hmac-algorithm", "sha512");
    }
    req.send().await.unwrap()
}

async fn events(app: &TestApp) -> Vec<(Option<String>, String)> {
    sqlx::query_as("select event_id, status from waha_events order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn link_status(app: &TestApp, id: Uuid) -> (String, Option<String>) {
    sqlx::query_as("select status, status_reason from whatsapp_links where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn wait_status(app: &TestApp, id: Uuid, want: &str) {
    for _ in 0..100 {
        if link_status(app, id).await.0 == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("link never {want}: {:?}", link_status(app, id).await);
}

#[sqlx::test]
async fn unsigned_forged_and_unknown_are_refused_alike_and_nothing_is_kept(pool: PgPool) {
    let (app, id, key) = setup(pool).await;
    let body = envelope(
        "message",
        "evt_1",
        1_800_000_000_000,
        json!({"id": "false_1@c.us_A", "body": "hola"}),
    );
    let link = id.to_string();
    let good = puente::waha::signature::sign(key.as_bytes(), &body);
    let wrong = puente::waha::signature::sign(b"another-key", &body);
    let mut bodies = Vec::new();
    for (target, sig) in [
        (link.clone(), None),
        (link.clone(), Some(wrong)),
        (link.clone(), Some(good.to_uppercase())),
        (link.clone(), Some("zz".repeat(64))),
        (Uuid::now_v7().to_string(), Some(good.clone())),
        ("not-a-uuid".to_string(), Some(good.clone())),
    ] {
        let mut b = expect_problem(
            post(&app, &target, body.clone(), sig).await,
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        )
        .await;
        b["request_id"] = Value::Null;
        bodies.push(b);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one answer for every refusal"
    );
    // Signed for another body.
    let other = puente::waha::signature::sign(key.as_bytes(), b"{}");
    expect_problem(
        post(&app, &link, body.clone(), Some(other)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    assert!(events(&app).await.is_empty(), "nothing stored");
    let msgs: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(msgs, 0);
}

#[sqlx::test]
async fn signed_events_are_stored_once_and_applied(pool: PgPool) {
    let (app, id, key) = setup(pool).await;
    let link = id.to_string();
    let body = envelope(
        "session.status",
        "evt_01a",
        1_800_000_000_000,
        json!({"name": "default", "status": "SCAN_QR_CODE"}),
    );
    let sig = puente::waha::signature::sign(key.as_bytes(), &body);
    let resp = post(&app, &link, body.clone(), Some(sig.clone())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "stored");
    wait_status(&app, id, "scan_qr").await;
    // Redelivery: same answer class, nothing new.
    for _ in 0..3 {
        let resp = post(&app, &link, body.clone(), Some(sig.clone())).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.json::<Value>().await.unwrap()["status"], "duplicate");
    }
    let ev = events(&app).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0.as_deref(), Some("evt_01a"));
    // Message events are stored (for the message pipeline) with their raw body.
    let msg = envelope(
        "message",
        "evt_01b",
        1_800_000_000_500,
        json!({"id": "false_34600000002@c.us_AAA", "body": "hola"}),
    );
    let resp = post(
        &app,
        &link,
        msg.clone(),
        Some(puente::waha::signature::sign(key.as_bytes(), &msg)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw: Vec<u8> =
        sqlx::query_scalar("select body from waha_events where event_id = 'evt_01b'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(raw, msg, "the exact bytes are kept");
    let last: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_event_at from whatsapp_links where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(last.is_some());
}

#[sqlx::test]
async fn out_of_order_status_reports_do_not_go_backwards(pool: PgPool) {
    let (app, id, key) = setup(pool).await;
    let link = id.to_string();
    let send = |evt: &'static str, ts: i64, status: &'static str| {
        let body = envelope(
            "session.status",
            evt,
            ts,
            json!({"name": "default", "status": status}),
        );
        let sig = puente::waha::signature::sign(key.as_bytes(), &body);
        (body, sig)
    };
    let (b, s) = send("evt_w", 1_800_000_002_000, "WORKING");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    wait_status(&app, id, "working").await;
    let phone: Option<String> =
        sqlx::query_scalar("select phone from whatsapp_links where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(phone.as_deref(), Some("34600000001"), "me recorded");
    // An older SCAN_QR_CODE delivered late (a retry overtaken by the newer event).
    let (b, s) = send("evt_q", 1_800_000_001_000, "SCAN_QR_CODE");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(link_status(&app, id).await.0, "working");
    // A status nobody knows yet: stored, skipped, link unchanged.
    let (b, s) = send("evt_x", 1_800_000_003_000, "BRAND_NEW_STATUS");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(link_status(&app, id).await.0, "working");
    let st: String = sqlx::query_scalar("select status from waha_events where event_id = 'evt_x'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(st, "skipped");
    // Then FAILED after WORKING: the device was unlinked.
    let (b, s) = send("evt_f", 1_800_000_004_000, "FAILED");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    wait_status(&app, id, "failed").await;
    assert_eq!(link_status(&app, id).await.1.as_deref(), Some("logged_out"));
}

/// WAHA posts every webhook on its own (no order) with millisecond timestamps: a scan right
/// after the QR appears gives SCAN_QR_CODE and WORKING the same millisecond, and WORKING may
/// land first. The report further along the session's way up wins the tie.
#[sqlx::test]
async fn reports_of_the_same_millisecond_never_go_backwards(pool: PgPool) {
    let (app, id, key) = setup(pool).await;
    let link = id.to_string();
    let send = |evt: &'static str, status: &'static str| {
        let body = envelope(
            "session.status",
            evt,
            1_800_000_005_000,
            json!({"name": "default", "status": status}),
        );
        let sig = puente::waha::signature::sign(key.as_bytes(), &body);
        (body, sig)
    };
    let (b, s) = send("evt_same_w", "WORKING");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    wait_status(&app, id, "working").await;
    let (b, s) = send("evt_same_q", "SCAN_QR_CODE");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    let (b, s) = send("evt_same_s", "STARTING");
    assert_eq!(post(&app, &link, b, Some(s)).await.status(), StatusCode::OK);
    // Both stored and applied (as no-ops) before we look.
    for _ in 0..100 {
        let pending: i64 = sqlx::query_scalar(
            "select count(*) from waha_events where event_id like 'evt_same_%' and applied_at is null",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(link_status(&app, id).await.0, "working");
}

#[sqlx::test]
async fn malformed_and_oversized_bodies(pool: PgPool) {
    let (app, id, key) = setup(pool).await;
    let link = id.to_string();
    let junk = b"{\"event\": \"message\", ".to_vec();
    let sig = puente::waha::signature::sign(key.as_bytes(), &junk);
    expect_problem(
        post(&app, &link, junk.clone(), Some(sig)).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let (st, body): (String, Vec<u8>) = sqlx::query_as("select status, body from waha_events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(st, "malformed");
    assert_eq!(body, junk, "kept for inspection");
    // No `event` at all: also malformed.
    let no_event = br#"{"id":"evt_z","payload":{}}"#.to_vec();
    let sig = puente::waha::signature::sign(key.as_bytes(), &no_event);
    expect_problem(
        post(&app, &link, no_event, Some(sig)).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    // Over the limit.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let resp = post(&app, &link, big, Some("00".repeat(64))).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The server is fine.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn concurrent_deliveries_are_each_answered_and_stored_exactly_once(pool: PgPool) {
    let (app, id, key) = setup(pool).await;
    let link = id.to_string();
    // 40 distinct inbound messages; every fourth one is also delivered a second time, at the
    // same moment (WAHA retrying while the first attempt is in flight).
    let mut deliveries = Vec::new();
    for i in 0..40 {
        let body = envelope(
            "message",
            &format!("evt_c{i:02}"),
            1_800_000_000_000 + i,
            json!({
                "id": format!("false_3460000{:04}@c.us_M{i:02}", i % 5),
                "from": format!("3460000{:04}@c.us", i % 5),
                "fromMe": false,
                "timestamp": 1_800_000_000 + i,
                "body": format!("mensaje {i}"),
            }),
        );
        let sig = puente::waha::signature::sign(key.as_bytes(), &body);
        deliveries.push((format!("evt_c{i:02}"), body.clone(), sig.clone()));
        if i % 4 == 0 {
            deliveries.push((format!("evt_c{i:02}"), body, sig));
        }
    }
    assert_eq!(deliveries.len(), 50);
    let answers = futures_util::future::join_all(deliveries.iter().map(|(evt, body, sig)| {
        let (app, link) = (&app, &link);
        async move {
            let resp = post(app, link, body.clone(), Some(sig.clone())).await;
            assert_eq!(resp.status(), StatusCode::OK, "{evt}");
            let v: Value = resp.json().await.unwrap();
            (evt.clone(), v["status"].as_str().unwrap().to_string())
        }
    }))
    .await;
    let mut per_event = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (evt, status) in answers {
        per_event.entry(evt).or_default().push(status);
    }
    assert_eq!(per_event.len(), 40);
    for (evt, statuses) in &per_event {
        let stored = statuses.iter().filter(|s| *s == "stored").count();
        let dup = statuses.iter().filter(|s| *s == "duplicate").count();
        assert_eq!(stored, 1, "{evt}: {statuses:?}");
        assert_eq!(stored + dup, statuses.len(), "{evt}: {statuses:?}");
    }
    // Exactly one row per event, each applied once: one message per event.
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select event_id, count(*) from waha_events group by event_id order by event_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|(_, n)| *n == 1), "{rows:?}");
    let mut messages: i64 = 0;
    for _ in 0..200 {
        messages = sqlx::query_scalar("select count(*) from messages")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if messages == 40 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(messages, 40, "every stored event applied once");
    let pending: i64 =
        sqlx::query_scalar("select count(*) from waha_events where status <> 'applied'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(pending, 0);
    let last: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_event_at from whatsapp_links where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(last.is_some());
}
