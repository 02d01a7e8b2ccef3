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
