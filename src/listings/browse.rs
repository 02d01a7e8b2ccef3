//! Reading listings: one by id, and pages of a search, newest first.
//!
//! Everyone signed in sees active listings; staff may ask for their own (`mine`) and agency
//! admins for their agency's (`agency`) in any status. Pages are keyset-paginated on
//! `(created_at, id)`: a cursor is `<created_at in µs>_<id>` of the last row of a page, and
//! asking one row more than the page tells whether another follows.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::can_see;
use super::dto::{dtos, of_row, PropertyDto};
use super::validate::{Check, MAX_QUERY_CHARS, PROPERTY_TYPES};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::properties::{self as q, Filter, PropertyRow, Scope};
use crate::error::{AppError, Result};
use crate::model::{page_cursor, parse_page_cursor};
use crate::model::{ListingStatus, Role};

/// One listing: active ones for everyone signed in, others for their agency's staff; 404 for
/// anyone else.
pub async fn get(core: &Core, user: &AuthUser, id: Uuid) -> Result<PropertyDto> {
    let row = q::find(&core.db, id)
        .await?
        .filter(|p| can_see(user, &p.status, p.agency_id))
        .ok_or(AppError::NotFound)?;
    of_row(core, row).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// City, case-insensitive exact match.
    pub city: Option<String>,
    /// `house`, `apartment`, `condo` or `land`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub property_type: Option<String>,
    /// Lowest price, in cents (inclusive).
    pub min_price: Option<i64>,
    /// Highest price, in cents (inclusive).
    pub max_price: Option<i64>,
    /// Words to find in the title, description, address or city (Spanish and English
    /// stemming: "casas" finds "casa"). `-word` excludes, `"a phrase"` matches a phrase.
    pub q: Option<String>,
    /// Only this agent's listings.
    pub agent_id: Option<Uuid>,
    /// Staff: the caller's own listings, any status.
    #[serde(default)]
    pub mine: bool,
    /// Agency admins: the agency's listings, any status.
    #[serde(default)]
    pub agency: bool,
    /// With `mine` or `agency`: only this status. Otherwise only `active` is allowed.
    pub status: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PropertyPage {
    pub items: Vec<PropertyDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn cursor_of(row: &PropertyRow) -> String {
    page_cursor(row.created_at, row.id)
}

/// Which listings the caller asks for: 422 for `mine` with `agency`, 403 for a role that may
/// not ask for them.
fn scope_of(user: &AuthUser, bq: &BrowseQuery) -> Result<Scope> {
    match (bq.mine, bq.agency) {
        (true, true) => Err(AppError::invalid("mine", "cannot be combined with agency")),
        (true, false) if user.role.is_staff() => Ok(Scope::Agent(user.id)),
        (false, true) if user.role == Role::AgencyAdmin => Ok(Scope::Agency(user.agency()?)),
        (true, false) | (false, true) => Err(AppError::forbidden(
            "forbidden_role",
            format!(
                "Your role ({}) cannot list these listings; browse the active ones.",
                user.role
            ),
        )),
        (false, false) => Ok(Scope::Public),
    }
}

/// Browse and search listings, newest first, one page at a time.
pub async fn browse(core: &Core, user: &AuthUser, bq: &BrowseQuery) -> Result<PropertyPage> {
    let scope = scope_of(user, bq)?;
    let mut check = Check::default();
    let limit = bq.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        check.fail("limit", "must be between 1 and 100");
    }
    let status = bq.status.as_deref().map(|s| check.status("status", s));
    if scope == Scope::Public && status.is_some_and(|s| s != Some(ListingStatus::Active)) {
        check.fail(
            "status",
            "only active listings are public; use mine=true or agency=true",
        );
    }
    let property_type = bq
        .property_type
        .as_deref()
        .map(|t| check.one_of("type", t, PROPERTY_TYPES));
    for (field, price) in [("min_price", bq.min_price), ("max_price", bq.max_price)] {
        if let Some(p) = price {
            check.price(field, p);
        }
    }
    if let (Some(lo), Some(hi)) = (bq.min_price, bq.max_price) {
        if lo > hi {
            check.fail("max_price", "must not be below min_price");
        }
    }
    let city = bq.city.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if city.is_some_and(|c| c.chars().count() > 100) {
        check.fail("city", "must be at most 100 characters");
    }
    let text = bq.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if let Some(t) = text {
        if t.chars().count() > MAX_QUERY_CHARS {
            check.fail("q", "must be at most 200 characters");
        } else if t.contains('\0') {
            check.fail("q", "must not contain control characters");
        }
    }
    check.finish()?;
    let after = bq.cursor.as_deref().map(parse_page_cursor).transpose()?;

    let filter = Filter {
        status: status.flatten(),
        city,
        property_type,
        min_price: bq.min_price,
        max_price: bq.max_price,
        text,
        agent_id: bq.agent_id,
        after,
    };
    // One row more than asked tells whether another page follows.
    let mut rows = q::browse(&core.db, scope, &filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Ok(PropertyPage {
        items: dtos(core, rows).await?,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn cursors_round_trip() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap_or_default();
        let id = Uuid::now_v7();
        let c = format!("{}_{}", at.timestamp_micros(), id);
        assert_eq!(parse_page_cursor(&c).ok(), Some((at, id)));
        assert!(parse_page_cursor("nope").is_err());
        assert!(parse_page_cursor("12_notauuid").is_err());
    }
}
