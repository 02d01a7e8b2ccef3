//! [`ContainerRuntime`] on the Docker Engine API (bollard).
//!
//! The API version is negotiated with the engine before the first versioned call (Debian's
//! engine speaks API 1.41, older than bollard's default), lazily, so Puente can start before
//! the engine does and pick it up when it appears.

use async_trait::async_trait;
use bollard::Docker;
use tokio::sync::OnceCell;

use super::{ContainerRuntime, RuntimeError};

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
}
