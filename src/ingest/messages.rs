//! Applying WhatsApp message events to contacts, conversations and messages, and publishing
//! what changed to the agent's live inbox.
//!
//! Every function runs inside the transaction that holds the stored event (and a per-link
//! advisory lock, so one link's events apply one at a time across replicas), perhaps inside
//! that event's savepoint among others of a batch. Writes are idempotent: messages are unique
//! per link and WhatsApp id, statuses only move forward, and an event about a message not seen
//! yet is deferred until that message arrives. What is cheaper done once per transaction —
//! publishing, the watermark, waking deferred events — is left to the [`Effects`]; what needs
//! WAHA's answer about a `@lid` was asked before the transaction ([`Ctx::phones`]).
//!
//! A new message ([`apply_message_payload`], shared by webhooks and the catch-up) goes:
//! skip what is not a person's chat → find it by WhatsApp id (seen: maybe a newer ack of our
//! own) → the contact (`@c.us`/`@lid`, merged) and the conversation → our own API send echoed
//! back is attached, not copied → its kind ([`MessageKind::from_mime`]) and media (downloaded
//! into the file store; the one network call left inside a transaction, made only on the
//! single-event path, see [`super::dispatch::way`]) → the row, the conversation touched → the
//! publish (`message.created`, and `conversation.updated` when it moved) through the
//! [`Effects`], delivered after commit by the realtime NOTIFY bridge.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::effects::{Ctx, Effects};
use super::lookups;
use crate::core::Core;
use crate::db::chat::{self as q, ContactRow, ConversationRow, NewMessage};
use crate::db::links::LinkRow;
use crate::db::whatsapp::{self as wa, NewMediaFile};
use crate::model::{Direction, MessageKind, MessageStatus};
use crate::waha::types::{
    self, AckPayload, EditedPayload, MessagePayload, PresencePayload, ReactionPayload,
    RevokedPayload, WebhookEnvelope,
};

/// Largest media file downloaded from WAHA.
pub const MAX_MEDIA_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Nothing to do (a duplicate, an ignored chat, an unknown status…).
    Skipped,
    /// Refers to a message not seen yet (its serialized or raw id).
    Deferred(String),
}

fn ts(seconds: Option<i64>) -> DateTime<Utc> {
    seconds
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .unwrap_or_else(Utc::now)
}

fn raw_id(serialized: &str) -> Option<String> {
    types::parse_message_id(serialized).map(|k| k.id)
}

/// The ids a message is known by (serialized, and raw when it parses), which events about it
/// may be deferred on.
pub fn keys_of(m: &MessagePayload) -> Vec<String> {
    std::iter::once(m.id.clone())
        .chain(raw_id(&m.id))
        .filter(|k| !k.is_empty())
        .collect()
}

/// The contact behind a WhatsApp id (`@c.us` or `@lid`), creating or merging as needed: a
/// person first seen by `@lid` and later by phone ends up as one contact.
async fn contact_for(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    wa: &str,
    push_name: Option<&str>,
) -> anyhow::Result<ContactRow> {
    let link = cx.link;
    let (mut wa_id, mut lid) = if types::is_lid(wa) {
        (None, Some(wa.to_string()))
    } else {
        (Some(types::to_cus(wa)), None)
    };
    if let (None, Some(l)) = (&wa_id, &lid) {
        // The phone behind the @lid, as WAHA told before the transaction; it may not know
        // (real life).
        if let Some(pn) = cx.phones.phone(l) {
            wa_id = Some(types::to_cus(pn));
        }
    }
    if lid.is_none() && wa_id.is_none() {
        lid = Some(wa.to_string());
    }
    let phone = wa_id.as_deref().and_then(types::phone_from_cus);
    let found = q::contacts_matching(&mut *conn, link.id, wa_id.as_deref(), lid.as_deref()).await?;
    let contact = match found.as_slice() {
        [] => {
            q::insert_contact(
                &mut *conn,
                link.id,
                wa_id.as_deref(),
                lid.as_deref(),
                phone.as_deref(),
                push_name,
            )
            .await?
        }
        // Nothing new about them (the usual case: a known chat writing again).
        [one]
            if adds_nothing(
                one,
                wa_id.as_deref(),
                lid.as_deref(),
                phone.as_deref(),
                push_name,
            ) =>
        {
            one.clone()
        }
        [one] => {
            q::enrich_contact(
                &mut *conn,
                one.id,
                wa_id.as_deref(),
                lid.as_deref(),
                phone.as_deref(),
                push_name,
            )
            .await?
        }
        [keep, gone, ..] => {
            q::merge_contacts(&mut *conn, keep.id, gone.id).await?;
            q::enrich_contact(
                &mut *conn,
                keep.id,
                wa_id.as_deref(),
                lid.as_deref(),
                phone.as_deref(),
                push_name,
            )
            .await?
        }
    };
    Ok(contact)
}

/// Whether [`q::enrich_contact`] would leave `c` as it is: it fills ids only where they are
/// missing and replaces the phone and push name only with a value.
fn adds_nothing(
    c: &ContactRow,
    wa_id: Option<&str>,
    lid: Option<&str>,
    phone: Option<&str>,
    push_name: Option<&str>,
) -> bool {
    (wa_id.is_none() || c.wa_id.is_some())
        && (lid.is_none() || c.lid.is_some())
        && (phone.is_none() || c.phone.as_deref() == phone)
        && (push_name.is_none() || c.push_name.as_deref() == push_name)
}

/// What a message is, and the meta its kind carries. WhatsApp flags voice notes `ptt`
/// (push-to-talk) whatever their MIME type says.
fn kind_of(m: &MessagePayload) -> (MessageKind, Value) {
    if let Some(loc) = &m.location {
        if loc.latitude.is_some() {
            return (MessageKind::Location, json!({"location": loc}));
        }
    }
    if !m.v_cards.is_empty() {
        return (MessageKind::Contact, json!({"vcards": m.v_cards}));
    }
    if m.has_media {
        let mime = m
            .media
            .as_ref()
            .and_then(|x| x.mimetype.as_deref())
            .unwrap_or_default();
        let ptt = m.data.get("ptt").and_then(Value::as_bool) == Some(true);
        return (MessageKind::from_mime(mime, ptt), json!({}));
    }
    (MessageKind::Text, json!({}))
}

/// Download a message's media from WAHA into the file store; the file's id, or the error.
/// A network call inside the transaction: only the single-event path gets here (a batch sends
/// media messages there, [`super::dispatch::way`]); moving the download out into its own job
/// is the hardening issue's.
async fn fetch_media(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    m: &MessagePayload,
) -> Result<Option<Uuid>, String> {
    let (core, link) = (cx.core, cx.link);
    let Some(media) = m.media.as_ref() else {
        return Ok(None);
    };
    let Some(url) = media.url.as_deref() else {
        return Err("no media url".into());
    };
    let client = crate::links::service::client(core, link)
        .await
        .map_err(|e| e.to_string())?;
    let (bytes, content_type) = client
        .download_media(url, MAX_MEDIA_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let key = crate::files::new_key();
    core.files
        .put(&key, &bytes)
        .await
        .map_err(|e| format!("file store: {e}"))?;
    let mimetype = media
        .mimetype
        .clone()
        .or(content_type)
        .unwrap_or_else(|| "application/octet-stream".into());
    let id = Uuid::now_v7();
    wa::insert_media_file(
        &mut *conn,
        NewMediaFile {
            id,
            link: link.id,
            storage_key: &key,
            mimetype: &mimetype,
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: &crate::files::sha256(&bytes),
            original_name: media.filename.as_deref(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Some(id))
}

/// Find or create the conversation of a link with a chat.
async fn conversation_for(
    conn: &mut PgConnection,
    link: &LinkRow,
    chat_id: &str,
    contact: Option<&ContactRow>,
    is_group: bool,
) -> anyhow::Result<(ConversationRow, bool)> {
    if let Some(c) =
        q::find_wa_conversation(&mut *conn, link.id, chat_id, contact.map(|c| c.id)).await?
    {
        return Ok((c, false));
    }
    let c = q::insert_wa_conversation(
        &mut *conn,
        link.agency_id,
        link.agent_id,
        link.id,
        contact.map(|c| c.id),
        chat_id,
        is_group,
    )
    .await?;
    Ok((c, true))
}

/// `message` / `message.any`: store the message (once), its contact and conversation.
pub async fn apply_message(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    let m: MessagePayload = env.payload_as()?;
    apply_message_payload(cx, conn, fx, &m).await
}

/// The idempotent core shared by webhooks and catch-up. When the message is applied, the
/// [`Effects`] learn its ids (serialized and raw), which other events may be waiting on.
pub async fn apply_message_payload(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    m: &MessagePayload,
) -> anyhow::Result<Outcome> {
    let (core, link) = (cx.core, cx.link);
    if m.id.is_empty() {
        return Ok(Outcome::Skipped);
    }
    let Some(chat_id) = types::chat_id_of(m) else {
        return Ok(Outcome::Skipped);
    };
    if lookups::ignored_chat(&chat_id) {
        return Ok(Outcome::Skipped);
    }
    let raw = raw_id(&m.id);
    let keys = keys_of(m);
    if let Some(existing) = q::message_by_wa(&mut *conn, link.id, Some(&m.id), None).await? {
        // Seen before; a catch-up may still bring a newer ack (delivered or read) of an own
        // message.
        let status = m
            .ack
            .and_then(MessageStatus::from_ack)
            .filter(|s| matches!(s, MessageStatus::Delivered | MessageStatus::Read));
        if let (true, Some(s)) = (m.from_me, status) {
            if q::advance_status(&mut *conn, existing.id, s, None)
                .await?
                .is_some()
            {
                publish_update(core, conn, fx, existing.id).await?;
            }
        }
        return Ok(Outcome::Skipped);
    }
    let is_group = types::is_group(&chat_id);
    let sender = lookups::sender_of(m, &chat_id);
    let push_name = types::push_name_of(m);
    let contact = match (&sender, m.from_me && !is_group) {
        (Some(s), _) => Some(
            contact_for(
                cx,
                conn,
                s,
                if m.from_me {
                    None
                } else {
                    push_name.as_deref()
                },
            )
            .await?,
        ),
        (None, _) => None,
    };
    let conv_contact = if is_group { None } else { contact.as_ref() };
    let (conv, created) = conversation_for(conn, link, &chat_id, conv_contact, is_group).await?;
    let sent_at = ts(m.timestamp);

    // Our own API send, echoed before the worker recorded its WhatsApp id: attach, don't copy.
    if m.from_me {
        let echo = wa::unsent_echo_target(&mut *conn, conv.id, m.body.as_deref()).await?;
        if let Some(id) = echo {
            q::set_wa_id(&mut *conn, id, &m.id, raw.as_deref()).await?;
            fx.known(&keys);
            return Ok(Outcome::Applied);
        }
    }

    let (kind, mut meta) = kind_of(m);
    let media_file = if m.has_media {
        match fetch_media(cx, conn, m).await {
            Ok(f) => f,
            Err(e) => {
                meta["media_error"] = json!(e.chars().take(200).collect::<String>());
                None
            }
        }
    } else {
        None
    };
    let reply_to_wa = m.reply_to.as_ref().and_then(|r| r.id.clone());
    let reply_to = match &reply_to_wa {
        Some(r) => q::message_by_wa(
            &mut *conn,
            link.id,
            Some(r),
            raw_id(r).as_deref().or(Some(r)),
        )
        .await?
        .map(|x| x.id),
        None => None,
    };
    if let Some(r) = &reply_to_wa {
        meta["reply_to_wa_id"] = json!(r);
    }
    if is_group {
        meta["participant"] = json!(sender);
    }
    // Our own message seen on WhatsApp is at least sent; a buyer's reached us: delivered.
    let status = if m.from_me {
        match m.ack.and_then(MessageStatus::from_ack) {
            Some(s @ (MessageStatus::Delivered | MessageStatus::Read | MessageStatus::Failed)) => s,
            _ => MessageStatus::Sent,
        }
    } else {
        MessageStatus::Delivered
    };
    let direction = if m.from_me {
        Direction::Out
    } else {
        Direction::In
    };
    let inserted = q::insert_message(
        &mut *conn,
        NewMessage {
            conversation: conv.id,
            direction,
            author_user: m.from_me.then_some(link.agent_id),
            author_contact: if m.from_me {
                None
            } else {
                contact.as_ref().map(|c| c.id)
            },
            kind,
            body: m.body.as_deref().filter(|b| !b.is_empty()),
            media_file,
            meta,
            reply_to,
            status,
            link: Some(link.id),
            wa_message_id: Some(&m.id),
            wa_key_id: raw.as_deref(),
            client_id: None,
            sent_at,
        },
    )
    .await?;
    let Some(msg) = inserted else {
        return Ok(Outcome::Skipped);
    };
    q::touch_conversation(&mut *conn, conv.id, sent_at).await?;
    fx.stored(sent_at, &keys);
    if !is_group || core.config.inbox_groups {
        fx.publish_created(&conv, msg.id);
        let conv = q::conversation(&mut *conn, conv.id).await?.unwrap_or(conv);
        if created || conv.last_message_at == Some(sent_at) {
            fx.publish_conversation(&conv);
        }
    }
    Ok(Outcome::Applied)
}

async fn publish_update(
    core: &Core,
    conn: &mut PgConnection,
    fx: &mut Effects,
    msg_id: Uuid,
) -> anyhow::Result<()> {
    if let Some(msg) = q::message(&mut *conn, msg_id).await? {
        if let Some(conv) = q::conversation(&mut *conn, msg.conversation_id).await? {
            if !conv.is_group || core.config.inbox_groups {
                fx.publish_update(&mut *conn, &conv, msg.id).await?;
            }
        }
    }
    Ok(())
}

/// `message.ack`: move an own message's status forward.
pub async fn apply_ack(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    let (core, link) = (cx.core, cx.link);
    let a: AckPayload = env.payload_as()?;
    let status = match a.level().and_then(MessageStatus::from_ack) {
        // PENDING says nothing new; a level WAHA does not define, nothing at all.
        None | Some(MessageStatus::Pending) => return Ok(Outcome::Skipped),
        Some(s) => s,
    };
    let Some(msg) = q::message_by_wa(&mut *conn, link.id, Some(&a.id), None).await? else {
        return Ok(Outcome::Deferred(a.id));
    };
    let reason = (status == MessageStatus::Failed).then_some("whatsapp_error");
    if q::advance_status(&mut *conn, msg.id, status, reason)
        .await?
        .is_some()
    {
        publish_update(core, conn, fx, msg.id).await?;
        Ok(Outcome::Applied)
    } else {
        Ok(Outcome::Skipped)
    }
}

/// `message.reaction`: one reaction per author per message; empty text removes it.
pub async fn apply_reaction(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    let (core, link) = (cx.core, cx.link);
    let r: ReactionPayload = env.payload_as()?;
    let target = r.reaction.message_id.clone();
    let Some(msg) = q::message_by_wa(
        &mut *conn,
        link.id,
        Some(&target),
        raw_id(&target).as_deref(),
    )
    .await?
    else {
        return Ok(Outcome::Deferred(target));
    };
    let author = if r.from_me {
        format!("user:{}", link.agent_id)
    } else {
        let who = r.participant.clone().or(r.from.clone()).unwrap_or_default();
        match q::contacts_matching(&mut *conn, link.id, Some(&types::to_cus(&who)), Some(&who))
            .await?
            .first()
        {
            Some(c) => format!("contact:{}", c.id),
            None => format!("wa:{who}"),
        }
    };
    q::set_reaction(&mut *conn, msg.id, &author, &r.reaction.text).await?;
    publish_update(core, conn, fx, msg.id).await?;
    Ok(Outcome::Applied)
}

/// `message.revoked`: the message was deleted for everyone.
pub async fn apply_revoked(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    let (core, link) = (cx.core, cx.link);
    let r: RevokedPayload = env.payload_as()?;
    let serialized = r
        .before
        .as_ref()
        .map(|b| b.id.clone())
        .filter(|s| !s.is_empty());
    let raw = r
        .revoked_message_id
        .clone()
        .or_else(|| serialized.as_deref().and_then(raw_id));
    let Some(key) = raw.clone().or(serialized.clone()) else {
        return Ok(Outcome::Skipped);
    };
    let Some(msg) =
        q::message_by_wa(&mut *conn, link.id, serialized.as_deref(), raw.as_deref()).await?
    else {
        return Ok(Outcome::Deferred(key));
    };
    q::mark_deleted(&mut *conn, msg.id).await?;
    publish_update(core, conn, fx, msg.id).await?;
    Ok(Outcome::Applied)
}

/// `message.edited`: new text for an existing message.
pub async fn apply_edited(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    let (core, link) = (cx.core, cx.link);
    let e: EditedPayload = env.payload_as()?;
    let Some(raw) = e.edited_message_id.clone() else {
        return Ok(Outcome::Skipped);
    };
    let Some(msg) = q::message_by_wa(&mut *conn, link.id, None, Some(&raw)).await? else {
        return Ok(Outcome::Deferred(raw));
    };
    let body = e.message.body.clone().unwrap_or_default();
    q::edit_body(&mut *conn, msg.id, &body).await?;
    publish_update(core, conn, fx, msg.id).await?;
    Ok(Outcome::Applied)
}

/// `presence.update`: typing / online of the buyer, pushed live (not stored on messages).
pub async fn apply_presence(
    cx: &Ctx<'_>,
    conn: &mut PgConnection,
    fx: &mut Effects,
    env: &WebhookEnvelope,
) -> anyhow::Result<Outcome> {
    let link = cx.link;
    let p: PresencePayload = env.payload_as()?;
    let contact = q::contacts_matching(
        &mut *conn,
        link.id,
        Some(&types::to_cus(&p.id)),
        Some(&p.id),
    )
    .await?;
    let Some(conv) =
        q::find_wa_conversation(&mut *conn, link.id, &p.id, contact.first().map(|c| c.id)).await?
    else {
        return Ok(Outcome::Skipped);
    };
    for pr in &p.presences {
        let state = pr.last_known_presence.as_str();
        let (kind, data) = match state {
            "typing" | "recording" | "paused" => (
                "typing",
                json!({"conversation_id": conv.id, "who": "contact", "state": state, "typing": state != "paused"}),
            ),
            "online" | "offline" => (
                "presence",
                json!({"conversation_id": conv.id, "who": "contact", "online": state == "online", "last_seen": pr.last_seen}),
            ),
            _ => continue,
        };
        fx.publish(&[conv.agent_id], kind, &data);
    }
    Ok(Outcome::Applied)
}
