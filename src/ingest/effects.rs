//! What applying an event reads besides its transaction ([`Ctx`]), and what it leaves for the
//! end of that transaction ([`Effects`]).
//!
//! Events are applied one to a transaction ([`super::dispatch`]) or many, a savepoint each
//! ([`super::batch`]). Either way, the effects that are cheaper written once per transaction
//! are gathered here and written just before the commit by [`Effects::finish`]:
//! - the realtime events of new messages, in order, in one insert and one NOTIFY statement
//!   ([`realtime::events::publish_all`]): `message.created` and `conversation.updated`, for
//!   the viewers and with the DTOs [`chat::publish_message`] and [`chat::publish_conversation`]
//!   would write one at a time (a new message has no earlier stored copy for chat to rewrite),
//!   rendered when they are written: the messages' for each viewer in one query, each
//!   conversation's once (one `conversation.updated` per conversation and write, where its last
//!   one was, showing where the events left it). A change to a known message
//!   (`message.updated`: an ack, an edit, a reaction, a deletion) is published by
//!   [`chat::publish_message`] itself, whose rules for changes stay in one place
//!   ([`Effects::publish_update`]); what was buffered before it is written first;
//! - the link's watermark, moved once, to the newest message's WhatsApp time;
//! - the deferred events waiting on the messages stored, woken in one statement (the batcher
//!   takes those ids as it goes, [`Effects::take_stored`], to apply what waits on a message
//!   right after it, as the events came).
//!
//! Invariants:
//! - **A failed event leaves nothing.** Before an event's savepoint the batcher takes a
//!   [`Mark`]; when the savepoint is rolled back, [`Effects::undo`] drops what the event added,
//!   so nothing of it is published, watermarked or woken — and queues again what earlier events
//!   had buffered and the rolled-back savepoint had written.
//! - **One order per user.** Events are written in the order they were published, buffered or
//!   not: a direct publish first writes everything buffered before it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::lookups::LidPhones;
use crate::chat::{self, access::Viewer, views::MessageDto};
use crate::core::Core;
use crate::db::chat::ConversationRow;
use crate::db::links::LinkRow;
use crate::db::{events, whatsapp};
use crate::realtime::{self, events::Outgoing};

/// What applying an event may read besides its transaction.
pub struct Ctx<'a> {
    pub core: &'a Core,
    /// The link, read under its applying lock.
    pub link: &'a LinkRow,
    /// The phones behind the `@lid` ids of the events being applied, asked before the
    /// transaction ([`LidPhones::ask`]).
    pub phones: &'a LidPhones,
}

/// A realtime event buffered by [`Effects`].
#[derive(Debug)]
enum Pending {
    Ready(Outgoing),
    /// `message.created` for a message just stored; rendered when written.
    Created {
        conv: ConversationRow,
        message: Uuid,
    },
    /// `conversation.updated`; rendered when written.
    Conversation(ConversationRow),
}

/// The effects of the events applied in one transaction, written by [`Effects::finish`].
#[derive(Debug, Default)]
pub struct Effects {
    /// Realtime events buffered, in the order they happened; those before `written` are in
    /// the database already (written before a direct publish).
    events: Vec<Pending>,
    written: usize,
    /// The newest WhatsApp time of the messages stored.
    watermark: Option<DateTime<Utc>>,
    /// The ids (serialized and raw) of the messages stored: events may be deferred on them.
    stored: Vec<String>,
}

/// How far [`Effects`] had got: [`Effects::undo`] goes back to it.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    events: usize,
    written: usize,
    watermark: Option<DateTime<Utc>>,
    stored: usize,
}

impl Effects {
    pub fn mark(&self) -> Mark {
        Mark {
            events: self.events.len(),
            written: self.written,
            watermark: self.watermark,
            stored: self.stored.len(),
        }
    }

    /// Forget what was added since `mark` (its event's savepoint was rolled back): what the
    /// savepoint wrote is gone with it, so what of it earlier events buffered is pending again.
    pub fn undo(&mut self, mark: Mark) {
        self.events.truncate(mark.events);
        self.written = mark.written.min(self.events.len());
        self.watermark = mark.watermark;
        self.stored.truncate(mark.stored);
    }

    /// Publish an event to `users` (each once) at the end of the transaction.
    pub fn publish(&mut self, users: &[Uuid], kind: &str, data: &Value) {
        for user in distinct(users) {
            self.events.push(Pending::Ready(Outgoing {
                user,
                kind: kind.to_string(),
                data: data.clone(),
            }));
        }
    }

    /// `message.created` for a message just stored, buffered: the message to each member of
    /// the conversation's audience as they may see it, as [`chat::publish_message`] writes it.
    pub fn publish_created(&mut self, conv: &ConversationRow, message: Uuid) {
        self.events.push(Pending::Created {
            conv: conv.clone(),
            message,
        });
    }

    /// [`chat::publish_conversation`], buffered: the conversation's state, as it is when
    /// written.
    pub fn publish_conversation(&mut self, conv: &ConversationRow) {
        self.events.push(Pending::Conversation(conv.clone()));
    }

    /// `message.updated` for a known message, through [`chat::publish_message`] (after what
    /// was buffered before it).
    pub async fn publish_update(
        &mut self,
        conn: &mut PgConnection,
        conv: &ConversationRow,
        message: Uuid,
    ) -> anyhow::Result<()> {
        self.write_buffered(&mut *conn).await?;
        chat::publish_message(&mut *conn, conv, message, "message.updated").await?;
        Ok(())
    }

    /// Write the events buffered so far (not yet written).
    async fn write_buffered(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        if self.written < self.events.len() {
            let events = render(&mut *conn, &self.events[self.written..]).await?;
            realtime::events::publish_all(&mut *conn, events).await?;
            self.written = self.events.len();
        }
        Ok(())
    }

    /// A message was stored: its WhatsApp time moves the watermark, and the events deferred on
    /// its ids (`keys`) wake.
    pub fn stored(&mut self, at: DateTime<Utc>, keys: &[String]) {
        self.watermark = Some(self.watermark.map_or(at, |w| w.max(at)));
        self.stored.extend(keys.iter().cloned());
    }

    /// A message became known by its ids (`keys`) without being stored anew (our own send,
    /// echoed back): the events deferred on them wake.
    pub fn known(&mut self, keys: &[String]) {
        self.stored.extend(keys.iter().cloned());
    }

    /// The message ids learnt since this was last asked, handed over: the batcher wakes what
    /// waits on them right after their event, instead of at the end.
    pub fn take_stored(&mut self) -> Vec<String> {
        std::mem::take(&mut self.stored)
    }

    /// Write it all, in the transaction, just before its commit; returns the deferred events
    /// woken (pending again), for the caller to apply once it committed.
    pub async fn finish(mut self, conn: &mut PgConnection, link: Uuid) -> anyhow::Result<Vec<i64>> {
        if let Some(at) = self.watermark {
            whatsapp::advance_watermark(&mut *conn, link, at).await?;
        }
        let woken = if self.stored.is_empty() {
            Vec::new()
        } else {
            events::wake_deferred(&mut *conn, link, &self.stored).await?
        };
        self.write_buffered(&mut *conn).await?;
        Ok(woken)
    }
}

fn distinct(users: &[Uuid]) -> Vec<Uuid> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    users
}

/// The events `pending` stands for, in order: each created message's DTO for each viewer
/// (one query per viewer for all of them), each conversation's once, where its last
/// `conversation.updated` was.
async fn render(conn: &mut PgConnection, pending: &[Pending]) -> anyhow::Result<Vec<Outgoing>> {
    let mut wanted: Vec<(Viewer, Vec<Uuid>)> = Vec::new();
    let mut last_of: HashMap<Uuid, usize> = HashMap::new();
    // The agency admins of each conversation (they see it as staff): asked once per
    // conversation of the batch.
    let mut overseers: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for p in pending {
        if let Pending::Created { conv, .. } | Pending::Conversation(conv) = p {
            if let std::collections::hash_map::Entry::Vacant(e) = overseers.entry(conv.id) {
                e.insert(chat::publish::overseers(&mut *conn, conv).await?);
            }
        }
    }
    let everyone = |conv: &ConversationRow| -> Vec<(Uuid, Viewer)> {
        let mut v = chat::publish::viewers(conv);
        if let Some(admins) = overseers.get(&conv.id) {
            v.extend(admins.iter().map(|a| (*a, Viewer::Staff)));
        }
        v
    };
    for (i, p) in pending.iter().enumerate() {
        match p {
            Pending::Ready(_) => {}
            Pending::Created { conv, message } => {
                for (_, viewer) in everyone(conv) {
                    match wanted.iter_mut().find(|(v, _)| *v == viewer) {
                        Some((_, ids)) => ids.push(*message),
                        None => wanted.push((viewer, vec![*message])),
                    }
                }
            }
            Pending::Conversation(conv) => {
                last_of.insert(conv.id, i);
            }
        }
    }
    let mut messages: Vec<(Viewer, HashMap<Uuid, MessageDto>)> = Vec::new();
    for (viewer, ids) in wanted {
        let dtos = chat::views::message_dtos(&mut *conn, viewer, &ids).await?;
        messages.push((viewer, dtos.into_iter().map(|d| (d.id, d)).collect()));
    }
    let mut conversations = HashMap::new();
    for id in last_of.keys() {
        conversations.insert(*id, chat::views::conversation_dto(&mut *conn, *id).await?);
    }
    let mut out = Vec::with_capacity(pending.len());
    let mut push = |users: &[Uuid], kind: &str, data: &Value| {
        for user in distinct(users) {
            out.push(Outgoing {
                user,
                kind: kind.to_string(),
                data: data.clone(),
            });
        }
    };
    for (i, p) in pending.iter().enumerate() {
        match p {
            Pending::Ready(o) => push(&[o.user], &o.kind, &o.data),
            Pending::Created { conv, message } => {
                for (user, viewer) in everyone(conv) {
                    let dto = messages
                        .iter()
                        .find(|(v, _)| *v == viewer)
                        .and_then(|(_, dtos)| dtos.get(message));
                    if let Some(dto) = dto {
                        let data = json!({"conversation_id": conv.id, "message": dto});
                        push(&[user], "message.created", &data);
                    }
                }
            }
            Pending::Conversation(conv) if last_of.get(&conv.id) == Some(&i) => {
                if let Some(Some(dto)) = conversations.get(&conv.id) {
                    let data = json!({"conversation": dto});
                    let mut to = chat::audience(conv);
                    to.extend(overseers.get(&conv.id).into_iter().flatten().copied());
                    push(&to, "conversation.updated", &data);
                }
            }
            Pending::Conversation(_) => {}
        }
    }
    Ok(out)
}
