//! What applying events asks of the network, asked before their transaction: the phone
//! numbers behind the `@lid` ids their contacts are known by.
//!
//! Invariant: **no network call inside a transaction.** A message from a person WhatsApp names
//! only by `@lid` is matched to a contact by phone too, when WAHA knows it; the dispatcher and
//! the batcher ask for every such id of the events they are about to apply ([`LidPhones::ask`])
//! and only then open the transaction, so the lookup holds no lock, row or pool connection.
//! An id WAHA does not know, or could not be asked about, stays a lid-only contact, as before.
//! (Media downloads are the other network call of applying: see [`super::dispatch::way`].)

use std::collections::HashMap;

use futures_util::StreamExt;
use uuid::Uuid;

use crate::core::Core;
use crate::waha::types::{self, MessagePayload, WebhookEnvelope};

/// Lookups in flight at once for one batch (a batch may bring many new contacts).
const LOOKUPS_AT_ONCE: usize = 8;

/// The phones WAHA gave for some `@lid` ids (only those it knew).
#[derive(Debug, Default)]
pub struct LidPhones {
    phones: HashMap<String, String>,
}

impl LidPhones {
    /// The phone behind `lid`, if it was asked for and WAHA knew it.
    pub fn phone(&self, lid: &str) -> Option<&str> {
        self.phones.get(lid).map(String::as_str)
    }

    /// Ask the link's WAHA for the phones behind `lids` (each once). Call before the
    /// transaction; failures (no container, WAHA not knowing) leave an id without a phone.
    pub async fn ask(core: &Core, link: Uuid, lids: impl IntoIterator<Item = String>) -> Self {
        let mut lids: Vec<String> = lids.into_iter().collect();
        if lids.is_empty() {
            return Self::default();
        }
        lids.sort_unstable();
        lids.dedup();
        let Ok(Some(row)) = crate::db::links::find(&core.db, link).await else {
            return Self::default();
        };
        let Ok(client) = crate::links::service::client(core, &row).await else {
            return Self::default();
        };
        let client = &client;
        let phones = futures_util::stream::iter(lids)
            .map(|lid| async move {
                let phone = client.lid_to_phone(&lid).await.ok().flatten();
                phone.map(|pn| (lid, pn))
            })
            .buffer_unordered(LOOKUPS_AT_ONCE)
            .filter_map(std::future::ready)
            .collect()
            .await;
        Self { phones }
    }
}

/// Chats whose messages are not a person's conversation: status updates, channels,
/// broadcast lists.
pub fn ignored_chat(chat_id: &str) -> bool {
    types::is_status_broadcast(chat_id)
        || chat_id.ends_with("@newsletter")
        || chat_id.ends_with("@broadcast")
}

/// Who sent a message in `chat_id`: the participant in a group, the chat itself otherwise.
pub fn sender_of(m: &MessagePayload, chat_id: &str) -> Option<String> {
    if types::is_group(chat_id) {
        m.participant.clone().or_else(|| m.author.clone())
    } else {
        Some(chat_id.to_string())
    }
}

/// The `@lid` the message's contact would be looked up by, if it has one.
pub fn lid_of_message(m: &MessagePayload) -> Option<String> {
    if m.id.is_empty() {
        return None;
    }
    let chat_id = types::chat_id_of(m)?;
    if ignored_chat(&chat_id) {
        return None;
    }
    sender_of(m, &chat_id).filter(|s| types::is_lid(s))
}

/// The `@lid` a stored event would look up (only new messages look one up).
pub fn lid_of_event(event: Option<&str>, env: &WebhookEnvelope) -> Option<String> {
    match event {
        Some("message") | Some("message.any") => env
            .payload_as::<MessagePayload>()
            .ok()
            .as_ref()
            .and_then(lid_of_message),
        _ => None,
    }
}
