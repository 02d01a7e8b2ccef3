//! The audit log: who did what, when, with what result. No message bodies, no secrets.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::Result;
use crate::model::AuditResult;

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
    pub result: AuditResult,
    pub detail: Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Whose entries a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    /// Entries Puente made itself (no acting user).
    System,
    /// One user's.
    User(Uuid),
    /// Users whose email contains this text (lower case; matched literally).
    EmailContains(String),
}

/// Which actions a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFilter {
    /// `link.restart`.
    Exact(String),
    /// Every action starting with this text (`link.`).
    Prefix(String),
}

/// Which entries of the audit log a page lists. Every filter that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Older than this id (the cursor: the last id of the previous page).
    pub before: Option<i64>,
    pub limit: i64,
    pub actor: Option<ActorFilter>,
    pub action: Option<ActionFilter>,
    pub target_id: Option<String>,
    pub result: Option<AuditResult>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Strictly before.
    pub to: Option<DateTime<Utc>>,
}

/// `text` as a `LIKE` pattern that matches only itself (the default escape is `\`).
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Newest first, keyset-paginated by id, narrowed by `filter` (one statement). The indexes on
/// the actor, the action and the target keep a filtered page from reading the whole log.
pub async fn list(db: impl PgExecutor<'_>, filter: &Filter) -> Result<Vec<AuditRow>> {
    let (system, user, email) = match &filter.actor {
        None => (false, None, None),
        Some(ActorFilter::System) => (true, None, None),
        Some(ActorFilter::User(id)) => (false, Some(*id), None),
        Some(ActorFilter::EmailContains(text)) => {
            (false, None, Some(format!("%{}%", like_literal(text))))
        }
    };
    let (action, action_prefix) = match &filter.action {
        None => (None, None),
        Some(ActionFilter::Exact(a)) => (Some(a.as_str()), None),
        Some(ActionFilter::Prefix(p)) => (None, Some(format!("{}%", like_literal(p)))),
    };
    Ok(sqlx::query_as!(
        AuditRow,
        r#"select a.id, a.actor_user_id, a.actor_role, a.action, a.target_type, a.target_id,
                  a.result as "result: AuditResult", a.detail, a.ip, a.created_at
           from audit_log a
           where ($1::bigint is null or a.id < $1)
             and (not $3 or a.actor_user_id is null)
             and ($4::uuid is null or a.actor_user_id = $4)
             and ($5::text is null or a.actor_user_id in (select u.id from users u where u.email like $5))
             and ($6::text is null or a.action = $6)
             and ($7::text is null or a.action like $7)
             and ($8::text is null or a.target_id = $8)
             and ($9::text is null or a.result = $9)
             and ($10::timestamptz is null or a.created_at >= $10)
             and ($11::timestamptz is null or a.created_at < $11)
           order by a.id desc limit $2"#,
        filter.before,
        filter.limit,
        system,
        user,
        email,
        action,
        action_prefix,
        filter.target_id.as_deref(),
        filter.result.map(AuditResult::as_str),
        filter.from,
        filter.to
    )
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::like_literal;

    #[test]
    fn like_patterns_match_the_text_literally() {
        assert_eq!(like_literal("link."), "link.");
        assert_eq!(like_literal("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}
