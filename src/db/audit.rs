//! The audit log: who did what, when, with what result. No message bodies, no secrets.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::Result;

pub struct Entry<'a> {
    pub actor: Option<Uuid>,
    pub actor_role: Option<&'a str>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub ok: bool,
    pub detail: Value,
    pub ip: Option<&'a str>,
}

pub async fn record(db: impl PgExecutor<'_>, e: Entry<'_>) -> Result<()> {
    sqlx::query!(
        r#"insert into audit_log (actor_user_id, actor_role, action, target_type, target_id, result, detail, ip)
           values ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        e.actor,
        e.actor_role,
        e.action,
        e.target_type,
        e.target_id,
        if e.ok { "ok" } else { "error" },
        e.detail,
        e.ip
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub actor_user_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub result: String,
    pub detail: Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Newest first, keyset-paginated by id.
pub async fn list(
    db: impl PgExecutor<'_>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>> {
    Ok(sqlx::query_as!(
        AuditRow,
        r#"select id, actor_user_id, actor_role, action, target_type, target_id, result, detail,
                  ip, created_at
           from audit_log where ($1::bigint is null or id < $1)
           order by id desc limit $2"#,
        before_id,
        limit
    )
    .fetch_all(db)
    .await?)
}
