//! Refresh tokens: issue, spend (rotate), and revoke by family or by user.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::Result;

#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
    user_agent: Option<&str>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        r#"insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at, user_agent)
           values ($1, $2, $3, $4, $5, $6)"#,
        id,
        user_id,
        family_id,
        token_hash,
        expires_at,
        user_agent
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Find a token by hash and lock it, so two concurrent refreshes cannot both spend it.
/// Whose token this is (no lock): a refresh locks that user before the token, in the order a
/// password change or a deactivation takes them (the user row, then their tokens).
pub async fn owner_by_hash(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "select user_id from refresh_tokens where token_hash = $1",
        token_hash
    )
    .fetch_optional(db)
    .await?)
}

pub async fn lock_by_hash(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<RefreshRow>> {
    Ok(sqlx::query_as!(
        RefreshRow,
        r#"select id, user_id, family_id, expires_at, used_at, revoked_at
           from refresh_tokens where token_hash = $1 for update"#,
        token_hash
    )
    .fetch_optional(db)
    .await?)
}

pub async fn mark_used(db: impl PgExecutor<'_>, id: Uuid, replaced_by: Uuid) -> Result<()> {
    sqlx::query!(
        "update refresh_tokens set used_at = now(), replaced_by = $2 where id = $1",
        id,
        replaced_by
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Revoke every live token of a family; returns how many were revoked.
pub async fn revoke_family(db: impl PgExecutor<'_>, family_id: Uuid) -> Result<u64> {
    let done = sqlx::query!(
        "update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null",
        family_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Revoke every live token of a user, optionally sparing one family (the caller's session).
pub async fn revoke_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    except_family: Option<Uuid>,
) -> Result<u64> {
    let done = sqlx::query!(
        r#"update refresh_tokens set revoked_at = now()
           where user_id = $1 and revoked_at is null
             and ($2::uuid is null or family_id <> $2)"#,
        user_id,
        except_family
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Where a socket of `user` (opened with a token of `session`) stands: `None` when the user
/// is gone, else (the account is active, the session still has a live refresh token — true
/// when the token named no session).
pub async fn socket_standing(
    db: impl PgExecutor<'_>,
    user: Uuid,
    session: Option<Uuid>,
) -> Result<Option<(bool, bool)>> {
    Ok(sqlx::query!(
        r#"select u.active,
                  ($2::uuid is null or exists(select 1 from refresh_tokens t
                      where t.user_id = u.id and t.family_id = $2 and t.revoked_at is null)) as "live!"
           from users u where u.id = $1"#,
        user,
        session
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.active, r.live)))
}

/// What an access token's holder is now: the user's role, agency and active flag, and whether
/// the token's session (`sid`) still has a live refresh token (true when it names none).
/// `None` when the user is gone.
#[derive(Debug, Clone)]
pub struct AccessStanding {
    pub role: String,
    pub agency_id: Option<Uuid>,
    pub active: bool,
    pub session_live: bool,
}

pub async fn access_standing(
    db: impl PgExecutor<'_>,
    user: Uuid,
    session: Option<Uuid>,
) -> Result<Option<AccessStanding>> {
    Ok(sqlx::query_as!(
        AccessStanding,
        r#"select role, agency_id, active,
                      ($2::uuid is null or exists(select 1 from refresh_tokens t
                          where t.user_id = users.id and t.family_id = $2 and t.revoked_at is null)) as "session_live!"
               from users where id = $1"#,
        user,
        session
    )
    .fetch_optional(db)
    .await?)
}
