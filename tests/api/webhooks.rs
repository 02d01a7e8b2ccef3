//! The webhook endpoint: signatures, durability, redelivery, reordering, malformed bodies,
//! and applying a link's queued events in batches.
//! No containers here: the link row is made directly and WAHA's posts are forged (and signed
//! correctly, where the test wants them accepted).

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, Session, TestApp};

async fn setup(pool: PgPool) -> (TestApp, Uuid, String) {
    let (app, id, key, _) = setup_with_agent(pool).await;
    (app, id, key)
}

/// [`setup`], and the link's agent.
async fn setup_with_agent(pool: PgPool) -> (TestApp, Uuid, String, Session) {
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
    (app, id, key, agent)
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

// ---------------------------------------------------------------------------------------------
// Applying a link's queued events many to a transaction (`ingest::batch`). Most of these store
// the events directly, as the writer would, and hand them to the link's applier in one call
// (`apply::apply_queued`), so what shares a transaction is decided by the test, not by timing.

/// Store `events` (envelope id, event name, body) as the writer would; their row ids, in order.
async fn store(app: &TestApp, link: Uuid, events: &[(String, &str, Vec<u8>)]) -> Vec<i64> {
    let mut ids = Vec::new();
    for (event_id, name, body) in events {
        let payload: Value = serde_json::from_slice(body).unwrap();
        let id: i64 = sqlx::query_scalar(
            "insert into waha_events (link_id, event_id, event, body, payload)
             values ($1, $2, $3, $4, $5) returning id",
        )
        .bind(link)
        .bind(event_id)
        .bind(name)
        .bind(body)
        .bind(payload)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

/// An inbound text message from `phone` (`3460…`), its WhatsApp id `false_<chat>_<raw>`.
fn inbound(
    evt: &str,
    phone: &str,
    raw: &str,
    i: i64,
    body: &str,
) -> (String, &'static str, Vec<u8>) {
    let chat = format!("{phone}@c.us");
    (
        evt.to_string(),
        "message",
        envelope(
            "message",
            evt,
            1_800_000_000_000 + i,
            json!({"id": format!("false_{chat}_{raw}"), "from": chat, "fromMe": false,
                   "to": "34600000001@c.us", "timestamp": 1_800_000_000 + i, "body": body}),
        ),
    )
}

/// Our own message, sent from the phone, as WAHA reports it (`true_<chat>_<raw>`).
fn outbound(
    evt: &str,
    phone: &str,
    raw: &str,
    i: i64,
    body: &str,
) -> (String, &'static str, Vec<u8>) {
    let chat = format!("{phone}@c.us");
    (
        evt.to_string(),
        "message",
        envelope(
            "message",
            evt,
            1_800_000_000_000 + i,
            json!({"id": format!("true_{chat}_{raw}"), "from": "34600000001@c.us", "fromMe": true,
                   "to": chat, "timestamp": 1_800_000_000 + i, "body": body}),
        ),
    )
}

fn ack(evt: &str, message: &str, level: i64) -> (String, &'static str, Vec<u8>) {
    (
        evt.to_string(),
        "message.ack",
        envelope(
            "message.ack",
            evt,
            1_800_000_000_000,
            json!({"id": message, "fromMe": true, "ack": level}),
        ),
    )
}

fn edit(evt: &str, phone: &str, raw: &str, body: &str) -> (String, &'static str, Vec<u8>) {
    let chat = format!("{phone}@c.us");
    (
        evt.to_string(),
        "message.edited",
        envelope(
            "message.edited",
            evt,
            1_800_000_000_000,
            json!({"id": format!("false_{chat}_{evt}"), "from": chat, "fromMe": false,
                   "body": body, "editedMessageId": raw}),
        ),
    )
}

async fn apply_queued(app: &TestApp, link: Uuid, ids: &[i64]) {
    puente::ingest::apply::apply_queued(&app.state.core, link, ids).await;
}

/// (status, attempts, error) of each event, in row order.
async fn settled(app: &TestApp, ids: &[i64]) -> Vec<(String, i32, Option<String>)> {
    sqlx::query_as("select status, attempts, error from waha_events where id = any($1) order by id")
        .bind(ids)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The bodies of the `message.created` events the agent was sent, in sequence order.
async fn created_bodies(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "select payload->'message'->>'body' from user_events
         where kind = 'message.created' and user_id in (select agent_id from whatsapp_links)
         order by user_id, seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn message_status(app: &TestApp, wa_id: &str) -> String {
    sqlx::query_scalar("select status from messages where wa_message_id = $1")
        .bind(wa_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_poison_event_fails_alone_and_the_rest_of_its_batch_applies_once_in_order(pool: PgPool) {
    let (app, link, _) = setup(pool).await;
    let mut events = Vec::new();
    let mut want = Vec::new();
    for i in 0..12 {
        match i {
            // A new chat whose message breaks a constraint after its contact and conversation
            // were written: all of it must go, nothing else with it.
            4 => events.push(inbound(
                "evt_poison",
                "34600000099",
                "P1",
                i,
                &"x".repeat(70_000),
            )),
            // A body that is not a WAHA payload at all.
            8 => events.push((
                "evt_junk".to_string(),
                "message.ack",
                envelope(
                    "message.ack",
                    "evt_junk",
                    1_800_000_000_000,
                    json!("not an object"),
                ),
            )),
            _ => {
                let body = format!("mensaje {i}");
                events.push(inbound(
                    &format!("evt_b{i:02}"),
                    &format!("3460000000{}", i % 3),
                    &format!("B{i:02}"),
                    i,
                    &body,
                ));
                want.push(body);
            }
        }
    }
    let ids = store(&app, link, &events).await;
    apply_queued(&app, link, &ids).await;

    let st = settled(&app, &ids).await;
    for (i, (status, attempts, error)) in st.iter().enumerate() {
        if i == 4 || i == 8 {
            assert_eq!(status, "pending", "event {i} stays pending for the sweep");
            assert_eq!(*attempts, 1, "event {i}: one attempt counted");
            assert!(error.is_some(), "event {i}: why it failed is kept");
        } else {
            assert_eq!((status.as_str(), *attempts), ("applied", 1), "event {i}");
        }
    }
    // One transaction: every row it settled carries the same xmin.
    let xmins: i64 =
        sqlx::query_scalar("select count(distinct xmin::text) from waha_events where id = any($1)")
            .bind(&ids)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(xmins, 1, "the batch was applied in one transaction");
    // Each good message once, in order (ids are time-ordered), with its frame, in order.
    let bodies: Vec<String> = sqlx::query_scalar("select body from messages order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(bodies, want);
    assert_eq!(created_bodies(&app).await, want);
    let seqs: Vec<i64> = sqlx::query_scalar(
        "select seq from user_events where kind = 'message.created'
         and user_id in (select agent_id from whatsapp_links) order by seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "numbered in order: {seqs:?}"
    );
    // The poison's contact and conversation were rolled back with it.
    let poison_convs: i64 =
        sqlx::query_scalar("select count(*) from conversations where chat_id = '34600000099@c.us'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let poison_contacts: i64 =
        sqlx::query_scalar("select count(*) from contacts where wa_id = '34600000099@c.us'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((poison_convs, poison_contacts), (0, 0));
    let convs: i64 = sqlx::query_scalar("select count(*) from conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(convs, 3);

    // Retried, as the sweep does, they keep failing alone until they are `failed` for good.
    let poison = [ids[4], ids[8]];
    for _ in 1..puente::ingest::dispatch::MAX_ATTEMPTS {
        apply_queued(&app, link, &poison).await;
    }
    let st = settled(&app, &poison).await;
    assert!(
        st.iter()
            .all(|(s, n, _)| s == "failed" && *n == puente::ingest::dispatch::MAX_ATTEMPTS),
        "{st:?}"
    );
    // Applying the good ones again changes nothing: at most once.
    apply_queued(&app, link, &ids).await;
    let n: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, want.len() as i64);
    assert_eq!(created_bodies(&app).await, want);
}

#[sqlx::test]
async fn acks_before_their_message_in_the_same_batch_end_in_the_right_status(pool: PgPool) {
    let (app, link, _) = setup(pool).await;
    let m1 = "true_34600000002@c.us_OWN1";
    let m3 = "true_34600000003@c.us_OWN3";
    let first = store(
        &app,
        link,
        &[
            ack("evt_a1", m1, 2),
            ack("evt_a2", m1, 3),
            outbound("evt_m1", "34600000002", "OWN1", 1, "desde el móvil"),
            inbound("evt_m2", "34600000002", "IN2", 2, "gracias"),
            ack("evt_a3", m3, 3),
        ],
    )
    .await;
    apply_queued(&app, link, &first).await;
    assert_eq!(message_status(&app, m1).await, "read");
    let st = settled(&app, &first).await;
    let statuses: Vec<&str> = st.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        ["applied", "applied", "applied", "applied", "deferred"],
        "{st:?}"
    );
    // The message m3's ack waits for comes in a later batch.
    let second = store(
        &app,
        link,
        &[outbound("evt_m3", "34600000003", "OWN3", 3, "otra")],
    )
    .await;
    apply_queued(&app, link, &second).await;
    assert_eq!(message_status(&app, m3).await, "read");
    assert_eq!(settled(&app, &first[4..]).await[0].0, "applied");
    // Each ack that moved a message told the agent.
    let updated: Vec<String> = sqlx::query_scalar(
        "select payload->'message'->>'status' from user_events
         where kind = 'message.updated' and user_id in (select agent_id from whatsapp_links)
         order by seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(updated, ["delivered", "read", "read"]);
    // In the order it happened: each message's creation before its updates.
    let kinds: Vec<(String, String)> = sqlx::query_as(
        "select kind, payload->'message'->>'body' from user_events
         where kind in ('message.created', 'message.updated')
           and user_id in (select agent_id from whatsapp_links) order by seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let kinds: Vec<(&str, &str)> = kinds
        .iter()
        .map(|(k, b)| (k.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("message.created", "desde el móvil"),
            ("message.updated", "desde el móvil"),
            ("message.updated", "desde el móvil"),
            ("message.created", "gracias"),
            ("message.created", "otra"),
            ("message.updated", "otra"),
        ]
    );
}

#[sqlx::test]
async fn what_waited_for_a_message_applies_right_after_it_before_what_came_later(pool: PgPool) {
    let (app, link, _) = setup(pool).await;
    let phone = "34600000004";
    // An edit deferred by an earlier transaction…
    let early = store(
        &app,
        link,
        &[edit("evt_e1", phone, "M4", "primera edición")],
    )
    .await;
    apply_queued(&app, link, &early).await;
    assert_eq!(settled(&app, &early).await[0].0, "deferred");
    // …then a batch with the message and a later edit: the later edit wins.
    let batch = store(
        &app,
        link,
        &[
            inbound("evt_m4", phone, "M4", 4, "original"),
            edit("evt_e2", phone, "M4", "segunda edición"),
            // And the same within one batch: an edit before its message, another after.
            edit("evt_e3", phone, "M5", "primera edición"),
            inbound("evt_m5", phone, "M5", 5, "original"),
            edit("evt_e4", phone, "M5", "segunda edición"),
        ],
    )
    .await;
    apply_queued(&app, link, &batch).await;
    let bodies: Vec<String> = sqlx::query_scalar(
        "select body from messages where wa_key_id in ('M4', 'M5') order by wa_key_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(bodies, ["segunda edición", "segunda edición"]);
    let st = settled(&app, &[early.clone(), batch.clone()].concat()).await;
    assert!(st.iter().all(|(s, _, _)| s == "applied"), "{st:?}");
}

#[sqlx::test]
async fn a_burst_of_messages_is_applied_once_in_arrival_order_with_its_frames(pool: PgPool) {
    let (app, link, key, agent) = setup_with_agent(pool).await;
    let mut ws = crate::helpers::Ws::connect(&app, &agent.access, None).await;
    let n = 150;
    let deliveries: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            inbound(
                &format!("evt_r{i:03}"),
                &format!("3460000001{}", i % 4),
                &format!("R{i:03}"),
                i,
                &format!("ráfaga {i}"),
            )
            .2
        })
        .collect();
    // All at once: the writer commits them in a few batches and the link's applier finds
    // them queued up.
    let link_s = link.to_string();
    futures_util::future::join_all(deliveries.into_iter().map(|body| {
        let (app, link_s, key) = (&app, &link_s, &key);
        async move {
            let sig = puente::waha::signature::sign(key.as_bytes(), &body);
            let resp = post(app, link_s, body, Some(sig)).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
    }))
    .await;
    // Arrival order is the order they were stored in.
    let arrival: Vec<String> = sqlx::query_scalar(
        "select payload->'payload'->>'body' from waha_events where link_id = $1 order by id",
    )
    .bind(link)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(arrival.len(), n as usize);
    let mut frames = Vec::new();
    let mut last_seq = 0;
    while frames.len() < n as usize {
        let Some(f) = ws.next(30).await else {
            panic!("{} of {n} frames: {frames:?}", frames.len())
        };
        if f["type"] != "message.created" {
            continue;
        }
        let seq = f["seq"].as_i64().unwrap();
        assert!(seq > last_seq, "frames in sequence");
        last_seq = seq;
        frames.push(f["data"]["message"]["body"].as_str().unwrap().to_string());
    }
    assert_eq!(frames, arrival, "one frame per message, in arrival order");
    let bodies: Vec<String> = sqlx::query_scalar("select body from messages order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(bodies, arrival, "each stored once, in arrival order");
    let not_applied: i64 =
        sqlx::query_scalar("select count(*) from waha_events where status <> 'applied'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(not_applied, 0);
    // Nothing more comes: no frame twice.
    while let Some(f) = ws.next(1).await {
        assert_ne!(f["type"], "message.created", "a frame twice: {f}");
    }
}
