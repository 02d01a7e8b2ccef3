//! [`ContainerRuntime`] on the Docker Engine API (bollard).
//!
//! The API version is negotiated with the engine before the first versioned call (Debian's
//! engine speaks API 1.41, older than bollard's default), lazily, so Puente can start before
//! the engine does and pick it up when it appears.

use async_trait::async_trait;
use bollard::Docker;
use tokio::sync::OnceCell;

use std::collections::HashMap;

use super::{ContainerInfo, ContainerRuntime, ContainerSpec, ContainerStats, EventStream, RuntimeError};

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

    fn connect(&self) -> Result<Docker, RuntimeError> {
        let unreachable = |e: bollard::errors::Error| RuntimeError::Unreachable(e.to_string());
        match self.host.as_deref() {
            None => Docker::connect_with_local_defaults().map_err(unreachable),
            Some(h) if h.starts_with("unix://") || h.starts_with('/') => Docker::connect_with_unix(
                h.trim_start_matches("unix://"),
                120,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(unreachable),
            Some(h) => {
                Docker::connect_with_http(h, 120, bollard::API_DEFAULT_VERSION).map_err(unreachable)
            }
        }
    }

    /// The negotiated client, connecting on first use.
    pub async fn client(&self) -> Result<&Docker, RuntimeError> {
        self.client
            .get_or_try_init(|| async {
                let docker = self.connect()?;
                docker
                    .negotiate_version()
                    .await
                    .map_err(|e| RuntimeError::Unreachable(e.to_string()))
            })
            .await
    }
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn ping(&self) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        docker
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| RuntimeError::Operation {
                op: "ping",
                message: e.to_string(),
            })
    }

    // Placeholders until the bollard implementation lands (being written now).
    async fn image_exists(&self, _image: &str) -> Result<bool, RuntimeError> {
        Err(pending("image_exists"))
    }
    async fn ensure_network(&self, _name: &str) -> Result<(), RuntimeError> {
        Err(pending("ensure_network"))
    }
    async fn ensure_volume(&self, _name: &str, _labels: &HashMap<String, String>) -> Result<(), RuntimeError> {
        Err(pending("ensure_volume"))
    }
    async fn remove_volume(&self, _name: &str) -> Result<(), RuntimeError> {
        Err(pending("remove_volume"))
    }
    async fn create_container(&self, _spec: &ContainerSpec) -> Result<String, RuntimeError> {
        Err(pending("create_container"))
    }
    async fn start(&self, _id: &str) -> Result<(), RuntimeError> {
        Err(pending("start"))
    }
    async fn stop(&self, _id: &str, _grace_secs: i64) -> Result<(), RuntimeError> {
        Err(pending("stop"))
    }
    async fn restart(&self, _id: &str, _grace_secs: i64) -> Result<(), RuntimeError> {
        Err(pending("restart"))
    }
    async fn remove_container(&self, _id: &str) -> Result<(), RuntimeError> {
        Err(pending("remove_container"))
    }
    async fn inspect(&self, _id: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        Err(pending("inspect"))
    }
    async fn list_by_label(&self, _label: &str, _value: &str) -> Result<Vec<ContainerInfo>, RuntimeError> {
        Err(pending("list"))
    }
    async fn stats(&self, _id: &str) -> Result<Option<ContainerStats>, RuntimeError> {
        Err(pending("stats"))
    }
    async fn logs(&self, _id: &str, _tail: u64, _since: Option<i64>) -> Result<Vec<String>, RuntimeError> {
        Err(pending("logs"))
    }
    fn events(&self, _label: &str, _value: &str) -> EventStream {
        Box::pin(futures_util::stream::empty())
    }
}

fn pending(op: &'static str) -> RuntimeError {
    RuntimeError::Operation { op, message: "not implemented yet".into() }
}
