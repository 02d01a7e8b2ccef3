//! The container runtime: the only way Puente talks to Docker.
//!
//! [`ContainerRuntime`] is the interface the rest of the crate uses; [`docker::DockerRuntime`]
//! implements it on bollard and is the only module that imports bollard.

pub mod docker;

use async_trait::async_trait;

/// A failed runtime operation, naming the operation.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("docker engine unreachable: {0}")]
    Unreachable(String),
    #[error("docker {op} failed: {message}")]
    Operation { op: &'static str, message: String },
}

#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Check that the engine answers.
    async fn ping(&self) -> Result<(), RuntimeError>;
}
