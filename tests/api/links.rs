//! WhatsApp links end to end: the real Docker engine runs the emulator image; the tests play
//! the phone through the emulator's control API and watch the agent's WebSocket.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{docker, expect_problem, expect_status, Session, TestApp, Ws, PASSWORD};

async fn agent(app: &TestApp) -> (Session, Session) {
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    (admin, agent)
}

async fn create_link(app: &TestApp, agent: &Session) -> String {
    let body = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["status"], "provisioning");
    body["id"].as_str().unwrap().to_string()
}

fn inspect(name: &str) -> Value {
    let (ok, out) = docker(&["inspect", name]);
    assert!(ok, "docker inspect {name}");
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

fn container_name(link: &str) -> String {
    format!("puente-waha-{}", link.replace('-', ""))
}

async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("timed out waiting for {what}");
}

#[sqlx::test]
async fn link_scan_working_and_heal_after_kill(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let mut ws = Ws::connect(&app, &agent.access, None).await;
    let hello = ws.next(10).await.unwrap();
    assert_eq!(hello["type"], "hello");

    let id = create_link(&app, &agent).await;
    let name = container_name(&id);

    // The agent sees the QR over the WebSocket.
    let qr = ws.wait(90, "link.qr", |v| v["type"] == "link.qr").await;
    assert_eq!(qr["data"]["link_id"], id.as_str());
    let raw = qr["data"]["raw"].as_str().unwrap().to_string();
    assert!(raw.starts_with("2@"), "{raw}");
    assert!(qr["data"]["image"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert!(qr["seq"].as_i64().unwrap() > 0);

    // The container: name, labels, env, limits, hardening, loopback-only port.
    let c = inspect(&name);
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels["puente.managed"], "true");
    assert_eq!(labels["puente.link"], id.as_str());
    assert_eq!(labels["puente.instance"], fleet.instance.as_str());
    let env: Vec<String> = c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    let get = |k: &str| {
        env.iter()
            .find_map(|e| e.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    assert!(get("WHATSAPP_HOOK_URL")
        .unwrap()
        .ends_with(&format!("/webhooks/waha/{id}")));
    assert_eq!(get("WHATSAPP_START_SESSION").as_deref(), Some("default"));
    assert_eq!(get("WHATSAPP_DEFAULT_ENGINE").as_deref(), Some("GOWS"));
    let api_key = get("WAHA_API_KEY").unwrap();
    let hmac_key = get("WHATSAPP_HOOK_HMAC_KEY").unwrap();
    assert_eq!((api_key.len(), hmac_key.len()), (64, 64));
    assert_ne!(api_key, hmac_key);
    let host = &c["HostConfig"];
    assert_eq!(host["Memory"], 128 * 1024 * 1024);
    assert_eq!(host["PidsLimit"], 512);
    assert_eq!(host["NanoCpus"], 1_000_000_000i64);
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert!(host["SecurityOpt"]
        .to_string()
        .contains("no-new-privileges"));
    assert_eq!(host["PortBindings"]["3000/tcp"][0]["HostIp"], "127.0.0.1");
    assert_eq!(c["Mounts"][0]["Name"], format!("{name}-sessions"));

    // The API renders the same QR, in three formats; keys never leak.
    let resp = app
        .get(
            &format!("/api/v1/whatsapp/links/{id}/qr"),
            Some(&agent.access),
        )
        .await;
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let png = resp.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = app
        .get(
            &format!("/api/v1/whatsapp/links/{id}/qr?format=svg"),
            Some(&agent.access),
        )
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let rawq = expect_status(
        app.get(
            &format!("/api/v1/whatsapp/links/{id}/qr?format=raw"),
            Some(&agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rawq["value"], raw.as_str());
    expect_problem(
        app.get(
            &format!("/api/v1/whatsapp/links/{id}/qr?format=gif"),
            Some(&agent.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let listing = app
        .get("/api/v1/whatsapp/links", Some(&agent.access))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !listing.contains(&api_key) && !listing.contains(&hmac_key),
        "no keys in responses"
    );
    assert!(listing.contains("\"state\":\"running\""), "{listing}");

    // The phone scans: the link is working, with the phone and name, pushed live.
    app.phone(
        &id,
        "scan",
        &json!({"phone": "34600000001", "pushName": "Diego"}),
    )
    .await;
    let working = ws
        .wait(60, "working", |v| {
            v["type"] == "link.status" && v["data"]["status"] == "working"
        })
        .await;
    assert_eq!(working["data"]["phone"], "34600000001");
    assert_eq!(working["data"]["push_name"], "Diego");
    let link = app
        .wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    assert_eq!(link["phone"], "34600000001");
    assert!(link["working_since"].is_string());
    // No QR while working.
    expect_problem(
        app.get(
            &format!("/api/v1/whatsapp/links/{id}/qr"),
            Some(&agent.access),
        )
        .await,
        StatusCode::CONFLICT,
        "link_not_scanning",
    )
    .await;

    // The container is killed: it comes back working from its volume, no new scan.
    let (ok, _) = docker(&["kill", &name]);
    assert!(ok);
    app.wait_link(&agent.access, &id, "running again", |l| {
        l["container"]["state"] == "running" && l["status"] == "working"
    })
    .await;
    let again = app
        .wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    assert_eq!(again["phone"], "34600000001", "same login, no rescan");
}

#[sqlx::test]
async fn qr_rotation_expiry_and_restart(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha.waha_extra_env.extend([
            "EMULATOR_QR_FIRST_MS=1500".into(),
            "EMULATOR_QR_NEXT_MS=1000".into(),
            "EMULATOR_QR_COUNT=3".into(),
        ]);
    })
    .await;
    let (_admin, agent) = agent(&app).await;
    let mut ws = Ws::connect(&app, &agent.access, None).await;
    let id = create_link(&app, &agent).await;

    let first = ws.wait(90, "first QR", |v| v["type"] == "link.qr").await;
    let second = ws.wait(30, "rotated QR", |v| v["type"] == "link.qr").await;
    assert_ne!(
        first["data"]["raw"], second["data"]["raw"],
        "each rotation is a new code"
    );
    assert!(second["seq"].as_i64() > first["seq"].as_i64());

    let failed = ws
        .wait(30, "qr_expired", |v| {
            v["type"] == "link.status" && v["data"]["status"] == "failed"
        })
        .await;
    assert_eq!(failed["data"]["reason"], "qr_expired");
    assert!(failed["data"]["action"]
        .as_str()
        .unwrap()
        .contains("restart"));
    let link = app
        .wait_link(&agent.access, &id, "failed", |l| l["status"] == "failed")
        .await;
    assert_eq!(link["status_reason"], "qr_expired");

    let resp = app
        .post(
            &format!("/api/v1/whatsapp/links/{id}/restart"),
            &json!({}),
            Some(&agent.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let fresh = ws
        .wait(60, "new QR after restart", |v| v["type"] == "link.qr")
        .await;
    assert_ne!(fresh["data"]["raw"], first["data"]["raw"]);
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
}

#[sqlx::test]
async fn removed_containers_are_recreated_and_orphans_removed(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let name = container_name(&id);
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    app.phone(
        &id,
        "scan",
        &json!({"phone": "34600000002", "pushName": "Eva"}),
    )
    .await;
    app.wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    let first_id = inspect(&name)["Id"].as_str().unwrap().to_string();

    // An orphan of this instance, and a stranger with no labels at all.
    let orphan = format!("puente-waha-orphan-{}", fleet.instance);
    let stranger = format!("stranger-{}", fleet.instance);
    let image = crate::helpers::waha_image();
    let inst = format!("puente.instance={}", fleet.instance);
    let (ok, _) = docker(&[
        "run",
        "-d",
        "--name",
        &orphan,
        "--label",
        "puente.managed=true",
        "--label",
        &inst,
        "--label",
        "puente.link=00000000-0000-0000-0000-000000000001",
        &image,
    ]);
    assert!(ok);
    let (ok, _) = docker(&[
        "run",
        "-d",
        "--name",
        &stranger,
        "--label",
        "puente.test=stranger",
        &image,
    ]);
    assert!(ok);

    // Removed by hand: re-created on the same volume, working again with no scan.
    let (ok, _) = docker(&["rm", "-f", &name]);
    assert!(ok);
    wait_until("re-created container", 60, || {
        let (ok, out) = docker(&["inspect", "-f", "{{.Id}} {{.State.Running}}", &name]);
        ok && !out.starts_with(&first_id) && out.ends_with("true")
    })
    .await;
    let link = app
        .wait_link(&agent.access, &id, "working again", |l| {
            l["status"] == "working"
        })
        .await;
    assert_eq!(link["phone"], "34600000002");
    wait_until("orphan removed", 60, || !docker(&["inspect", &orphan]).0).await;
    assert!(
        docker(&["inspect", &stranger]).0,
        "unlabelled containers are never touched"
    );
    docker(&["rm", "-f", &stranger]);
}

#[sqlx::test]
async fn logout_keeps_the_link_and_delete_removes_container_and_volume(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let name = container_name(&id);
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    app.phone(
        &id,
        "scan",
        &json!({"phone": "34600000003", "pushName": "Leo"}),
    )
    .await;
    app.wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;

    let resp = app
        .post(
            &format!("/api/v1/whatsapp/links/{id}/logout"),
            &json!({}),
            Some(&agent.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let link = app
        .wait_link(&agent.access, &id, "waiting for a new scan", |l| {
            l["status"] == "scan_qr"
        })
        .await;
    assert!(link["phone"].is_null(), "the phone is unlinked");

    // A conversation on this link must outlive the link.
    let conv = uuid::Uuid::now_v7();
    let link_uuid: uuid::Uuid = id.parse().unwrap();
    sqlx::query("insert into conversations (id, agency_id, agent_id, channel, link_id, chat_id) select $1, agency_id, agent_id, 'whatsapp', id, '34600000009@c.us' from whatsapp_links where id = $2")
        .bind(conv)
        .bind(link_uuid)
        .execute(&app.pool)
        .await
        .unwrap();

    let resp = app
        .delete(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(!docker(&["inspect", &name]).0, "container removed");
    assert!(
        !docker(&["volume", "inspect", &format!("{name}-sessions")]).0,
        "volume removed"
    );
    expect_problem(
        app.get(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let kept: i64 = sqlx::query_scalar("select count(*) from conversations where id = $1")
        .bind(conv)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept, 1, "history kept");
    // A new link may be made once the old one is gone (limit 1).
    create_link(&app, &agent).await;
}

#[sqlx::test]
async fn a_missing_image_is_a_clear_failure(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha.waha_image = "puente/no-such-image:nope".into()
    })
    .await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    let link = app
        .wait_link(&agent.access, &id, "failed", |l| l["status"] == "failed")
        .await;
    assert_eq!(link["status_reason"], "image_missing");
    assert!(link["action"].as_str().unwrap().contains("operator"));
}

#[sqlx::test]
async fn links_are_private_and_limited(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (admin, agent) = agent(&app).await;
    let other = app.register_agent(&admin, "eva@costa.example").await;
    let buyer = app.register_buyer("bea@example.com").await;
    let id = create_link(&app, &agent).await;

    expect_problem(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CONFLICT,
        "link_limit_reached",
    )
    .await;
    for path in [
        format!("/api/v1/whatsapp/links/{id}"),
        format!("/api/v1/whatsapp/links/{id}/qr"),
    ] {
        expect_problem(
            app.get(&path, Some(&other.access)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.get(&path, Some(&buyer.access)).await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
        expect_problem(
            app.get(&path, None).await,
            StatusCode::UNAUTHORIZED,
            "missing_token",
        )
        .await;
    }
    for action in ["restart", "logout", "pairing-code"] {
        let path = format!("/api/v1/whatsapp/links/{id}/{action}");
        expect_problem(
            app.post(
                &path,
                &json!({"phone_number": "34600000001"}),
                Some(&other.access),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.post(
                &path,
                &json!({"phone_number": "34600000001"}),
                Some(&buyer.access),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
    }
    expect_problem(
        app.delete(&format!("/api/v1/whatsapp/links/{id}"), Some(&other.access))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let list = expect_status(
        app.get("/api/v1/whatsapp/links", Some(&other.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    expect_problem(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&buyer.access))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    // Operator endpoints are for operators.
    for who in [&agent, &admin, &buyer] {
        expect_problem(
            app.get("/api/v1/admin/links", Some(&who.access)).await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
        expect_problem(
            app.post(
                &format!("/api/v1/admin/links/{id}/restart"),
                &json!({}),
                Some(&who.access),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
    }
    // Another agent's socket hears nothing of this link.
    let mut other_ws = Ws::connect(&app, &other.access, None).await;
    other_ws.next(5).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    assert!(
        other_ws.next(2).await.is_none(),
        "no events for other agents: {:?}",
        other_ws.seen
    );
    // Pairing code for the owner, with validation.
    expect_problem(
        app.post(
            &format!("/api/v1/whatsapp/links/{id}/pairing-code"),
            &json!({"phone_number": "12"}),
            Some(&agent.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let code = expect_status(
        app.post(
            &format!("/api/v1/whatsapp/links/{id}/pairing-code"),
            &json!({"phone_number": "+34 600 000 001"}),
            Some(&agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(code["code"].as_str().unwrap().len() >= 8, "{code}");
}

#[sqlx::test]
async fn operators_see_the_fleet_and_their_actions_are_audited(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let op = app.operator("ops@puente.example").await;
    let mut op_ws = Ws::connect(&app, &op.access, None).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    // Operators hear link.status, never the QR.
    op_ws
        .wait(30, "link.status", |v| {
            v["type"] == "link.status" && v["data"]["status"] == "scan_qr"
        })
        .await;
    assert!(op_ws.seen.iter().all(|v| v["type"] != "link.qr"));

    let fleet = expect_status(
        app.get("/api/v1/admin/links", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    let l = &fleet[0];
    assert_eq!(l["id"], id.as_str());
    assert_eq!(l["agent_email"], "diego@costa.example");
    assert_eq!(l["agency_name"], "Costa Homes");
    assert_eq!(l["container_state"], "running");
    assert!(l["container_id"].as_str().unwrap().len() >= 12);
    assert!(l["uptime_secs"].as_i64().unwrap() >= 0);
    assert!(l["cpu_percent"].as_f64().is_some(), "{l}");
    assert!(l["memory_used_bytes"].as_u64().unwrap() > 0);
    assert_eq!(l["memory_limit_bytes"], 128 * 1024 * 1024);

    let logs = expect_status(
        app.get(
            &format!("/api/v1/admin/links/{id}/logs?tail=50"),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(!logs["lines"].as_array().unwrap().is_empty());
    expect_problem(
        app.get(
            &format!("/api/v1/admin/links/{id}/logs?tail=0"),
            Some(&op.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let resp = app
        .post(
            &format!("/api/v1/admin/links/{id}/stop"),
            &json!({}),
            Some(&op.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let stopped = app
        .wait_link(&agent.access, &id, "stopped", |l| l["status"] == "stopped")
        .await;
    assert_eq!(stopped["container"]["state"], "exited");
    // The reconciler keeps it stopped.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let still = expect_status(
        app.get(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["container"]["state"], "exited");
    // Its agent cannot undo the operator's stop.
    expect_problem(
        app.post(
            &format!("/api/v1/whatsapp/links/{id}/restart"),
            &json!({}),
            Some(&agent.access),
        )
        .await,
        StatusCode::CONFLICT,
        "link_stopped_by_operator",
    )
    .await;
    let still = expect_status(
        app.get(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "stopped");
    assert_eq!(still["status_reason"], "stopped_by_operator");
    let desired: String =
        sqlx::query_scalar("select desired_state from whatsapp_links where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(desired, "stopped");

    let resp = app
        .post(
            &format!("/api/v1/admin/links/{id}/restart"),
            &json!({}),
            Some(&op.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    app.wait_link(&agent.access, &id, "scanning again", |l| {
        l["status"] == "scan_qr"
    })
    .await;

    let resp = app
        .delete(&format!("/api/v1/admin/links/{id}"), Some(&op.access))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let audit = expect_status(
        app.get("/api/v1/admin/audit", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_user_id"] == op.id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["link.logs", "link.stop", "link.restart", "link.delete"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_user_id"] == op.id.as_str())
        .all(|e| e["result"] == "ok"));
    // The agent's refused restart is on record too.
    assert!(audit.as_array().unwrap().iter().any(|e| {
        e["actor_user_id"] == agent.id.as_str()
            && e["action"] == "link.restart"
            && e["result"] != "ok"
    }));
}

#[sqlx::test]
async fn two_processes_share_the_fleet_without_fighting(pool: PgPool) {
    let (a, fleet) = TestApp::spawn_fleet(pool.clone(), |_| {}).await;
    let instance = fleet.instance.clone();
    // A second process: its own connection pool on the same database, as a replica has.
    let pool_b = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let b = TestApp::spawn_with(pool_b, |c| crate::helpers::fleet_config(c, &instance)).await;
    let (admin, agent1) = agent(&a).await;
    let agent2 = a.register_agent(&admin, "eva@costa.example").await;
    let l1 = create_link(&a, &agent1).await;
    let l2 = create_link(&b, &agent2).await;
    a.wait_link(&agent1.access, &l1, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    b.wait_link(&agent2.access, &l2, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let ids = |n: &str| inspect(n)["Id"].as_str().unwrap().to_string();
    let (c1, c2) = (ids(&container_name(&l1)), ids(&container_name(&l2)));
    // Several reconcile passes later: one leader, the same containers, nothing duplicated.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        u8::from(a.state.supervisor.is_leader()) + u8::from(b.state.supervisor.is_leader()),
        1,
        "exactly one leader"
    );
    assert_eq!(
        (ids(&container_name(&l1)), ids(&container_name(&l2))),
        (c1, c2),
        "no churn"
    );
    let filter = format!("label=puente.instance={instance}");
    let (_, all) = docker(&["ps", "-aq", "--filter", &filter]);
    assert_eq!(all.split_whitespace().count(), 2);
    // The leader stops: the other takes over and still heals.
    let (leader, follower) = if a.state.supervisor.is_leader() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    leader.stop();
    wait_until("new leader", 30, || follower.state.supervisor.is_leader()).await;
    docker(&["rm", "-f", &container_name(&l1)]);
    wait_until("re-created by the new leader", 60, || {
        docker(&["inspect", &container_name(&l1)]).0
    })
    .await;
}

#[sqlx::test]
async fn websocket_requires_auth_and_resumes_without_gaps(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    // No token, bad token.
    let url = format!("{}/api/v1/ws", app.base.replace("http://", "ws://"));
    assert!(tokio_tungstenite::connect_async(url.clone()).await.is_err());
    assert!(
        tokio_tungstenite::connect_async(format!("{url}?access_token=nope"))
            .await
            .is_err()
    );
    let resp = app.get("/api/v1/ws", Some(&admin.access)).await;
    assert!(
        resp.status().is_client_error(),
        "a plain GET is not an upgrade"
    );

    let uid: uuid::Uuid = admin.id.parse().unwrap();
    let publish = |n: i64| {
        let pool = app.pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            puente::realtime::publish(&mut tx, &[uid], "test.event", &json!({"n": n}))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let mut ws = Ws::connect(&app, &admin.access, None).await;
    let hello = ws.next(10).await.unwrap();
    assert_eq!(hello["last_seq"], 0);
    for n in 1..=3 {
        publish(n).await;
    }
    for n in 1..=3 {
        let ev = ws.wait(10, "event", |v| v["type"] == "test.event").await;
        assert_eq!(ev["seq"], n);
        assert_eq!(ev["data"]["n"], n);
    }
    ws.send(json!({"type": "ping"})).await;
    ws.wait(10, "pong", |v| v["type"] == "pong").await;
    drop(ws);
    // Missed while away: delivered on reconnect with `since`, in order, once.
    for n in 4..=6 {
        publish(n).await;
    }
    let mut ws = Ws::connect(&app, &admin.access, Some(3)).await;
    assert_eq!(ws.next(10).await.unwrap()["type"], "hello");
    for n in 4..=6 {
        assert_eq!(ws.next(10).await.unwrap()["seq"], n);
    }
    publish(7).await;
    assert_eq!(ws.next(10).await.unwrap()["seq"], 7);
    assert!(ws.next(1).await.is_none(), "no duplicates: {:?}", ws.seen);
    // The socket cap.
    let _keep: Vec<Ws> = {
        let mut v = Vec::new();
        for _ in 0..9 {
            v.push(Ws::connect(&app, &admin.access, None).await);
        }
        v
    };
    let over =
        tokio_tungstenite::connect_async(format!("{url}?access_token={}", admin.access)).await;
    assert!(over.is_err(), "11th socket refused");
    let _ = PASSWORD;
}

#[sqlx::test]
async fn cli_lists_links_draws_the_qr_and_restarts(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool.clone(), |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_puente"))
            .arg("links")
            .args(args)
            .env("DATABASE_URL", crate::cli::database_url(&pool))
            .env(
                "PUENTE_JWT_SECRET",
                "test-secret-test-secret-test-secret-0123456789",
            )
            .env(
                "PUENTE_MASTER_SECRET",
                "test-master-secret-test-master-secret-0123456789",
            )
            .env("PUENTE_INSTANCE", &fleet.instance)
            .env("PUENTE_WAHA_IMAGE", crate::helpers::waha_image())
            .env("PUENTE_SUPERVISE", "false")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = run(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&id)
            && stdout.contains("diego@costa.example")
            && stdout.contains("scan_qr")
            && stdout.contains("running"),
        "{stdout}"
    );

    let out = run(&["qr", &id]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains('█') || stdout.contains('▀') || stdout.contains('▄'),
        "a QR drawn in the terminal: {stdout}"
    );
    assert!(stdout.lines().count() > 15);

    let out = run(&["qr", &uuid::Uuid::now_v7().to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such link"));

    let before = inspect(&container_name(&id))["State"]["StartedAt"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run(&["restart", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("restarted", 30, || {
        let (ok, started) = docker(&[
            "inspect",
            "-f",
            "{{.State.StartedAt}}",
            &container_name(&id),
        ]);
        ok && started != before
    })
    .await;
    // Once working, there is no QR to draw, and the CLI says why.
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    app.phone(&id, "scan", &json!({"phone": "34600000004"}))
        .await;
    app.wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    let out = run(&["qr", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("link_not_scanning"));
    let _ = PASSWORD;
}

#[sqlx::test]
async fn the_simulated_phone_is_offered_to_the_links_agent_only(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (admin, agent) = agent(&app).await;
    let other = app.register_agent(&admin, "eva@costa.example").await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let path = format!("/api/v1/whatsapp/links/{id}/phone");

    let resp = app.get(&path, Some(&agent.access)).await;
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = expect_status(resp, StatusCode::OK).await;
    let url = body["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/__emulator/phone?x-api-key="),
        "{url}"
    );
    // The page answers from this host (as the agent's browser reaches it), and its key is
    // the link's: the control API accepts it.
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<html"));
    let key = url.split("x-api-key=").nth(1).unwrap();
    let base = url.split("/__emulator").next().unwrap();
    let session = reqwest::Client::new()
        .get(format!("{base}/__emulator/sessions/default"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), StatusCode::OK);

    expect_problem(
        app.get(&path, Some(&other.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get(&path, Some(&admin.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get(&path, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
}

#[sqlx::test]
async fn real_waha_links_have_no_simulated_phone(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha.waha_image = "devlikeapro/waha:latest".into()
    })
    .await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    expect_problem(
        app.get(
            &format!("/api/v1/whatsapp/links/{id}/phone"),
            Some(&agent.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_emulator",
    )
    .await;
}

#[sqlx::test]
async fn a_link_the_phone_unlinked_keeps_saying_so(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool.clone(), |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    app.phone(&id, "scan", &json!({"phone": "34600000007"}))
        .await;
    app.wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    app.phone(&id, "logout", &json!({})).await;
    let link = app
        .wait_link(&agent.access, &id, "failed", |l| l["status"] == "failed")
        .await;
    assert_eq!(link["status_reason"], "logged_out");
    let failed_at = chrono::Utc::now();
    // The supervisor probes a link that has been failed for a while; WAHA's FAILED must not
    // turn "the phone unlinked it" into a generic "session failed".
    let uuid: uuid::Uuid = id.parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let probed: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("select last_probe_at from whatsapp_links where id = $1")
                .bind(uuid)
                .fetch_one(&pool)
                .await
                .unwrap();
        if probed.is_some_and(|p| p > failed_at + chrono::Duration::seconds(15)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never probed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let link = app
        .wait_link(&agent.access, &id, "failed", |l| l["status"] == "failed")
        .await;
    assert_eq!(link["status_reason"], "logged_out");
    assert!(link["action"].as_str().unwrap().contains("unlinked"));
}

#[sqlx::test]
async fn a_container_paused_behind_puentes_back_is_unpaused(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (_admin, agent) = agent(&app).await;
    let id = create_link(&app, &agent).await;
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let name = format!("puente-waha-{}", id.replace('-', ""));
    let (ok, out) = docker(&["pause", &name]);
    assert!(ok, "docker pause: {out}");
    let mut paused = true;
    for _ in 0..120 {
        let (_, state) = docker(&["inspect", "--format", "{{.State.Paused}}", &name]);
        if state.trim() == "false" {
            paused = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(!paused, "the supervisor unpauses it");
    // And the session answers again: a new QR arrives.
    app.wait_link(&agent.access, &id, "scanning", |l| l["status"] == "scan_qr")
        .await;
}
