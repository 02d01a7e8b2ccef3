//! Accounts: users, agencies and agency invites.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::{AppError, Result};
use crate::model::Role;

/// A user row, password hash included. Never serialised: see `http::dto::UserDto`.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: String,
    pub agency_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn role(&self) -> Result<Role> {
        self.role
            .parse()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub phone: Option<&'a str>,
    pub role: Role,
    pub agency_id: Option<Uuid>,
}

pub async fn insert(db: impl PgExecutor<'_>, new: NewUser<'_>) -> Result<UserRow> {
    let row = sqlx::query_as!(
        UserRow,
        r#"insert into users (id, email, password_hash, display_name, phone, role, agency_id)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id, email, password_hash, display_name, phone, role, agency_id, active,
                     created_at, updated_at"#,
        Uuid::now_v7(),
        new.email,
        new.password_hash,
        new.display_name,
        new.phone,
        new.role.as_str(),
        new.agency_id,
    )
    .fetch_one(db)
    .await?;
    Ok(row)
}

pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as!(
        UserRow,
        r#"select id, email, password_hash, display_name, phone, role, agency_id, active,
                  created_at, updated_at
           from users where email = $1"#,
        email
    )
    .fetch_optional(db)
    .await?)
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as!(
        UserRow,
        r#"select id, email, password_hash, display_name, phone, role, agency_id, active,
                  created_at, updated_at
           from users where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Lock a user's row (`select … for update`) until the transaction ends, to serialise what
/// must hold per user (e.g. the link limit of concurrent creates).
pub async fn lock(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!("select id from users where id = $1 for update", id)
        .fetch_one(db)
        .await?;
    Ok(())
}

/// The agency's active admins (they oversee every conversation of the agency).
pub async fn active_admin_ids(db: impl PgExecutor<'_>, agency: Uuid) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        "select id from users where agency_id = $1 and role = 'agency_admin' and active",
        agency
    )
    .fetch_all(db)
    .await?)
}

/// Hold the user row against changes (a password change, a deactivation) until the
/// transaction ends, without blocking other readers or other holders.
pub async fn lock_shared(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!("select id from users where id = $1 for share", id)
        .fetch_optional(db)
        .await?;
    Ok(())
}

/// Set a new password and name and reactivate the account (`puente admin`).
pub async fn reset_account(
    db: impl PgExecutor<'_>,
    id: Uuid,
    password_hash: &str,
    display_name: &str,
) -> Result<()> {
    sqlx::query!(
        "update users set password_hash = $2, display_name = $3, active = true, deactivated_at = null, updated_at = now() where id = $1",
        id,
        password_hash,
        display_name
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Update the profile fields that are `Some`; `phone: Some(None)` clears the phone.
pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: Uuid,
    display_name: Option<&str>,
    phone: Option<Option<&str>>,
    password_hash: Option<&str>,
) -> Result<UserRow> {
    let (set_phone, phone_value) = match phone {
        Some(p) => (true, p),
        None => (false, None),
    };
    Ok(sqlx::query_as!(
        UserRow,
        r#"update users set
               display_name = coalesce($2, display_name),
               phone = case when $3 then $4 else phone end,
               password_hash = coalesce($5, password_hash),
               updated_at = now()
           where id = $1
           returning id, email, password_hash, display_name, phone, role, agency_id, active,
                     created_at, updated_at"#,
        id,
        display_name,
        set_phone,
        phone_value,
        password_hash,
    )
    .fetch_one(db)
    .await?)
}

/// Staff of an agency (agents and admins), oldest first.
pub async fn list_agency_staff(db: impl PgExecutor<'_>, agency_id: Uuid) -> Result<Vec<UserRow>> {
    Ok(sqlx::query_as!(
        UserRow,
        r#"select id, email, password_hash, display_name, phone, role, agency_id, active,
                  created_at, updated_at
           from users where agency_id = $1 order by created_at, id"#,
        agency_id
    )
    .fetch_all(db)
    .await?)
}

/// Set a user's active flag; returns the row, or `None` when it is not in the agency.
pub async fn set_active_in_agency(
    db: impl PgExecutor<'_>,
    id: Uuid,
    agency_id: Uuid,
    active: bool,
) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as!(
        UserRow,
        r#"update users set active = $3,
               deactivated_at = case when $3 then null else now() end,
               updated_at = now()
           where id = $1 and agency_id = $2
           returning id, email, password_hash, display_name, phone, role, agency_id, active,
                     created_at, updated_at"#,
        id,
        agency_id,
        active
    )
    .fetch_optional(db)
    .await?)
}

pub async fn insert_agency(db: impl PgExecutor<'_>, name: &str) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!("insert into agencies (id, name) values ($1, $2)", id, name)
        .execute(db)
        .await?;
    Ok(id)
}

pub async fn agency_name(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar!("select name from agencies where id = $1", id)
            .fetch_optional(db)
            .await?,
    )
}

#[derive(Debug, Clone)]
pub struct InviteRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub email: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_invite(
    db: impl PgExecutor<'_>,
    agency_id: Uuid,
    code_hash: &[u8],
    email: Option<&str>,
    created_by: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<InviteRow> {
    Ok(sqlx::query_as!(
        InviteRow,
        r#"insert into agency_invites (id, agency_id, code_hash, email, created_by, expires_at)
           values ($1, $2, $3, $4, $5, $6)
           returning id, agency_id, email, created_by, created_at, expires_at, used_at, used_by,
                     revoked_at"#,
        Uuid::now_v7(),
        agency_id,
        code_hash,
        email,
        created_by,
        expires_at
    )
    .fetch_one(db)
    .await?)
}

pub async fn list_invites(db: impl PgExecutor<'_>, agency_id: Uuid) -> Result<Vec<InviteRow>> {
    Ok(sqlx::query_as!(
        InviteRow,
        r#"select id, agency_id, email, created_by, created_at, expires_at, used_at, used_by,
                  revoked_at
           from agency_invites where agency_id = $1 order by created_at desc limit 200"#,
        agency_id
    )
    .fetch_all(db)
    .await?)
}

/// Lock an invite by its code hash (for redeeming it in the same transaction).
pub async fn lock_invite_by_hash(
    db: impl PgExecutor<'_>,
    code_hash: &[u8],
) -> Result<Option<InviteRow>> {
    Ok(sqlx::query_as!(
        InviteRow,
        r#"select id, agency_id, email, created_by, created_at, expires_at, used_at, used_by,
                  revoked_at
           from agency_invites where code_hash = $1 for update"#,
        code_hash
    )
    .fetch_optional(db)
    .await?)
}

pub async fn mark_invite_used(db: impl PgExecutor<'_>, id: Uuid, user: Uuid) -> Result<()> {
    sqlx::query!(
        "update agency_invites set used_at = now(), used_by = $2 where id = $1",
        id,
        user
    )
    .execute(db)
    .await?;
    Ok(())
}
