//! [`ContainerRuntime`] on the Docker Engine API (bollard).
//!
//! The API version is negotiated with the engine before the first versioned call (Debian's
//! engine speaks API 1.41, older than bollard's default), lazily, so Puente can start before
//! the engine does and pick it up when it appears.
//!
//! Invariants kept here:
//! - Errors are classified once, in `map_err`: 404 is "absent" (`NotFound`, or `Ok` / `None`
//!   where the trait says absence is fine), 409 is `Conflict`, a transport failure is
//!   `Unreachable`, anything else is `Operation` naming the call.
//! - Images are never pulled: `create_container` checks the image first and answers
//!   `ImageMissing` (the emulator is built locally; build machines reach no registry).
//! - Everything created here (containers, volumes, networks) carries `puente.managed=true`,
//!   added when the caller's labels lack it.
//! - Environment values (per-link API and HMAC keys) never reach a log line or an error: the
//!   spec is never logged whole, and errors from `create_container` are scrubbed of them.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, LogOutput, LogsOptions,
    RemoveContainerOptions, RestartContainerOptions, StartContainerOptions, Stats, StatsOptions,
    StopContainerOptions,
};
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, EventMessage, HostConfig, Mount,
    MountTypeEnum, PortBinding, RestartPolicyNameEnum,
};
use bollard::network::{CreateNetworkOptions, InspectNetworkOptions};
use bollard::system::EventsOptions;
use bollard::volume::{CreateVolumeOptions, RemoveVolumeOptions};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use super::{
    ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, ContainerStats, EventStream,
    LogLine, RestartPolicy, RuntimeError, RuntimeEvent, LABEL_MANAGED,
};

/// Request timeout of the client (bollard applies it to the response headers only, so it does
/// not cut long-lived streams such as events).
const CLIENT_TIMEOUT_SECS: u64 = 120;
/// Upper bound on the log text `logs` keeps (the newest lines win).
pub(super) const LOG_CAP_BYTES: usize = 1 << 20;
/// Env values shorter than this are not scrubbed from error messages (they are not secrets,
/// and replacing e.g. "1" would mangle the message).
const SCRUB_MIN_LEN: usize = 4;

pub struct DockerRuntime {
    host: Option<String>,
    /// The negotiated client; set once the engine has answered.
    client: OnceCell<Docker>,
}

impl DockerRuntime {
    pub fn new(host: Option<String>) -> Self {
        Self {
            host,
            client: OnceCell::new(),
        }
    }

    /// The negotiated client, connecting on first use.
    pub async fn client(&self) -> Result<&Docker, RuntimeError> {
        self.client
            .get_or_try_init(|| connect_negotiated(self.host.clone()))
            .await
    }

    /// The client with a request timeout long enough for a stop that waits `grace_secs`.
    async fn client_for_grace(&self, grace_secs: i64) -> Result<Docker, RuntimeError> {
        let docker = self.client().await?.clone();
        let needed = u64::try_from(grace_secs).unwrap_or(0) + 60;
        Ok(if needed > CLIENT_TIMEOUT_SECS {
            docker.with_timeout(Duration::from_secs(needed))
        } else {
            docker
        })
    }
}

fn connect(host: Option<&str>) -> Result<Docker, RuntimeError> {
    let unreachable = |e: BollardError| RuntimeError::Unreachable(error_chain(&e));
    match host {
        None => Docker::connect_with_local_defaults().map_err(unreachable),
        Some(h) if h.starts_with("unix://") || h.starts_with('/') => Docker::connect_with_unix(
            h.trim_start_matches("unix://"),
            CLIENT_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(unreachable),
        Some(h) => Docker::connect_with_http(h, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            .map_err(unreachable),
    }
}

async fn connect_negotiated(host: Option<String>) -> Result<Docker, RuntimeError> {
    connect(host.as_deref())?
        .negotiate_version()
        .await
        .map_err(|e| RuntimeError::Unreachable(error_chain(&e)))
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn ping(&self) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        docker
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| map_err("ping", "engine", e))
    }

    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError> {
        let docker = self.client().await?;
        match docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(map_err("inspect_image", image, e)),
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn ensure_network(&self, name: &str) -> Result<(), RuntimeError> {
        ensure_labelled_network(self.client().await?, name, "bridge", false).await
    }

    #[tracing::instrument(level = "debug", skip(self, labels))]
    async fn ensure_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        match docker.inspect_volume(name).await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(map_err("inspect_volume", name, e)),
        }
        let options = CreateVolumeOptions {
            name: name.to_owned(),
            driver: "local".to_owned(),
            driver_opts: HashMap::new(),
            labels: managed_labels(labels),
        };
        docker
            .create_volume(options)
            .await
            .map_err(|e| map_err("create_volume", name, e))?;
        tracing::info!(volume = name, "created volume");
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        match docker
            .remove_volume(name, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            // 409: still used by a container.
            Err(e) => Err(map_err("remove_volume", name, e)),
        }
    }

    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(name = %spec.name, image = %spec.image)
    )]
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        const OP: &str = "create_container";
        if let Some((key, _)) = spec
            .env
            .iter()
            .find(|(k, _)| k.is_empty() || k.contains(['=', '\0']))
        {
            return Err(RuntimeError::Operation {
                op: OP,
                message: format!("invalid environment variable name {key:?}"),
            });
        }
        // Never let the engine (or a caller's fallback) pull: a missing image is an answer.
        if !self.image_exists(&spec.image).await? {
            return Err(RuntimeError::ImageMissing(spec.image.clone()));
        }
        let docker = self.client().await?;
        let options = CreateContainerOptions {
            name: spec.name.clone(),
            platform: None,
        };
        let secrets: Vec<&str> = spec
            .env
            .iter()
            .map(|(_, v)| v.as_str())
            .filter(|v| v.len() >= SCRUB_MIN_LEN)
            .collect();
        match docker
            .create_container(Some(options), container_config(spec))
            .await
        {
            Ok(created) => {
                for warning in &created.warnings {
                    tracing::warn!(
                        container = %spec.name,
                        warning = %scrub(warning, &secrets),
                        "engine warning on create"
                    );
                }
                tracing::info!(container = %spec.name, id = %created.id, "created container");
                Ok(created.id)
            }
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            }) => {
                if message.contains("No such image") {
                    Err(RuntimeError::ImageMissing(spec.image.clone()))
                } else {
                    // e.g. the network named in the spec does not exist.
                    Err(RuntimeError::Operation {
                        op: OP,
                        message: scrub(&message, &secrets),
                    })
                }
            }
            Err(e) => Err(scrub_error(map_err(OP, &spec.name, e), &secrets)),
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        // 304 (already running) is a success for bollard.
        match docker
            .start_container(id, None::<StartContainerOptions<String>>)
            .await
            .map_err(|e| map_err("start", id, e))
        {
            // A paused container (someone's `docker pause`) cannot be started: it runs, frozen.
            // Wanted running, it is unpaused.
            Err(RuntimeError::Conflict { .. }) => {
                docker
                    .unpause_container(id)
                    .await
                    .map_err(|e| map_err("unpause", id, e))?;
                tracing::warn!(container = %id, "unpaused a paused session container");
                Ok(())
            }
            other => other,
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn stop(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError> {
        let docker = self.client_for_grace(grace_secs).await?;
        let options = StopContainerOptions {
            t: grace_secs.max(0),
        };
        // 304 (already stopped) is a success for bollard; absent is fine.
        match docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(map_err("stop", id, e)),
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn restart(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError> {
        let docker = self.client_for_grace(grace_secs).await?;
        let options = RestartContainerOptions {
            t: isize::try_from(grace_secs.max(0)).unwrap_or(isize::MAX),
        };
        docker
            .restart_container(id, Some(options))
            .await
            .map_err(|e| map_err("restart", id, e))
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        match docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            // A removal already under way ends in "absent", which is what the caller wants.
            Err(BollardError::DockerResponseServerError {
                status_code: 409,
                message,
            }) if message.contains("already in progress") => Ok(()),
            Err(e) => Err(map_err("remove_container", id, e)),
        }
    }

    async fn inspect(&self, id_or_name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        let docker = self.client().await?;
        match docker.inspect_container(id_or_name, None).await {
            Ok(response) => Ok(Some(container_info(response))),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(map_err("inspect", id_or_name, e)),
        }
    }

    async fn list_by_label(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let docker = self.client().await?;
        let filter = format!("{label}={value}");
        let options = ListContainersOptions {
            all: true,
            filters: HashMap::from([("label".to_owned(), vec![filter.clone()])]),
            ..Default::default()
        };
        let summaries = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| map_err("list", &filter, e))?;
        let mut infos = Vec::with_capacity(summaries.len());
        for id in summaries.into_iter().filter_map(|s| s.id) {
            // A container removed between the list and the inspect is skipped.
            if let Some(info) = self.inspect(&id).await? {
                infos.push(info);
            }
        }
        Ok(infos)
    }

    async fn stats(&self, id: &str) -> Result<Option<ContainerStats>, RuntimeError> {
        if !self.is_running(id).await? {
            return Ok(None);
        }
        let docker = self.client().await?;
        // `stream: false` waits for a second sample, so `precpu_stats` is filled in
        // (`one-shot` would skip it and is unknown to API 1.41 engines anyway).
        let options = StatsOptions {
            stream: false,
            one_shot: false,
        };
        let sample = docker.stats(id, Some(options)).next().await;
        match sample {
            Some(Ok(stats)) => Ok(Some(compute_stats(&stats))),
            Some(Err(e)) if status(&e) == Some(404) => Ok(None),
            // A container that stopped meanwhile answers with an empty sample that may not
            // parse; that is "not running", not a failure.
            Some(Err(e)) => match self.is_running(id).await? {
                false => Ok(None),
                true => Err(map_err("stats", id, e)),
            },
            None => match self.is_running(id).await? {
                false => Ok(None),
                true => Err(RuntimeError::Operation {
                    op: "stats",
                    message: format!("{id}: the engine sent no sample"),
                }),
            },
        }
    }

    async fn logs(
        &self,
        id: &str,
        tail: u64,
        after: Option<DateTime<Utc>>,
    ) -> Result<Vec<LogLine>, RuntimeError> {
        let docker = self.client().await?;
        // The engine's `since` is whole seconds and inclusive: ask from the start of `after`'s
        // second and drop what is not strictly later by the lines' own timestamps.
        let options = LogsOptions {
            follow: false,
            stdout: true,
            stderr: true,
            since: after.map_or(0, |t| t.timestamp().max(0)),
            until: 0,
            timestamps: true,
            tail: tail.to_string(),
        };
        let mut frames = docker.logs(id, Some(options));
        let mut lines = LineCollector::new(LOG_CAP_BYTES);
        while let Some(frame) = frames.next().await {
            match frame.map_err(|e| map_err("logs", id, e))? {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message } => lines.push(&message),
                LogOutput::StdIn { .. } => {}
            }
        }
        let lines = lines.finish().into_iter().map(|raw| timestamped(&raw));
        Ok(match after {
            Some(after) => lines.filter(|l| l.at.is_none_or(|at| at > after)).collect(),
            None => lines.collect(),
        })
    }

    fn events(&self, label: &str, value: &str) -> EventStream {
        let ready = self.client.get().cloned();
        let host = self.host.clone();
        let options = EventsOptions {
            since: None,
            until: None,
            filters: HashMap::from([
                ("type".to_owned(), vec!["container".to_owned()]),
                ("label".to_owned(), vec![format!("{label}={value}")]),
            ]),
        };
        let connected = async move {
            let docker = match ready {
                Some(docker) => docker,
                None => connect_negotiated(host).await?,
            };
            Ok::<_, RuntimeError>(
                docker
                    .events(Some(options))
                    .map_ok(runtime_event)
                    .map_err(|e| map_err("events", "event stream", e)),
            )
        };
        Box::pin(futures_util::stream::once(connected).try_flatten())
    }
}

impl DockerRuntime {
    /// Whether the container exists and is running (a paused container counts as not).
    async fn is_running(&self, id: &str) -> Result<bool, RuntimeError> {
        Ok(self
            .inspect(id)
            .await?
            .is_some_and(|c| c.state == ContainerState::Running))
    }
}

/// Make sure a network named exactly `name` exists, creating it (labelled as ours) with
/// `driver` when it does not. Shared by the Docker and the Swarm runtimes.
pub(super) async fn ensure_labelled_network(
    docker: &Docker,
    name: &str,
    driver: &str,
    attachable: bool,
) -> Result<(), RuntimeError> {
    match docker
        .inspect_network(name, None::<InspectNetworkOptions<String>>)
        .await
    {
        // Inspect also matches an ID prefix; only an exact name counts as "exists".
        Ok(net) if net.name.as_deref() == Some(name) => return Ok(()),
        Ok(_) => {}
        Err(e) if status(&e) == Some(404) => {}
        Err(e) => return Err(map_err("inspect_network", name, e)),
    }
    let options = CreateNetworkOptions {
        name: name.to_owned(),
        check_duplicate: true,
        driver: driver.to_owned(),
        attachable,
        labels: HashMap::from([(LABEL_MANAGED.to_owned(), "true".to_owned())]),
        ..Default::default()
    };
    match docker.create_network(options).await {
        Ok(_) => {
            tracing::info!(network = name, driver, "created network");
            Ok(())
        }
        // Created concurrently by someone else: it exists, which is what we wanted.
        Err(e) if status(&e) == Some(409) => Ok(()),
        Err(e) => Err(map_err("create_network", name, e)),
    }
}

/// The HTTP status of an engine answer, when the error is one.
pub(super) fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The one place a bollard error becomes a [`RuntimeError`]. `what` names the object.
pub(super) fn map_err(op: &'static str, what: &str, e: BollardError) -> RuntimeError {
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => RuntimeError::NotFound {
            op,
            what: what.to_owned(),
        },
        BollardError::DockerResponseServerError {
            status_code: 409, ..
        } => RuntimeError::Conflict {
            op,
            what: what.to_owned(),
        },
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => RuntimeError::Operation {
            op,
            message: format!("{what}: engine answered {status_code}: {message}"),
        },
        BollardError::HyperLegacyError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::IOError { .. }
        | BollardError::SocketNotFoundError(_)
        | BollardError::RequestTimeoutError => {
            RuntimeError::Unreachable(format!("{op}: {}", error_chain(&e)))
        }
        other => RuntimeError::Operation {
            op,
            message: format!("{what}: {}", error_chain(&other)),
        },
    }
}

/// An error and its sources, `: `-joined (hyper's top-level messages say little alone).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// `text` with every secret replaced by `<redacted>`.
pub(super) fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .fold(text.to_owned(), |acc, s| acc.replace(s, "<redacted>"))
}

pub(super) fn scrub_error(e: RuntimeError, secrets: &[&str]) -> RuntimeError {
    match e {
        RuntimeError::Unreachable(m) => RuntimeError::Unreachable(scrub(&m, secrets)),
        RuntimeError::ImageMissing(i) => RuntimeError::ImageMissing(i),
        RuntimeError::NotFound { op, what } => RuntimeError::NotFound {
            op,
            what: scrub(&what, secrets),
        },
        RuntimeError::Conflict { op, what } => RuntimeError::Conflict {
            op,
            what: scrub(&what, secrets),
        },
        RuntimeError::Operation { op, message } => RuntimeError::Operation {
            op,
            message: scrub(&message, secrets),
        },
    }
}

/// The caller's labels plus `puente.managed=true`.
pub(super) fn managed_labels(labels: &HashMap<String, String>) -> HashMap<String, String> {
    let mut labels = labels.clone();
    labels
        .entry(LABEL_MANAGED.to_owned())
        .or_insert_with(|| "true".to_owned());
    labels
}

/// The engine's create request for a spec.
fn container_config(spec: &ContainerSpec) -> Config<String> {
    let port_key = spec
        .publish
        .as_ref()
        .map(|p| format!("{}/tcp", p.container_port));
    let exposed_ports = port_key
        .as_ref()
        .map(|key| HashMap::from([(key.clone(), HashMap::new())]));
    let port_bindings = spec.publish.as_ref().zip(port_key).map(|(p, key)| {
        let binding = PortBinding {
            host_ip: Some(p.host_ip.clone()),
            host_port: Some(p.host_port.map(|port| port.to_string()).unwrap_or_default()),
        };
        HashMap::from([(key, Some(vec![binding]))])
    });
    let mounts = spec.volume.as_ref().map(|(volume, target)| {
        vec![Mount {
            target: Some(target.clone()),
            source: Some(volume.clone()),
            typ: Some(MountTypeEnum::VOLUME),
            read_only: Some(false),
            ..Default::default()
        }]
    });
    let restart_policy = spec.restart.map(|policy| {
        let (name, retries) = match policy {
            RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
            RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
            RestartPolicy::OnFailure { max_retries } => {
                (RestartPolicyNameEnum::ON_FAILURE, Some(max_retries))
            }
        };
        bollard::models::RestartPolicy {
            name: Some(name),
            maximum_retry_count: retries,
        }
    });
    let host_config = HostConfig {
        mounts,
        network_mode: spec.network.clone(),
        port_bindings,
        memory: spec.memory_bytes,
        // Swap limit = memory limit: no swap on top of the memory limit.
        memory_swap: spec.memory_bytes,
        nano_cpus: spec.nano_cpus,
        cpu_shares: spec.cpu_shares,
        pids_limit: spec.pids_limit,
        readonly_rootfs: Some(spec.read_only_rootfs),
        tmpfs: (!spec.tmpfs.is_empty()).then(|| spec.tmpfs.iter().cloned().collect()),
        extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
        restart_policy,
        security_opt: spec
            .harden
            .then(|| vec!["no-new-privileges:true".to_owned()]),
        cap_drop: spec.harden.then(|| vec!["ALL".to_owned()]),
        ..Default::default()
    };
    Config {
        image: Some(spec.image.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(managed_labels(&spec.labels)),
        exposed_ports,
        user: spec.user.clone(),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// What Puente keeps of an inspect answer.
fn container_info(r: ContainerInspectResponse) -> ContainerInfo {
    let state = r.state.unwrap_or_default();
    let config = r.config.unwrap_or_default();
    let host_port = r
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|ports| first_host_port(&ports));
    ContainerInfo {
        id: r.id.unwrap_or_default(),
        name: r
            .name
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        // The image as asked for (`repo:tag`), else the image id.
        image: config.image.or(r.image).unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
        state: match state.status {
            Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
            Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
            Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
            Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
            Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
            Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
            Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
            Some(ContainerStateStatusEnum::EMPTY) | None => ContainerState::Unknown,
        },
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        started_at: state.started_at.as_deref().and_then(engine_time),
        finished_at: state.finished_at.as_deref().and_then(engine_time),
        restart_count: r.restart_count.unwrap_or(0),
        host_port,
        memory_limit: r.host_config.and_then(|h| h.memory).unwrap_or(0),
    }
}

/// The first host port bound for any container port (ports in sorted order, so the answer is
/// stable when several are published).
fn first_host_port(ports: &bollard::models::PortMap) -> Option<u16> {
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| ports.get(k).and_then(Option::as_ref))
        .flatten()
        .find_map(|b| b.host_port.as_deref().and_then(|p| p.parse().ok()))
}

/// An engine timestamp; Docker's zero time ("never") and unparsable text are `None`.
pub(super) fn engine_time(text: &str) -> Option<DateTime<Utc>> {
    if text.is_empty() || text.starts_with("0001-01-01") {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// CPU use over the two samples in `s`, and memory use without the page cache.
fn compute_stats(s: &Stats) -> ContainerStats {
    let cpu_delta = s
        .cpu_stats
        .cpu_usage
        .total_usage
        .saturating_sub(s.precpu_stats.cpu_usage.total_usage);
    let system_delta = s
        .cpu_stats
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(s.precpu_stats.system_cpu_usage.unwrap_or(0));
    let cpus = s
        .cpu_stats
        .online_cpus
        .filter(|&n| n > 0)
        .or_else(|| {
            s.cpu_stats
                .cpu_usage
                .percpu_usage
                .as_ref()
                .map(|v| v.len() as u64)
                .filter(|&n| n > 0)
        })
        .unwrap_or(1);
    let cpu_percent = if cpu_delta > 0 && system_delta > 0 {
        cpu_delta as f64 / system_delta as f64 * cpus as f64 * 100.0
    } else {
        0.0
    };
    let memory = &s.memory_stats;
    let usage = memory.usage.unwrap_or(0);
    let cache = match memory.stats {
        Some(bollard::container::MemoryStatsStats::V1(v1)) => v1.cache,
        Some(bollard::container::MemoryStatsStats::V2(v2)) => v2.inactive_file,
        None => 0,
    };
    ContainerStats {
        cpu_percent,
        memory_used: usage.saturating_sub(cache),
        memory_limit: memory.limit.unwrap_or(0),
    }
}

fn runtime_event(m: EventMessage) -> RuntimeEvent {
    let actor = m.actor.unwrap_or_default();
    RuntimeEvent {
        container_id: actor.id.unwrap_or_default(),
        action: m.action.unwrap_or_default(),
        labels: actor.attributes.unwrap_or_default(),
    }
}

/// Splits log frames into lines, keeping at most `cap` bytes of the newest ones.
///
/// Frames are not lines: one write may carry several lines, and a long line may span frames,
/// so the unfinished tail of a frame waits in `partial` for the rest.
/// Split the engine's `<RFC 3339 nanos> <text>` (logs with `timestamps`) into a [`LogLine`];
/// a line without a readable stamp is kept whole.
pub(super) fn timestamped(raw: &str) -> LogLine {
    if let Some((stamp, text)) = raw.split_once(' ') {
        if let Ok(at) = DateTime::parse_from_rfc3339(stamp) {
            return LogLine {
                at: Some(at.with_timezone(&Utc)),
                text: text.to_string(),
            };
        }
    }
    LogLine {
        at: None,
        text: raw.to_string(),
    }
}

pub(super) struct LineCollector {
    lines: VecDeque<String>,
    bytes: usize,
    partial: Vec<u8>,
    cap: usize,
}

impl LineCollector {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            partial: Vec::new(),
            cap,
        }
    }

    pub(super) fn push(&mut self, chunk: &[u8]) {
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(line) => {
                    self.partial.extend_from_slice(line);
                    self.end_line();
                }
                None => {
                    self.partial.extend_from_slice(piece);
                    if self.partial.len() >= self.cap {
                        self.end_line();
                    }
                }
            }
        }
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.partial)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        self.partial.clear();
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.bytes > self.cap && self.lines.len() > 1 {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len();
            }
        }
    }

    pub(super) fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            self.end_line();
        }
        self.lines.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::PortPublish;

    #[test]
    fn log_lines_keep_their_nanosecond_stamp() {
        let l = timestamped("2026-12-01T09:00:00.123456789Z session WORKING at 12:00");
        assert_eq!(l.text, "session WORKING at 12:00");
        let at = l.at.expect("stamp");
        assert_eq!(at.timestamp_subsec_nanos(), 123_456_789);
        let plain = timestamped("no stamp here");
        assert_eq!(plain.at, None);
        assert_eq!(plain.text, "no stamp here");
    }

    #[test]
    fn config_carries_limits_hardening_and_a_loopback_port() {
        let spec = ContainerSpec {
            name: "c".into(),
            image: "img:dev".into(),
            env: vec![("WAHA_API_KEY".into(), "secret".into())],
            volume: Some(("vol".into(), "/data".into())),
            network: Some("net".into()),
            publish: Some(PortPublish {
                container_port: 3000,
                host_ip: "127.0.0.1".into(),
                host_port: None,
            }),
            memory_bytes: Some(64 << 20),
            pids_limit: Some(64),
            tmpfs: vec![("/tmp".into(), "rw,size=16m".into())],
            restart: Some(RestartPolicy::OnFailure { max_retries: 3 }),
            harden: true,
            ..Default::default()
        };
        let config = container_config(&spec);
        let host = config.host_config.unwrap();
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.memory_swap, Some(64 << 20));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges:true".to_owned()])
        );
        assert_eq!(host.network_mode.as_deref(), Some("net"));
        let binding = &host.port_bindings.unwrap()["3000/tcp"].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some(""));
        assert!(config.exposed_ports.unwrap().contains_key("3000/tcp"));
        let policy = host.restart_policy.unwrap();
        assert_eq!(policy.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(policy.maximum_retry_count, Some(3));
        assert_eq!(config.labels.unwrap()[LABEL_MANAGED], "true");
        assert_eq!(config.env.unwrap(), vec!["WAHA_API_KEY=secret".to_owned()]);
    }

    #[test]
    fn zero_time_is_none() {
        assert_eq!(engine_time("0001-01-01T00:00:00Z"), None);
        assert!(engine_time("2024-05-01T10:00:00.123456789Z").is_some());
    }

    #[test]
    fn lines_are_split_across_frames_and_capped() {
        let mut c = LineCollector::new(1 << 20);
        c.push(b"one\ntw");
        c.push(b"o\r\nthree");
        assert_eq!(c.finish(), vec!["one", "two", "three"]);

        let mut c = LineCollector::new(10);
        c.push(b"aaaa\nbbbb\ncccc\n");
        assert_eq!(c.finish(), vec!["bbbb", "cccc"]);
    }

    #[test]
    fn errors_map_by_status_and_are_scrubbed() {
        let e = |status_code| BollardError::DockerResponseServerError {
            status_code,
            message: "boom".into(),
        };
        assert!(matches!(
            map_err("x", "y", e(404)),
            RuntimeError::NotFound { .. }
        ));
        assert!(matches!(
            map_err("x", "y", e(409)),
            RuntimeError::Conflict { .. }
        ));
        assert!(matches!(
            map_err("x", "y", e(500)),
            RuntimeError::Operation { op: "x", .. }
        ));
        let scrubbed = scrub_error(
            RuntimeError::Operation {
                op: "create_container",
                message: "bad env KEY=hunter22".into(),
            },
            &["hunter22"],
        );
        assert!(!scrubbed.to_string().contains("hunter22"));
    }
}
