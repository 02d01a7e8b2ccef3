//! The Docker runtime against the real engine, running the emulator image
//! (`puente/waha-emulator:dev`, or `$PUENTE_WAHA_IMAGE`; build it with
//! `scripts/build-waha-image` — a missing image fails the tests, it does not skip them).
//!
//! Every object a test makes has a unique name (`puente-rt-test-…`), carries
//! `puente.test=runtime` plus a per-test `puente.test.run=<uuid>` label (so listing and events
//! see only that test's containers), and is removed by a [`Cleanup`] guard when the test ends,
//! also when it fails. No database is needed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use puente::runtime::docker::DockerRuntime;
use puente::runtime::{
    ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, PortPublish, RestartPolicy,
    RuntimeError, RuntimeEvent, LABEL_MANAGED,
};
use serde_json::Value;

const TEST_LABEL: &str = "puente.test";
const TEST_VALUE: &str = "runtime";
/// Unique per test: what `list_by_label` and `events` filter on.
const RUN_LABEL: &str = "puente.test.run";
/// Upper bound for anything the engine does asynchronously (generous for a 2-core machine).
const WAIT: Duration = Duration::from_secs(30);
const MIB: i64 = 1024 * 1024;

fn image() -> String {
    std::env::var("PUENTE_WAHA_IMAGE").unwrap_or_else(|_| "puente/waha-emulator:dev".into())
}

/// Names of what a test created, removed with the docker CLI on drop (also after a panic).
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let run = |args: Vec<&str>| {
            let _ = std::process::Command::new("docker").args(args).output();
        };
        if !self.containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(self.containers.iter().map(String::as_str));
            run(args);
        }
        if !self.volumes.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(self.volumes.iter().map(String::as_str));
            run(args);
        }
        if !self.networks.is_empty() {
            let mut args = vec!["network", "rm"];
            args.extend(self.networks.iter().map(String::as_str));
            run(args);
        }
    }
}

/// One test's runtime, its unique run label and its clean-up list.
struct Harness {
    rt: DockerRuntime,
    run: String,
    cleanup: Cleanup,
}

impl Harness {
    async fn new() -> Harness {
        let rt = DockerRuntime::new(std::env::var("DOCKER_HOST").ok());
        rt.ping()
            .await
            .expect("the docker engine must be reachable");
        assert!(
            rt.image_exists(&image()).await.unwrap(),
            "the emulator image {} is missing; build it with scripts/build-waha-image",
            image()
        );
        Harness {
            rt,
            run: uuid::Uuid::new_v4().simple().to_string(),
            cleanup: Cleanup::default(),
        }
    }

    fn name(&self, what: &str) -> String {
        format!(
            "puente-rt-test-{what}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )
    }

    /// The test labels, including the per-test run label.
    fn labels(&self) -> std::collections::HashMap<String, String> {
        [
            (TEST_LABEL.to_owned(), TEST_VALUE.to_owned()),
            (RUN_LABEL.to_owned(), self.run.clone()),
        ]
        .into()
    }

    /// A minimal spec for the emulator, its name registered for clean-up.
    fn spec(&mut self, what: &str) -> ContainerSpec {
        let name = self.name(what);
        self.cleanup.containers.push(name.clone());
        ContainerSpec {
            name,
            image: image(),
            labels: self.labels(),
            env: vec![("WAHA_API_KEY".into(), "runtime-test-key-0123456789".into())],
            memory_bytes: Some(64 * MIB),
            harden: true,
            ..Default::default()
        }
    }

    fn volume(&mut self) -> String {
        let name = self.name("vol");
        self.cleanup.volumes.push(name.clone());
        name
    }

    fn network(&mut self) -> String {
        let name = self.name("net");
        self.cleanup.networks.push(name.clone());
        name
    }

    async fn create_started(&mut self, spec: &ContainerSpec) -> String {
        let id = self.rt.create_container(spec).await.unwrap();
        self.rt.start(&id).await.unwrap();
        self.wait_state(&id, ContainerState::Running).await;
        id
    }

    /// Polls until the container is in `state`.
    async fn wait_state(&self, id: &str, state: ContainerState) -> ContainerInfo {
        let deadline = Instant::now() + WAIT;
        loop {
            let info = self.rt.inspect(id).await.unwrap();
            match info {
                Some(info) if info.state == state => return info,
                other if Instant::now() > deadline => {
                    panic!("{id} did not reach {state:?}: {other:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// Polls `GET /ping` on the published port until the emulator answers.
async fn ping(port: u16) -> Value {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/ping");
    let deadline = Instant::now() + WAIT;
    loop {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return r.json().await.unwrap(),
            other if Instant::now() > deadline => panic!("{url} never answered: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test]
async fn create_with_full_spec_applies_limits_hardening_and_a_loopback_port() {
    let mut t = Harness::new().await;
    let volume = t.volume();
    t.rt.ensure_volume(&volume, &t.labels()).await.unwrap();
    let network = t.network();
    t.rt.ensure_network(&network).await.unwrap();

    let mut spec = t.spec("full");
    spec.env.push(("WHATSAPP_API_PORT".into(), "3000".into()));
    spec.volume = Some((volume.clone(), "/app/.sessions".into()));
    spec.network = Some(network.clone());
    spec.publish = Some(PortPublish {
        container_port: 3000,
        host_ip: "127.0.0.1".into(),
        host_port: None,
    });
    spec.memory_bytes = Some(96 * MIB);
    spec.nano_cpus = Some(500_000_000);
    spec.cpu_shares = Some(512);
    spec.pids_limit = Some(64);
    spec.read_only_rootfs = true;
    spec.tmpfs = vec![("/tmp".into(), "rw,size=16m".into())];
    spec.extra_hosts = vec!["host.docker.internal:host-gateway".into()];
    spec.restart = Some(RestartPolicy::OnFailure { max_retries: 2 });
    spec.user = Some("10001:10001".into());

    let id = t.create_started(&spec).await;

    let info = t.rt.inspect(&spec.name).await.unwrap().unwrap();
    assert_eq!(info.id, id);
    assert_eq!(info.name, spec.name);
    assert_eq!(info.image, image());
    assert_eq!(info.state, ContainerState::Running);
    assert_eq!(info.memory_limit, 96 * MIB);
    assert_eq!(info.labels[TEST_LABEL], TEST_VALUE);
    assert_eq!(info.labels[RUN_LABEL], t.run);
    assert_eq!(info.labels[LABEL_MANAGED], "true", "managed label added");
    assert!(info.started_at.is_some());
    assert_eq!(info.finished_at, None, "Docker's zero time is None");
    assert_eq!(info.restart_count, 0);
    assert!(!info.oom_killed);
    let port = info.host_port.expect("a published host port");
    assert_ne!(port, 0);

    assert_eq!(ping(port).await["message"], "pong");

    // What the engine actually applied.
    let raw =
        t.rt.client()
            .await
            .unwrap()
            .inspect_container(&id, None)
            .await
            .unwrap();
    let host = raw.host_config.unwrap();
    assert_eq!(host.memory, Some(96 * MIB));
    assert_eq!(host.memory_swap, Some(96 * MIB), "no swap beyond memory");
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.pids_limit, Some(64));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges:true".to_owned()])
    );
    assert_eq!(host.tmpfs.unwrap()["/tmp"], "rw,size=16m");
    assert_eq!(
        host.extra_hosts,
        Some(vec!["host.docker.internal:host-gateway".to_owned()])
    );
    assert_eq!(host.network_mode.as_deref(), Some(network.as_str()));
    let policy = host.restart_policy.unwrap();
    assert_eq!(policy.name.unwrap().to_string(), "on-failure");
    assert_eq!(policy.maximum_retry_count, Some(2));
    let mount = &host.mounts.unwrap()[0];
    assert_eq!(mount.source.as_deref(), Some(volume.as_str()));
    assert_eq!(mount.target.as_deref(), Some("/app/.sessions"));
    let config = raw.config.unwrap();
    assert_eq!(config.user.as_deref(), Some("10001:10001"));
    assert!(config
        .env
        .unwrap()
        .contains(&"WAHA_API_KEY=runtime-test-key-0123456789".to_owned()));
    let bindings = raw.network_settings.unwrap().ports.unwrap()["3000/tcp"]
        .clone()
        .unwrap();
    assert!(
        bindings
            .iter()
            .all(|b| b.host_ip.as_deref() == Some("127.0.0.1")),
        "published on loopback only: {bindings:?}"
    );

    t.rt.remove_container(&id).await.unwrap();
    assert!(t.rt.inspect(&id).await.unwrap().is_none());
    t.rt.remove_volume(&volume).await.unwrap();
    assert!(t
        .rt
        .client()
        .await
        .unwrap()
        .inspect_volume(&volume)
        .await
        .is_err());
}

#[tokio::test]
async fn create_with_an_absent_image_is_image_missing_and_pulls_nothing() {
    let mut t = Harness::new().await;
    let missing = format!("puente/absent-{}:none", t.run);
    let mut spec = t.spec("noimage");
    spec.image = missing.clone();

    let err = t.rt.create_container(&spec).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::ImageMissing(i) if *i == missing),
        "{err:?}"
    );
    assert!(t.rt.inspect(&spec.name).await.unwrap().is_none());
    assert!(
        !t.rt.image_exists(&missing).await.unwrap(),
        "no pull was attempted"
    );
}

#[tokio::test]
async fn stop_start_and_restart_drive_the_state() {
    let mut t = Harness::new().await;
    let spec = t.spec("cycle");
    let id = t.rt.create_container(&spec).await.unwrap();

    let created = t.rt.inspect(&id).await.unwrap().unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.started_at, None, "never started: zero time is None");

    t.rt.start(&id).await.unwrap();
    let first = t.wait_state(&id, ContainerState::Running).await;
    t.rt.start(&id).await.unwrap(); // already running: fine

    t.rt.stop(&id, 2).await.unwrap();
    let stopped = t.wait_state(&id, ContainerState::Exited).await;
    assert!(stopped.finished_at.is_some());
    assert!(stopped.exit_code.is_some());
    t.rt.stop(&id, 2).await.unwrap(); // already stopped: fine

    t.rt.start(&id).await.unwrap();
    let second = t.wait_state(&id, ContainerState::Running).await;
    assert!(second.started_at > first.started_at);

    t.rt.restart(&id, 2).await.unwrap();
    let third = t.wait_state(&id, ContainerState::Running).await;
    assert!(
        third.started_at > second.started_at,
        "restart starts the container again"
    );

    t.rt.remove_container(&id).await.unwrap();
    assert!(t.rt.inspect(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn absent_objects_are_fine_to_stop_remove_and_look_up() {
    let t = Harness::new().await;
    let ghost = t.name("ghost");

    t.rt.stop(&ghost, 1).await.unwrap();
    t.rt.remove_container(&ghost).await.unwrap();
    t.rt.remove_volume(&ghost).await.unwrap();
    assert!(t.rt.inspect(&ghost).await.unwrap().is_none());
    assert!(t.rt.stats(&ghost).await.unwrap().is_none());
    assert!(t
        .rt
        .list_by_label(RUN_LABEL, &t.run)
        .await
        .unwrap()
        .is_empty());

    let err = t.rt.start(&ghost).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::NotFound { op: "start", .. }),
        "{err:?}"
    );
    let err = t.rt.restart(&ghost, 1).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::NotFound { op: "restart", .. }),
        "{err:?}"
    );
    let err = t.rt.logs(&ghost, 10, None).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::NotFound { op: "logs", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn list_by_label_finds_only_the_labelled_containers() {
    let mut t = Harness::new().await;
    let running = t.spec("listed-running");
    let running_id = t.create_started(&running).await;
    let created = t.spec("listed-created");
    let created_id = t.rt.create_container(&created).await.unwrap();
    let mut other = t.spec("unlisted");
    other.labels.remove(RUN_LABEL);
    let other_id = t.rt.create_container(&other).await.unwrap();

    let found = t.rt.list_by_label(RUN_LABEL, &t.run).await.unwrap();
    let ids: HashSet<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        HashSet::from([running_id.as_str(), created_id.as_str()])
    );
    assert!(!ids.contains(other_id.as_str()));
    for info in &found {
        assert_eq!(info.labels[RUN_LABEL], t.run);
        let expected = if info.id == running_id {
            ContainerState::Running
        } else {
            ContainerState::Created
        };
        assert_eq!(info.state, expected, "{}", info.name);
    }

    let nobody = uuid::Uuid::new_v4().simple().to_string();
    assert!(t
        .rt
        .list_by_label(RUN_LABEL, &nobody)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn stats_sample_a_running_container_and_are_none_when_stopped() {
    let mut t = Harness::new().await;
    let spec = t.spec("stats");
    let id = t.create_started(&spec).await;

    let stats = t.rt.stats(&id).await.unwrap().expect("running: a sample");
    assert_eq!(stats.memory_limit, 64 * MIB as u64);
    assert!(stats.memory_used > 0, "{stats:?}");
    assert!(stats.memory_used <= stats.memory_limit, "{stats:?}");
    assert!(
        stats.cpu_percent.is_finite() && stats.cpu_percent >= 0.0,
        "{stats:?}"
    );

    let idle = t.spec("stats-created");
    let idle_id = t.rt.create_container(&idle).await.unwrap();
    assert!(
        t.rt.stats(&idle_id).await.unwrap().is_none(),
        "never started"
    );

    t.rt.stop(&id, 2).await.unwrap();
    t.wait_state(&id, ContainerState::Exited).await;
    assert!(t.rt.stats(&id).await.unwrap().is_none(), "stopped");
}

#[tokio::test]
async fn logs_return_lines_with_tail_and_after() {
    let mut t = Harness::new().await;
    let spec = t.spec("logs");
    let id = t.create_started(&spec).await;

    let deadline = Instant::now() + WAIT;
    let all = loop {
        let lines = t.rt.logs(&id, 1000, None).await.unwrap();
        if !lines.is_empty() {
            break lines;
        }
        assert!(Instant::now() < deadline, "the emulator logged nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        all.iter()
            .all(|l| !l.text.ends_with('\n') && !l.text.ends_with('\r')),
        "{all:?}"
    );
    assert!(
        all.iter().all(|l| !l.text.contains('\n')),
        "one line per entry: {all:?}"
    );
    assert!(all.iter().all(|l| l.at.is_some()), "stamped: {all:?}");
    assert!(
        all.windows(2).all(|w| w[0].at <= w[1].at),
        "oldest first: {all:?}"
    );

    let last = t.rt.logs(&id, 1, None).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0], all[all.len() - 1]);

    // `after` is exclusive and exact (the container may log more meanwhile): after the last
    // line only later ones; after the one before it, the last one first.
    let newest = all[all.len() - 1].at;
    let later = t.rt.logs(&id, 1000, newest).await.unwrap();
    assert!(later.iter().all(|l| l.at > newest), "{later:?}");
    if all.len() >= 2 && all[all.len() - 2].at < newest {
        let tail = t.rt.logs(&id, 1000, all[all.len() - 2].at).await.unwrap();
        assert_eq!(tail.first(), all.last(), "{tail:?}");
    }
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(t.rt.logs(&id, 1000, Some(future)).await.unwrap().is_empty());

    // A stopped container's logs are still there.
    t.rt.stop(&id, 2).await.unwrap();
    t.wait_state(&id, ContainerState::Exited).await;
    let after = t.rt.logs(&id, 1000, None).await.unwrap();
    assert!(after.len() >= all.len(), "{after:?}");
}

#[tokio::test]
async fn events_report_die_for_labelled_containers_only() {
    let mut t = Harness::new().await;
    let mut stream = t.rt.events(RUN_LABEL, &t.run);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RuntimeEvent, RuntimeError>>(256);
    let forward = tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });

    let mut other = t.spec("events-other");
    other.labels.remove(RUN_LABEL);
    let other_id = t.create_started(&other).await;
    let spec = t.spec("events");
    let id = t.create_started(&spec).await;

    t.rt.stop(&other_id, 2).await.unwrap();
    t.rt.stop(&id, 2).await.unwrap();

    let die = tokio::time::timeout(WAIT, async {
        loop {
            let event = rx
                .recv()
                .await
                .expect("the event stream ended")
                .expect("an event, not an error");
            assert_ne!(
                event.container_id, other_id,
                "an unlabelled container's event leaked through: {event:?}"
            );
            if event.container_id == id && event.action == "die" {
                return event;
            }
        }
    })
    .await
    .expect("no die event for the stopped container");
    assert_eq!(die.labels[RUN_LABEL], t.run);
    assert_eq!(die.labels[TEST_LABEL], TEST_VALUE);
    forward.abort();
}

#[tokio::test]
async fn ensure_volume_and_network_are_idempotent_and_a_used_volume_conflicts() {
    let mut t = Harness::new().await;
    let volume = t.volume();
    t.rt.ensure_volume(&volume, &t.labels()).await.unwrap();
    t.rt.ensure_volume(&volume, &t.labels()).await.unwrap();
    let network = t.network();
    t.rt.ensure_network(&network).await.unwrap();
    t.rt.ensure_network(&network).await.unwrap();

    let docker = t.rt.client().await.unwrap().clone();
    let vol = docker.inspect_volume(&volume).await.unwrap();
    assert_eq!(vol.labels[LABEL_MANAGED], "true");
    assert_eq!(vol.labels[RUN_LABEL], t.run);
    let net = docker
        .inspect_network(
            &network,
            None::<bollard::network::InspectNetworkOptions<String>>,
        )
        .await
        .unwrap();
    assert_eq!(net.driver.as_deref(), Some("bridge"));
    assert_eq!(net.labels.unwrap()[LABEL_MANAGED], "true");

    // A container referring to the volume (even one never started) keeps it in use.
    let mut spec = t.spec("volume-user");
    spec.volume = Some((volume.clone(), "/app/.sessions".into()));
    let id = t.rt.create_container(&spec).await.unwrap();
    let err = t.rt.remove_volume(&volume).await.unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::Conflict {
                op: "remove_volume",
                ..
            }
        ),
        "{err:?}"
    );

    t.rt.remove_container(&id).await.unwrap();
    t.rt.remove_volume(&volume).await.unwrap();
    t.rt.remove_volume(&volume).await.unwrap();
    assert!(docker.inspect_volume(&volume).await.is_err());
}

#[tokio::test]
async fn an_absent_engine_is_unreachable() {
    let path = format!("unix:///tmp/puente-rt-test-{}.sock", uuid::Uuid::new_v4());
    let rt = DockerRuntime::new(Some(path));
    let err = rt.ping().await.unwrap_err();
    assert!(matches!(err, RuntimeError::Unreachable(_)), "{err:?}");
    let err = rt.inspect("anything").await.unwrap_err();
    assert!(matches!(err, RuntimeError::Unreachable(_)), "{err:?}");
    let first = tokio::time::timeout(WAIT, rt.events(RUN_LABEL, "x").next())
        .await
        .expect("the stream answers at once");
    assert!(
        matches!(first, Some(Err(RuntimeError::Unreachable(_)))),
        "{first:?}"
    );
}
