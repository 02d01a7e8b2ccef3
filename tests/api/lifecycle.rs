//! The WAHA session lifecycle as real WAHA behaves (the emulator runs strict: no session unless
//! created or predefined, stop/logout take time, SIGTERM ignored, `me` answers an empty 200):
//! a STOPPED or missing session is repaired, config is re-applied on every container start,
//! a device is logged out before its container is removed, restarts do not wait for SIGTERM,
//! "cannot reach WhatsApp" is told apart from an unscanned QR, and WAHA's version is recorded
//! with too-old images refused.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{docker, expect_status, Session, TestApp};

async fn agent(app: &TestApp) -> Session {
    let admin = app
        .register_admin("admin@lifecycle.example", "Lifecycle Homes")
        .await;
    app.register_agent(&admin, "lola@lifecycle.example").await
}

async fn create_link(app: &TestApp, agent: &Session) -> String {
    let body = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    body["id"].as_str().unwrap().to_string()
}

fn container_name(link: &str) -> String {
    format!("puente-waha-{}", link.replace('-', ""))
}

/// Call the link's WAHA API directly (what an operator or another tool might do); `None`
/// while its container is not running.
async fn try_waha(
    app: &TestApp,
    link: &str,
    method: reqwest::Method,
    path: &str,
) -> Option<(StatusCode, Value)> {
    let id: uuid::Uuid = link.parse().unwrap();
    let row = puente::db::links::find(&app.pool, id).await.unwrap()?;
    let base = puente::links::service::base_url(&app.state, &row)
        .await
        .ok()?;
    let key = puente::links::keys::api_key(
        app.state.config.waha.master_secret.expose().as_bytes(),
        id,
        row.key_version,
    );
    let resp = app
        .client
        .request(method, format!("{base}{path}"))
        .header("x-api-key", key)
        .json(&json!({}))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .ok()?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn waha(
    app: &TestApp,
    link: &str,
    method: reqwest::Method,
    path: &str,
) -> (StatusCode, Value) {
    try_waha(app, link, method, path)
        .await
        .expect("the link's WAHA answers")
}

async fn wait_waha(app: &TestApp, link: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Some((StatusCode::OK, body)) =
            try_waha(app, link, reqwest::Method::GET, "/api/sessions/default").await
        {
            if pred(&body) {
                return body;
            }
            last = body;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("WAHA session never {what}; last: {last}");
}

#[sqlx::test]
async fn a_stopped_or_deleted_session_is_started_again(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;

    // Someone's /stop: the link must not stay "starting" with WAHA STOPPED.
    let (code, body) = waha(
        &app,
        &id,
        reqwest::Method::POST,
        "/api/sessions/default/stop",
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    app.wait_link(&agent.access, &id, "starting", |l| {
        l["status"] == "starting"
    })
    .await;
    app.wait_link(&agent.access, &id, "scan_qr again", |l| {
        l["status"] == "scan_qr"
    })
    .await;
    wait_waha(&app, &id, "scanning again", |s| {
        s["status"] == "SCAN_QR_CODE"
    })
    .await;

    // The session deleted (404): Puente creates it again.
    let (code, _) = waha(&app, &id, reqwest::Method::DELETE, "/api/sessions/default").await;
    assert_eq!(code, StatusCode::OK);
    wait_waha(&app, &id, "re-created", |s| s["status"] == "SCAN_QR_CODE").await;
    app.wait_link(&agent.access, &id, "scan_qr after re-creation", |l| {
        l["status"] == "scan_qr"
    })
    .await;
}

#[sqlx::test]
async fn a_failed_predefined_start_is_repaired(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha
            .waha_extra_env
            .push("EMULATOR_PREDEFINED_START=fail".into());
    })
    .await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
}

#[sqlx::test]
async fn session_config_is_reapplied_after_every_container_restart(pool: PgPool) {
    // Legacy Core keeps the session config (NOWEB's store) in memory only.
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha.waha_engine = "NOWEB".into();
        c.waha
            .waha_extra_env
            .push("EMULATOR_FLAVOR=core-legacy".into());
    })
    .await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let store_on = |s: &Value| s["config"]["noweb"]["store"]["enabled"] == true;
    wait_waha(&app, &id, "configured", store_on).await;

    // A restart Puente did not make (an operator, Docker's restart policy).
    for round in 0..2 {
        let (ok, out) = docker(&["restart", "-t", "1", &container_name(&id)]);
        assert!(ok, "docker restart: {out}");
        wait_waha(
            &app,
            &id,
            &format!("configured after restart {round}"),
            |s| store_on(s) && s["status"] != "STOPPED",
        )
        .await;
    }
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
}

#[sqlx::test]
async fn deleting_a_link_logs_its_device_out_first(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    app.phone(
        &id,
        "scan",
        &json!({"phone": "34600000031", "pushName": "Eva"}),
    )
    .await;
    app.wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;

    // Watch the phone's side while the link is deleted: the device must be unpaired before the
    // container disappears.
    let (base, key) = app.emulator(&id).await;
    let watcher = {
        let http = app.client.clone();
        tokio::spawn(async move {
            let mut last_paired = None;
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                let resp = http
                    .get(format!("{base}/__emulator/sessions/default"))
                    .header("x-api-key", &key)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        last_paired = v["paired"].as_bool().or(last_paired);
                    }
                    _ => return last_paired,
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            last_paired
        })
    };
    let resp = app
        .delete(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        !docker(&["inspect", &container_name(&id)]).0,
        "container removed"
    );
    assert_eq!(
        watcher.await.unwrap(),
        Some(false),
        "the container was removed while the phone still had it as a linked device"
    );
}

#[sqlx::test]
async fn restarts_do_not_wait_for_the_sigterm_waha_ignores(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let (_, before) = docker(&[
        "inspect",
        "-f",
        "{{.State.StartedAt}}",
        &container_name(&id),
    ]);
    // The emulator swallows SIGTERM as real WAHA does, so Docker kills it once the stop's
    // grace period is over: the gap between its two kill events *is* the grace Puente asked
    // for (Docker's default would be 10 s). Read from Docker's own event log, not timed here.
    let since = chrono::Utc::now().timestamp() - 1;
    let resp = app
        .post(
            &format!("/api/v1/whatsapp/links/{id}/restart"),
            &json!({}),
            Some(&agent.access),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let (_, after) = docker(&[
        "inspect",
        "-f",
        "{{.State.StartedAt}}",
        &container_name(&id),
    ]);
    assert_ne!(before, after, "the container restarted");
    let until = chrono::Utc::now().timestamp() + 1;
    let (_, events) = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        &format!("container={}", container_name(&id)),
        "--filter",
        "event=kill",
        "--format",
        "{{.TimeNano}} {{index .Actor.Attributes \"signal\"}}",
    ]);
    let kills: Vec<(i64, String)> = events
        .lines()
        .filter_map(|l| {
            let (t, sig) = l.split_once(' ')?;
            Some((t.parse().ok()?, sig.to_string()))
        })
        .collect();
    let term = kills.iter().find(|(_, s)| s == "15").expect("SIGTERM sent");
    let kill = kills
        .iter()
        .find(|(t, s)| s == "9" && *t >= term.0)
        .expect("SIGKILL after the grace period (SIGTERM is ignored)");
    let grace = Duration::from_nanos((kill.0 - term.0) as u64);
    assert!(
        grace < Duration::from_secs(5),
        "Puente asked Docker for a short stop grace, Docker waited {grace:?}"
    );
    app.wait_link(&agent.access, &id, "scan_qr after restart", |l| {
        l["status"] == "scan_qr"
    })
    .await;
}

#[sqlx::test]
async fn a_session_that_cannot_reach_whatsapp_is_not_an_expired_qr(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha
            .waha_extra_env
            .push("EMULATOR_WHATSAPP=unreachable".into());
        c.waha
            .waha_extra_env
            .push("EMULATOR_CONNECT_FAIL_MS=1500".into());
    })
    .await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let link = app
        .wait_link(&agent.access, &id, "failed", |l| l["status"] == "failed")
        .await;
    assert_eq!(link["status_reason"], "connect_failed", "{link}");
    let action = link["action"].as_str().unwrap();
    assert!(action.contains("internet access"), "{action}");
    assert_eq!(link["qr_rotations"], 0);
}

#[sqlx::test]
async fn the_waha_version_is_recorded(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let link = app
        .wait_link(&agent.access, &id, "with its WAHA version", |l| {
            !l["waha_version"].is_null()
        })
        .await;
    assert_eq!(link["waha_version"], "2026.7.1");
    assert_eq!(link["waha_engine"], "GOWS");
    assert_eq!(link["waha_tier"], "PLUS");
    // Operators see them in the fleet.
    let op = app.operator("ops@lifecycle.example").await;
    let fleet = expect_status(
        app.get("/api/v1/admin/links?stats=false", Some(&op.access))
            .await,
        StatusCode::OK,
    )
    .await;
    let row = fleet
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id.as_str())
        .expect("the link in the fleet");
    assert_eq!(row["waha_version"], "2026.7.1");
    assert_eq!(row["waha_engine"], "GOWS");
    assert_eq!(row["waha_tier"], "PLUS");
}

#[sqlx::test]
async fn images_too_old_to_sign_webhooks_are_refused(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha
            .waha_extra_env
            .push("EMULATOR_VERSION=2025.2.1".into());
    })
    .await;
    let agent = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let link = app
        .wait_link(&agent.access, &id, "refused", |l| l["status"] == "failed")
        .await;
    assert_eq!(link["status_reason"], "image_too_old", "{link}");
    assert_eq!(link["waha_version"], "2025.2.1");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, state) = docker(&["inspect", "-f", "{{.State.Status}}", &container_name(&id)]);
        if state.trim() != "running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refused container keeps running"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // It stays refused: the reconciler does not start it again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, state) = docker(&["inspect", "-f", "{{.State.Status}}", &container_name(&id)]);
    assert_ne!(state.trim(), "running");
    let link = app
        .wait_link(&agent.access, &id, "still refused", |l| {
            l["status"] == "failed"
        })
        .await;
    assert_eq!(link["status_reason"], "image_too_old");
}

#[test]
fn the_emulator_build_never_takes_a_real_waha_name() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |env: Option<&str>, args: &[&str]| {
        let mut cmd = std::process::Command::new(format!("{root}/scripts/build-waha-image"));
        cmd.args(args);
        match env {
            Some(v) => cmd.env("PUENTE_WAHA_IMAGE", v),
            None => cmd.env_remove("PUENTE_WAHA_IMAGE"),
        };
        let out = cmd.output().expect("run scripts/build-waha-image");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    // PUENTE_WAHA_IMAGE naming the real image (the README's way to use real WAHA).
    assert_eq!(
        run(Some("devlikeapro/waha:2026.7.1"), &["--print-tag"]),
        (true, "puente/waha-emulator:dev".to_string())
    );
    assert_eq!(
        run(
            Some("registry.local/puente/waha-emulator:ci"),
            &["--print-tag"]
        ),
        (true, "registry.local/puente/waha-emulator:ci".to_string())
    );
    assert_eq!(
        run(None, &["--print-tag"]),
        (true, "puente/waha-emulator:dev".to_string())
    );
    assert!(!run(None, &["--tag", "devlikeapro/waha:latest", "--print-tag"]).0);
}
