//! Listings (the `properties` table): who may see them. The listing use cases are reached
//! through `crate::http::properties` for now.

use uuid::Uuid;

use crate::auth::extract::AuthUser;

/// May `user` see a listing of `agency` in `status`? Active listings are public to every
/// signed-in user; the others only to the staff of their agency.
pub fn can_see(user: &AuthUser, status: &str, agency: Uuid) -> bool {
    status == "active" || (user.role.is_staff() && user.agency_id == Some(agency))
}
