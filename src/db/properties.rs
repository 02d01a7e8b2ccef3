//! Listings (`properties`) and their photos.
//!
//! These queries do not decide who may see or change a listing: callers check that with the
//! rows returned here (see `crate::listings::access`). Browsing is keyset-paginated, newest
//! first, on `(created_at, id)`; the text search uses the generated `search` tsvector
//! (migration `20261122000004_listings`), parsing the search text as 'simple', 'spanish' and
//! 'english'. Statuses are read and written as [`ListingStatus`].

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::Result;
use crate::model::ListingStatus;

/// A listing with the names of its agency and agent.
#[derive(Debug, Clone)]
pub struct PropertyRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agency_name: String,
    pub agent_id: Uuid,
    pub agent_name: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub address: String,
    pub city: String,
    pub property_type: String,
    pub status: ListingStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who owns a listing and whether it is public; read under a row lock before a change.
#[derive(Debug, Clone)]
pub struct Ownership {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agent_id: Uuid,
    pub status: ListingStatus,
}

#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub property_id: Uuid,
    pub file_id: Uuid,
    pub position: i32,
}

pub struct NewProperty<'a> {
    pub agency_id: Uuid,
    pub agent_id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub price_cents: i64,
    pub currency: &'a str,
    pub address: &'a str,
    pub city: &'a str,
    pub property_type: &'a str,
    pub status: ListingStatus,
}

/// The fields a partial update sets; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct Changes<'a> {
    pub agent_id: Option<Uuid>,
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub price_cents: Option<i64>,
    pub currency: Option<&'a str>,
    pub address: Option<&'a str>,
    pub city: Option<&'a str>,
    pub property_type: Option<&'a str>,
    pub status: Option<ListingStatus>,
}

impl Changes<'_> {
    pub fn is_empty(&self) -> bool {
        self.agent_id.is_none()
            && self.title.is_none()
            && self.description.is_none()
            && self.price_cents.is_none()
            && self.currency.is_none()
            && self.address.is_none()
            && self.city.is_none()
            && self.property_type.is_none()
            && self.status.is_none()
    }
}

/// Which listings a browse starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Active listings of every agency.
    Public,
    /// One agent's listings, any status.
    Agent(Uuid),
    /// One agency's listings, any status.
    Agency(Uuid),
}

/// Filters of a browse; `None` means "any".
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub status: Option<ListingStatus>,
    pub city: Option<&'a str>,
    pub property_type: Option<&'a str>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub text: Option<&'a str>,
    pub agent_id: Option<Uuid>,
    /// Strictly older than this `(created_at, id)`.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// How many listings an agency has, in any status.
pub async fn count_for_agency(db: impl PgExecutor<'_>, agency_id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from properties where agency_id = $1"#,
        agency_id
    )
    .fetch_one(db)
    .await?)
}

pub async fn insert(db: impl PgExecutor<'_>, new: NewProperty<'_>) -> Result<Uuid> {
    Ok(sqlx::query_scalar!(
        r#"insert into properties (id, agency_id, agent_id, title, description, price_cents, currency,
                                   address, city, property_type, status)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           returning id"#,
        Uuid::now_v7(),
        new.agency_id,
        new.agent_id,
        new.title,
        new.description,
        new.price_cents,
        new.currency,
        new.address,
        new.city,
        new.property_type,
        new.status.as_str(),
    )
    .fetch_one(db)
    .await?)
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<PropertyRow>> {
    Ok(sqlx::query_as!(
        PropertyRow,
        r#"select p.id, p.agency_id, a.name as "agency_name!", p.agent_id, u.display_name as "agent_name!",
                  p.title, p.description, p.price_cents, p.currency, p.address, p.city,
                  p.property_type, p.status as "status: ListingStatus", p.created_at, p.updated_at
           from properties p
           join agencies a on a.id = p.agency_id
           join users u on u.id = p.agent_id
           where p.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Lock a listing for a change (`select … for update`) and return who owns it.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Ownership>> {
    Ok(sqlx::query_as!(
        Ownership,
        r#"select id, agency_id, agent_id, status as "status: ListingStatus"
           from properties where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// Apply a partial update (the caller has checked it is allowed).
pub async fn update(db: impl PgExecutor<'_>, id: Uuid, c: &Changes<'_>) -> Result<()> {
    sqlx::query!(
        r#"update properties set
               agent_id = coalesce($2, agent_id),
               title = coalesce($3, title),
               description = coalesce($4, description),
               price_cents = coalesce($5, price_cents),
               currency = coalesce($6, currency),
               address = coalesce($7, address),
               city = coalesce($8, city),
               property_type = coalesce($9, property_type),
               status = coalesce($10, status),
               updated_at = now()
           where id = $1"#,
        id,
        c.agent_id,
        c.title,
        c.description,
        c.price_cents,
        c.currency,
        c.address,
        c.city,
        c.property_type,
        c.status.map(ListingStatus::as_str),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Is `user` an active member (agent or admin) of `agency`?
pub async fn is_active_staff(db: impl PgExecutor<'_>, agency: Uuid, user: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from users
                          where id = $1 and agency_id = $2 and active
                            and role in ('agent', 'agency_admin')) as "exists!""#,
        user,
        agency
    )
    .fetch_one(db)
    .await?)
}

/// One page of listings, newest first: at most `limit` rows strictly after `filter.after`.
pub async fn browse(
    db: impl PgExecutor<'_>,
    scope: Scope,
    filter: &Filter<'_>,
    limit: i64,
) -> Result<Vec<PropertyRow>> {
    let (public, scope_agent, scope_agency) = match scope {
        Scope::Public => (true, None, None),
        Scope::Agent(a) => (false, Some(a), None),
        Scope::Agency(a) => (false, None, Some(a)),
    };
    let (after_at, after_id) = match filter.after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    Ok(sqlx::query_as!(
        PropertyRow,
        r#"select p.id, p.agency_id, a.name as "agency_name!", p.agent_id, u.display_name as "agent_name!",
                  p.title, p.description, p.price_cents, p.currency, p.address, p.city,
                  p.property_type, p.status as "status: ListingStatus", p.created_at, p.updated_at
           from properties p
           join agencies a on a.id = p.agency_id
           join users u on u.id = p.agent_id
           where (($1 and p.status = 'active')
                  or ($2::uuid is not null and p.agent_id = $2)
                  or ($3::uuid is not null and p.agency_id = $3))
             and ($4::text is null or p.status = $4)
             and ($5::text is null or lower(p.city) = lower($5))
             and ($6::text is null or p.property_type = $6)
             and ($7::bigint is null or p.price_cents >= $7)
             and ($8::bigint is null or p.price_cents <= $8)
             and ($9::text is null or p.search @@ (websearch_to_tsquery('simple', $9)
                                                  || websearch_to_tsquery('spanish', $9)
                                                  || websearch_to_tsquery('english', $9)))
             and ($10::uuid is null or p.agent_id = $10)
             and ($11::timestamptz is null or (p.created_at, p.id) < ($11, $12::uuid))
           order by p.created_at desc, p.id desc
           limit $13"#,
        public,
        scope_agent,
        scope_agency,
        filter.status.map(ListingStatus::as_str),
        filter.city,
        filter.property_type,
        filter.min_price,
        filter.max_price,
        filter.text,
        filter.agent_id,
        after_at,
        after_id,
        limit,
    )
    .fetch_all(db)
    .await?)
}

/// The photos of these listings, in display order per listing.
pub async fn photos(db: impl PgExecutor<'_>, properties: &[Uuid]) -> Result<Vec<PhotoRow>> {
    Ok(sqlx::query_as!(
        PhotoRow,
        r#"select property_id, file_id, position from property_photos
           where property_id = any($1)
           order by property_id, position, file_id"#,
        properties
    )
    .fetch_all(db)
    .await?)
}

pub async fn photo_count(db: impl PgExecutor<'_>, property: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from property_photos where property_id = $1"#,
        property
    )
    .fetch_one(db)
    .await?)
}

/// Attach a file as a photo, at `position` or after the last one. Attaching it again moves it
/// when a position is given. Returns whether the photo is new.
pub async fn attach_photo(
    db: impl PgExecutor<'_>,
    property: Uuid,
    file: Uuid,
    position: Option<i32>,
) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"insert into property_photos (property_id, file_id, position)
           values ($1, $2, coalesce($3, (select coalesce(max(position) + 1, 0)
                                         from property_photos where property_id = $1)))
           on conflict (property_id, file_id)
               do update set position = coalesce($3, property_photos.position)
           returning (xmax = 0) as "inserted!""#,
        property,
        file,
        position
    )
    .fetch_one(db)
    .await?)
}

/// Detach a photo; false when it was not attached.
pub async fn detach_photo(db: impl PgExecutor<'_>, property: Uuid, file: Uuid) -> Result<bool> {
    let done = sqlx::query!(
        "delete from property_photos where property_id = $1 and file_id = $2",
        property,
        file
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Bump a listing's `updated_at` (its photos changed).
pub async fn touch(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    sqlx::query!("update properties set updated_at = now() where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// An uploaded file's owner and type, to check it may become a photo.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub owner_user_id: Option<Uuid>,
    pub mimetype: String,
}

pub async fn file_info(db: impl PgExecutor<'_>, file: Uuid) -> Result<Option<FileInfo>> {
    Ok(sqlx::query_as!(
        FileInfo,
        "select owner_user_id, mimetype from files where id = $1 and deleted_at is null",
        file
    )
    .fetch_optional(db)
    .await?)
}

/// The listings a file is a photo of: their agency and status, to decide who may download it.
#[derive(Debug, Clone)]
pub struct PhotoOf {
    pub agency_id: Uuid,
    pub status: ListingStatus,
}

pub async fn listings_with_photo(db: impl PgExecutor<'_>, file: Uuid) -> Result<Vec<PhotoOf>> {
    Ok(sqlx::query_as!(
        PhotoOf,
        r#"select p.agency_id, p.status as "status: ListingStatus" from property_photos pp
           join properties p on p.id = pp.property_id
           where pp.file_id = $1"#,
        file
    )
    .fetch_all(db)
    .await?)
}
