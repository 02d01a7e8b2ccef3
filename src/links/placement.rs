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

use super::errors::{Error, Result};
use crate::core::Core;
use crate::db::{self, links::LinkRow};
use crate::runtime::NodeInfo;

/// Node label marking the nodes meant for session containers.
pub const SESSIONS_LABEL: &str = "puente.sessions";

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
pub async fn ensure(state: &Core, link: &LinkRow) -> Result<Option<String>> {
    if let Some(node) = db::placements::find(&state.db, link.id).await? {
        return Ok(Some(node));
    }
    let nodes = state.runtime.nodes().await.map_err(Error::from)?;
    if nodes.is_empty() {
        return Ok(None);
    }
    let counts: HashMap<String, i64> = db::placements::counts(&state.db)
        .await?
        .into_iter()
        .collect();
    let node =
        choose(&nodes, &counts, state.config.waha.swarm_node_cap, None).ok_or(Error::NoNode)?;
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
pub async fn overview(state: &Core) -> Result<Vec<NodeView>> {
    let nodes = state.runtime.nodes().await.map_err(Error::from)?;
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
