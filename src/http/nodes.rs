//! `/api/v1/admin/nodes`: the Docker Swarm nodes session containers run on (operators only):
//! each node's availability and placed links, and draining a node, which moves its links to
//! other nodes (a moved link needs a new scan unless the volumes are shared). Empty on the
//! single-engine runtime.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;

use super::extract::{AppJson, AppPath, ClientIp};
use crate::auth::extract::Operator;
use crate::error::Result;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::links::nodes::{self, DrainOutcome};
use crate::links::placement::{self, NodeView};
use crate::links::service::Actor;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/nodes", get(list_nodes))
        .route("/admin/nodes/{id}/drain", post(drain_node))
        .route("/admin/nodes/{id}/activate", post(activate_node))
}

/// The Swarm nodes with their links and the per-node cap; empty on one Docker engine.
#[utoipa::path(get, operation_id = "admin_list_nodes", path = "/api/v1/admin/nodes", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<NodeView>), (status = 403, body = Problem)))]
pub async fn list_nodes(
    State(state): State<AppState>,
    Operator(_op): Operator,
) -> Result<AppJson<Vec<NodeView>>> {
    Ok(AppJson(placement::overview(&state).await?))
}

/// Drain a node: Swarm stops placing tasks there and its links move to other session nodes.
/// A moved link needs a new QR scan unless `PUENTE_SWARM_SHARED_VOLUMES=true`. Audited.
#[utoipa::path(post, operation_id = "admin_drain_node", path = "/api/v1/admin/nodes/{id}/drain", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DrainOutcome), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub async fn drain_node(
    State(state): State<AppState>,
    Operator(op): Operator,
    ClientIp(ip): ClientIp,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<DrainOutcome>> {
    let actor = Actor {
        user: Some(&op),
        ip: Some(&ip),
    };
    Ok(AppJson(nodes::drain(&state, &id, &actor).await?))
}

/// Make a node take sessions again (availability `active`).
#[utoipa::path(post, operation_id = "admin_activate_node", path = "/api/v1/admin/nodes/{id}/activate", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub async fn activate_node(
    State(state): State<AppState>,
    Operator(_op): Operator,
    AppPath(id): AppPath<String>,
) -> Result<axum::http::StatusCode> {
    nodes::activate(&state, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
