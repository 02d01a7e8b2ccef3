//! The container runtime: the only way Puente talks to Docker.
//!
//! [`ContainerRuntime`] is the interface the rest of the crate uses; [`docker::DockerRuntime`]
//! implements it on bollard and is the only module that imports bollard. Everything Puente
//! creates carries the label `puente.managed=true` (plus `puente.link=<id>` for session
//! containers and their volumes); listing and clean-up only ever look at labelled objects.
//!
//! Two implementations: [`docker::DockerRuntime`] (one engine, containers) and
//! [`swarm::SwarmRuntime`] (a Swarm, one single-replica service per session "container"),
//! chosen by `PUENTE_RUNTIME`. Callers do not know which one they hold: an id is a container id
//! on Docker and a service id on Swarm, and names are the same on both.
//!
//! Conventions: "absent" is not an error where the caller wants an object gone (`remove_*`,
//! `stop` on a missing container return `Ok`), and is `Ok(None)` for lookups (`inspect`,
//! `stats`). Every other failure names the Docker operation that failed.

pub mod docker;
pub mod swarm;

use std::collections::HashMap;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::Stream;

/// Label on every object Puente creates.
pub const LABEL_MANAGED: &str = "puente.managed";
/// Label naming the WhatsApp link a container or volume serves.
pub const LABEL_LINK: &str = "puente.link";
/// Label naming the role of the object (`waha`).
pub const LABEL_ROLE: &str = "puente.role";
/// Label naming the Puente installation that owns the object.
pub const LABEL_INSTANCE: &str = "puente.instance";

/// A failed runtime operation, naming the operation.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("docker engine unreachable: {0}")]
    Unreachable(String),
    #[error("image {0} is not present on the engine")]
    ImageMissing(String),
    #[error("docker {op}: {what} not found")]
    NotFound { op: &'static str, what: String },
    #[error("docker {op}: {what} conflicts with an existing object")]
    Conflict { op: &'static str, what: String },
    #[error("docker {op} failed: {message}")]
    Operation { op: &'static str, message: String },
}

/// How Docker restarts a container by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    UnlessStopped,
    OnFailure { max_retries: i64 },
}

/// Publish one container port on the host (e.g. 127.0.0.1, an ephemeral host port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPublish {
    pub container_port: u16,
    pub host_ip: String,
    /// `None`: let the engine choose a free port.
    pub host_port: Option<u16>,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
    /// Named volume and the path it is mounted at.
    pub volume: Option<(String, String)>,
    /// A user-defined network to attach to (reach by container name).
    pub network: Option<String>,
    pub publish: Option<PortPublish>,
    pub memory_bytes: Option<i64>,
    /// CPU limit in units of 1e-9 CPUs (Docker's NanoCpus).
    pub nano_cpus: Option<i64>,
    /// Relative CPU weight (Docker's CpuShares, default 1024).
    pub cpu_shares: Option<i64>,
    pub pids_limit: Option<i64>,
    pub read_only_rootfs: bool,
    /// tmpfs mounts: path → options (e.g. "rw,size=64m").
    pub tmpfs: Vec<(String, String)>,
    /// `host:ip` entries; `host-gateway` is allowed as the ip.
    pub extra_hosts: Vec<String>,
    pub restart: Option<RestartPolicy>,
    /// `no-new-privileges` and `cap_drop: ALL` when true.
    pub harden: bool,
    pub user: Option<String>,
    /// Pin to this Swarm node id (the node that holds the volume); ignored by the
    /// single-engine runtime.
    pub node: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Dead,
    Removing,
    Unknown,
}

impl ContainerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Paused => "paused",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Removing => "removing",
            Self::Unknown => "unknown",
        }
    }
}

/// What Puente needs to know about a container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    pub state: ContainerState,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Restarts done by Docker's restart policy.
    pub restart_count: i64,
    /// Host port of the published container port, when one is published.
    pub host_port: Option<u16>,
    /// Configured memory limit in bytes (0 = none).
    pub memory_limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerStats {
    pub cpu_percent: f64,
    pub memory_used: u64,
    pub memory_limit: u64,
}

/// A container lifecycle event from the engine (start, die, destroy, oom, …).
#[derive(Debug, Clone)]
pub struct RuntimeEvent {
    pub container_id: String,
    pub action: String,
    pub labels: HashMap<String, String>,
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<RuntimeEvent, RuntimeError>> + Send>>;

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the engine received it; `None` when it gave no timestamp.
    pub at: Option<DateTime<Utc>>,
    /// The text, without the line break.
    pub text: String,
}

/// A machine that can run session containers (a Swarm node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// `manager` or `worker`.
    pub role: String,
    pub labels: HashMap<String, String>,
}

impl NodeInfo {
    /// Whether new session containers may be placed here.
    pub fn accepts_sessions(&self) -> bool {
        self.availability == "active" && self.state == "ready"
    }
}

#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Check that the engine answers.
    async fn ping(&self) -> Result<(), RuntimeError>;
    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError>;
    /// Create the network if absent (labelled managed).
    async fn ensure_network(&self, name: &str) -> Result<(), RuntimeError>;
    /// Create the volume if absent, with these labels.
    async fn ensure_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), RuntimeError>;
    /// Remove a volume; absent is fine.
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError>;
    /// Create (not start) a container; returns its id. `ImageMissing` when the image is absent.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError>;
    /// Start; already running is fine.
    async fn start(&self, id: &str) -> Result<(), RuntimeError>;
    /// Stop with a grace period; already stopped or absent is fine.
    async fn stop(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError>;
    async fn restart(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError>;
    /// Remove (forcefully, with anonymous volumes); absent is fine.
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError>;
    /// `None` when absent.
    async fn inspect(&self, id_or_name: &str) -> Result<Option<ContainerInfo>, RuntimeError>;
    /// Every container (running or not) carrying `label=value`.
    async fn list_by_label(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;
    /// One sample of CPU and memory use; `None` when absent or not running.
    async fn stats(&self, id: &str) -> Result<Option<ContainerStats>, RuntimeError>;
    /// The last `tail` log lines (stdout and stderr), oldest first; with `after`, only lines
    /// the engine received strictly after that instant (exact to the nanosecond, so a caller
    /// following the logs passes the last line's `at` and gets each line once).
    async fn logs(
        &self,
        id: &str,
        tail: u64,
        after: Option<DateTime<Utc>>,
    ) -> Result<Vec<LogLine>, RuntimeError>;
    /// Container events for objects carrying `label=value`, until the stream is dropped.
    fn events(&self, label: &str, value: &str) -> EventStream;
    /// The machines session containers can be placed on; empty when the runtime has no
    /// such choice (one engine).
    async fn nodes(&self) -> Result<Vec<NodeInfo>, RuntimeError> {
        Ok(Vec::new())
    }
    /// Set a node's availability (`active`, `pause`, `drain`).
    async fn set_node_availability(
        &self,
        id: &str,
        _availability: &str,
    ) -> Result<(), RuntimeError> {
        Err(RuntimeError::Operation {
            op: "node_update",
            message: format!("{id}: this runtime has no nodes"),
        })
    }
}
