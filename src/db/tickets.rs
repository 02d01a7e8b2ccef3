//! Realtime tickets (`realtime_tickets`): single-use credentials that open one WebSocket,
//! stored by their SHA-256 only.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;

/// Remove the tickets that expired (housekeeping; the index makes it cheap).
pub async fn delete_expired(conn: &mut PgConnection) -> Result<()> {
    sqlx::query!("delete from realtime_tickets where expires_at < now()")
        .execute(conn)
        .await?;
    Ok(())
}

/// What a ticket is issued for.
pub struct NewTicket<'a> {
    pub token_hash: &'a [u8],
    pub user_id: Uuid,
    /// The access token that asked for it: its id, expiry (Unix seconds) and session.
    pub token_id: Uuid,
    pub token_exp: f64,
    pub session_id: Option<Uuid>,
    /// Seconds the ticket can be redeemed.
    pub ttl_secs: f64,
}

pub async fn insert(conn: &mut PgConnection, t: NewTicket<'_>) -> Result<()> {
    sqlx::query!(
        r#"insert into realtime_tickets (token_hash, user_id, token_id, expires_at, token_expires_at, session_id)
           values ($1, $2, $3, now() + make_interval(secs => $4), to_timestamp($5), $6)"#,
        t.token_hash,
        t.user_id,
        t.token_id,
        t.ttl_secs,
        t.token_exp,
        t.session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A spent ticket, with its user as they are now.
#[derive(Debug, Clone)]
pub struct SpentTicket {
    pub user_id: Uuid,
    pub token_id: Uuid,
    /// Not expired when it was spent.
    pub live: bool,
    pub session_id: Option<Uuid>,
    /// The asking token's expiry, Unix seconds (absent on tickets from before it was kept).
    pub token_exp: Option<i64>,
    pub role: String,
    pub agency_id: Option<Uuid>,
    pub active: bool,
}

/// Delete the ticket with this hash and return it, in one statement: of two racing
/// redemptions only one gets it.
pub async fn spend(db: &sqlx::PgPool, token_hash: &[u8]) -> Result<Option<SpentTicket>> {
    Ok(sqlx::query_as!(
        SpentTicket,
        r#"with spent as (
               delete from realtime_tickets where token_hash = $1
               returning user_id, token_id, expires_at > now() as live, session_id,
                         extract(epoch from token_expires_at)::bigint as token_exp
           )
           select s.user_id as "user_id!", s.token_id as "token_id!", s.live as "live!",
                  s.session_id as "session_id?", s.token_exp as "token_exp?",
                  u.role, u.agency_id, u.active
           from spent s join users u on u.id = s.user_id"#,
        token_hash
    )
    .fetch_optional(db)
    .await?)
}
