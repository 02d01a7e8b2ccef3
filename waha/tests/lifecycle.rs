//! The strict lifecycle behaviours Puente must cope with, each as real WAHA shows it: no session
//! unless created or predefined, a failed predefined start, stop and logout taking seconds,
//! `auth/qr` holding before its 422, `me` answering an empty 200, and an engine that never
//! reaches WhatsApp (STARTING → FAILED, no QR).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::Emu;
use reqwest::StatusCode;
use serde_json::json;

const LONG: Duration = Duration::from_secs(10);

#[tokio::test]
async fn no_session_exists_unless_created_or_predefined() {
    let emu = Emu::start(&[]).await;
    let (code, _) = emu.get_json("/api/sessions/default").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, list) = emu.get_json("/api/sessions?all=true").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn a_failed_predefined_start_leaves_the_session_stopped() {
    let emu = Emu::start(&[
        ("WHATSAPP_START_SESSION", "default"),
        ("EMULATOR_PREDEFINED_START", "fail"),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(emu.status_of("default").await, "STOPPED");
    // Starting it by hand works.
    let (code, _) = emu.post("/api/sessions/default/start", json!({})).await;
    assert_eq!(code, StatusCode::CREATED);
    emu.wait_status("default", "SCAN_QR_CODE", LONG).await;
}

#[tokio::test]
async fn stop_and_logout_take_their_time_and_logout_unpairs_at_once() {
    let emu = Emu::start(&[("EMULATOR_STOP_MS", "600"), ("EMULATOR_LOGOUT_MS", "600")]).await;
    emu.working_session("default", "34600000001", json!({}))
        .await;

    let http = emu.http.clone();
    let url = emu.url("/api/sessions/default/logout");
    let started = Instant::now();
    let logout = tokio::spawn(async move {
        http.post(url)
            .header("X-Api-Key", common::KEY)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
    });
    // While the logout is still running, the phone already shows no linked device.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, view) = emu.get_json("/__emulator/sessions/default").await;
    assert_eq!(view["paired"], false, "{view}");
    assert!(!logout.is_finished(), "logout answered before its time");
    assert_eq!(logout.await.unwrap(), StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(600));

    let started = Instant::now();
    let (code, _) = emu.post("/api/sessions/default/stop", json!({})).await;
    assert_eq!(code, StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(emu.status_of("default").await, "STOPPED");
}

#[tokio::test]
async fn qr_holds_then_422_and_me_is_an_empty_200_while_not_working() {
    let emu = Emu::start(&[("EMULATOR_WAIT_STATUS_MS", "700")]).await;
    emu.working_session("default", "34600000001", json!({}))
        .await;
    let started = Instant::now();
    let (code, body) = emu.get_json("/api/default/auth/qr?format=raw").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["expected"], json!(["SCAN_QR_CODE"]));
    assert!(started.elapsed() >= Duration::from_millis(700));

    let (code, _) = emu.post("/api/sessions/default/logout", json!({})).await;
    assert_eq!(code, StatusCode::CREATED);
    let resp = emu.get("/api/sessions/default/me").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().len(), 0, "empty body, not null");
}

#[tokio::test]
async fn an_engine_that_cannot_reach_whatsapp_fails_without_a_qr() {
    let emu = Emu::start(&[
        ("WHATSAPP_START_SESSION", "default"),
        ("EMULATOR_WHATSAPP", "unreachable"),
        ("EMULATOR_CONNECT_FAIL_MS", "300"),
    ])
    .await;
    emu.wait_status("default", "FAILED", LONG).await;
    let (code, body) = emu.get_json("/api/default/auth/qr?format=raw").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["status"], "FAILED");
}

#[tokio::test]
async fn server_version_names_version_engine_and_tier() {
    let emu = Emu::start(&[
        ("EMULATOR_VERSION", "2025.1.1"),
        ("WHATSAPP_DEFAULT_ENGINE", "NOWEB"),
    ])
    .await;
    let (code, v) = emu.get_json("/api/server/version").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["version"], "2025.1.1");
    assert_eq!(v["engine"], "NOWEB");
    assert_eq!(v["tier"], "PLUS");
}
