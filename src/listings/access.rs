//! Who may see and who may change a listing, and whom a listing may be assigned to.
//!
//! - **See**: anyone signed in when the listing is `active`; otherwise only the staff of its
//!   agency ([`can_see`]; also decides who may download a listing's photos).
//! - **Change** (edit, retire, photos): its own agent, or an admin of its agency
//!   ([`check_manage`]). Another agency's listing is 404; a colleague's is 403 for an agent.
//! - **Assign**: an agent names only themselves; an agency admin any active agent or admin of
//!   the agency ([`owner_for`]).

use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::properties as q;
use crate::error::{AppError, Result};
use crate::model::{ListingStatus, Role};

/// May `user` see a listing of `agency` in `status`? Active listings are public to every
/// signed-in user; the others only to the staff of their agency.
pub fn can_see(user: &AuthUser, status: &ListingStatus, agency: Uuid) -> bool {
    *status == ListingStatus::Active || (user.role.is_staff() && user.agency_id == Some(agency))
}

/// May `user` change a listing of `agency` owned by `agent`? 404 outside the caller's agency,
/// 403 for an agent on a colleague's listing.
pub fn check_manage(user: &AuthUser, agency: Uuid, agent: Uuid) -> Result<()> {
    if user.agency_id != Some(agency) || !user.role.is_staff() {
        return Err(AppError::NotFound);
    }
    if user.role == Role::AgencyAdmin || agent == user.id {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "not_your_listing",
            "Only the listing's agent or an agency admin can change it.",
        ))
    }
}

/// Resolve who will own a listing. An agent may only name themselves; an agency admin may
/// name any active agent or admin of their agency. `None`: nobody was named.
pub async fn owner_for(
    core: &Core,
    user: &AuthUser,
    agency: Uuid,
    requested: Option<Uuid>,
) -> Result<Option<Uuid>> {
    match requested {
        None => Ok(None),
        Some(a) if a == user.id => Ok(Some(a)),
        Some(_) if user.role != Role::AgencyAdmin => Err(AppError::forbidden(
            "cannot_assign_agent",
            "Only an agency admin can choose a listing's agent.",
        )),
        Some(a) => {
            if q::is_active_staff(&core.db, agency, a).await? {
                Ok(Some(a))
            } else {
                Err(AppError::invalid(
                    "agent_id",
                    "no such active agent in your agency",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ListingStatus::*;

    fn user(role: Role, agency: Option<Uuid>) -> AuthUser {
        AuthUser {
            id: Uuid::now_v7(),
            role,
            agency_id: agency,
            token_id: Uuid::now_v7(),
            session: None,
            token_exp: 0,
        }
    }

    #[test]
    fn only_active_listings_are_public() {
        let agency = Uuid::now_v7();
        let other = Uuid::now_v7();
        for role in [Role::Buyer, Role::Operator] {
            let u = user(role, None);
            assert!(can_see(&u, &Active, agency));
            assert!(!can_see(&u, &Inactive, agency));
        }
        let staff = user(Role::Agent, Some(agency));
        assert!(can_see(&staff, &Sold, agency));
        assert!(!can_see(&staff, &Pending, other));
        assert!(can_see(&staff, &Active, other));
    }

    #[test]
    fn changes_stay_inside_the_agency() {
        let agency = Uuid::now_v7();
        let agent = user(Role::Agent, Some(agency));
        let admin = user(Role::AgencyAdmin, Some(agency));
        let colleague = Uuid::now_v7();
        assert!(check_manage(&agent, agency, agent.id).is_ok());
        assert!(matches!(
            check_manage(&agent, agency, colleague),
            Err(AppError::Forbidden { .. })
        ));
        assert!(check_manage(&admin, agency, colleague).is_ok());
        assert!(matches!(
            check_manage(&admin, Uuid::now_v7(), colleague),
            Err(AppError::NotFound)
        ));
    }
}
