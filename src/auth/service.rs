//! Account flows: register, log in, refresh (rotation with reuse detection), log out, and
//! profile changes. Handlers in `http::auth` and `http::me` are thin wrappers around these.

use chrono::{Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::tokens::{random_token, token_hash};
use super::{password, Role};
use crate::auth::ratelimit::LoginLimiter;
use crate::core::Core;
use crate::db::{self, users::UserRow};
use crate::error::{AppError, FieldError, Result};
use crate::realtime::control::{end_sockets, CloseReason, Scope};

/// What kind of account a registration creates.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// Anyone may sign up as a buyer.
    #[default]
    Buyer,
    /// Creates a new agency (`agency_name`) with the caller as its admin.
    AgencyAdmin,
    /// Joins an agency with an invite code from its admin (`invite_code`).
    Agent,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: String,
    /// Digits only (a leading `+`, spaces and dashes are removed), 6–15 digits.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub account_type: AccountType,
    #[serde(default)]
    pub agency_name: Option<String>,
    #[serde(default)]
    pub invite_code: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// The public view of a user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub agency_id: Option<Uuid>,
    pub agency_name: Option<String>,
    pub active: bool,
    pub created_at: chrono::DateTime<Utc>,
}

impl UserDto {
    pub fn from_row(row: &UserRow, agency_name: Option<String>) -> Result<Self> {
        Ok(Self {
            id: row.id,
            email: row.email.clone(),
            display_name: row.display_name.clone(),
            phone: row.phone.clone(),
            role: row.role()?,
            agency_id: row.agency_id,
            agency_name,
            active: row.active,
            created_at: row.created_at,
        })
    }

    pub async fn load(db: &sqlx::PgPool, row: &UserRow) -> Result<Self> {
        let agency = match row.agency_id {
            Some(id) => db::users::agency_name(db, id).await?,
            None => None,
        };
        Self::from_row(row, agency)
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserDto,
}

/// Normalise and check an email address; `None` when it is not acceptable.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return None;
    }
    Some(email)
}

/// Normalise a phone number to digits; `None` when it is not 6–15 digits.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits).to_string();
    ((6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
        .then_some(digits)
}

fn check_display_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    let name = name.trim().to_string();
    let len = name.chars().count();
    if len == 0 || len > 100 || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "display_name",
            "must be 1 to 100 printable characters",
        ));
    }
    name
}

/// Hash of an invite code, insensitive to case and dashes.
pub fn invite_hash(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

/// Issue an access token and start (or continue) a refresh-token family.
async fn issue_pair(
    state: &Core,
    conn: &mut sqlx::PgConnection,
    user: &UserRow,
    family: Uuid,
    user_agent: Option<&str>,
) -> Result<(String, String, Uuid)> {
    let role = user.role()?;
    let access = state
        .jwt
        .issue_for_session(user.id, role, user.agency_id, family)?;
    let refresh = random_token(32);
    let ttl = Duration::days(i64::try_from(state.config.refresh_token_ttl_days).unwrap_or(30));
    let id = db::tokens::insert(
        &mut *conn,
        user.id,
        family,
        &token_hash(&refresh),
        Utc::now() + ttl,
        user_agent,
    )
    .await?;
    Ok((access, refresh, id))
}

async fn token_response(
    state: &Core,
    user: &UserRow,
    access: String,
    refresh: String,
) -> Result<TokenResponse> {
    Ok(TokenResponse {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: state.jwt.ttl_secs(),
        user: UserDto::load(&state.db, user).await?,
    })
}

pub async fn register(
    state: &Core,
    req: RegisterRequest,
    user_agent: Option<&str>,
) -> Result<TokenResponse> {
    let mut errors = Vec::new();
    let email = normalize_email(&req.email).unwrap_or_else(|| {
        errors.push(FieldError::new("email", "is not a valid email address"));
        String::new()
    });
    if let Some(why) = password::policy_violation(&req.password, &email) {
        errors.push(FieldError::new("password", why));
    }
    let display_name = check_display_name(&req.display_name, &mut errors);
    let phone = match req
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => match normalize_phone(p) {
            Some(p) => Some(p),
            None => {
                errors.push(FieldError::new("phone", "must be 6 to 15 digits"));
                None
            }
        },
        None => None,
    };
    let agency_name = req
        .agency_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let invite_code = req
        .invite_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match req.account_type {
        AccountType::Buyer => {
            if agency_name.is_some() {
                errors.push(FieldError::new(
                    "agency_name",
                    "only for account_type agency_admin",
                ));
            }
            if invite_code.is_some() {
                errors.push(FieldError::new(
                    "invite_code",
                    "only for account_type agent",
                ));
            }
        }
        AccountType::AgencyAdmin => match agency_name {
            None => errors.push(FieldError::new(
                "agency_name",
                "is required for an agency admin",
            )),
            Some(n) if n.chars().count() > 200 => errors.push(FieldError::new(
                "agency_name",
                "must be at most 200 characters",
            )),
            Some(_) => {}
        },
        AccountType::Agent => {
            if invite_code.is_none() {
                errors.push(FieldError::new(
                    "invite_code",
                    "is required to join an agency",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let hash = password::hash(req.password).await?;
    let mut tx = state.db.begin().await?;
    let (role, agency_id, invite_id) = match req.account_type {
        AccountType::Buyer => (Role::Buyer, None, None),
        AccountType::AgencyAdmin => {
            let id = db::users::insert_agency(&mut *tx, agency_name.unwrap_or_default()).await?;
            (Role::AgencyAdmin, Some(id), None)
        }
        AccountType::Agent => {
            let code = invite_code.unwrap_or_default();
            let invite = db::users::lock_invite_by_hash(&mut *tx, &invite_hash(code))
                .await?
                .filter(|i| {
                    i.used_at.is_none() && i.revoked_at.is_none() && i.expires_at > Utc::now()
                })
                .filter(|i| i.email.as_deref().is_none_or(|e| e == email))
                .ok_or_else(|| {
                    AppError::invalid(
                        "invite_code",
                        "is unknown, used, expired or for another email",
                    )
                })?;
            (Role::Agent, Some(invite.agency_id), Some(invite.id))
        }
    };
    let user = db::users::insert(
        &mut *tx,
        db::users::NewUser {
            email: &email,
            password_hash: &hash,
            display_name: &display_name,
            phone: phone.as_deref(),
            role,
            agency_id,
        },
    )
    .await?;
    if let Some(invite) = invite_id {
        db::users::mark_invite_used(&mut *tx, invite, user.id).await?;
    }
    let (access, refresh, _) =
        issue_pair(state, &mut tx, &user, Uuid::now_v7(), user_agent).await?;
    db::audit::record(
        &mut *tx,
        db::audit::Entry {
            actor: Some(user.id),
            actor_role: Some(role.as_str()),
            action: "user.register",
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            ok: true,
            detail: serde_json::json!({ "account_type": req.account_type }),
            ip: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, role = %role, "account registered");
    token_response(state, &user, access, refresh).await
}

fn bad_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "Email or password is incorrect.")
}

pub async fn login(
    state: &Core,
    limiter: &LoginLimiter,
    req: LoginRequest,
    ip: &str,
    user_agent: Option<&str>,
) -> Result<TokenResponse> {
    let email = req.email.trim().to_lowercase();
    limiter.check(ip, &email)?;
    if req.password.chars().count() > password::MAX_LEN || email.len() > 254 {
        // Still costs a hash, so an oversized attempt is not a timing oracle.
        password::verify(String::new(), None).await?;
        return Err(bad_credentials());
    }
    let user = db::users::find_by_email(&state.db, &email).await?;
    let ok = password::verify(req.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            tracing::info!("login refused: bad credentials");
            return Err(bad_credentials());
        }
    };
    if !user.active {
        return Err(AppError::forbidden(
            "account_inactive",
            "This account has been deactivated.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let (access, refresh, _) =
        issue_pair(state, &mut tx, &user, Uuid::now_v7(), user_agent).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "logged in");
    token_response(state, &user, access, refresh).await
}

fn account_inactive() -> AppError {
    AppError::unauthorized("account_inactive", "This account has been deactivated.")
}

/// Spend a refresh token for a new pair in the same family. Refusals are 401 with a code per
/// reason: `invalid_refresh_token`, `refresh_token_revoked`, `refresh_token_reused` (the
/// family is revoked), `refresh_token_expired`, `account_inactive`.
pub async fn refresh(
    state: &Core,
    req: RefreshRequest,
    user_agent: Option<&str>,
) -> Result<TokenResponse> {
    let invalid =
        || AppError::unauthorized("invalid_refresh_token", "The refresh token is not valid.");
    if req.refresh_token.len() > 200 {
        return Err(invalid());
    }
    let hash = token_hash(&req.refresh_token);
    let mut tx = state.db.begin().await?;
    // The user first, then the token: a password change or a deactivation (user row, then
    // every token) either finishes before this refresh reads the token, or starts after its
    // new token is committed and so revokes that one too.
    let Some(owner) = db::tokens::owner_by_hash(&mut *tx, &hash).await? else {
        return Err(invalid());
    };
    db::users::lock_shared(&mut *tx, owner).await?;
    let Some(token) = db::tokens::lock_by_hash(&mut *tx, &hash).await? else {
        return Err(invalid());
    };
    if token.revoked_at.is_some() {
        // Deactivation revokes every session: say why, so the app can tell the user. Only
        // the holder of a real token of this account learns it.
        let inactive = db::users::find(&mut *tx, token.user_id)
            .await?
            .is_some_and(|u| !u.active);
        if inactive {
            return Err(account_inactive());
        }
        return Err(AppError::unauthorized(
            "refresh_token_revoked",
            "This session has ended; log in again.",
        ));
    }
    if token.used_at.is_some() {
        // A spent token came back: whoever holds the family is not to be trusted.
        let revoked = db::tokens::revoke_family(&mut *tx, token.family_id).await?;
        end_sockets(
            &mut tx,
            token.user_id,
            Scope::Session(token.family_id),
            CloseReason::SessionEnded,
        )
        .await?;
        db::audit::record(
            &mut *tx,
            db::audit::Entry {
                actor: Some(token.user_id),
                actor_role: None,
                action: "auth.refresh_reuse",
                target_type: Some("token_family"),
                target_id: Some(token.family_id.to_string()),
                ok: false,
                detail: serde_json::json!({ "revoked": revoked }),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(user = %token.user_id, family = %token.family_id, "refresh token reuse; family revoked");
        return Err(AppError::unauthorized(
            "refresh_token_reused",
            "This refresh token was already used; the session has been ended for safety.",
        ));
    }
    if token.expires_at <= Utc::now() {
        return Err(AppError::unauthorized(
            "refresh_token_expired",
            "The refresh token has expired; log in again.",
        ));
    }
    let user = db::users::find(&mut *tx, token.user_id)
        .await?
        .ok_or_else(invalid)?;
    if !user.active {
        db::tokens::revoke_family(&mut *tx, token.family_id).await?;
        end_sockets(&mut tx, user.id, Scope::All, CloseReason::AccountInactive).await?;
        tx.commit().await?;
        return Err(account_inactive());
    }
    let (access, refresh, new_id) =
        issue_pair(state, &mut tx, &user, token.family_id, user_agent).await?;
    db::tokens::mark_used(&mut *tx, token.id, new_id).await?;
    tx.commit().await?;
    token_response(state, &user, access, refresh).await
}

/// End the session a refresh token belongs to. Unknown tokens are ignored (idempotent).
pub async fn logout(state: &Core, req: RefreshRequest) -> Result<()> {
    if req.refresh_token.len() > 200 {
        return Ok(());
    }
    let mut tx = state.db.begin().await?;
    if let Some(token) = db::tokens::lock_by_hash(&mut *tx, &token_hash(&req.refresh_token)).await?
    {
        db::tokens::revoke_family(&mut *tx, token.family_id).await?;
        end_sockets(
            &mut tx,
            token.user_id,
            Scope::Session(token.family_id),
            CloseReason::SessionEnded,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deserialize a field that may be absent (outer `None`), null (`Some(None)`) or a value.
pub fn double_option<'de, D, T>(de: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    /// A phone number, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Required when changing the password.
    #[serde(default)]
    pub current_password: Option<String>,
    #[serde(default)]
    pub new_password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdateMeResponse {
    pub user: UserDto,
    /// Present when the password changed: every earlier session was ended and this is the
    /// caller's new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenResponse>,
}

pub async fn update_me(
    state: &Core,
    user_id: Uuid,
    req: UpdateMeRequest,
) -> Result<UpdateMeResponse> {
    let current = db::users::find(&state.db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errors = Vec::new();
    let display_name = req
        .display_name
        .as_deref()
        .map(|n| check_display_name(n, &mut errors));
    let phone = match &req.phone {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) if p.trim().is_empty() => Some(None),
        Some(Some(p)) => match normalize_phone(p) {
            Some(p) => Some(Some(p)),
            None => {
                errors.push(FieldError::new("phone", "must be 6 to 15 digits"));
                None
            }
        },
    };
    let mut new_hash = None;
    if let Some(new_password) = &req.new_password {
        if let Some(why) = password::policy_violation(new_password, &current.email) {
            errors.push(FieldError::new("new_password", why));
        }
        match &req.current_password {
            None => errors.push(FieldError::new(
                "current_password",
                "is required to change the password",
            )),
            Some(cur) if errors.is_empty() => {
                if !password::verify(cur.clone(), Some(current.password_hash.clone())).await? {
                    errors.push(FieldError::new("current_password", "is incorrect"));
                } else {
                    new_hash = Some(password::hash(new_password.clone()).await?);
                }
            }
            Some(_) => {}
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut tx = state.db.begin().await?;
    let updated = db::users::update_profile(
        &mut *tx,
        user_id,
        display_name.as_deref(),
        phone.as_ref().map(|p| p.as_deref()),
        new_hash.as_deref(),
    )
    .await?;
    let mut tokens = None;
    if new_hash.is_some() {
        db::tokens::revoke_user(&mut *tx, user_id, None).await?;
        // Every earlier session's sockets close; the new session is the caller's.
        let session = Uuid::now_v7();
        end_sockets(
            &mut tx,
            user_id,
            Scope::AllBut(session),
            CloseReason::PasswordChanged,
        )
        .await?;
        let (access, refresh, _) = issue_pair(state, &mut tx, &updated, session, None).await?;
        tokens = Some((access, refresh));
    }
    tx.commit().await?;
    let user = UserDto::load(&state.db, &updated).await?;
    let tokens = match tokens {
        Some((access, refresh)) => Some(token_response(state, &updated, access, refresh).await?),
        None => None,
    };
    Ok(UpdateMeResponse { user, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ana@Example.COM ").as_deref(),
            Some("ana@example.com")
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@x",
            "a b@x.com",
            "ana@x..com",
            "ana@-x.com",
            "a@b@c.com",
        ] {
            assert!(normalize_email(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            normalize_phone("+34 600-000-001").as_deref(),
            Some("34600000001")
        );
        assert!(normalize_phone("12345").is_none());
        assert!(normalize_phone("34600abc").is_none());
    }

    #[test]
    fn invite_codes_ignore_case_and_dashes() {
        assert_eq!(invite_hash("abcd-efgh-jkmn"), invite_hash("ABCDEFGHJKMN"));
        assert_ne!(invite_hash("ABCD"), invite_hash("ABCE"));
    }
}
