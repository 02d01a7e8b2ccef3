//! Moderation: blocks, reports and the word filter for in-app messages.
//!
//! - **Blocks.** Any user but an operator may block another user (idempotently) and lift the
//!   block. A blocked user cannot reach the person who blocked them, on any write path: every
//!   path that delivers something new to the other side of a conversation — starting one,
//!   sending, editing (new text), reacting, the WebSocket's `typing` frame — calls
//!   [`ensure_can_reach`] first
//!   (403 `blocked`). A read receipt still moves the reader's own marker, but the blocker is
//!   not told ([`unblocked_audience`]). Deleting one's own unread message stays possible: it
//!   takes content away rather than delivering any.
//! - **Reports.** Any user but an operator may report another user, optionally pointing at a
//!   conversation or message they can see. A report about a message keeps the first
//!   [`EXCERPT_CHARS`] characters of its text, as it was then, as the report's evidence: that
//!   excerpt is the only message content operators ever see. Reports are rate-limited per
//!   reporter ([`REPORTS_PER_HOUR`], counted in the database so every replica agrees).
//!   Operators work through the queue and close each report as resolved or dismissed; every
//!   closing is written to the audit log (`report.resolve`).
//! - **Word filter.** [`WordFilter`] is built once from `--blocked-word` /
//!   `PUENTE_BLOCKED_WORDS` and kept in [`crate::core::Core`]; the in-app send path calls
//!   [`words::check_words`]. Matching is by whole words, ignoring case and accents.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::chat::access::{can_read, can_see, Viewer};
use crate::chat::publish::audience;
use crate::core::Core;
use crate::db;
use crate::db::moderation::{AdminReportRow, BlockRow, NewReport, ReportRow};
use crate::db::users::UserRow;
use crate::error::{AppError, Result};
use crate::model::Role;

pub mod words;

pub use words::{check_words, WordFilter};

/// Reports one user may file per hour.
pub const REPORTS_PER_HOUR: i64 = 20;
/// Longest report reason (and resolution note), in characters.
pub const MAX_REASON_CHARS: usize = 2000;
/// How much of a reported message's text a report keeps as evidence, in characters.
pub const EXCERPT_CHARS: usize = 500;

// ---------------------------------------------------------------------------------------------
// The two checks of the in-app send path.

/// Refuse a message from `from` to `to` when `to` has blocked `from`.
///
/// Call it in the send path's transaction, before the message is stored, with the author as
/// `from` and each user the message is for as `to` (in an in-app conversation: the buyer when
/// staff write, the conversation's agent when the buyer writes). Blocking is one-way: the
/// person who blocked can still write to the one they blocked. Writing to oneself is never
/// blocked.
///
/// Errors: `403 blocked` (`AppError::Forbidden`) when blocked; database errors as usual.
pub async fn ensure_can_write(conn: &mut PgConnection, from: Uuid, to: Uuid) -> Result<()> {
    if from != to && db::moderation::has_blocked(&mut *conn, to, from).await? {
        return Err(AppError::forbidden(
            "blocked",
            "This person is not accepting messages from you.",
        ));
    }
    Ok(())
}

/// Refuse anything new from `from` into `conv` when someone else in its audience (its agent,
/// its buyer) has blocked `from`: the one check every write path runs (see the module doc).
///
/// Errors: `403 blocked`, as [`ensure_can_write`].
pub async fn ensure_can_reach(
    conn: &mut PgConnection,
    from: Uuid,
    conv: &db::chat::ConversationRow,
) -> Result<()> {
    for to in audience(conv) {
        ensure_can_write(&mut *conn, from, to).await?;
    }
    Ok(())
}

/// The members of `conv`'s audience who have not blocked `from` (`from` included): who may
/// hear of what `from` did, such as a read receipt.
pub async fn unblocked_audience(
    conn: &mut PgConnection,
    from: Uuid,
    conv: &db::chat::ConversationRow,
) -> Result<Vec<Uuid>> {
    let mut out = Vec::new();
    for to in audience(conv) {
        if to == from || !db::moderation::has_blocked(&mut *conn, to, from).await? {
            out.push(to);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Blocks.

/// Operators run the platform; they neither block nor report.
fn ensure_member(user: &AuthUser) -> Result<()> {
    if user.role == Role::Operator {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Operators do not block or report users.",
        ));
    }
    Ok(())
}

/// The user on the other side of a block or report: any account but an operator's (operators
/// are not "found" here, as they take no part in conversations).
async fn counterpart(db: &PgPool, id: Uuid) -> Result<UserRow> {
    db::users::find(db, id)
        .await?
        .filter(|u| u.role != Role::Operator.as_str())
        .ok_or(AppError::NotFound)
}

/// Block `target` for `user`. Blocking again is a no-op that returns the same block.
pub async fn block(db: &PgPool, user: &AuthUser, target: Uuid) -> Result<BlockRow> {
    ensure_member(user)?;
    if target == user.id {
        return Err(AppError::conflict(
            "cannot_block_self",
            "You cannot block yourself.",
        ));
    }
    counterpart(db, target).await?;
    let mut conn = db.acquire().await?;
    let row = db::moderation::block(&mut conn, user.id, target).await?;
    tracing::info!(blocker = %user.id, blocked = %target, "user blocked");
    Ok(row)
}

/// Lift `user`'s block of `target`; a no-op when there is none.
pub async fn unblock(db: &PgPool, user: &AuthUser, target: Uuid) -> Result<()> {
    ensure_member(user)?;
    if target == user.id {
        return Err(AppError::conflict(
            "cannot_block_self",
            "You cannot block or unblock yourself.",
        ));
    }
    counterpart(db, target).await?;
    if db::moderation::unblock(db, user.id, target).await? {
        tracing::info!(blocker = %user.id, blocked = %target, "user unblocked");
    }
    Ok(())
}

/// Everyone `user` has blocked, most recent first.
pub async fn blocks(db: &PgPool, user: &AuthUser) -> Result<Vec<BlockRow>> {
    ensure_member(user)?;
    db::moderation::blocks_of(db, user.id).await
}

// ---------------------------------------------------------------------------------------------
// Reports.

/// What a reporter sends.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub reason: String,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
}

/// A report's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Open,
    Resolved,
    Dismissed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Dismissed => "dismissed",
        }
    }
}

/// How an operator closes a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Acted upon.
    Resolved,
    /// Nothing to act upon.
    Dismissed,
}

impl Resolution {
    pub fn status(self) -> ReportStatus {
        match self {
            Self::Resolved => ReportStatus::Resolved,
            Self::Dismissed => ReportStatus::Dismissed,
        }
    }
}

/// The reported user as an [`AuthUser`], to ask whether a conversation is theirs too.
fn as_participant(user: &UserRow) -> Result<AuthUser> {
    Ok(AuthUser {
        id: user.id,
        role: user.role()?,
        agency_id: user.agency_id,
        token_id: Uuid::nil(),
        session: None,
        token_exp: 0,
    })
}

fn not_visible(field: &str) -> AppError {
    let what = if field == "message_id" {
        "is not a message you can see"
    } else {
        "is not a conversation you can see"
    };
    AppError::invalid(field, what)
}

/// File a report by `user` against `target`.
///
/// A conversation or message it points at must be one the reporter can see (else 422, the
/// same answer whether it exists or not); a message must have been written by the reported
/// user, and a conversation (given alone) must be one the reported user takes part in. At most
/// [`REPORTS_PER_HOUR`] per reporter (else 429 with the seconds until the next one is allowed).
pub async fn report(
    state: &Core,
    user: &AuthUser,
    target: Uuid,
    input: ReportInput,
) -> Result<ReportRow> {
    ensure_member(user)?;
    let reason = input.reason.trim();
    let len = reason.chars().count();
    if len == 0 || len > MAX_REASON_CHARS {
        return Err(AppError::invalid(
            "reason",
            "must be between 1 and 2000 characters",
        ));
    }
    if target == user.id {
        return Err(AppError::conflict(
            "cannot_report_self",
            "You cannot report yourself.",
        ));
    }
    let reported = counterpart(&state.db, target).await?;

    let visible = |c: &db::chat::ConversationRow| can_read(state, user, c);
    let mut conversation_id = input.conversation_id;
    if let Some(id) = input.conversation_id {
        let conv = db::chat::conversation(&state.db, id)
            .await?
            .filter(|c| visible(c))
            .ok_or_else(|| not_visible("conversation_id"))?;
        if input.message_id.is_none() && !can_see(&as_participant(&reported)?, &conv) {
            return Err(AppError::invalid(
                "conversation_id",
                "is not a conversation with the reported user",
            ));
        }
    }
    let mut excerpt = None;
    if let Some(id) = input.message_id {
        let msg = db::moderation::reported_message(&state.db, id)
            .await?
            .ok_or_else(|| not_visible("message_id"))?;
        let conv = db::chat::conversation(&state.db, msg.conversation_id)
            .await?
            .filter(|c| visible(c))
            .ok_or_else(|| not_visible("message_id"))?;
        // Internal notes are for agency staff only (the one rule, `chat::access::Viewer`).
        if !Viewer::of(user).may_see(msg.internal) {
            return Err(not_visible("message_id"));
        }
        if input.conversation_id.is_some_and(|c| c != conv.id) {
            return Err(AppError::invalid(
                "message_id",
                "is not in the given conversation",
            ));
        }
        if msg.author_user_id != Some(target) {
            return Err(AppError::invalid(
                "message_id",
                "was not written by the reported user",
            ));
        }
        conversation_id = Some(conv.id);
        excerpt = msg
            .body
            .filter(|_| !msg.deleted)
            .map(|b| b.chars().take(EXCERPT_CHARS).collect::<String>())
            .filter(|b| !b.is_empty());
    }

    let mut tx = state.db.begin().await?;
    db::moderation::lock_reporter(&mut tx, user.id).await?;
    let window = Duration::hours(1);
    let (count, oldest) =
        db::moderation::recent_reports(&mut *tx, user.id, window.num_seconds() as f64).await?;
    if count >= REPORTS_PER_HOUR {
        return Err(AppError::window_full(oldest, window));
    }
    let row = db::moderation::insert_report(
        &mut *tx,
        NewReport {
            reporter: user.id,
            reported: target,
            conversation: conversation_id,
            message: input.message_id,
            reason,
            message_excerpt: excerpt.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(report = %row.id, reporter = %user.id, reported = %target, "report filed");
    Ok(row)
}

/// The operators' queue, newest first; `before` is the last id of the previous page.
pub async fn list_reports(
    db: &PgPool,
    status: Option<ReportStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdminReportRow>> {
    db::moderation::list_reports(db, status.map(ReportStatus::as_str), before, limit).await
}

/// Close an open report as resolved or dismissed, with an optional note; audited as
/// `report.resolve`. Repeating the same closing returns the report unchanged; changing a
/// closed report's outcome is a 409.
pub async fn resolve(
    db: &PgPool,
    operator: &AuthUser,
    ip: &str,
    id: Uuid,
    resolution: Resolution,
    note: Option<&str>,
) -> Result<AdminReportRow> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_REASON_CHARS) {
        return Err(AppError::invalid("note", "must be at most 2000 characters"));
    }
    let status = resolution.status();
    let mut tx = db.begin().await?;
    let (current, reported) = db::moderation::report_for_update(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if current != status.as_str() {
        if current != ReportStatus::Open.as_str() {
            return Err(AppError::conflict(
                "report_closed",
                format!("This report is already {current}."),
            ));
        }
        db::moderation::close_report(&mut tx, id, status.as_str(), operator.id, note).await?;
        db::audit::record(
            &mut *tx,
            db::audit::Entry {
                actor: Some(operator.id),
                actor_role: Some(operator.role.as_str()),
                action: "report.resolve",
                target_type: Some("report"),
                target_id: Some(id.to_string()),
                ok: true,
                detail: serde_json::json!({
                    "status": status.as_str(),
                    "reported_user_id": reported,
                    "with_note": note.is_some(),
                }),
                ip: Some(ip),
            },
        )
        .await?;
    }
    tx.commit().await?;
    db::moderation::admin_report(db, id)
        .await?
        .ok_or(AppError::NotFound)
}
