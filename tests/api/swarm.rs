//! The Swarm runtime (`PUENTE_RUNTIME=swarm`) on a single-node swarm the tests make
//! themselves: `docker swarm init --advertise-addr 127.0.0.1` when the engine is in no swarm,
//! and `docker swarm leave --force` when the last swarm test ends — only if a test initialised
//! it ([`SwarmGuard`], which also runs on panic). Plain containers of other tests on the same
//! engine are not disturbed by swarm mode.
//!
//! Each test's services carry its own `puente.instance` label and are removed by
//! [`Services`] (then [`crate::helpers::Fleet`] removes the containers and volumes); nothing
//! without that label is touched.

use std::sync::Mutex;
use std::time::Duration;

use puente::config::{RuntimeKind, SwarmPublishMode};
use puente::runtime::swarm::SwarmRuntime;
use puente::runtime::{ContainerRuntime, LABEL_MANAGED};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{docker, expect_status, TestApp, Ws};

/// How many swarm tests run now, whether one of them initialised the swarm, and whether that
/// made Docker's `docker_gwbridge` network (left behind by `swarm leave`).
static SWARM: Mutex<(usize, bool, bool)> = Mutex::new((0, false, false));
const GW_BRIDGE: &str = "docker_gwbridge";
/// Tests that run links take turns: draining the only node would stop another test's task.
static LINKS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the engine in a swarm for one test.
struct SwarmGuard {
    node: String,
}

impl SwarmGuard {
    fn acquire() -> Self {
        let mut held = SWARM.lock().unwrap_or_else(|e| e.into_inner());
        let (_, state) = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state != "active" {
            let had_bridge = docker(&["network", "inspect", GW_BRIDGE]).0;
            let (ok, out) = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
            assert!(ok, "docker swarm init: {out}");
            held.1 = true;
            held.2 = !had_bridge;
        }
        held.0 += 1;
        let (_, node) = docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
        assert!(!node.is_empty(), "this engine is a swarm node");
        Self { node }
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        let mut held = SWARM.lock().unwrap_or_else(|e| e.into_inner());
        held.0 -= 1;
        if held.0 == 0 && held.1 {
            docker(&["swarm", "leave", "--force"]);
            if held.2 {
                docker(&["network", "rm", GW_BRIDGE]);
            }
            held.1 = false;
            held.2 = false;
        }
    }
}

/// Removes the services of a test's instance (and waits for their containers to go).
struct Services {
    instance: String,
}

impl Drop for Services {
    fn drop(&mut self) {
        let filter = format!("label=puente.instance={}", self.instance);
        let (_, ids) = docker(&["service", "ls", "-q", "--filter", &filter]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["service", "rm"];
            args.extend(ids);
            docker(&args);
        }
        for _ in 0..100 {
            let (_, left) = docker(&["ps", "-aq", "--filter", &filter]);
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn service_name(link: &str) -> String {
    format!("puente-waha-{}", link.replace('-', ""))
}

/// The id of the running task container of a service on this engine.
fn task_container(service: &str) -> Option<String> {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    let (_, out) = docker(&["ps", "-q", "--no-trunc", "--filter", &filter]);
    out.lines().next().map(str::to_string)
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("timed out waiting for {what}");
}

#[sqlx::test]
async fn a_link_runs_as_a_pinned_service_and_survives_its_task_being_killed(pool: PgPool) {
    let swarm = SwarmGuard::acquire();
    let _turn = LINKS.lock().await;
    let (app, _fleet) = TestApp::spawn_fleet(pool.clone(), |c| {
        c.waha.runtime = RuntimeKind::Swarm;
    })
    .await;
    let _services = Services {
        instance: app.state.config.waha.instance.clone(),
    };
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let mut ws = Ws::connect(&app, &agent.access, None).await;

    let created = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    let name = service_name(&id);

    // The agent gets the QR over the WebSocket, from WAHA running as a Swarm task.
    let qr = ws.wait(120, "link.qr", |v| v["type"] == "link.qr").await;
    assert_eq!(qr["data"]["link_id"], id.as_str());
    assert!(qr["data"]["raw"].as_str().unwrap().starts_with("2@"));

    // One service, one replica, labelled, limited, restarted by Swarm, pinned to the node
    // recorded as the link's placement.
    let (ok, out) = docker(&["service", "inspect", &name]);
    assert!(ok, "docker service inspect {name}");
    let svc = serde_json::from_str::<Value>(&out).unwrap()[0].clone();
    let spec = &svc["Spec"];
    assert_eq!(spec["Labels"]["puente.managed"], "true");
    assert_eq!(spec["Labels"]["puente.link"], id.as_str());
    assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 1);
    let task = &spec["TaskTemplate"];
    assert_eq!(
        task["Placement"]["Constraints"],
        json!([format!("node.id=={}", swarm.node)])
    );
    assert_eq!(
        task["Resources"]["Limits"]["MemoryBytes"],
        128 * 1024 * 1024
    );
    assert!(task["Resources"]["Reservations"]["MemoryBytes"].as_i64() > Some(0));
    assert_eq!(task["RestartPolicy"]["Condition"], "on-failure");
    assert_eq!(task["RestartPolicy"]["MaxAttempts"], 5);
    assert_eq!(task["ContainerSpec"]["Labels"]["puente.link"], id.as_str());
    assert_eq!(task["ContainerSpec"]["CapabilityDrop"], json!(["ALL"]));
    assert_eq!(
        task["ContainerSpec"]["Mounts"][0]["Source"],
        format!("{name}-sessions")
    );
    let placed: String =
        sqlx::query_scalar("select node_id from link_placements where link_id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(placed, swarm.node, "the placement is recorded");

    // Scan, working, and a message in.
    app.phone(
        &id,
        "scan",
        &json!({"phone": "34600000011", "pushName": "Diego"}),
    )
    .await;
    let link = app
        .wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    assert_eq!(link["phone"], "34600000011");
    assert_eq!(link["container"]["state"], "running");
    app.phone(
        &id,
        "inbound",
        &json!({"from": "34600000022@c.us", "pushName": "Bea", "body": "¿Sigue libre el ático?"}),
    )
    .await;
    let msg = ws
        .wait(30, "message.created", |v| v["type"] == "message.created")
        .await;
    assert_eq!(msg["data"]["message"]["body"], "¿Sigue libre el ático?");

    // The task's container is killed: Swarm starts a new task on the same node, with the same
    // volume, and the link is working again with no new scan.
    let first = task_container(&name).expect("a running task container");
    let (ok, _) = docker(&["kill", &first]);
    assert!(ok, "docker kill {first}");
    let second = wait_for("a new task container", 90, || {
        task_container(&name).filter(|c| *c != first)
    })
    .await;
    assert_ne!(second, first);
    let (_, volume) = docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Name}}{{end}}",
        &second,
    ]);
    assert_eq!(volume, format!("{name}-sessions"), "same login volume");
    let again = app
        .wait_link(&agent.access, &id, "working on the new task", |l| {
            l["status"] == "working" && l["container"]["restart_count"].as_i64() >= Some(1)
        })
        .await;
    assert_eq!(again["phone"], "34600000011", "same login, no rescan");
    // It really works: the next message arrives through the new task.
    let mut delivered = false;
    for _ in 0..60 {
        let (base, key) = app.emulator(&id).await;
        let resp = app
            .client
            .post(format!("{base}/__emulator/sessions/default/inbound"))
            .header("x-api-key", key)
            .json(&json!({"from": "34600000022@c.us", "pushName": "Bea", "body": "¿Y el garaje?"}))
            .send()
            .await;
        if resp.is_ok_and(|r| r.status().is_success()) {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(delivered, "the new task's emulator takes a message");
    let msg = ws
        .wait(30, "message.created after the restart", |v| {
            v["type"] == "message.created" && v["data"]["message"]["body"] == "¿Y el garaje?"
        })
        .await;
    assert_eq!(msg["data"]["message"]["direction"], "in");

    // Logs through the service's tasks: the current task's container, and the service's logs
    // the manager gathers (the killed task's lines too), each line with its engine timestamp.
    let rt = SwarmRuntime::new(std::env::var("DOCKER_HOST").ok(), SwarmPublishMode::Host);
    let current = rt.logs(&name, 1000, None).await.unwrap();
    assert!(!current.is_empty(), "the new task has logged");
    let all = rt.service_logs(&name, 1000, None).await.unwrap();
    assert!(
        all.len() > current.len(),
        "{} > {}",
        all.len(),
        current.len()
    );
    assert!(all.iter().all(|l| l.at.is_some()));
    let stats = rt
        .stats(&name)
        .await
        .unwrap()
        .expect("a running task has stats");
    assert!(stats.memory_used > 0);
    assert_eq!(stats.memory_limit, 128 * 1024 * 1024);

    app.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn the_runtime_makes_an_attachable_overlay_and_sees_its_node() {
    let swarm = SwarmGuard::acquire();
    let rt = SwarmRuntime::new(std::env::var("DOCKER_HOST").ok(), SwarmPublishMode::Host);
    let name = format!(
        "puente-swarm-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    rt.ensure_network(&name).await.unwrap();
    rt.ensure_network(&name).await.unwrap();
    let (ok, out) = docker(&["network", "inspect", &name]);
    docker(&["network", "rm", &name]);
    assert!(ok, "network {name} exists");
    let net = serde_json::from_str::<Value>(&out).unwrap()[0].clone();
    assert_eq!(net["Driver"], "overlay");
    assert_eq!(net["Attachable"], true);
    assert_eq!(net["Labels"][LABEL_MANAGED], "true");

    let nodes = rt.nodes().await.unwrap();
    let me = nodes
        .iter()
        .find(|n| n.id == swarm.node)
        .expect("this node is listed");
    assert!(me.accepts_sessions(), "{me:?}");
    assert_eq!(me.role, "manager");
}

#[sqlx::test]
async fn operators_see_nodes_drain_the_only_one_and_stop_and_restart_a_link(pool: PgPool) {
    let swarm = SwarmGuard::acquire();
    let _turn = LINKS.lock().await;
    let (app, _fleet) = TestApp::spawn_fleet(pool.clone(), |c| {
        c.waha.runtime = RuntimeKind::Swarm;
        c.waha.swarm_node_cap = 7;
    })
    .await;
    let _services = Services {
        instance: app.state.config.waha.instance.clone(),
    };
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let op = app.operator("op@puente.example").await;
    let created = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;

    // Agents do not see nodes; operators see this node with its link and the cap.
    let resp = app.get("/api/v1/admin/nodes", Some(&agent.access)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let nodes = expect_status(
        app.get("/api/v1/admin/nodes", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    let node = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == swarm.node.as_str())
        .expect("this node")
        .clone();
    assert_eq!(node["availability"], "active");
    assert_eq!(node["links"], 1);
    assert_eq!(node["link_ids"], json!([id]));
    assert_eq!(node["cap"], 7);
    let fleet = expect_status(
        app.get("/api/v1/admin/links?stats=false", Some(&op.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fleet[0]["id"], id.as_str());
    assert_eq!(
        fleet[0]["node"],
        swarm.node.as_str(),
        "the operator sees the link's node"
    );
    assert_eq!(node["accepts_links"], true);

    // Draining the only node: nowhere to move the link; it is reported, not lost.
    let drained = expect_status(
        app.post(
            &format!("/api/v1/admin/nodes/{}/drain", swarm.node),
            &json!({}),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(drained["moved"], json!([]));
    assert_eq!(drained["unplaced"], json!([id]));
    assert_eq!(drained["needs_scan"], true);
    let (_, availability) = docker(&[
        "node",
        "inspect",
        "-f",
        "{{.Spec.Availability}}",
        &swarm.node,
    ]);
    assert_eq!(availability, "drain");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'node.drain' and target_id = $1",
    )
    .bind(&swarm.node)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // Active again: the link's task runs there again.
    let resp = app
        .post(
            &format!("/api/v1/admin/nodes/{}/activate", swarm.node),
            &json!({}),
            Some(&op.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (_, availability) = docker(&[
        "node",
        "inspect",
        "-f",
        "{{.Spec.Availability}}",
        &swarm.node,
    ]);
    assert_eq!(availability, "active");
    let name = service_name(&id);
    wait_for("the task running again", 90, || task_container(&name)).await;

    // Stopped by an operator: the service is scaled to 0 and stays so; restarted: one task again.
    let resp = app
        .post(
            &format!("/api/v1/admin/links/{id}/stop"),
            &json!({}),
            Some(&op.access),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    app.wait_link(&agent.access, &id, "stopped", |l| l["status"] == "stopped")
        .await;
    let (_, replicas) = docker(&[
        "service",
        "inspect",
        "-f",
        "{{.Spec.Mode.Replicated.Replicas}}",
        &name,
    ]);
    assert_eq!(replicas, "0");
    wait_for("no task container", 60, || {
        task_container(&name).is_none().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        task_container(&name).is_none(),
        "a stopped link stays stopped"
    );
    let resp = app
        .post(
            &format!("/api/v1/admin/links/{id}/restart"),
            &json!({}),
            Some(&op.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    wait_for("a task again", 90, || task_container(&name)).await;
    app.wait_link(&agent.access, &id, "scan_qr again", |l| {
        l["status"] == "scan_qr"
    })
    .await;

    // Deleted by its agent: the service, its task container and its volume are gone.
    let resp = app
        .delete(&format!("/api/v1/whatsapp/links/{id}"), Some(&agent.access))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(!docker(&["service", "inspect", &name]).0, "service removed");
    assert!(task_container(&name).is_none(), "task container removed");
    assert!(
        !docker(&["volume", "inspect", &format!("{name}-sessions")]).0,
        "volume removed"
    );

    let missing = app
        .post(
            "/api/v1/admin/nodes/nonode/drain",
            &json!({}),
            Some(&op.access),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    app.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[sqlx::test]
async fn links_of_a_node_that_left_the_swarm_move_to_another_node(pool: PgPool) {
    let swarm = SwarmGuard::acquire();
    let _turn = LINKS.lock().await;
    let (app, _fleet) = TestApp::spawn_fleet(pool.clone(), |c| {
        c.waha.runtime = RuntimeKind::Swarm;
    })
    .await;
    let _services = Services {
        instance: app.state.config.waha.instance.clone(),
    };
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let op = app.operator("op@puente.example").await;
    let created = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    let name = service_name(&id);
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    // As if the link had been placed on a node since removed from the swarm.
    sqlx::query("update link_placements set node_id = 'gone-node' where link_id = $1::uuid")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();

    let mut ws = Ws::connect(&app, &agent.access, None).await;
    let drained = expect_status(
        app.post(
            "/api/v1/admin/nodes/gone-node/drain",
            &json!({}),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        drained["moved"],
        json!([{"link_id": id, "to_node": swarm.node}])
    );
    assert_eq!(drained["needs_scan"], true);
    // The agent is told why a new scan is needed.
    let moved = ws
        .wait(30, "moved status", |v| {
            v["type"] == "link.status" && v["data"]["reason"] == "moved_node_needs_scan"
        })
        .await;
    assert!(moved["data"]["action"].as_str().unwrap().contains("scan"));
    // The service is re-created pinned to its new node, and shows a QR again.
    let constraint = wait_for("the re-created service", 60, || {
        let (ok, out) = docker(&[
            "service",
            "inspect",
            "-f",
            "{{json .Spec.TaskTemplate.Placement.Constraints}}",
            &name,
        ]);
        ok.then_some(out)
    })
    .await;
    assert_eq!(constraint, format!("[\"node.id=={}\"]", swarm.node));
    app.wait_link(&agent.access, &id, "scan_qr on the new node", |l| {
        l["status"] == "scan_qr"
    })
    .await;
    let placed: (String, Option<String>) =
        sqlx::query_as("select node_id, moved_from from link_placements where link_id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(placed, (swarm.node.clone(), Some("gone-node".to_string())));

    app.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn services_are_created_stopped_listed_by_label_with_their_tasks_and_removed() {
    let _swarm = SwarmGuard::acquire();
    let rt = SwarmRuntime::new(std::env::var("DOCKER_HOST").ok(), SwarmPublishMode::Host);
    let run = uuid::Uuid::new_v4().simple().to_string();
    // Removed by label even when an assertion fails.
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let filter = format!("label=puente.test.run={}", self.0);
            let (_, ids) = docker(&["service", "ls", "-q", "--filter", &filter]);
            for id in ids.split_whitespace() {
                docker(&["service", "rm", id]);
            }
        }
    }
    let _gone = Gone(run.clone());
    let image = crate::helpers::waha_image();
    let mut names = Vec::new();
    for i in 0..2 {
        let spec = puente::runtime::ContainerSpec {
            name: format!("puente-swarm-test-{}-{i}", &run[..10]),
            image: image.clone(),
            labels: [("puente.test.run".to_owned(), run.clone())].into(),
            env: vec![("WAHA_API_KEY".into(), "swarm-test-key-0123456789".into())],
            memory_bytes: Some(64 * 1024 * 1024),
            harden: true,
            ..Default::default()
        };
        let id = rt.create_container(&spec).await.unwrap();
        let created = rt.inspect(&spec.name).await.unwrap().unwrap();
        assert_eq!(created.id, id);
        assert_eq!(created.state, puente::runtime::ContainerState::Created);
        rt.start(&id).await.unwrap();
        names.push(spec.name);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let running = loop {
        let list = rt.list_by_label("puente.test.run", &run).await.unwrap();
        if list.len() == 2
            && list
                .iter()
                .all(|c| c.state == puente::runtime::ContainerState::Running)
        {
            break list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "both running: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut listed: Vec<&str> = running.iter().map(|c| c.name.as_str()).collect();
    listed.sort_unstable();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(running.iter().all(|c| c.started_at.is_some()));
    assert!(running.iter().all(|c| c.labels[LABEL_MANAGED] == "true"));

    rt.stop(&names[0], 1).await.unwrap();
    let stopped = rt.inspect(&names[0]).await.unwrap().unwrap();
    assert_eq!(stopped.state, puente::runtime::ContainerState::Exited);
    rt.remove_container(&names[0]).await.unwrap();
    rt.remove_container(&names[0]).await.unwrap();
    assert!(rt.inspect(&names[0]).await.unwrap().is_none());
    let left = rt.list_by_label("puente.test.run", &run).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, names[1]);
}
