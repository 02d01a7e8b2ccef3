//! Blocks and reports: the queries behind [`crate::moderation`].
//!
//! A block is one row `(blocker_id, blocked_id)`; blocking is idempotent (`on conflict do
//! nothing`). A report keeps the reported message's text as its evidence in
//! `message_excerpt` (at most 500 characters); the operators' queue reads that column and never
//! `messages`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::Result;

/// One entry of a user's block list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BlockRow {
    /// The blocked user.
    pub user_id: Uuid,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

/// Block `blocked` for `blocker` (a no-op when already blocked) and return the block.
pub async fn block(conn: &mut PgConnection, blocker: Uuid, blocked: Uuid) -> Result<BlockRow> {
    sqlx::query!(
        "insert into blocks (blocker_id, blocked_id) values ($1, $2) on conflict do nothing",
        blocker,
        blocked
    )
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_as!(
        BlockRow,
        r#"select b.blocked_id as user_id, u.display_name, b.created_at
           from blocks b join users u on u.id = b.blocked_id
           where b.blocker_id = $1 and b.blocked_id = $2"#,
        blocker,
        blocked
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Lift a block; `false` when there was none.
pub async fn unblock(db: impl PgExecutor<'_>, blocker: Uuid, blocked: Uuid) -> Result<bool> {
    let done = sqlx::query!(
        "delete from blocks where blocker_id = $1 and blocked_id = $2",
        blocker,
        blocked
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Everyone `blocker` has blocked, most recent first.
pub async fn blocks_of(db: impl PgExecutor<'_>, blocker: Uuid) -> Result<Vec<BlockRow>> {
    Ok(sqlx::query_as!(
        BlockRow,
        r#"select b.blocked_id as user_id, u.display_name, b.created_at
           from blocks b join users u on u.id = b.blocked_id
           where b.blocker_id = $1
           order by b.created_at desc, b.blocked_id"#,
        blocker
    )
    .fetch_all(db)
    .await?)
}

/// Has `blocker` blocked `blocked`?
pub async fn has_blocked(db: impl PgExecutor<'_>, blocker: Uuid, blocked: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from blocks where blocker_id = $1 and blocked_id = $2) as "exists!""#,
        blocker,
        blocked
    )
    .fetch_one(db)
    .await?)
}

/// A message as a report needs it: where it is, who wrote it, whether buyers may see it, and
/// its text (null once deleted).
#[derive(Debug, Clone)]
pub struct ReportedMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub author_user_id: Option<Uuid>,
    pub internal: bool,
    pub body: Option<String>,
    pub deleted: bool,
}

pub async fn reported_message(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<ReportedMessage>> {
    Ok(sqlx::query_as!(
        ReportedMessage,
        r#"select id, conversation_id, author_user_id, internal, body,
                  deleted_at is not null as "deleted!"
           from messages where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Serialise one reporter's report submissions until the end of the transaction, so the rate
/// limit's count cannot be raced.
pub async fn lock_reporter(conn: &mut PgConnection, reporter: Uuid) -> Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('puente.report:' || $1::uuid::text, 0))",
        reporter
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How many reports `reporter` filed in the last `window_secs`, and the oldest one's time.
pub async fn recent_reports(
    db: impl PgExecutor<'_>,
    reporter: Uuid,
    window_secs: f64,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    let row = sqlx::query!(
        r#"select count(*) as "count!", min(created_at) as oldest from reports
           where reporter_id = $1 and created_at > now() - make_interval(secs => $2)"#,
        reporter,
        window_secs
    )
    .fetch_one(db)
    .await?;
    Ok((row.count, row.oldest))
}

pub struct NewReport<'a> {
    pub reporter: Uuid,
    pub reported: Uuid,
    pub conversation: Option<Uuid>,
    pub message: Option<Uuid>,
    pub reason: &'a str,
    pub message_excerpt: Option<&'a str>,
}

/// A report as its author sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub id: Uuid,
    pub reported_user_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub reason: String,
    /// open | resolved | dismissed
    pub status: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_report(db: impl PgExecutor<'_>, new: NewReport<'_>) -> Result<ReportRow> {
    Ok(sqlx::query_as!(
        ReportRow,
        r#"insert into reports (id, reporter_id, reported_user_id, conversation_id, message_id, reason, message_excerpt)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id, reported_user_id, conversation_id, message_id, reason, status, created_at"#,
        Uuid::now_v7(),
        new.reporter,
        new.reported,
        new.conversation,
        new.message,
        new.reason,
        new.message_excerpt
    )
    .fetch_one(db)
    .await?)
}

/// A report in the operators' queue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminReportRow {
    pub id: Uuid,
    /// open | resolved | dismissed
    pub status: String,
    pub reason: String,
    pub reporter_id: Uuid,
    pub reporter_name: String,
    pub reported_user_id: Uuid,
    pub reported_name: String,
    /// Role of the reported user.
    pub reported_role: String,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    /// The reported message's text as it was when reported (first 500 characters), present
    /// only when a message was reported and had text. This is the evidence of the report and
    /// the only message content operators ever see.
    pub message_excerpt: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
}

/// The queue, newest first; `before` is the id of the last report of the previous page.
pub async fn list_reports(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdminReportRow>> {
    Ok(sqlx::query_as!(
        AdminReportRow,
        r#"select r.id, r.status, r.reason, r.reporter_id, rp.display_name as reporter_name,
                  r.reported_user_id, rd.display_name as reported_name, rd.role as reported_role,
                  r.conversation_id, r.message_id, r.message_excerpt, r.created_at,
                  r.resolved_by, r.resolved_at, r.resolution_note
           from reports r
           join users rp on rp.id = r.reporter_id
           join users rd on rd.id = r.reported_user_id
           where ($1::text is null or r.status = $1)
             and ($2::uuid is null
                  or (r.created_at, r.id) < (select c.created_at, c.id from reports c where c.id = $2))
           order by r.created_at desc, r.id desc
           limit $3"#,
        status,
        before,
        limit
    )
    .fetch_all(db)
    .await?)
}

pub async fn admin_report(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<AdminReportRow>> {
    Ok(sqlx::query_as!(
        AdminReportRow,
        r#"select r.id, r.status, r.reason, r.reporter_id, rp.display_name as reporter_name,
                  r.reported_user_id, rd.display_name as reported_name, rd.role as reported_role,
                  r.conversation_id, r.message_id, r.message_excerpt, r.created_at,
                  r.resolved_by, r.resolved_at, r.resolution_note
           from reports r
           join users rp on rp.id = r.reporter_id
           join users rd on rd.id = r.reported_user_id
           where r.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Lock a report for a state change; `(status, reported_user_id)`.
pub async fn report_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(String, Uuid)>> {
    Ok(sqlx::query!(
        "select status, reported_user_id from reports where id = $1 for update",
        id
    )
    .fetch_optional(conn)
    .await?
    .map(|r| (r.status, r.reported_user_id)))
}

/// Close an open report.
pub async fn close_report(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    by: Uuid,
    note: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        r#"update reports set status = $2, resolved_by = $3, resolved_at = now(), resolution_note = $4
           where id = $1 and status = 'open'"#,
        id,
        status,
        by,
        note
    )
    .execute(conn)
    .await?;
    Ok(())
}
