//! Conversations as a whole: the inbox list and one conversation, a buyer starting the
//! in-app conversation about a listing, archive / unarchive / close, and an agency admin
//! reassigning an in-app conversation.
//!
//! Invariants:
//! - Every read is scoped by [`access`]: what a caller may not see is absent (404), in a
//!   list as for one id.
//! - A page of the inbox costs a fixed number of statements, whatever its size: the ids of
//!   one page, then their cards at once ([`views::cards`]).
//! - Every change is announced (`conversation.updated`) in the transaction that makes it.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::access;
use super::publish::{publish_conversation, publish_reassigned};
use super::views::{self, ConversationView};
use crate::auth::extract::AuthUser;
use crate::core::Core;
use crate::db::chat as q;
use crate::db::chat_views::{self as v, PageFilter};
use crate::error::{AppError, Result};
use crate::model::{page_cursor, parse_page_cursor};
use crate::model::{Channel, ConversationStatus};

/// What to list of the caller's inbox.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1–100, default 50.
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `whatsapp` or `in_app`.
    pub channel: Option<String>,
    /// `open`, `archived` or `closed` (default: open and archived).
    pub status: Option<String>,
    /// Only conversations with something unread.
    pub unread: Option<bool>,
    /// Only conversations about this listing.
    pub property_id: Option<Uuid>,
    /// Only this agent's conversations. For an agency admin: one agent of the agency. For
    /// an agent it can only narrow to themself: another agent's id gives an empty list (as
    /// for any id outside the caller's inbox, whose existence does not show).
    pub agent_id: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationView>,
    pub next_cursor: Option<String>,
}

fn cursor_of(entry: &v::PageEntry) -> String {
    page_cursor(entry.at, entry.id)
}

impl ListQuery {
    fn filter(&self) -> Result<(PageFilter, bool)> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(AppError::invalid("limit", "must be between 1 and 100"));
        }
        let channel = match self.channel.as_deref() {
            Some(c) => Some(
                c.parse::<Channel>()
                    .map_err(|_| AppError::invalid("channel", "must be whatsapp or in_app"))?,
            ),
            None => None,
        };
        let status = match self.status.as_deref() {
            Some(s) => Some(
                s.parse::<ConversationStatus>()
                    .map_err(|_| AppError::invalid("status", "must be open, archived or closed"))?,
            ),
            None => None,
        };
        let after = self.cursor.as_deref().map(parse_page_cursor).transpose()?;
        let filter = PageFilter {
            after,
            limit,
            channel,
            status,
            property: self.property_id,
            agent: self.agent_id,
        };
        Ok((filter, self.unread == Some(true)))
    }
}

/// The caller's conversations, newest activity first, as [`ConversationView`]s.
///
/// With `unread=true` conversations are filtered after the fact, so pages of the inbox are
/// read until one is filled (at most 20 pages per call).
pub async fn list(core: &Core, user: &AuthUser, query: &ListQuery) -> Result<ConversationPage> {
    access::ensure_reader(user)?;
    let (mut filter, unread_only) = query.filter()?;
    let limit = filter.limit;
    let scope = access::scope(core, user);
    let mut conn = core.db.acquire().await?;
    let mut items = Vec::new();
    let mut next_cursor = None;
    for _ in 0..20 {
        let page = v::conversation_page(&mut *conn, &scope, &filter).await?;
        let full = page.len() as i64 == limit;
        let ids: Vec<Uuid> = page.iter().map(|e| e.id).collect();
        let mut cards = views::cards(&mut conn, user, &ids)
            .await?
            .into_iter()
            .peekable();
        for entry in &page {
            filter.after = Some((entry.at, entry.id));
            if items.len() as i64 == limit {
                break;
            }
            // A conversation gone since the page was read has no card: skip it.
            let Some(view) = cards.next_if(|c| c.conversation.id == entry.id) else {
                continue;
            };
            if unread_only && view.unread_count == 0 {
                continue;
            }
            items.push(view);
            next_cursor = Some(cursor_of(entry));
        }
        if !full || items.len() as i64 == limit {
            if !full || items.len() as i64 != limit {
                next_cursor = None;
            }
            break;
        }
    }
    Ok(ConversationPage { items, next_cursor })
}

/// One conversation, as the caller sees it.
pub async fn get(core: &Core, user: &AuthUser, id: Uuid) -> Result<ConversationView> {
    let conv = access::visible(core, user, id).await?;
    let mut conn = core.db.acquire().await?;
    views::card(&mut conn, user, conv.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The listing to ask about; the conversation is with its agent.
    pub property_id: Uuid,
}

/// A started conversation: new, or the one that already existed.
#[derive(Debug)]
pub struct Started {
    pub conversation: ConversationView,
    pub created: bool,
}

/// A buyer starts (or gets back) the in-app conversation about an active listing with its
/// agent. A new conversation reaches the agent, so not from a buyer they blocked (403
/// `blocked`; nothing is created).
pub async fn start(core: &Core, buyer: &AuthUser, req: &StartRequest) -> Result<Started> {
    let listing = q::active_listing_parties(&core.db, req.property_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = core.db.begin().await?;
    let created =
        q::insert_in_app_conversation(&mut *tx, listing, buyer.id, req.property_id).await?;
    let id = match created {
        Some(id) => id,
        None => {
            q::in_app_conversation_id(&mut *tx, buyer.id, req.property_id, listing.agent_id).await?
        }
    };
    let conv = q::conversation(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if created.is_some() {
        // The insert rolls back with the transaction when the agent blocked the buyer.
        crate::moderation::ensure_can_reach(&mut tx, buyer.id, &conv).await?;
        publish_conversation(&mut tx, &conv).await?;
    }
    tx.commit().await?;
    let mut conn = core.db.acquire().await?;
    let view = views::card(&mut conn, buyer, conv.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Started {
        conversation: view,
        created: created.is_some(),
    })
}

/// An agent's first message to a WhatsApp number that never wrote to them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewWhatsAppChat {
    /// The number with its country code (`+34 600 123 456`, `34600123456`).
    pub phone: String,
    /// As for `POST /conversations/{id}/messages`: the idempotency key and the text.
    pub client_id: String,
    pub body: String,
}

/// The conversation opened (or found) and its first message.
#[derive(Debug)]
pub struct NewChat {
    pub conversation: ConversationView,
    pub message: views::MessageDto,
    /// False when a conversation with that number already existed (the message went there).
    pub created: bool,
}

/// Open a WhatsApp chat with a number through the caller's working link and send the first
/// message: the number is checked with WhatsApp first (422 on `phone` when it has no account,
/// nothing stored); the contact and the conversation are the ones an inbound message from
/// that number would have made (found under the link's ingest lock, so the two never
/// duplicate); the message goes as any other (moderation, rate, `client_id`).
pub async fn start_whatsapp(
    core: &Core,
    user: &AuthUser,
    req: &NewWhatsAppChat,
) -> Result<NewChat> {
    if !user.role.is_staff() {
        return Err(AppError::forbidden(
            "forbidden_role",
            "Only agents start WhatsApp chats.",
        ));
    }
    let phone = crate::auth::service::normalize_phone(&req.phone)
        .ok_or_else(|| AppError::invalid("phone", "must be 6 to 15 digits, with country code"))?;
    let link = crate::db::links::list_for_agent(&core.db, user.id)
        .await?
        .into_iter()
        .find(|l| l.desired_state != crate::model::DesiredState::Deleted)
        .ok_or_else(|| {
            AppError::conflict("no_whatsapp_link", "Link your WhatsApp number first.")
        })?;
    if link.status != crate::links::LinkStatus::Working.as_str() {
        return Err(AppError::conflict(
            "link_not_working",
            format!(
                "Your WhatsApp link is {}; it must be connected to start a chat.",
                link.status
            ),
        ));
    }
    // Asked before any transaction: a network call.
    let client = crate::links::service::client(core, &link).await?;
    let chat_id = client
        .check_number(&phone)
        .await
        .map_err(crate::links::Error::from)?
        .ok_or_else(|| AppError::invalid("phone", "this number is not on WhatsApp"))?;

    let mut tx = core.db.begin().await?;
    crate::db::events::lock_link(&mut tx, link.id).await?;
    let contact = match q::contacts_matching(&mut *tx, link.id, Some(&chat_id), None)
        .await?
        .into_iter()
        .next()
    {
        Some(c) => c,
        None => {
            q::insert_contact(&mut *tx, link.id, Some(&chat_id), None, Some(&phone), None).await?
        }
    };
    let (conv, created) =
        match q::find_wa_conversation(&mut *tx, link.id, &chat_id, Some(contact.id)).await? {
            Some(c) => (c, false),
            None => (
                q::insert_wa_conversation(
                    &mut *tx,
                    link.agency_id,
                    link.agent_id,
                    link.id,
                    Some(contact.id),
                    &chat_id,
                    false,
                )
                .await?,
                true,
            ),
        };
    if created {
        publish_conversation(&mut tx, &conv).await?;
    }
    tx.commit().await?;
    tracing::info!(conversation = %conv.id, link = %link.id, created, "WhatsApp chat started by the agent");

    let sent = super::send::send(
        core,
        user,
        conv.id,
        &super::send::SendRequest {
            client_id: req.client_id.clone(),
            body: Some(req.body.clone()),
            file_id: None,
            reply_to: None,
        },
    )
    .await?;
    let mut conn = core.db.acquire().await?;
    let conversation = views::card(&mut conn, user, conv.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(NewChat {
        conversation,
        message: sent.message,
        created,
    })
}

/// Archive (a new message reopens it), unarchive or close a conversation. Agency staff.
pub async fn set_status(
    core: &Core,
    user: &AuthUser,
    id: Uuid,
    status: ConversationStatus,
) -> Result<ConversationView> {
    let conv = access::visible(core, user, id).await?;
    access::ensure_staff(
        user,
        "Only agency staff can change a conversation's status.",
    )?;
    let mut tx = core.db.begin().await?;
    q::set_conversation_status(&mut *tx, conv.id, status).await?;
    let conv = q::conversation(&mut *tx, conv.id)
        .await?
        .ok_or(AppError::NotFound)?;
    publish_conversation(&mut tx, &conv).await?;
    tx.commit().await?;
    let mut conn = core.db.acquire().await?;
    views::card(&mut conn, user, conv.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub agent_id: Uuid,
}

/// An agency admin hands an in-app conversation to another active agent of the agency
/// (WhatsApp conversations belong to the agent whose number they came to). Both agents hear
/// of it, and the audit log records it (`conversation.assign`).
pub async fn assign(
    core: &Core,
    admin: &AuthUser,
    id: Uuid,
    req: &AssignRequest,
) -> Result<ConversationView> {
    let conv = access::visible(core, admin, id).await?;
    if conv.channel != Channel::InApp {
        return Err(AppError::conflict(
            "channel_not_supported",
            "WhatsApp conversations belong to the agent whose number they came to.",
        ));
    }
    if !q::is_assignable(&core.db, req.agent_id, conv.agency_id).await? {
        return Err(AppError::invalid(
            "agent_id",
            "is not an active agent of your agency",
        ));
    }
    let mut tx = core.db.begin().await?;
    if !q::reassign(&mut tx, conv.id, req.agent_id).await? {
        return Err(AppError::conflict(
            "already_has_conversation",
            "The buyer already talks to that agent about this listing.",
        ));
    }
    let updated = q::conversation(&mut *tx, conv.id)
        .await?
        .ok_or(AppError::NotFound)?;
    publish_conversation(&mut tx, &updated).await?;
    // The previous agent learns it left their inbox.
    publish_reassigned(&mut tx, &conv, req.agent_id).await?;
    crate::db::audit::record(
        &mut *tx,
        crate::db::audit::Entry {
            actor: Some(admin.id),
            actor_role: Some(admin.role.as_str()),
            action: "conversation.assign",
            target_type: Some("conversation"),
            target_id: Some(conv.id.to_string()),
            ok: true,
            detail: json!({"from": conv.agent_id, "to": req.agent_id}),
            ip: None,
        },
    )
    .await?;
    tx.commit().await?;
    let mut conn = core.db.acquire().await?;
    views::card(&mut conn, admin, updated.id)
        .await?
        .ok_or(AppError::NotFound)
}
