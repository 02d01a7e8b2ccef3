//! The emulator run in-process on port 0 against a real HTTP webhook receiver: the contract's
//! HMAC vector, envelope shape and headers, retries, QR rotation, flavors, error bodies, the
//! control API, chats/messages and faults.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use common::{hmac_sha512_hex, top_level_keys, Emu, Receiver, KEY};
use reqwest::StatusCode;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(20);

fn hook(rx: &Receiver, events: &[&str]) -> Value {
    json!({"url": rx.url(), "events": events})
}

#[test]
fn contract_hmac_test_vector() {
    let body = br#"{"event":"message","session":"default","engine":"WEBJS"}"#;
    let expected = "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89";
    assert_eq!(
        waha_emulator::webhook::sign("my-secret-key", body),
        expected
    );
    assert_eq!(hmac_sha512_hex("my-secret-key", body), expected);
}

#[tokio::test]
async fn envelope_shape_order_and_headers() {
    let rx = Receiver::start("127.0.0.1").await;
    let emu = Emu::start(&[]).await;
    let config = json!({
        "metadata": {"user.id": "42"},
        "webhooks": [{
            "url": rx.url(),
            "events": ["session.status", "message"],
            "hmac": {"key": "s3cret"},
            "customHeaders": [{"name": "X-Tenant", "value": "t1"}],
        }],
    });
    emu.working_session("default", "34600000001", config).await;
    rx.wait_status("WORKING", LONG).await;
    let (code, body) = emu
        .post(
            "/__emulator/sessions/default/inbound",
            json!({"from": "34600000002", "body": "Hola", "pushName": "Bea"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let msg_id = body["id"].as_str().unwrap().to_owned();
    let hits = rx
        .wait("message", LONG, |h| {
            h.iter().any(|h| h.event() == "message")
        })
        .await;

    for hit in &hits {
        assert_eq!(
            top_level_keys(&hit.body),
            [
                "id",
                "timestamp",
                "event",
                "session",
                "metadata",
                "me",
                "payload",
                "engine",
                "environment"
            ],
            "field order"
        );
        let env = hit.json();
        let id = env["id"].as_str().unwrap();
        assert!(id.starts_with("evt_") && id.len() == 30, "{id}");
        assert!(id[4..]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        let ts = env["timestamp"].as_i64().unwrap();
        assert!(ts > 1_600_000_000_000, "timestamp in ms");
        assert_eq!(env["session"], "default");
        assert_eq!(env["metadata"], json!({"user.id": "42"}));
        assert_eq!(env["engine"], "WEBJS");
        assert_eq!(env["environment"]["version"], "2026.7.1");
        assert_eq!(env["environment"]["engine"], "WEBJS");
        assert_eq!(env["environment"]["platform"], "linux/x64");
        assert!(env["environment"]["worker"].is_object());

        assert_eq!(
            hit.header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(hit.header("user-agent").as_deref(), Some("WAHA/2026.7.1"));
        assert_eq!(hit.header("x-tenant").as_deref(), Some("t1"));
        let rid = hit.header("x-webhook-request-id").unwrap();
        assert!(
            rid.len() >= 10 && rid.chars().all(|c| c.is_ascii_alphanumeric()),
            "{rid}"
        );
        assert_eq!(hit.header("x-webhook-timestamp").unwrap(), ts.to_string());
        assert_eq!(
            hit.header("x-webhook-hmac-algorithm").as_deref(),
            Some("sha512")
        );
        assert_eq!(
            hit.header("x-webhook-hmac").unwrap(),
            hmac_sha512_hex("s3cret", &hit.body)
        );
    }

    let statuses: Vec<Value> = rx.of("session.status").iter().map(|h| h.json()).collect();
    let starting = statuses
        .iter()
        .find(|e| e["payload"]["status"] == "STARTING")
        .unwrap();
    assert_eq!(starting["me"], Value::Null, "me is null before auth");
    assert_eq!(starting["payload"]["name"], "default");
    assert!(
        starting["payload"].get("data").is_some(),
        "current flavor has data"
    );
    let working = statuses
        .iter()
        .find(|e| e["payload"]["status"] == "WORKING")
        .unwrap();
    assert_eq!(working["me"]["id"], "34600000001@c.us");
    assert_eq!(working["me"]["pushName"], "Agent");
    let st = working["payload"]["statuses"].as_array().unwrap();
    assert!(st.len() <= 3 && st.last().unwrap()["status"] == "WORKING");

    let message = rx.of("message").pop().unwrap().json();
    let p = &message["payload"];
    assert_eq!(p["id"], msg_id);
    assert!(msg_id.starts_with("false_34600000002@c.us_"));
    assert_eq!(p["from"], "34600000002@c.us");
    assert_eq!(p["to"], "34600000001@c.us");
    assert_eq!(p["fromMe"], false);
    assert_eq!(p["body"], "Hola");
    assert_eq!(p["hasMedia"], false);
    assert_eq!(p["media"], Value::Null);
    assert!(p["timestamp"].as_i64().unwrap() < 10_000_000_000, "seconds");
    assert!(p["_data"].is_object());
}

#[tokio::test]
async fn retries_reuse_request_id_with_spacing() {
    let rx = Receiver::start("127.0.0.1").await;
    rx.answer.store(500, std::sync::atomic::Ordering::SeqCst);
    let url = rx.url();
    let emu = Emu::start(&[
        ("WHATSAPP_HOOK_URL", url.as_str()),
        ("WHATSAPP_HOOK_EVENTS", "session.status"),
        ("WHATSAPP_HOOK_RETRIES_DELAY_SECONDS", "0.2"),
        ("WHATSAPP_HOOK_RETRIES_ATTEMPTS", "3"),
        ("WHATSAPP_HOOK_RETRIES_POLICY", "constant"),
        ("EMULATOR_STARTING_MS", "60000"),
    ])
    .await;
    let (code, _) = emu
        .post("/api/sessions", json!({"name": "s1", "start": true}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let hits = rx.wait("4 attempts", LONG, |h| h.len() >= 4).await;
    // Long enough for a 5th attempt to show up if there were one.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let hits_after = rx.hits();
    assert_eq!(hits_after.len(), 4, "attempts + 1 requests");
    let ids: HashSet<String> = hits_after
        .iter()
        .map(|h| h.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one event");
    let rids: HashSet<String> = hits_after
        .iter()
        .map(|h| h.header("x-webhook-request-id").unwrap())
        .collect();
    assert_eq!(rids.len(), 1, "same request id on every retry");
    for pair in hits.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(180),
            "retry too early: {gap:?}"
        );
    }
    // No hmac key configured: no signature headers.
    assert!(hits[0].header("x-webhook-hmac").is_none());
}

#[tokio::test]
async fn retries_stop_on_success() {
    let rx = Receiver::start("127.0.0.1").await;
    rx.answer.store(503, std::sync::atomic::Ordering::SeqCst);
    let emu = Emu::start(&[("EMULATOR_STARTING_MS", "60000")]).await;
    let config = json!({"webhooks": [{"url": rx.url(), "events": ["session.status"],
        "retries": {"delaySeconds": 0.1, "attempts": 10, "policy": "linear"}}]});
    emu.post(
        "/api/sessions",
        json!({"name": "s2", "start": true, "config": config}),
    )
    .await;
    rx.wait("2 attempts", LONG, |h| h.len() >= 2).await;
    rx.answer.store(200, std::sync::atomic::Ordering::SeqCst);
    let n = rx.hits().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let total = rx.hits().len();
    assert!(
        total <= n + 1,
        "retries continued after a 2xx: {n} then {total}"
    );
}

#[tokio::test]
async fn qr_rotates_six_times_then_failed() {
    let rx = Receiver::start("127.0.0.1").await;
    let emu = Emu::start(&[
        ("EMULATOR_QR_FIRST_MS", "400"),
        ("EMULATOR_QR_NEXT_MS", "150"),
    ])
    .await;
    let (code, body) = emu
        .post("/api/sessions", json!({"name": "qr", "start": true, "config": {"webhooks": [hook(&rx, &["session.status"])]}}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (_, raw1) = emu.get_json("/api/qr/auth/qr?format=raw").await;
    let first = raw1["value"].as_str().unwrap().to_owned();
    assert!(first.starts_with("2@"), "{first}");
    rx.wait_status("FAILED", LONG).await;
    let mut timed: Vec<(i64, String)> = rx
        .of("session.status")
        .iter()
        .map(|h| {
            let e = h.json();
            (
                e["timestamp"].as_i64().unwrap(),
                e["payload"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    timed.sort_by_key(|t| t.0);
    let seq: Vec<String> = timed.into_iter().map(|t| t.1).collect();
    let scans = seq.iter().filter(|s| *s == "SCAN_QR_CODE").count();
    assert_eq!(scans, 6, "six QR codes: {seq:?}");
    assert_eq!(seq.first().map(String::as_str), Some("STARTING"));
    assert_eq!(seq.last().map(String::as_str), Some("FAILED"));
    assert_eq!(emu.status_of("qr").await, "FAILED");
    // Restart gives a fresh round.
    let (code, _) = emu.post("/api/sessions/qr/restart", json!({})).await;
    assert_eq!(code, StatusCode::CREATED);
    emu.wait_status("qr", "SCAN_QR_CODE", LONG).await;
    let (_, raw2) = emu.get_json("/api/qr/auth/qr?format=raw").await;
    assert_ne!(raw2["value"].as_str().unwrap(), first);
}

#[tokio::test]
async fn qr_endpoint_formats_and_422() {
    let emu = Emu::start(&[]).await;
    emu.post("/api/sessions", json!({"name": "default", "start": true}))
        .await;
    // Waits for SCAN_QR_CODE itself (STARTING lasts 50 ms here).
    let r = emu.get("/api/default/auth/qr").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.headers().get("content-length").is_some());
    let png = r.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let r = emu
        .http
        .get(emu.url("/api/default/auth/qr"))
        .header("X-Api-Key", KEY)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["mimetype"], "image/png");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(&bytes[..4], b"\x89PNG");

    let r = emu
        .http
        .get(emu.url("/api/default/auth/qr"))
        .header("X-Api-Key", KEY)
        .header("Accept", "application/json, */*")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "image/png",
        "Accept must be exactly application/json"
    );

    let (_, raw) = emu.get_json("/api/default/auth/qr?format=raw").await;
    assert!(raw["value"].as_str().unwrap().starts_with("2@"));

    let (code, _) = emu
        .post(
            "/__emulator/sessions/default/scan",
            json!({"phone": "34600000001"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, body) = emu.get_json("/api/default/auth/qr").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"error": "Session status is not as expected. Try again later or restart the session",
               "session": "default", "status": "WORKING", "expected": ["SCAN_QR_CODE"]})
    );
}

#[tokio::test]
async fn unauthorized_body_and_open_ping() {
    let emu = Emu::start(&[]).await;
    let r = emu.http.get(emu.url("/api/sessions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "Unauthorized", "statusCode": 401})
    );
    let r = emu
        .http
        .get(emu.url("/api/sessions"))
        .header("X-Api-Key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = emu
        .http
        .get(emu.url(&format!("/api/sessions?x-api-key={KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = emu
        .http
        .get(emu.url("/__emulator/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = emu.http.get(emu.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = emu.http.get(emu.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "pong"}));
}

#[tokio::test]
async fn sha512_key_and_no_key_modes() {
    let hashed = format!(
        "sha512:{}",
        waha_emulator::config::sha512_hex("plain-secret-key")
    );
    let emu = Emu::start(&[("WAHA_API_KEY", hashed.as_str())]).await;
    let r = emu
        .http
        .get(emu.url("/api/sessions"))
        .header("X-Api-Key", "plain-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    drop(emu);
    let emu = Emu::start(&[("WAHA_NO_API_KEY", "True")]).await;
    let r = emu.http.get(emu.url("/api/sessions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn not_working_gives_422_object_after_wait() {
    let emu = Emu::start(&[]).await;
    emu.post("/api/sessions", json!({"name": "idle", "start": false}))
        .await;
    let started = std::time::Instant::now();
    let (code, body) = emu
        .post(
            "/api/sendText",
            json!({"session": "idle", "chatId": "34600000002", "text": "x"}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"error": "Session status is not as expected. Try again later or restart the session",
               "session": "idle", "status": "STOPPED", "expected": ["WORKING"]})
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited for the session first"
    );
    let (code, body) = emu
        .post(
            "/api/sendText",
            json!({"session": "ghost", "chatId": "1", "text": "x"}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Session \"ghost\" does not exist");
    // SCAN_QR_CODE is running but not WORKING: waits the status window, then 422.
    emu.post("/api/sessions/idle/start", json!({})).await;
    let (code, body) = emu.get_json("/api/idle/chats").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["status"], "SCAN_QR_CODE");
}

#[tokio::test]
async fn bad_input_gets_nest_400() {
    let emu = Emu::start(&[]).await;
    emu.working_session("default", "34600000001", Value::Null)
        .await;
    let (code, body) = emu
        .post("/api/sendText", json!({"session": "default", "text": "hi"}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["error"], "Bad Request");
    assert!(body["message"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().contains("chatId")));
    let r = emu
        .http
        .post(emu.url("/api/sendText"))
        .header("X-Api-Key", KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["statusCode"], 400);
    let (code, body) = emu
        .post("/api/sessions", json!({"name": "bad name!"}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, body) = emu
        .post("/api/sessions", json!({"name": "x", "config": {"webhooks": [{"url": "http://h/wh", "events": ["nope"]}]}}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, _) = emu.post("/api/sendImage", json!({"session": "default", "chatId": "1", "file": {"mimetype": "image/png", "data": "%%%"}})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, body) = emu.get_json("/api/nothing/here/at/all").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Cannot GET /api/nothing/here/at/all");
}

#[tokio::test]
async fn legacy_core_flavor() {
    let emu = Emu::start(&[("EMULATOR_FLAVOR", "core-legacy")]).await;
    let (_, list) = emu.get_json("/api/sessions").await;
    assert_eq!(
        list,
        json!([]),
        "STOPPED default is hidden without all=true"
    );
    let (_, list) = emu.get_json("/api/sessions?all=true").await;
    assert_eq!(list[0]["name"], "default");
    assert_eq!(list[0]["status"], "STOPPED");
    assert_eq!(list[0]["config"], Value::Null);

    let (code, body) = emu.get_json("/api/sessions/foo").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"statusCode": 422, "error": "Unprocessable Entity",
        "message": "WAHA Core support only 'default' session. You tried to access 'foo' session (base64: Zm9v). If you want to run more then one WhatsApp account - please get WAHA PLUS version. Check this out: https://waha.devlike.pro/"})
    );
    let (code, _) = emu
        .post(
            "/api/sendText",
            json!({"session": "foo", "chatId": "1", "text": "x"}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, body) = emu.post("/api/sessions", json!({"name": "default"})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["message"],
        "Session 'default' already exists. Use PUT to update it."
    );

    let (code, _) = emu
        .put(
            "/api/sessions/default",
            json!({"config": {"metadata": {"a": "b"}}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = emu.post("/api/sessions/default/start", json!({})).await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, body) = emu.post("/api/sessions/default/start", json!({})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["message"], "Session 'default' is already started.");

    let (code, body) = emu.get_json("/health").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, v) = emu.get_json("/api/server/version").await;
    assert_eq!(v["tier"], "CORE");
    assert_eq!(v["version"], "2026.2.1");

    emu.wait_status("default", "SCAN_QR_CODE", LONG).await;
    emu.post(
        "/__emulator/sessions/default/scan",
        json!({"phone": "34600000001"}),
    )
    .await;
    let (code, body) = emu
        .post("/api/sendImage", json!({"chatId": "34600000002", "file": {"mimetype": "image/png", "data": "iVBORw0KGgo="}}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["message"], "The feature is available only in Plus version for 'WEBJS' engine. Check this out: https://waha.devlike.pro/");
    let (code, _) = emu
        .post(
            "/api/sendText",
            json!({"chatId": "34600000002", "text": "hola"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);

    // Restart: config forgotten, no autostart, but the login is kept.
    let store = emu.stop_keep_store().await;
    let emu = Emu::start_in(store, &[("EMULATOR_FLAVOR", "core-legacy")]).await;
    let (_, s) = emu.get_json("/api/sessions/default").await;
    assert_eq!(s["status"], "STOPPED");
    assert_eq!(s["config"], Value::Null);
    emu.post("/api/sessions/default/start", json!({})).await;
    emu.wait_status("default", "WORKING", LONG).await;
    let (_, me) = emu.get_json("/api/sessions/default/me").await;
    assert_eq!(me["id"], "34600000001@c.us");
    // Messages survive too.
    let (_, msgs) = emu
        .get_json("/api/default/chats/34600000002@c.us/messages")
        .await;
    assert_eq!(msgs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn current_flavor_persists_config_and_autostarts() {
    let rx = Receiver::start("127.0.0.1").await;
    let emu = Emu::start(&[]).await;
    let config = json!({"metadata": {"k": "v"}, "webhooks": [hook(&rx, &["session.status"])]});
    emu.working_session("agent-1", "34600000009", config.clone())
        .await;
    let (code, _) = emu.post("/api/sessions/agent-1/start", json!({})).await;
    assert_eq!(code, StatusCode::CREATED, "start is idempotent");
    assert_eq!(emu.status_of("agent-1").await, "WORKING");
    let (code, h) = emu.get_json("/health").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    let (_, list) = emu.get_json("/api/sessions").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let store = emu.stop_keep_store().await;
    let emu = Emu::start_in(store, &[]).await;
    emu.wait_status("agent-1", "WORKING", LONG).await;
    let (_, s) = emu.get_json("/api/sessions/agent-1").await;
    assert_eq!(s["config"]["metadata"], json!({"k": "v"}));
    assert_eq!(s["me"]["id"], "34600000009@c.us");
    assert_eq!(s["engine"]["engine"], "WEBJS");
    // The webhook config came back with it: the restart's WORKING reaches the receiver again.
    rx.wait("two WORKING events", LONG, |h| {
        h.iter()
            .filter(|h| h.json()["payload"]["status"] == "WORKING")
            .count()
            >= 2
    })
    .await;

    // Logout keeps config, restarts into SCAN_QR_CODE.
    let (code, _) = emu.post("/api/sessions/agent-1/logout", json!({})).await;
    assert_eq!(code, StatusCode::CREATED);
    emu.wait_status("agent-1", "SCAN_QR_CODE", LONG).await;
    let r = emu.get("/api/sessions/agent-1/me").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");
    // Delete is idempotent.
    assert_eq!(emu.delete("/api/sessions/agent-1").await.0, StatusCode::OK);
    assert_eq!(emu.delete("/api/sessions/agent-1").await.0, StatusCode::OK);
    assert_eq!(
        emu.get_json("/api/sessions/agent-1").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn control_api_flow() {
    let rx = Receiver::start("127.0.0.1").await;
    let emu = Emu::start(&[]).await;
    let events = [
        "message",
        "message.any",
        "message.ack",
        "message.reaction",
        "message.edited",
        "message.revoked",
        "presence.update",
    ];
    emu.working_session(
        "default",
        "34600000001",
        json!({"webhooks": [hook(&rx, &events)]}),
    )
    .await;

    let (_, inb) = emu
        .post(
            "/__emulator/sessions/default/inbound",
            json!({"from": "34600000002@c.us", "body": "Hola", "pushName": "Ana"}),
        )
        .await;
    let inbound_id = inb["id"].as_str().unwrap().to_owned();
    rx.wait("message + message.any", LONG, |h| {
        h.iter()
            .filter(|h| h.json()["payload"]["id"] == inbound_id.as_str())
            .count()
            >= 2
    })
    .await;

    let (code, sent) = emu
        .post("/api/sendText", json!({"session": "default", "chatId": "34600000002@c.us", "text": "Buenas", "reply_to": inbound_id}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let sent_id = sent["id"]["_serialized"].as_str().unwrap().to_owned();
    assert!(sent_id.starts_with("true_34600000002@c.us_"), "{sent_id}");
    assert_eq!(sent["body"], "Buenas");

    let hits = rx
        .wait("acks 1..3", LONG, |h| {
            h.iter().filter(|h| h.event() == "message.ack").count() >= 3
        })
        .await;
    let acks: HashSet<(i64, String)> = hits
        .iter()
        .filter(|h| h.event() == "message.ack")
        .map(|h| {
            let p = h.json()["payload"].clone();
            assert_eq!(p["id"], sent_id.as_str());
            assert_eq!(p["fromMe"], true);
            (
                p["ack"].as_i64().unwrap(),
                p["ackName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        acks,
        HashSet::from([
            (1, "SERVER".into()),
            (2, "DEVICE".into()),
            (3, "READ".into())
        ])
    );
    let any = rx
        .of("message.any")
        .into_iter()
        .map(|h| h.json())
        .find(|e| e["payload"]["id"] == sent_id.as_str())
        .unwrap();
    assert_eq!(any["payload"]["fromMe"], true);
    assert_eq!(any["payload"]["source"], "api");
    assert_eq!(any["payload"]["replyTo"]["body"], "Hola");
    assert!(
        rx.of("message")
            .iter()
            .all(|h| h.json()["payload"]["fromMe"] == false),
        "message is not for own messages"
    );

    // Acks never go backwards.
    let (_, a) = emu
        .post(
            "/__emulator/sessions/default/ack",
            json!({"messageId": sent_id, "ack": 2}),
        )
        .await;
    assert_eq!(a["ack"], 3);

    let (_, list) = emu.get_json("/__emulator/sessions/default/sent").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["endpoint"], "sendText");
    assert_eq!(list[0]["id"], sent_id.as_str());

    emu.post(
        "/__emulator/sessions/default/react",
        json!({"messageId": sent_id, "reaction": "👍"}),
    )
    .await;
    let r = rx
        .wait("reaction", LONG, |h| {
            h.iter().any(|h| h.event() == "message.reaction")
        })
        .await;
    let r = r
        .iter()
        .find(|h| h.event() == "message.reaction")
        .unwrap()
        .json();
    assert_eq!(
        r["payload"]["reaction"],
        json!({"text": "👍", "messageId": sent_id})
    );
    assert_eq!(r["payload"]["from"], "34600000002@c.us");

    emu.post(
        "/__emulator/sessions/default/edit",
        json!({"messageId": inbound_id, "body": "Hola!!"}),
    )
    .await;
    let raw = inbound_id.rsplit('_').next().unwrap().to_owned();
    let e = rx
        .wait("edited", LONG, |h| {
            h.iter().any(|h| h.event() == "message.edited")
        })
        .await;
    let e = e
        .iter()
        .find(|h| h.event() == "message.edited")
        .unwrap()
        .json();
    assert_eq!(e["payload"]["editedMessageId"], raw.as_str());
    assert_eq!(e["payload"]["body"], "Hola!!");

    emu.post(
        "/__emulator/sessions/default/revoke",
        json!({"messageId": inbound_id}),
    )
    .await;
    let v = rx
        .wait("revoked", LONG, |h| {
            h.iter().any(|h| h.event() == "message.revoked")
        })
        .await;
    let v = v
        .iter()
        .find(|h| h.event() == "message.revoked")
        .unwrap()
        .json();
    assert_eq!(v["payload"]["revokedMessageId"], raw.as_str());
    assert_ne!(v["payload"]["after"]["id"], inbound_id.as_str());

    // WEBJS needs tagsEventsOn for presence.update.
    let (_, p) = emu
        .post(
            "/__emulator/sessions/default/presence",
            json!({"from": "34600000002", "presence": "typing"}),
        )
        .await;
    assert_eq!(p["emitted"], false);

    // Agent-side edit and delete through the real API paths.
    let path = format!("/api/default/chats/34600000002%40c.us/messages/{sent_id}");
    let (code, _) = emu.put(&path, json!({"text": "Buenas tardes"})).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = emu.delete(&path).await;
    assert_eq!(code, StatusCode::OK);
    rx.wait("own revoke", LONG, |h| {
        h.iter().filter(|h| h.event() == "message.revoked").count() >= 2
    })
    .await;
    let (code, _) = emu
        .put(
            "/api/reaction",
            json!({"session": "default", "messageId": inbound_id, "reaction": "❤️"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);

    // The phone unlinks: FAILED, no me.
    let (_, s) = emu
        .post("/__emulator/sessions/default/logout", json!({}))
        .await;
    assert_eq!(s["status"], "FAILED");
    assert_eq!(s["me"], Value::Null);
}

#[tokio::test]
async fn duplicate_fault_and_silent_mode() {
    let rx = Receiver::start("127.0.0.1").await;
    let emu = Emu::start(&[]).await;
    emu.working_session(
        "default",
        "34600000001",
        json!({"webhooks": [hook(&rx, &["message"])]}),
    )
    .await;
    let (code, f) = emu
        .post("/__emulator/faults", json!({"duplicateRate": 1.0}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(f["duplicateRate"], 1.0);
    let (_, f) = emu.get_json("/__emulator/faults").await;
    assert_eq!(
        f,
        json!({"duplicateRate": 1.0, "reorderMaxMs": 0, "extraDelayMs": 0, "silent": false})
    );
    emu.post(
        "/__emulator/sessions/default/inbound",
        json!({"from": "34600000002", "body": "1"}),
    )
    .await;
    let hits = rx.wait("duplicate", LONG, |h| h.len() >= 2).await;
    assert_eq!(hits[0].json()["id"], hits[1].json()["id"], "same event id");
    assert_ne!(
        hits[0].header("x-webhook-request-id"),
        hits[1].header("x-webhook-request-id")
    );

    emu.post("/__emulator/faults", json!({"silent": true}))
        .await;
    let (_, quiet) = emu
        .post(
            "/__emulator/sessions/default/inbound",
            json!({"from": "34600000002", "body": "lost?"}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rx.hits().len(), 2, "silent: nothing delivered");
    assert_eq!(emu.status_of("default").await, "WORKING");
    let (code, _) = emu
        .post(
            "/api/sendText",
            json!({"chatId": "34600000002", "text": "still accepted"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    // A restart cures it and the backlog arrives.
    emu.post("/api/sessions/default/restart", json!({})).await;
    rx.wait("backlog", LONG, |h| {
        h.iter().any(|h| h.json()["payload"]["id"] == quiet["id"])
    })
    .await;
    let (_, f) = emu.get_json("/__emulator/faults").await;
    assert_eq!(f["silent"], false);
}

#[tokio::test]
async fn chats_and_messages_with_filters_and_media() {
    let emu = Emu::start(&[]).await;
    emu.working_session("default", "34600000001", Value::Null)
        .await;
    for i in 0..3 {
        emu.post(
            "/__emulator/sessions/default/inbound",
            json!({"from": "34600000002", "body": format!("a{i}"), "pushName": "Ana"}),
        )
        .await;
    }
    let (_, img) = emu
        .post(
            "/__emulator/sessions/default/inbound",
            json!({"from": "34600000003", "kind": "image", "body": "foto"}),
        )
        .await;
    emu.post(
        "/api/sendText",
        json!({"chatId": "34600000002", "text": "reply"}),
    )
    .await;

    let (code, chats) = emu.get_json("/api/default/chats").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(chats.as_array().unwrap().len(), 2);
    let (_, one) = emu
        .get_json("/api/default/chats?limit=1&offset=1&sortBy=id&sortOrder=asc")
        .await;
    assert_eq!(one[0]["id"]["_serialized"], "34600000003@c.us");

    let (_, msgs) = emu
        .get_json("/api/default/chats/34600000002@c.us/messages?limit=100")
        .await;
    assert_eq!(msgs.as_array().unwrap().len(), 4);
    let (_, limited) = emu
        .get_json("/api/default/chats/34600000002@c.us/messages?limit=2")
        .await;
    assert_eq!(limited.as_array().unwrap().len(), 2);
    let (_, mine) = emu
        .get_json("/api/default/chats/34600000002@c.us/messages?filter.fromMe=true")
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["body"], "reply");
    let (_, theirs) = emu
        .get_json("/api/default/chats/34600000002@c.us/messages?filter.fromMe=false&sortOrder=asc")
        .await;
    assert_eq!(theirs[0]["body"], "a0");
    let future = waha_emulator::ids::now_s() + 3600;
    let (_, none) = emu
        .get_json(&format!(
            "/api/default/chats/34600000002/messages?filter.timestamp.gte={future}"
        ))
        .await;
    assert_eq!(none, json!([]));
    let (_, all) = emu
        .get_json(&format!(
            "/api/default/chats/34600000002/messages?filter.timestamp.lte={future}&limit=50"
        ))
        .await;
    assert_eq!(all.as_array().unwrap().len(), 4);

    let (_, with_media) = emu
        .get_json("/api/default/chats/34600000003@c.us/messages")
        .await;
    let media = &with_media[0]["media"];
    assert_eq!(media["mimetype"], "image/jpeg");
    let url = media["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/api/files/default/{}",
            emu.base,
            img["id"].as_str().unwrap()
        )),
        "{url}"
    );
    let r = emu.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "files need the key");
    let r = emu
        .http
        .get(url)
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.bytes().await.unwrap()[..2], b"\xff\xd8", "a real JPEG");
    let (_, no_media) = emu
        .get_json("/api/default/chats/34600000003@c.us/messages?downloadMedia=false")
        .await;
    assert_eq!(no_media[0]["hasMedia"], true);
    assert_eq!(no_media[0]["media"], Value::Null);

    let (_, contacts) = emu.get_json("/api/contacts/all?session=default").await;
    assert!(contacts
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "34600000002@c.us" && c["pushname"] == "Ana"));
    let (_, exists) = emu
        .get_json("/api/contacts/check-exists?phone=34600000002&session=default")
        .await;
    assert_eq!(
        exists,
        json!({"numberExists": true, "chatId": "34600000002@c.us"})
    );
    let (_, pic) = emu
        .get_json("/api/contacts/profile-picture?contactId=34600000002&session=default")
        .await;
    assert!(pic.get("profilePictureURL").is_some());

    // lids: a known phone has a lid; an unknown @lid sender has pn null.
    emu.post(
        "/__emulator/sessions/default/inbound",
        json!({"from": "999000111222333@lid", "body": "anon"}),
    )
    .await;
    let (_, lids) = emu.get_json("/api/default/lids").await;
    let arr = lids.as_array().unwrap();
    assert!(arr
        .iter()
        .any(|l| l["pn"] == "34600000002@c.us" && l["lid"].as_str().unwrap().ends_with("@lid")));
    assert!(arr
        .iter()
        .any(|l| l["lid"] == "999000111222333@lid" && l["pn"].is_null()));
    let (_, one) = emu.get_json("/api/default/lids/999000111222333@lid").await;
    assert_eq!(one["pn"], Value::Null);
    let (_, count) = emu.get_json("/api/default/lids/count").await;
    assert_eq!(count["count"].as_u64().unwrap() as usize, arr.len());

    let (code, seen) = emu
        .post("/api/sendSeen", json!({"chatId": "34600000002@c.us"}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{seen}");
    let (code, typing) = emu
        .post("/api/startTyping", json!({"chatId": "34600000002@c.us"}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(typing, json!({"result": true}));
}

#[tokio::test]
async fn noweb_and_gows_shapes() {
    let rx = Receiver::start("127.0.0.1").await;
    let emu = Emu::start(&[("WHATSAPP_DEFAULT_ENGINE", "NOWEB")]).await;
    emu.working_session(
        "default",
        "34600000001",
        json!({"webhooks": [hook(&rx, &["*"])]}),
    )
    .await;
    let (_, s) = emu.get_json("/api/sessions/default").await;
    assert_eq!(s["engine"]["engine"], "NOWEB");
    assert!(s["me"]["lid"].as_str().unwrap().ends_with("@lid"));
    assert!(s["me"]["jid"]
        .as_str()
        .unwrap()
        .ends_with("@s.whatsapp.net"));
    let (_, r) = emu
        .post(
            "/api/sendText",
            json!({"chatId": "34600000002", "text": "hi"}),
        )
        .await;
    assert_eq!(r["key"]["remoteJid"], "34600000002@s.whatsapp.net");
    assert_eq!(r["key"]["fromMe"], true);
    assert_eq!(r["status"], "PENDING");
    assert!(r["messageTimestamp"].is_string());
    emu.post(
        "/__emulator/sessions/default/inbound",
        json!({"from": "34600000002", "body": "yo"}),
    )
    .await;
    let hits = rx
        .wait("message", LONG, |h| {
            h.iter().any(|h| h.event() == "message")
        })
        .await;
    let m = hits.iter().find(|h| h.event() == "message").unwrap().json();
    assert_eq!(m["engine"], "NOWEB");
    assert_eq!(m["payload"]["from"], "34600000002@c.us");
    assert!(m["payload"].get("to").is_none(), "NOWEB DMs have no `to`");
    let ack = rx
        .wait("ack", LONG, |h| {
            h.iter().any(|h| h.event() == "message.ack")
        })
        .await;
    let ack = ack
        .iter()
        .find(|h| h.event() == "message.ack")
        .unwrap()
        .json();
    assert!(
        ack["payload"].get("body").is_none(),
        "NOWEB ack is WAMessageAckBody"
    );
    let (_, p) = emu
        .post(
            "/__emulator/sessions/default/presence",
            json!({"from": "34600000002", "presence": "typing"}),
        )
        .await;
    assert_eq!(p["emitted"], true);
    rx.wait("presence", LONG, |h| {
        h.iter().any(|h| h.event() == "presence.update")
    })
    .await;
    drop(emu);

    let emu = Emu::start(&[("WHATSAPP_DEFAULT_ENGINE", "GOWS")]).await;
    emu.working_session("default", "34600000001", Value::Null)
        .await;
    let (_, r) = emu
        .post(
            "/api/sendText",
            json!({"chatId": "34600000002", "text": "hi"}),
        )
        .await;
    assert!(r["id"]
        .as_str()
        .unwrap()
        .starts_with("true_34600000002@c.us_"));
    assert!(r["_data"].is_object());
    let (_, code) = emu
        .post(
            "/api/default/auth/request-code",
            json!({"phoneNumber": "34600000001"}),
        )
        .await;
    assert_eq!(
        code["message"],
        "Can request code only in SCAN_QR_CODE status. The current status is WORKING"
    );
}

#[tokio::test]
async fn media_sends_in_current_flavor() {
    let emu = Emu::start(&[]).await;
    emu.working_session("default", "34600000001", Value::Null)
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .encode(waha_emulator::media::qr_png("x").unwrap());
    let (code, r) = emu
        .post("/api/sendImage", json!({"chatId": "34600000002", "caption": "mira", "file": {"mimetype": "image/png", "filename": "a.png", "data": png}}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{r}");
    let id = r["id"]["_serialized"].as_str().unwrap();
    let (_, m) = emu
        .get_json(&format!("/api/default/chats/34600000002/messages/{id}"))
        .await;
    assert_eq!(m["hasMedia"], true);
    assert_eq!(m["body"], "mira");
    let r = emu
        .http
        .get(m["media"]["url"].as_str().unwrap())
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..4], b"\x89PNG");
    for (endpoint, body) in [
        (
            "/api/sendFile",
            json!({"chatId": "34600000002", "file": {"mimetype": "application/pdf", "filename": "x.pdf", "data": "JVBERi0="}}),
        ),
        (
            "/api/sendVoice",
            json!({"chatId": "34600000002", "convert": false, "file": {"data": "T2dnUw=="}}),
        ),
        (
            "/api/sendVideo",
            json!({"chatId": "34600000002", "convert": false, "file": {"data": "AAAA"}}),
        ),
        (
            "/api/sendLocation",
            json!({"chatId": "34600000002", "latitude": 40.4, "longitude": -3.7, "title": "Piso"}),
        ),
    ] {
        let (code, r) = emu.post(endpoint, body).await;
        assert_eq!(code, StatusCode::CREATED, "{endpoint}: {r}");
    }
    let (_, sent) = emu.get_json("/__emulator/sessions/default/sent").await;
    let endpoints: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        [
            "sendImage",
            "sendFile",
            "sendVoice",
            "sendVideo",
            "sendLocation"
        ]
    );
}

#[tokio::test]
async fn phone_page_is_served_with_key() {
    let emu = Emu::start(&[]).await;
    let r = emu
        .http
        .get(emu.url("/__emulator/phone"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = emu
        .http
        .get(emu.url(&format!("/__emulator/phone?x-api-key={KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("x-api-key"));
}
