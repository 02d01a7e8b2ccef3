//! Node placement on a Docker Swarm: a link's login lives in a volume on one node, so the link
//! is placed on a node once, when its service is first created, the choice is stored
//! (`db::placements`), and its service is pinned there.
//!
//! Rules: candidates are the nodes labelled `puente.sessions=true` when any node carries that
//! label, else every node; only nodes that are `active` and `ready` take new links. The least
//! loaded (fewest live links placed) wins, ties by node id so replicas agree; a node at the
//! per-node cap (`PUENTE_SWARM_NODE_CAP`) takes none. On one engine (no nodes) nothing is
//! placed. The node list is read before any write, never inside a transaction.

use std::collections::HashMap;

use uuid::Uuid;

use crate::app::AppState;
use crate::db::{self, links::LinkRow};
use crate::error::{AppError, Result};
use crate::runtime::{NodeInfo, RuntimeError};

/// Node label marking the nodes meant for session containers.
pub const SESSIONS_LABEL: &str = "puente.sessions";

pub(crate) fn runtime_error(e: RuntimeError) -> AppError {
    match e {
        RuntimeError::Unreachable(_) => AppError::unavailable(
            "docker_unreachable",
            "The container engine is unreachable; try again shortly.",
        ),
        other => AppError::Internal(anyhow::Error::new(other)),
    }
}

/// The nodes meant for sessions: those labelled, or all when none is.
pub fn session_nodes(nodes: &[NodeInfo]) -> Vec<&NodeInfo> {
    let labelled = |n: &&NodeInfo| n.labels.get(SESSIONS_LABEL).is_some_and(|v| v == "true");
    if nodes.iter().any(|n| labelled(&n)) {
        nodes.iter().filter(labelled).collect()
    } else {
        nodes.iter().collect()
    }
}

/// The least loaded session node under the cap, skipping `avoid`.
pub fn choose(
    nodes: &[NodeInfo],
    counts: &HashMap<String, i64>,
    cap: i64,
    avoid: Option<&str>,
) -> Option<String> {
    session_nodes(nodes)
        .into_iter()
        .filter(|n| n.accepts_sessions() && Some(n.id.as_str()) != avoid)
        .map(|n| (counts.get(&n.id).copied().unwrap_or(0), &n.id))
        .filter(|(load, _)| *load < cap)
        .min()
        .map(|(_, id)| id.clone())
}

/// The node the link is pinned to, placing it now if it has none; `None` on a runtime without
/// nodes. 503 `no_session_node` when every session node is full or unavailable.
pub async fn ensure(state: &AppState, link: &LinkRow) -> Result<Option<String>> {
    if let Some(node) = db::placements::find(&state.db, link.id).await? {
        return Ok(Some(node));
    }
    let nodes = state.runtime.nodes().await.map_err(runtime_error)?;
    if nodes.is_empty() {
        return Ok(None);
    }
    let counts: HashMap<String, i64> = db::placements::counts(&state.db)
        .await?
        .into_iter()
        .collect();
    let node =
        choose(&nodes, &counts, state.config.waha.swarm_node_cap, None).ok_or_else(|| {
            AppError::unavailable(
                "no_session_node",
                "No Swarm node can take another WhatsApp session right now.",
            )
        })?;
    let placed = db::placements::place(&state.db, link.id, &node).await?;
    tracing::info!(link = %link.id, node = %placed, "link placed");
    Ok(Some(placed))
}

/// A node as the operator sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NodeView {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    /// `ready`, `down`, …
    pub state: String,
    /// Whether the node carries `puente.sessions=true`.
    pub sessions_label: bool,
    /// Whether new links may be placed here now (a session node, active, ready, under the cap).
    pub accepts_links: bool,
    /// Live links placed on the node.
    pub links: i64,
    /// Those links' ids.
    pub link_ids: Vec<Uuid>,
    /// Most links one node takes (`PUENTE_SWARM_NODE_CAP`).
    pub cap: i64,
}

/// Every node, with its placed links. Empty on a runtime without nodes.
pub async fn overview(state: &AppState) -> Result<Vec<NodeView>> {
    let nodes = state.runtime.nodes().await.map_err(runtime_error)?;
    let mut placed: HashMap<String, Vec<Uuid>> = HashMap::new();
    for (link, node) in db::placements::all_live(&state.db).await? {
        placed.entry(node).or_default().push(link);
    }
    let cap = state.config.waha.swarm_node_cap;
    let candidates: Vec<String> = session_nodes(&nodes).iter().map(|n| n.id.clone()).collect();
    let mut views: Vec<NodeView> = nodes
        .iter()
        .map(|n| {
            let link_ids = placed.get(&n.id).cloned().unwrap_or_default();
            let links = i64::try_from(link_ids.len()).unwrap_or(i64::MAX);
            NodeView {
                id: n.id.clone(),
                hostname: n.hostname.clone(),
                role: n.role.clone(),
                availability: n.availability.clone(),
                state: n.state.clone(),
                sessions_label: n.labels.get(SESSIONS_LABEL).is_some_and(|v| v == "true"),
                accepts_links: candidates.contains(&n.id) && n.accepts_sessions() && links < cap,
                links,
                link_ids,
                cap,
            }
        })
        .collect();
    views.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.id.cmp(&b.id)));
    Ok(views)
}

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
pub async fn drain(
    state: &AppState,
    node: &str,
    actor: &super::service::Actor<'_>,
) -> Result<DrainOutcome> {
    match state.runtime.set_node_availability(node, "drain").await {
        Ok(()) => tracing::warn!(node, "node drained"),
        // A node that left the swarm (`docker node rm`) still has links placed on it: move them.
        Err(RuntimeError::NotFound { .. })
            if !db::placements::links_on(&state.db, node).await?.is_empty() =>
        {
            tracing::warn!(node, "node gone from the swarm; moving its links");
        }
        Err(RuntimeError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(e) => return Err(runtime_error(e)),
    }
    let nodes = state.runtime.nodes().await.map_err(runtime_error)?;
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
                .remove_container(&super::container_name(link))
                .await
                .map_err(runtime_error)?;
        }
        *counts.entry(to.clone()).or_insert(0) += 1;
        if needs_scan {
            super::service::transition(
                state,
                link,
                super::LinkStatus::Starting,
                Some(super::reason::MOVED_NODE),
                None,
                None,
            )
            .await?;
        }
        tracing::info!(link = %link, from = node, to = %to, "link moved off a drained node");
        state.supervisor.kick(state, link);
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
pub async fn activate(state: &AppState, node: &str) -> Result<()> {
    match state.runtime.set_node_availability(node, "active").await {
        Ok(()) => Ok(()),
        Err(RuntimeError::NotFound { .. }) => Err(AppError::NotFound),
        Err(e) => Err(runtime_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, availability: &str, sessions: Option<&str>) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            hostname: format!("host-{id}"),
            availability: availability.into(),
            state: "ready".into(),
            role: "worker".into(),
            labels: sessions
                .map(|v| HashMap::from([(SESSIONS_LABEL.to_owned(), v.to_owned())]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn the_least_loaded_labelled_node_under_the_cap_wins() {
        let counts = HashMap::from([("a".to_owned(), 3), ("b".to_owned(), 1)]);
        let unlabelled = [node("a", "active", None), node("b", "active", None)];
        assert_eq!(choose(&unlabelled, &counts, 10, None).as_deref(), Some("b"));
        assert_eq!(
            choose(&unlabelled, &counts, 10, Some("b")).as_deref(),
            Some("a")
        );
        // Once one node is labelled, only labelled nodes take sessions.
        let labelled = [
            node("a", "active", Some("true")),
            node("b", "active", None),
            node("c", "drain", Some("true")),
        ];
        assert_eq!(choose(&labelled, &counts, 10, None).as_deref(), Some("a"));
        assert_eq!(choose(&labelled, &counts, 3, None), None, "a is at the cap");
        // Ties go to the lowest id, so every replica picks the same.
        let fresh = [node("z", "active", None), node("m", "active", None)];
        assert_eq!(
            choose(&fresh, &HashMap::new(), 1, None).as_deref(),
            Some("m")
        );
    }
}
