//! [`ContainerRuntime`] on a Docker Swarm: one single-replica service per session.
//!
//! The trait speaks of containers; here each "container" is a replicated service with one
//! replica, named like the container would be, and its id is the service id:
//! - `create_container` creates the service with **0 replicas** (created, not started);
//!   `start` scales it to 1 (or forces a new task when Swarm's restart policy gave up);
//!   `stop` scales it to 0 and waits for the task to end; `restart` forces a new task;
//!   `remove_container` deletes the service and waits for its task containers to go.
//! - The state `inspect` reports is the current task's: `running` when it runs, `restarting`
//!   while Swarm prepares or delays a replacement (the reconciler then lets Swarm act),
//!   `exited` when no task is wanted (scaled to 0, or restart attempts exhausted), `created`
//!   for a service that never had a task. `started_at` is when the current task began running,
//!   so a task Swarm replaced counts as a new start (its session gets prepared again).
//! - A link is pinned with `node.id==<id>` ([`ContainerSpec::node`]): its login volume is
//!   local to that node. The volume is created by the task's mount on that node, with the
//!   spec's labels, so `ensure_volume` creates nothing here; `remove_volume` removes the copy
//!   on the node this engine runs on.
//! - Stats come from the current task's container through this engine (`None` for a task on
//!   another node). Logs too when the task runs here, else the service's logs, which the manager
//!   gathers from every node. Events are the task containers' events seen by this engine; the
//!   reconciler's periodic pass covers the other nodes.
//! - bollard 0.18 has services but neither tasks, nodes nor service logs: those few calls go
//!   over the same socket with a small hyper client ([`Engine`]), versioned like bollard's.
//! - Everything created carries `puente.managed=true` (services, their containers, volumes,
//!   the overlay network). Nothing unlabelled is listed or touched.
//! - WAHA's port, when published (no network set), is published in `host` or `ingress` mode;
//!   Swarm cannot bind one address, so it is every interface of the node.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::ListContainersOptions;
use bollard::errors::Error as BollardError;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, Limit, Mount, MountTmpfsOptions, MountTypeEnum,
    MountVolumeOptions, NetworkAttachmentConfig, Node, ResourceObject, Service, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, Task, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecPrivileges, TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::service::{InspectServiceOptions, ListServicesOptions, UpdateServiceOptions};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use super::docker::{
    engine_time, ensure_labelled_network, error_chain, managed_labels, map_err, scrub, scrub_error,
    status, timestamped, DockerRuntime, LineCollector, LOG_CAP_BYTES,
};
use super::{
    ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, ContainerStats, EventStream,
    LogLine, NodeInfo, RestartPolicy, RuntimeError,
};
use crate::config::SwarmPublishMode;

/// Delay before Swarm restarts a failed task.
const RESTART_DELAY_SECS: i64 = 2;
/// The window in which restart attempts are counted (then the count starts again).
const RESTART_WINDOW_SECS: i64 = 120;
/// How long `stop` and `remove_container` wait for the engine to finish.
const SETTLE_SECS: u64 = 30;
/// Label Swarm puts on a task's container.
const SWARM_SERVICE_ID: &str = "com.docker.swarm.service.id";
/// Env values shorter than this are not scrubbed from error messages.
const SCRUB_MIN_LEN: usize = 4;

pub struct SwarmRuntime {
    /// Volumes, images, events and the task containers on this engine's node.
    local: DockerRuntime,
    engine: Engine,
    publish_mode: SwarmPublishMode,
}

impl SwarmRuntime {
    pub fn new(host: Option<String>, publish_mode: SwarmPublishMode) -> Self {
        Self {
            local: DockerRuntime::new(host.clone()),
            engine: Engine { host },
            publish_mode,
        }
    }

    /// The service by exact name or id; `None` when absent.
    async fn service(&self, id_or_name: &str) -> Result<Option<Service>, RuntimeError> {
        let docker = self.local.client().await?;
        match docker
            .inspect_service(id_or_name, None::<InspectServiceOptions>)
            .await
        {
            Ok(s) => {
                let exact = s.id.as_deref() == Some(id_or_name)
                    || s.spec.as_ref().and_then(|sp| sp.name.as_deref()) == Some(id_or_name);
                Ok(exact.then_some(s))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(map_err("inspect_service", id_or_name, e)),
        }
    }

    /// The tasks of a service, newest first.
    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, RuntimeError> {
        let mut tasks = self.tasks_of(&[service_id]).await?;
        tasks.sort_by_key(|t| std::cmp::Reverse(t.version.as_ref().and_then(|v| v.index)));
        Ok(tasks)
    }

    /// The tasks of several services in one call (unsorted).
    async fn tasks_of(&self, service_ids: &[&str]) -> Result<Vec<Task>, RuntimeError> {
        let filters = serde_json::json!({ "service": service_ids }).to_string();
        let path = format!("/tasks?filters={}", encode(&filters));
        self.engine
            .get(self.local.client().await?, "task_list", &path)
            .await
    }

    /// Change a service's spec (read, modify, write at the read version; retried once when
    /// someone else updated it meanwhile).
    async fn update(
        &self,
        op: &'static str,
        id_or_name: &str,
        change: impl Fn(&mut ServiceSpec),
    ) -> Result<(), RuntimeError> {
        let docker = self.local.client().await?;
        for attempt in 0..2 {
            let service =
                self.service(id_or_name)
                    .await?
                    .ok_or_else(|| RuntimeError::NotFound {
                        op,
                        what: id_or_name.to_owned(),
                    })?;
            let version = service
                .version
                .as_ref()
                .and_then(|v| v.index)
                .unwrap_or_default();
            let mut spec = service.spec.unwrap_or_default();
            change(&mut spec);
            let options = UpdateServiceOptions {
                version,
                ..Default::default()
            };
            match docker.update_service(id_or_name, spec, options, None).await {
                Ok(answer) => {
                    for warning in answer.warnings.unwrap_or_default() {
                        tracing::debug!(service = id_or_name, %warning, "engine warning on update");
                    }
                    return Ok(());
                }
                Err(BollardError::DockerResponseServerError { message, .. })
                    if attempt == 0 && message.contains("out of sequence") => {}
                Err(e) => return Err(map_err(op, id_or_name, e)),
            }
        }
        Err(RuntimeError::Conflict {
            op,
            what: id_or_name.to_owned(),
        })
    }

    /// Wait until no task of the service is running or about to run.
    async fn settle_stopped(&self, service_id: &str, grace_secs: i64) -> Result<(), RuntimeError> {
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(u64::try_from(grace_secs).unwrap_or(0) + SETTLE_SECS);
        while tokio::time::Instant::now() < deadline {
            let tasks = self.tasks(service_id).await?;
            if tasks.iter().all(|t| is_terminal(task_state(t))) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(RuntimeError::Operation {
            op: "stop",
            message: format!("{service_id}: its task did not stop in time"),
        })
    }

    /// The container of the service's current task, when it runs on this engine's node.
    async fn current_container(&self, id_or_name: &str) -> Result<Option<String>, RuntimeError> {
        let Some(service) = self.service(id_or_name).await? else {
            return Ok(None);
        };
        let id = service.id.unwrap_or_default();
        let tasks = self.tasks(&id).await?;
        Ok(current_task(&tasks)
            .and_then(|t| t.status.as_ref())
            .and_then(|s| s.container_status.as_ref())
            .and_then(|c| c.container_id.clone()))
    }

    /// The service's logs as the manager gathers them from every node its tasks ran on
    /// (all of its tasks, oldest first), with the same `tail` / `after` rules as `logs`.
    pub async fn service_logs(
        &self,
        id: &str,
        tail: u64,
        after: Option<DateTime<Utc>>,
    ) -> Result<Vec<LogLine>, RuntimeError> {
        let Some(service) = self.service(id).await? else {
            return Err(RuntimeError::NotFound {
                op: "logs",
                what: id.to_owned(),
            });
        };
        let service_id = service.id.unwrap_or_default();
        let since = after.map_or(0, |t| t.timestamp().max(0));
        let path = format!(
            "/services/{}/logs?stdout=1&stderr=1&timestamps=1&tail={tail}&since={since}",
            encode(&service_id)
        );
        let docker = self.local.client().await?;
        let body = self
            .engine
            .call(docker, "service_logs", hyper::Method::GET, &path, None)
            .await?;
        let mut lines = LineCollector::new(LOG_CAP_BYTES);
        for frame in demux(&body) {
            lines.push(frame);
        }
        let lines = lines.finish().into_iter().map(|raw| timestamped(&raw));
        Ok(match after {
            Some(after) => lines.filter(|l| l.at.is_none_or(|at| at > after)).collect(),
            None => lines.collect(),
        })
    }

    async fn info(&self, service: Service) -> Result<ContainerInfo, RuntimeError> {
        let id = service.id.clone().unwrap_or_default();
        let tasks = self.tasks(&id).await?;
        Ok(service_info(service, &tasks))
    }
}

#[async_trait]
impl ContainerRuntime for SwarmRuntime {
    async fn ping(&self) -> Result<(), RuntimeError> {
        self.local.ping().await
    }

    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError> {
        // The image must be on every session node; this engine's copy is what can be checked.
        self.local.image_exists(image).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn ensure_network(&self, name: &str) -> Result<(), RuntimeError> {
        ensure_labelled_network(self.local.client().await?, name, "overlay", true).await
    }

    async fn ensure_volume(
        &self,
        _name: &str,
        _labels: &HashMap<String, String>,
    ) -> Result<(), RuntimeError> {
        // Created, labelled, by the task's mount on the node the service is pinned to.
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        self.local.remove_volume(name).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %spec.name, image = %spec.image))]
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        const OP: &str = "service_create";
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
        if !self.local.image_exists(&spec.image).await? {
            return Err(RuntimeError::ImageMissing(spec.image.clone()));
        }
        // The overlay the service joins is created (attachable, labelled) on first use.
        if let Some(network) = &spec.network {
            self.ensure_network(network).await?;
        }
        let secrets: Vec<&str> = spec
            .env
            .iter()
            .map(|(_, v)| v.as_str())
            .filter(|v| v.len() >= SCRUB_MIN_LEN)
            .collect();
        let docker = self.local.client().await?;
        match docker
            .create_service(service_spec(spec, 0, self.publish_mode), None)
            .await
        {
            Ok(created) => {
                for warning in created.warnings.unwrap_or_default() {
                    tracing::debug!(service = %spec.name, warning = %scrub(&warning, &secrets), "engine warning on create");
                }
                let id = created.id.unwrap_or_default();
                tracing::info!(service = %spec.name, id = %id, node = ?spec.node, "created service");
                Ok(id)
            }
            Err(e) => Err(scrub_error(map_err(OP, &spec.name, e), &secrets)),
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let Some(service) = self.service(id).await? else {
            return Err(RuntimeError::NotFound {
                op: "start",
                what: id.to_owned(),
            });
        };
        let info = self.info(service).await?;
        match info.state {
            ContainerState::Running | ContainerState::Restarting => Ok(()),
            // Scaled to 0, or Swarm gave up restarting it: a new task, on the same node.
            _ => {
                self.update("start", id, |spec| {
                    set_replicas(spec, 1);
                    force_new_task(spec);
                })
                .await
            }
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn stop(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError> {
        let Some(service) = self.service(id).await? else {
            return Ok(());
        };
        let service_id = service.id.clone().unwrap_or_default();
        if replicas(&service) != 0 {
            self.update("stop", id, |spec| {
                set_replicas(spec, 0);
                set_grace(spec, grace_secs);
            })
            .await?;
        }
        self.settle_stopped(&service_id, grace_secs).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn restart(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError> {
        self.update("restart", id, |spec| {
            set_replicas(spec, 1);
            set_grace(spec, grace_secs);
            force_new_task(spec);
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let Some(service) = self.service(id).await? else {
            return Ok(());
        };
        let service_id = service.id.unwrap_or_default();
        let docker = self.local.client().await?;
        match docker.delete_service(&service_id).await {
            Ok(()) => {}
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(map_err("service_delete", id, e)),
        }
        // Swarm removes the task containers after answering; wait for the local ones, so the
        // volume can be removed next.
        let options = ListContainersOptions {
            all: true,
            filters: HashMap::from([(
                "label".to_owned(),
                vec![format!("{SWARM_SERVICE_ID}={service_id}")],
            )]),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(SETTLE_SECS);
        while tokio::time::Instant::now() < deadline {
            let left = docker
                .list_containers(Some(options.clone()))
                .await
                .map_err(|e| map_err("list", &service_id, e))?;
            if left.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tracing::warn!(service = %id, "task containers still present after removing the service");
        Ok(())
    }

    async fn inspect(&self, id_or_name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        match self.service(id_or_name).await? {
            Some(service) => Ok(Some(self.info(service).await?)),
            None => Ok(None),
        }
    }

    async fn list_by_label(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let docker = self.local.client().await?;
        let filter = format!("{label}={value}");
        let options = ListServicesOptions {
            filters: HashMap::from([("label".to_owned(), vec![filter.clone()])]),
            status: false,
        };
        let services = docker
            .list_services(Some(options))
            .await
            .map_err(|e| map_err("service_list", &filter, e))?;
        // The tasks of up to 50 services per call; a batch naming a service removed meanwhile
        // fails as a whole, and is then asked service by service.
        let mut infos = Vec::with_capacity(services.len());
        for batch in services.chunks(50) {
            let ids: Vec<&str> = batch.iter().filter_map(|s| s.id.as_deref()).collect();
            let mut by_service: HashMap<String, Vec<Task>> = HashMap::new();
            let batched = match self.tasks_of(&ids).await {
                Ok(tasks) => {
                    for t in tasks {
                        by_service
                            .entry(t.service_id.clone().unwrap_or_default())
                            .or_default()
                            .push(t);
                    }
                    true
                }
                Err(RuntimeError::NotFound { .. }) => false,
                Err(e) => return Err(e),
            };
            for service in batch {
                let id = service.id.clone().unwrap_or_default();
                let tasks = if batched {
                    let mut tasks = by_service.remove(&id).unwrap_or_default();
                    tasks.sort_by_key(|t| {
                        std::cmp::Reverse(t.version.as_ref().and_then(|v| v.index))
                    });
                    tasks
                } else {
                    match self.tasks(&id).await {
                        Ok(tasks) => tasks,
                        Err(RuntimeError::NotFound { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                };
                infos.push(service_info(service.clone(), &tasks));
            }
        }
        Ok(infos)
    }

    async fn stats(&self, id: &str) -> Result<Option<ContainerStats>, RuntimeError> {
        match self.current_container(id).await? {
            Some(container) => self.local.stats(&container).await,
            None => Ok(None),
        }
    }

    async fn logs(
        &self,
        id: &str,
        tail: u64,
        after: Option<DateTime<Utc>>,
    ) -> Result<Vec<LogLine>, RuntimeError> {
        // The current task's container when it runs on this node (exactly its lines), else
        // the service's logs, which the manager gathers from every node its tasks ran on.
        if let Some(container) = self.current_container(id).await? {
            match self.local.logs(&container, tail, after).await {
                Err(RuntimeError::NotFound { .. }) => {}
                other => return other,
            }
        }
        self.service_logs(id, tail, after).await
    }

    fn events(&self, label: &str, value: &str) -> EventStream {
        // Task containers carry the service's labels.
        self.local.events(label, value)
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, RuntimeError> {
        let docker = self.local.client().await?;
        let nodes: Vec<Node> = self.engine.get(docker, "node_list", "/nodes").await?;
        Ok(nodes.into_iter().map(node_info).collect())
    }

    async fn set_node_availability(
        &self,
        id: &str,
        availability: &str,
    ) -> Result<(), RuntimeError> {
        const OP: &str = "node_update";
        let wanted = match availability {
            "active" => bollard::models::NodeSpecAvailabilityEnum::ACTIVE,
            "pause" => bollard::models::NodeSpecAvailabilityEnum::PAUSE,
            "drain" => bollard::models::NodeSpecAvailabilityEnum::DRAIN,
            other => {
                return Err(RuntimeError::Operation {
                    op: OP,
                    message: format!("unknown availability {other:?}"),
                })
            }
        };
        let docker = self.local.client().await?;
        let node: Node = self
            .engine
            .get(docker, "node_inspect", &format!("/nodes/{}", encode(id)))
            .await?;
        let version = node.version.and_then(|v| v.index).unwrap_or_default();
        let mut spec = node.spec.unwrap_or_default();
        spec.availability = Some(wanted);
        let body = serde_json::to_vec(&spec).map_err(|e| RuntimeError::Operation {
            op: OP,
            message: e.to_string(),
        })?;
        self.engine
            .post(
                docker,
                OP,
                &format!("/nodes/{}/update?version={version}", encode(id)),
                body,
            )
            .await
    }
}

/// The service Swarm is asked to run for a spec, with `replicas` tasks.
fn service_spec(spec: &ContainerSpec, replicas: i64, mode: SwarmPublishMode) -> ServiceSpec {
    let labels = managed_labels(&spec.labels);
    let mut mounts: Vec<Mount> = spec
        .volume
        .iter()
        .map(|(volume, target)| Mount {
            target: Some(target.clone()),
            source: Some(volume.clone()),
            typ: Some(MountTypeEnum::VOLUME),
            read_only: Some(false),
            volume_options: Some(MountVolumeOptions {
                labels: Some(labels.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    mounts.extend(spec.tmpfs.iter().map(|(target, options)| Mount {
        target: Some(target.clone()),
        typ: Some(MountTypeEnum::TMPFS),
        tmpfs_options: Some(MountTmpfsOptions {
            size_bytes: tmpfs_size(options),
            ..Default::default()
        }),
        ..Default::default()
    }));
    let hosts: Vec<String> = spec
        .extra_hosts
        .iter()
        .filter_map(|h| h.split_once(':'))
        // Swarm writes hosts(5) lines: `<ip> <name>`.
        .map(|(name, ip)| format!("{ip} {name}"))
        .collect();
    let container = TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        labels: Some(labels.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: spec.user.clone(),
        read_only: Some(spec.read_only_rootfs),
        mounts: Some(mounts),
        hosts: (!hosts.is_empty()).then_some(hosts),
        stop_grace_period: Some(2_000_000_000),
        // Engines before API 1.46 ignore this field; capabilities are dropped on all.
        privileges: spec.harden.then(|| TaskSpecContainerSpecPrivileges {
            no_new_privileges: Some(true),
            ..Default::default()
        }),
        capability_drop: spec.harden.then(|| vec!["ALL".to_owned()]),
        ..Default::default()
    };
    let restart_policy = spec.restart.map(|policy| {
        let (condition, attempts) = match policy {
            RestartPolicy::No => (TaskSpecRestartPolicyConditionEnum::NONE, None),
            RestartPolicy::UnlessStopped => (TaskSpecRestartPolicyConditionEnum::ANY, None),
            RestartPolicy::OnFailure { max_retries } => (
                TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                Some(max_retries),
            ),
        };
        TaskSpecRestartPolicy {
            condition: Some(condition),
            delay: Some(RESTART_DELAY_SECS * 1_000_000_000),
            max_attempts: attempts,
            window: Some(RESTART_WINDOW_SECS * 1_000_000_000),
        }
    });
    let resources = TaskSpecResources {
        limits: Some(Limit {
            nano_cpus: spec.nano_cpus,
            memory_bytes: spec.memory_bytes,
            pids: spec.pids_limit,
        }),
        // What the scheduler keeps free on the node for it: a quarter of the limits.
        reservations: Some(ResourceObject {
            nano_cpus: spec.nano_cpus.map(|n| n / 4),
            memory_bytes: spec.memory_bytes.map(|m| m / 4),
            ..Default::default()
        }),
    };
    let task = TaskSpec {
        container_spec: Some(container),
        resources: Some(resources),
        restart_policy,
        placement: spec.node.as_ref().map(|node| TaskSpecPlacement {
            constraints: Some(vec![format!("node.id=={node}")]),
            ..Default::default()
        }),
        networks: spec.network.as_ref().map(|n| {
            vec![NetworkAttachmentConfig {
                target: Some(n.clone()),
                ..Default::default()
            }]
        }),
        ..Default::default()
    };
    // Reached by name on the network: DNS round robin to the task itself, not a virtual IP —
    // one address per link instead of two, and no dependence on IPVS in the kernel (without
    // it a virtual IP answers "no route to host").
    let on_network = EndpointSpec {
        mode: Some(EndpointSpecModeEnum::DNSRR),
        ..Default::default()
    };
    let endpoint_spec = spec.publish.as_ref().map(|p| EndpointSpec {
        ports: Some(vec![EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(i64::from(p.container_port)),
            published_port: p.host_port.map(i64::from),
            publish_mode: Some(match mode {
                SwarmPublishMode::Host => EndpointPortConfigPublishModeEnum::HOST,
                SwarmPublishMode::Ingress => EndpointPortConfigPublishModeEnum::INGRESS,
            }),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let endpoint_spec = endpoint_spec.or_else(|| spec.network.is_some().then_some(on_network));
    ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replicas),
            }),
            ..Default::default()
        }),
        endpoint_spec,
        ..Default::default()
    }
}

/// `size=64m` in tmpfs options → bytes.
fn tmpfs_size(options: &str) -> Option<i64> {
    let size = options.split(',').find_map(|o| o.strip_prefix("size="))?;
    let (digits, unit) = size.split_at(
        size.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(size.len()),
    );
    let n: i64 = digits.parse().ok()?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    Some(n * factor)
}

fn replicas(service: &Service) -> i64 {
    service
        .spec
        .as_ref()
        .and_then(|s| s.mode.as_ref())
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        .unwrap_or(0)
}

fn set_replicas(spec: &mut ServiceSpec, n: i64) {
    spec.mode = Some(ServiceSpecMode {
        replicated: Some(ServiceSpecModeReplicated { replicas: Some(n) }),
        ..Default::default()
    });
}

fn set_grace(spec: &mut ServiceSpec, grace_secs: i64) {
    if let Some(c) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    {
        c.stop_grace_period = Some(grace_secs.max(0) * 1_000_000_000);
    }
}

/// Bump `ForceUpdate`: Swarm replaces the task even though the spec is otherwise unchanged.
fn force_new_task(spec: &mut ServiceSpec) {
    if let Some(t) = spec.task_template.as_mut() {
        t.force_update = Some(t.force_update.unwrap_or(0) + 1);
    }
}

fn task_state(t: &Task) -> Option<TaskState> {
    t.status.as_ref().and_then(|s| s.state)
}

fn is_terminal(state: Option<TaskState>) -> bool {
    matches!(
        state,
        None | Some(
            TaskState::COMPLETE
                | TaskState::SHUTDOWN
                | TaskState::FAILED
                | TaskState::REJECTED
                | TaskState::REMOVE
                | TaskState::ORPHANED
        )
    )
}

/// The task Swarm wants running (or is about to start after its restart delay): newest first.
fn current_task(tasks: &[Task]) -> Option<&Task> {
    tasks.iter().find(|t| {
        matches!(t.desired_state, Some(TaskState::RUNNING | TaskState::READY))
            && !is_terminal(task_state(t))
    })
}

fn task_time(t: &Task) -> Option<DateTime<Utc>> {
    t.status
        .as_ref()
        .and_then(|s| s.timestamp.as_ref())
        .and_then(|ts| engine_time(&ts.to_string()))
}

/// What Puente keeps of a service and its tasks (newest first).
fn service_info(service: Service, tasks: &[Task]) -> ContainerInfo {
    let spec = service.spec.clone().unwrap_or_default();
    let container = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.clone())
        .unwrap_or_default();
    let wanted = replicas(&service);
    let current = current_task(tasks);
    let state = match (wanted, current) {
        (0, _) if tasks.is_empty() => ContainerState::Created,
        (_, Some(t)) if task_state(t) == Some(TaskState::RUNNING) => ContainerState::Running,
        (0, Some(_)) => ContainerState::Removing,
        (_, Some(_)) => ContainerState::Restarting,
        (0, None) => ContainerState::Exited,
        // Wanted but no task will come: Swarm's restart policy gave up.
        (_, None) => ContainerState::Exited,
    };
    let last_ended = tasks.iter().find(|t| is_terminal(task_state(t)));
    let exit_code = last_ended
        .and_then(|t| t.status.as_ref())
        .and_then(|s| s.container_status.as_ref())
        .and_then(|c| c.exit_code);
    let host_port = current
        .and_then(|t| t.status.as_ref())
        .and_then(|s| s.port_status.as_ref())
        .and_then(|p| p.ports.as_ref())
        .and_then(|ports| first_published(ports))
        .or_else(|| {
            service
                .endpoint
                .as_ref()
                .and_then(|e| e.ports.as_ref())
                .and_then(|ports| first_published(ports))
        });
    ContainerInfo {
        id: service.id.clone().unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        // Swarm may pin the image to a digest: keep what was asked for.
        image: container
            .image
            .as_deref()
            .map(|i| i.split('@').next().unwrap_or(i).to_owned())
            .unwrap_or_default(),
        labels: spec.labels.clone().unwrap_or_default(),
        state,
        exit_code,
        oom_killed: false,
        started_at: current
            .filter(|t| task_state(t) == Some(TaskState::RUNNING))
            .and_then(task_time),
        finished_at: last_ended.and_then(task_time),
        // Tasks Swarm replaced, as far as its task history goes.
        restart_count: i64::try_from(tasks.len().saturating_sub(1)).unwrap_or(0),
        host_port,
        memory_limit: spec
            .task_template
            .as_ref()
            .and_then(|t| t.resources.as_ref())
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.memory_bytes)
            .unwrap_or(0),
    }
}

fn first_published(ports: &[EndpointPortConfig]) -> Option<u16> {
    ports
        .iter()
        .filter_map(|p| p.published_port)
        .find_map(|p| u16::try_from(p).ok().filter(|&p| p != 0))
}

fn node_info(n: Node) -> NodeInfo {
    let spec = n.spec.unwrap_or_default();
    let text = |v: Option<String>| v.unwrap_or_default();
    NodeInfo {
        id: text(n.id),
        hostname: text(n.description.and_then(|d| d.hostname)),
        availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
        state: text(n.status.and_then(|s| s.state).map(|s| s.to_string())),
        role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
        labels: spec.labels.unwrap_or_default(),
    }
}

/// The payloads of the Engine's multiplexed log stream (8-byte headers: stream, 0, 0, 0, size
/// as big-endian u32); a body without headers (a TTY service) is one payload.
fn demux(body: &[u8]) -> Vec<&[u8]> {
    let framed = body.len() >= 8 && matches!(body[0], 0..=2) && body[1..4] == [0, 0, 0];
    if !framed {
        return vec![body];
    }
    let mut frames = Vec::new();
    let mut rest = body;
    while rest.len() >= 8 {
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + size).min(rest.len());
        frames.push(&rest[8..end]);
        rest = &rest[end..];
    }
    frames
}

/// Percent-encode a query value.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The Engine endpoints bollard lacks, on the same socket and API version as bollard's client.
/// One connection per call: these are rare (a reconcile pass, an operator's action).
struct Engine {
    host: Option<String>,
}

const ENGINE_TIMEOUT: Duration = Duration::from_secs(60);

impl Engine {
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        docker: &bollard::Docker,
        op: &'static str,
        path: &str,
    ) -> Result<T, RuntimeError> {
        let body = self
            .call(docker, op, hyper::Method::GET, path, None)
            .await?;
        serde_json::from_slice(&body).map_err(|e| RuntimeError::Operation {
            op,
            message: format!("unreadable answer: {e}"),
        })
    }

    async fn post(
        &self,
        docker: &bollard::Docker,
        op: &'static str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(), RuntimeError> {
        self.call(docker, op, hyper::Method::POST, path, Some(body))
            .await
            .map(|_| ())
    }

    async fn call(
        &self,
        docker: &bollard::Docker,
        op: &'static str,
        method: hyper::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, RuntimeError> {
        let v = docker.client_version();
        let uri = format!("/v{}.{}{path}", v.major_version, v.minor_version);
        let unreachable = |e: &dyn std::error::Error| {
            RuntimeError::Unreachable(format!("{op}: {}", error_chain(e)))
        };
        let request = hyper::Request::builder()
            .method(method)
            .uri(&uri)
            .header(hyper::header::HOST, "docker")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| RuntimeError::Operation {
                op,
                message: e.to_string(),
            })?;
        let exchange = async {
            let (status, bytes) = match self.host.as_deref() {
                Some(h) if !(h.starts_with("unix://") || h.starts_with('/')) => {
                    let addr = h
                        .trim_start_matches("tcp://")
                        .trim_start_matches("http://")
                        .trim_end_matches('/');
                    let stream = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| unreachable(&e))?;
                    send(stream, request).await.map_err(|e| unreachable(&e))?
                }
                other => {
                    let path = other
                        .map(|h| h.trim_start_matches("unix://"))
                        .unwrap_or("/var/run/docker.sock");
                    let stream = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| unreachable(&e))?;
                    send(stream, request).await.map_err(|e| unreachable(&e))?
                }
            };
            Ok::<_, RuntimeError>((status, bytes))
        };
        let (code, bytes) = tokio::time::timeout(ENGINE_TIMEOUT, exchange)
            .await
            .map_err(|_| RuntimeError::Unreachable(format!("{op}: timed out")))??;
        if code.is_success() {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(map_err(
            op,
            path,
            BollardError::DockerResponseServerError {
                status_code: code.as_u16(),
                message,
            },
        ))
    }
}

/// One HTTP/1.1 exchange on a fresh connection; the connection ends with the exchange.
async fn send<S>(
    stream: S,
    request: hyper::Request<Full<Bytes>>,
) -> Result<(hyper::StatusCode, Bytes), hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let exchange = async move {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, bytes))
    };
    tokio::pin!(connection);
    tokio::pin!(exchange);
    // Drive the connection and the exchange together; the connection is dropped (closed) once
    // the answer is read.
    tokio::select! {
        result = &mut exchange => result,
        done = &mut connection => {
            done?;
            exchange.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{PortPublish, LABEL_MANAGED};

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "puente-waha-x".into(),
            image: "img:dev".into(),
            env: vec![("WAHA_API_KEY".into(), "secret".into())],
            labels: HashMap::from([("puente.link".into(), "l1".into())]),
            volume: Some(("vol".into(), "/app/.sessions".into())),
            publish: Some(PortPublish {
                container_port: 3000,
                host_ip: "127.0.0.1".into(),
                host_port: None,
            }),
            memory_bytes: Some(128 << 20),
            nano_cpus: Some(1_000_000_000),
            pids_limit: Some(512),
            read_only_rootfs: true,
            tmpfs: vec![("/tmp".into(), "rw,nosuid,size=64m".into())],
            extra_hosts: vec!["host.docker.internal:host-gateway".into()],
            restart: Some(RestartPolicy::OnFailure { max_retries: 5 }),
            harden: true,
            node: Some("node-1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_service_is_pinned_limited_labelled_and_published_on_the_node() {
        let s = service_spec(&spec(), 0, SwarmPublishMode::Host);
        assert_eq!(s.labels.as_ref().unwrap()[LABEL_MANAGED], "true");
        assert_eq!(
            s.mode.unwrap().replicated.unwrap().replicas,
            Some(0),
            "created, not started"
        );
        let task = s.task_template.unwrap();
        assert_eq!(
            task.placement.unwrap().constraints.unwrap(),
            vec!["node.id==node-1".to_owned()]
        );
        let limits = task.resources.as_ref().unwrap().limits.clone().unwrap();
        assert_eq!(limits.memory_bytes, Some(128 << 20));
        assert_eq!(limits.pids, Some(512));
        let reserved = task.resources.unwrap().reservations.unwrap();
        assert_eq!(reserved.memory_bytes, Some(32 << 20));
        let policy = task.restart_policy.unwrap();
        assert_eq!(
            policy.condition,
            Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE)
        );
        assert_eq!(policy.max_attempts, Some(5));
        assert_eq!(policy.delay, Some(RESTART_DELAY_SECS * 1_000_000_000));
        let c = task.container_spec.unwrap();
        assert_eq!(c.labels.unwrap()["puente.link"], "l1");
        assert_eq!(c.capability_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            c.hosts,
            Some(vec!["host-gateway host.docker.internal".to_owned()])
        );
        let mounts = c.mounts.unwrap();
        assert_eq!(mounts[0].source.as_deref(), Some("vol"));
        assert_eq!(
            mounts[0]
                .volume_options
                .as_ref()
                .unwrap()
                .labels
                .as_ref()
                .unwrap()[LABEL_MANAGED],
            "true"
        );
        assert_eq!(
            mounts[1].tmpfs_options.as_ref().unwrap().size_bytes,
            Some(64 << 20)
        );
        let port = &s.endpoint_spec.unwrap().ports.unwrap()[0];
        assert_eq!(port.target_port, Some(3000));
        assert_eq!(port.published_port, None);
        assert_eq!(
            port.publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
    }

    fn task(index: u64, desired: TaskState, state: TaskState) -> Task {
        serde_json::from_value(serde_json::json!({
            "Version": {"Index": index},
            "DesiredState": desired.to_string(),
            "Status": {
                "Timestamp": "2026-12-01T10:00:00.123456789Z",
                "State": state.to_string(),
                "ContainerStatus": {"ContainerID": format!("c{index}"), "ExitCode": 137},
                "PortStatus": {"Ports": [{"TargetPort": 3000, "PublishedPort": 30001, "PublishMode": "host"}]}
            }
        }))
        .unwrap()
    }

    fn service(replicas: i64) -> Service {
        Service {
            id: Some("svc".into()),
            spec: Some(service_spec(&spec(), replicas, SwarmPublishMode::Host)),
            ..Default::default()
        }
    }

    #[test]
    fn the_state_is_the_current_tasks() {
        let created = service_info(service(0), &[]);
        assert_eq!(created.state, ContainerState::Created);

        let running = service_info(
            service(1),
            &[
                task(9, TaskState::RUNNING, TaskState::RUNNING),
                task(5, TaskState::SHUTDOWN, TaskState::FAILED),
            ],
        );
        assert_eq!(running.state, ContainerState::Running);
        assert_eq!(running.host_port, Some(30001));
        assert_eq!(running.restart_count, 1);
        assert_eq!(running.exit_code, Some(137));
        assert!(running.started_at.is_some());
        assert_eq!(running.id, "svc");
        assert_eq!(running.name, "puente-waha-x");

        let delayed = service_info(
            service(1),
            &[
                task(9, TaskState::READY, TaskState::READY),
                task(5, TaskState::SHUTDOWN, TaskState::FAILED),
            ],
        );
        assert_eq!(delayed.state, ContainerState::Restarting);
        assert_eq!(delayed.started_at, None);

        let given_up = service_info(
            service(1),
            &[task(5, TaskState::SHUTDOWN, TaskState::FAILED)],
        );
        assert_eq!(given_up.state, ContainerState::Exited);

        let stopped = service_info(
            service(0),
            &[task(5, TaskState::SHUTDOWN, TaskState::SHUTDOWN)],
        );
        assert_eq!(stopped.state, ContainerState::Exited);
    }

    #[test]
    fn log_frames_are_demultiplexed() {
        let mut body = vec![1, 0, 0, 0, 0, 0, 0, 4];
        body.extend_from_slice(b"one\n");
        body.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 3]);
        body.extend_from_slice(b"two");
        assert_eq!(demux(&body), vec![&b"one\n"[..], &b"two"[..]]);
        assert_eq!(demux(b"plain text"), vec![&b"plain text"[..]]);
    }

    #[test]
    fn tmpfs_sizes_are_read() {
        assert_eq!(tmpfs_size("rw,size=64m"), Some(64 << 20));
        assert_eq!(tmpfs_size("size=2g,rw"), Some(2 << 30));
        assert_eq!(tmpfs_size("rw"), None);
    }
}
