//! Where each link's session runs on a Docker Swarm: one row per placed link, naming the node
//! that holds its login volume. A link is placed once, when its service is first created, and
//! moves only when an operator drains its node.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::Result;

/// The node a link is pinned to, if it has been placed.
pub async fn find(db: impl PgExecutor<'_>, link: Uuid) -> Result<Option<String>> {
    Ok(sqlx::query_scalar!(
        "select node_id from link_placements where link_id = $1",
        link
    )
    .fetch_optional(db)
    .await?)
}

/// Live (not deleted) links per node.
pub async fn counts(db: impl PgExecutor<'_>) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query!(
        r#"select p.node_id, count(*) as "links!"
           from link_placements p join whatsapp_links l on l.id = p.link_id
           where l.deleted_at is null and l.desired_state <> 'deleted'
           group by p.node_id"#
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.node_id, r.links))
    .collect())
}

/// Place a link on `node` unless it is placed already; returns where it is placed (a
/// concurrent placement by another replica wins).
pub async fn place(db: impl PgExecutor<'_> + Copy, link: Uuid, node: &str) -> Result<String> {
    sqlx::query!(
        "insert into link_placements (link_id, node_id) values ($1, $2)
         on conflict (link_id) do nothing",
        link,
        node
    )
    .execute(db)
    .await?;
    Ok(sqlx::query_scalar!(
        "select node_id from link_placements where link_id = $1",
        link
    )
    .fetch_one(db)
    .await?)
}

/// Live links placed on `node`.
pub async fn links_on(db: impl PgExecutor<'_>, node: &str) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"select p.link_id from link_placements p join whatsapp_links l on l.id = p.link_id
           where p.node_id = $1 and l.deleted_at is null and l.desired_state <> 'deleted'
           order by p.placed_at"#,
        node
    )
    .fetch_all(db)
    .await?)
}

/// Move a link to another node, remembering where it came from.
pub async fn move_to(db: impl PgExecutor<'_>, link: Uuid, from: &str, to: &str) -> Result<()> {
    sqlx::query!(
        "update link_placements set node_id = $3, moved_from = $2, placed_at = now()
         where link_id = $1 and node_id = $2",
        link,
        from,
        to
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Every live link's node, as (link, node).
pub async fn all_live(db: impl PgExecutor<'_>) -> Result<Vec<(Uuid, String)>> {
    Ok(sqlx::query!(
        r#"select p.link_id, p.node_id
           from link_placements p join whatsapp_links l on l.id = p.link_id
           where l.deleted_at is null and l.desired_state <> 'deleted'
           order by p.placed_at"#
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.link_id, r.node_id))
    .collect())
}
