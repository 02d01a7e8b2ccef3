//! Operator actions on Swarm nodes: drain one (its links move to other session nodes, their
//! services re-created pinned there) and make one active again. Placement rules themselves are
//! in [`super::placement`].

use std::collections::HashMap;

use uuid::Uuid;

use super::errors::{Error, Result};
use super::placement::choose;
use super::service::{kick, transition, Actor};
use super::{container_name, reason, LinkStatus};
use crate::core::Core;
use crate::db;
use crate::runtime::RuntimeError;

/// A link moved off a drained node.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MovedLink {
    pub link_id: Uuid,
    pub to_node: String,
}

/// What draining a node did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DrainOutcome {
    pub node: String,
    pub moved: Vec<MovedLink>,
    /// Links no other node could take (full or none available); they stay pinned to the
    /// drained node and do not run until it is active again or room is made.
    pub unplaced: Vec<Uuid>,
    /// Whether moved links need a new QR scan: their login volume stays on the drained node
    /// unless a shared volume driver is configured (`PUENTE_SWARM_SHARED_VOLUMES`).
    pub needs_scan: bool,
}

/// Set a node to `drain` and move its links to other session nodes: each moved link's service
/// is removed and re-created (by the reconciler) pinned to its new node. A node no longer in the
/// swarm but with links placed on it is drained the same way (its links move).
pub async fn drain(state: &Core, node: &str, actor: &Actor<'_>) -> Result<DrainOutcome> {
    match state.runtime.set_node_availability(node, "drain").await {
        Ok(()) => tracing::warn!(node, "node drained"),
        // A node that left the swarm (`docker node rm`) still has links placed on it: move them.
        Err(RuntimeError::NotFound { .. })
            if !db::placements::links_on(&state.db, node).await?.is_empty() =>
        {
            tracing::warn!(node, "node gone from the swarm; moving its links");
        }
        Err(RuntimeError::NotFound { .. }) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    }
    let nodes = state.runtime.nodes().await.map_err(Error::from)?;
    let mut counts: HashMap<String, i64> = db::placements::counts(&state.db)
        .await?
        .into_iter()
        .collect();
    let cap = state.config.waha.swarm_node_cap;
    let needs_scan = !state.config.waha.swarm_shared_volumes;
    let mut outcome = DrainOutcome {
        node: node.to_owned(),
        moved: Vec::new(),
        unplaced: Vec::new(),
        needs_scan,
    };
    for link in db::placements::links_on(&state.db, node).await? {
        let Some(to) = choose(&nodes, &counts, cap, Some(node)) else {
            outcome.unplaced.push(link);
            continue;
        };
        {
            let _guard = state.supervisor.lock_link(link).await;
            db::placements::move_to(&state.db, link, node, &to).await?;
            state
                .runtime
                .remove_container(&container_name(link))
                .await
                .map_err(Error::from)?;
        }
        *counts.entry(to.clone()).or_insert(0) += 1;
        if needs_scan {
            transition(
                state,
                link,
                LinkStatus::Starting,
                Some(reason::MOVED_NODE),
                None,
                None,
            )
            .await?;
        }
        tracing::info!(link = %link, from = node, to = %to, "link moved off a drained node");
        kick(state, link);
        outcome.moved.push(MovedLink {
            link_id: link,
            to_node: to,
        });
    }
    let entry = db::audit::Entry {
        actor: actor.user.map(|u| u.id),
        actor_role: actor.user.map(|u| u.role.as_str()),
        action: "node.drain",
        target_type: Some("swarm_node"),
        target_id: Some(node.to_owned()),
        ok: true,
        detail: serde_json::json!({
            "moved": outcome.moved.len(),
            "unplaced": outcome.unplaced.len(),
            "needs_scan": needs_scan,
        }),
        ip: actor.ip,
    };
    if let Err(e) = db::audit::record(&state.db, entry).await {
        tracing::error!(error = %e, "could not write the audit log");
    }
    Ok(outcome)
}

/// Make a drained (or paused) node take sessions again.
pub async fn activate(state: &Core, node: &str) -> Result<()> {
    match state.runtime.set_node_availability(node, "active").await {
        Ok(()) => Ok(()),
        Err(RuntimeError::NotFound { .. }) => Err(Error::NotFound),
        Err(e) => Err(e.into()),
    }
}
