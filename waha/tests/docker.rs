//! The real image in the real Docker engine: hardened run, `/ping`, signed webhooks to a receiver
//! on the host, the login surviving `docker restart` and re-creation on the same named volume,
//! and the `exit` fault. The image (`puente/waha-emulator:dev` or `$PUENTE_WAHA_IMAGE`) must
//! exist — build it with `scripts/build-waha-image`; a missing image fails, it is not skipped.
//! Every container and volume is labelled `puente.test=waha-emulator` and removed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{hmac_sha512_hex, unique, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::Command;

const LABEL: &str = "puente.test=waha-emulator";
const KEY: &str = "container-test-key-42";
const HMAC_KEY: &str = "container-hmac-key";
const LONG: Duration = Duration::from_secs(30);

fn image() -> String {
    std::env::var("PUENTE_WAHA_IMAGE").unwrap_or_else(|_| "puente/waha-emulator:dev".into())
}

async fn docker(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

async fn require_image() {
    let (ok, _, err) = docker(&["image", "inspect", &image()]).await;
    assert!(
        ok,
        "the emulator image {} is missing ({err}); build it with scripts/build-waha-image",
        image()
    );
}

/// A named volume, removed on drop.
struct Volume(String);

impl Volume {
    async fn create() -> Volume {
        let name = unique("puente-test-waha-vol");
        let (ok, _, err) = docker(&["volume", "create", "--label", LABEL, &name]).await;
        assert!(ok, "docker volume create: {err}");
        Volume(name)
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

/// A running emulator container, removed on drop.
struct Container {
    name: String,
    base: String,
}

impl Container {
    /// `docker run` with the hardening Puente uses and the volume at /app/.sessions.
    async fn run(volume: &Volume, env: &[(&str, String)]) -> Container {
        let name = unique("puente-test-waha");
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            LABEL,
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--add-host",
            "host.docker.internal:host-gateway",
            "-p",
            "127.0.0.1::3000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push("-v".into());
        args.push(format!("{}:/app/.sessions", volume.0));
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push(image());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = docker(&refs).await;
        let mut c = Container {
            name,
            base: String::new(),
        };
        assert!(ok, "docker run failed: {err}");
        c.refresh_port().await;
        c
    }

    /// The published host port (it may change on `docker restart`).
    async fn refresh_port(&mut self) {
        let (ok, out, err) = docker(&["port", &self.name, "3000/tcp"]).await;
        assert!(ok, "docker port: {err}");
        let port = out
            .lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:"))
            .unwrap_or_else(|| panic!("no 127.0.0.1 port in {out:?}"))
            .to_owned();
        self.base = format!("http://127.0.0.1:{port}");
    }

    async fn logs(&self) -> String {
        let (_, out, err) = docker(&["logs", &self.name]).await;
        format!("{out}\n{err}")
    }

    /// Polls `/ping` until it answers; returns how long it took.
    async fn wait_ping(&self, http: &reqwest::Client) -> Duration {
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/ping", self.base)).send().await {
                if r.status() == StatusCode::OK {
                    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "pong"}));
                    return started.elapsed();
                }
            }
            if started.elapsed() > LONG {
                panic!(
                    "container {} never answered /ping; logs:\n{}",
                    self.name,
                    self.logs().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> Value {
        let r = http
            .get(format!("{}{path}", self.base))
            .header("X-Api-Key", KEY)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, http: &reqwest::Client, path: &str, body: Value) -> (StatusCode, Value) {
        let r = http
            .post(format!("{}{path}", self.base))
            .header("X-Api-Key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    async fn wait_status(&self, http: &reqwest::Client, session: &str, status: &str) {
        let deadline = Instant::now() + LONG;
        loop {
            let s = self.get(http, &format!("/api/sessions/{session}")).await;
            if s["status"] == status {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{session} never reached {status} (now {s}); logs:\n{}",
                    self.logs().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_runs_hardened_answers_ping_and_crashes_on_exit_fault() {
    require_image().await;
    let http = client();
    let volume = Volume::create().await;
    let started = Instant::now();
    let c = Container::run(&volume, &[("WAHA_API_KEY", KEY.into())]).await;
    let ready = c.wait_ping(&http).await;
    println!(
        "container answered /ping {:?} after docker run returned ({:?} including docker run)",
        ready,
        started.elapsed()
    );

    let (ok, inspect, err) = docker(&["inspect", &c.name]).await;
    assert!(ok, "{err}");
    let inspect: Value = serde_json::from_str(&inspect).unwrap();
    let host = &inspect[0]["HostConfig"];
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert!(host["SecurityOpt"]
        .to_string()
        .contains("no-new-privileges"));
    assert_ne!(
        inspect[0]["Config"]["User"], "",
        "runs as an unprivileged user"
    );

    // Writable state lives on the volume: a session and its config can be saved.
    let (code, body) = c
        .post(&http, "/api/sessions", json!({"name": "w", "start": false}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let r = http
        .get(format!("{}/api/sessions", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The exit fault crashes the process with a non-zero code.
    let (code, _) = c
        .post(&http, "/__emulator/faults", json!({"exit": 3}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let deadline = Instant::now() + LONG;
    loop {
        let (_, state, _) = docker(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.ExitCode}}",
            &c.name,
        ])
        .await;
        if state == "false 3" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "container did not exit with 3: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_and_login_survive_restart_and_recreation() {
    require_image().await;
    let http = client();
    let rx = Receiver::start("0.0.0.0").await;
    let volume = Volume::create().await;
    let env = vec![
        ("WAHA_API_KEY", KEY.to_owned()),
        (
            "WHATSAPP_HOOK_URL",
            format!("http://host.docker.internal:{}/hook", rx.addr.port()),
        ),
        ("WHATSAPP_HOOK_EVENTS", "*".to_owned()),
        ("WHATSAPP_HOOK_HMAC_KEY", HMAC_KEY.to_owned()),
        ("WHATSAPP_START_SESSION", "default".to_owned()),
        ("EMULATOR_STARTING_MS", "100".to_owned()),
        ("EMULATOR_ACK_SERVER_MS", "50".to_owned()),
        ("EMULATOR_ACK_DEVICE_MS", "100".to_owned()),
        ("EMULATOR_ACK_READ_MS", "150".to_owned()),
    ];
    let mut c = Container::run(&volume, &env).await;
    c.wait_ping(&http).await;

    let hits = rx.wait_status("SCAN_QR_CODE", LONG).await;
    for h in &hits {
        assert_eq!(
            h.header("x-webhook-hmac").unwrap(),
            hmac_sha512_hex(HMAC_KEY, &h.body),
            "signature"
        );
        assert_eq!(
            h.header("x-webhook-hmac-algorithm").as_deref(),
            Some("sha512")
        );
        assert!(h.header("user-agent").unwrap().starts_with("WAHA/"));
        assert_eq!(h.json()["session"], "default");
    }
    let (code, body) = c
        .post(
            &http,
            "/__emulator/sessions/default/scan",
            json!({"phone": "34600000001", "pushName": "Ana"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    rx.wait_status("WORKING", LONG).await;
    let me = c.get(&http, "/api/sessions/default").await["me"].clone();
    assert_eq!(me["id"], "34600000001@c.us");

    let (code, sent) = c
        .post(
            &http,
            "/api/sendText",
            json!({"chatId": "34600000002", "text": "hola"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{sent}");
    let (_, inbound) = c
        .post(
            &http,
            "/__emulator/sessions/default/inbound",
            json!({"from": "34600000002", "body": "buenas", "pushName": "Bea"}),
        )
        .await;
    let hits = rx
        .wait("message and READ ack", LONG, |h| {
            h.iter()
                .any(|h| h.event() == "message" && h.json()["payload"]["id"] == inbound["id"])
                && h.iter()
                    .any(|h| h.event() == "message.ack" && h.json()["payload"]["ack"] == 3)
        })
        .await;
    for h in &hits {
        assert_eq!(
            h.header("x-webhook-hmac").unwrap(),
            hmac_sha512_hex(HMAC_KEY, &h.body)
        );
    }

    // docker restart: WORKING again with the same me, no scan.
    let workings = rx
        .of("session.status")
        .iter()
        .filter(|h| h.json()["payload"]["status"] == "WORKING")
        .count();
    let (ok, _, err) = docker(&["restart", "-t", "1", &c.name]).await;
    assert!(ok, "docker restart: {err}");
    c.refresh_port().await;
    c.wait_ping(&http).await;
    c.wait_status(&http, "default", "WORKING").await;
    assert_eq!(c.get(&http, "/api/sessions/default").await["me"], me);
    rx.wait("WORKING after restart", LONG, |h| {
        h.iter()
            .filter(|h| h.event() == "session.status" && h.json()["payload"]["status"] == "WORKING")
            .count()
            > workings
    })
    .await;
    let msgs = c
        .get(
            &http,
            "/api/default/chats/34600000002@c.us/messages?limit=10",
        )
        .await;
    assert_eq!(
        msgs.as_array().map(Vec::len),
        Some(2),
        "store kept both messages: {msgs}"
    );

    // Re-create the container on the same volume.
    drop(c);
    let c = Container::run(&volume, &env).await;
    c.wait_ping(&http).await;
    c.wait_status(&http, "default", "WORKING").await;
    assert_eq!(c.get(&http, "/api/sessions/default").await["me"], me);
    let chats = c.get(&http, "/api/default/chats").await;
    assert_eq!(chats.as_array().map(Vec::len), Some(1), "{chats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_key_is_replaced_by_a_printed_random_key() {
    require_image().await;
    let http = client();
    let volume = Volume::create().await;
    let c = Container::run(&volume, &[("WAHA_API_KEY", "admin".into())]).await;
    c.wait_ping(&http).await;
    let logs = c.logs().await;
    let key = logs
        .split_whitespace()
        .find_map(|w| w.strip_prefix("WAHA_API_KEY="))
        .unwrap_or_else(|| panic!("no generated key in the logs:\n{logs}"))
        .to_owned();
    assert_eq!(key.len(), 32);
    let r = http
        .get(format!("{}/api/sessions", c.base))
        .header("X-Api-Key", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the weak key is refused"
    );
    let r = http
        .get(format!("{}/api/sessions", c.base))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
