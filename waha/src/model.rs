//! WAHA's data shapes: session statuses, `me`, the stored message record and how it renders as a
//! `WAMessage`, ack payloads and the engine-specific send responses.
//!
//! Messages are stored once in an engine-neutral [`StoredMessage`] and rendered per engine on the
//! way out, so switching `WHATSAPP_DEFAULT_ENGINE` changes `from`/`to`, `_data` and send responses
//! the way the contract (§3.2, §5.3) describes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Engine;
use crate::ids;

/// `WAHASessionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Stopped,
    Starting,
    ScanQrCode,
    Working,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stopped => "STOPPED",
            Status::Starting => "STARTING",
            Status::ScanQrCode => "SCAN_QR_CODE",
            Status::Working => "WORKING",
            Status::Failed => "FAILED",
        }
    }
}

/// `MeInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jid: Option<String>,
    #[serde(rename = "pushName")]
    pub push_name: String,
}

/// What kind of content a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Image,
    File,
    Voice,
    Video,
    Location,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Kind::Text),
            "image" => Some(Kind::Image),
            "file" => Some(Kind::File),
            "voice" => Some(Kind::Voice),
            "video" => Some(Kind::Video),
            "location" => Some(Kind::Location),
            _ => None,
        }
    }

    fn webjs_type(self) -> &'static str {
        match self {
            Kind::Text => "chat",
            Kind::Image => "image",
            Kind::File => "document",
            Kind::Voice => "ptt",
            Kind::Video => "video",
            Kind::Location => "location",
        }
    }
}

/// A media attachment: a file kept under the session folder, or an external URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    /// File name under `<session dir>/files/`.
    pub file: Option<String>,
    /// External URL when the file could not be stored locally.
    pub url: Option<String>,
    pub mimetype: String,
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub from: String,
    pub text: String,
}

/// One message as the emulator keeps it (one JSON line in `messages.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    /// Serialized id (`true_<chat>_<raw>[_<participant>]`).
    pub id: String,
    pub raw_id: String,
    pub chat_id: String,
    pub from_me: bool,
    /// Who wrote it (`me.id` for own messages).
    pub sender: String,
    /// The sender inside a group.
    pub participant: Option<String>,
    pub timestamp: i64,
    pub kind: Kind,
    pub body: String,
    pub media: Option<MediaRef>,
    pub location: Option<Location>,
    /// Serialized id of the quoted message.
    pub reply_to: Option<String>,
    pub ack: i32,
    /// `api` when sent through the HTTP API, `app` otherwise.
    pub source: String,
    pub push_name: Option<String>,
    #[serde(default)]
    pub edited: bool,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub reactions: Vec<Reaction>,
}

/// `ack` → `ackName`.
pub fn ack_name(ack: i32) -> &'static str {
    match ack {
        -1 => "ERROR",
        0 => "PENDING",
        1 => "SERVER",
        2 => "DEVICE",
        3 => "READ",
        4 => "PLAYED",
        _ => "UNKNOWN",
    }
}

/// What rendering needs to know besides the message.
pub struct RenderCtx<'a> {
    pub engine: Engine,
    pub session: &'a str,
    pub base_url: &'a str,
    /// `me.id` of the session (own side of a DM).
    pub me_id: &'a str,
}

fn s_whatsapp_net(jid: &str) -> String {
    if let Some(user) = jid.strip_suffix("@c.us") {
        format!("{user}@s.whatsapp.net")
    } else {
        jid.to_owned()
    }
}

fn is_group(jid: &str) -> bool {
    jid.ends_with("@g.us")
}

impl StoredMessage {
    /// Public URL of the media file, when stored locally.
    pub fn media_url(&self, ctx: &RenderCtx<'_>) -> Option<String> {
        let media = self.media.as_ref()?;
        match (&media.file, &media.url) {
            (Some(file), _) => Some(format!(
                "{}/api/files/{}/{}",
                ctx.base_url, ctx.session, file
            )),
            (None, Some(url)) => Some(url.clone()),
            (None, None) => None,
        }
    }

    fn visible_body(&self) -> &str {
        if self.revoked {
            ""
        } else {
            &self.body
        }
    }

    /// `from`, `to`, `participant` and `author` per engine (contract §5.3).
    fn addressing(
        &self,
        ctx: &RenderCtx<'_>,
    ) -> (String, Option<String>, Option<String>, Option<String>) {
        let group = is_group(&self.chat_id);
        match ctx.engine {
            Engine::Noweb | Engine::Gows => {
                if group {
                    (
                        self.chat_id.clone(),
                        Some(self.chat_id.clone()),
                        Some(self.sender.clone()),
                        None,
                    )
                } else {
                    (self.chat_id.clone(), None, None, None)
                }
            }
            Engine::Webjs => {
                if group {
                    if self.from_me {
                        (
                            ctx.me_id.to_owned(),
                            Some(self.chat_id.clone()),
                            None,
                            Some(ctx.me_id.to_owned()),
                        )
                    } else {
                        (
                            self.chat_id.clone(),
                            Some(ctx.me_id.to_owned()),
                            self.participant.clone(),
                            Some(self.sender.clone()),
                        )
                    }
                } else if self.from_me {
                    (ctx.me_id.to_owned(), Some(self.chat_id.clone()), None, None)
                } else {
                    (self.sender.clone(), Some(ctx.me_id.to_owned()), None, None)
                }
            }
        }
    }

    /// The engine's raw message object (`_data`).
    pub fn raw_data(&self, ctx: &RenderCtx<'_>) -> Value {
        let body = self.visible_body();
        match ctx.engine {
            Engine::Webjs => {
                let (from, to, _, author) = self.addressing(ctx);
                json!({
                    "id": {"fromMe": self.from_me, "remote": self.chat_id, "id": self.raw_id, "_serialized": self.id},
                    "body": body,
                    "type": if self.revoked { "revoked" } else { self.kind.webjs_type() },
                    "t": self.timestamp,
                    "notifyName": self.push_name,
                    "from": from,
                    "to": to,
                    "author": author,
                    "ack": self.ack,
                    "isNewMsg": true,
                })
            }
            Engine::Noweb => {
                let mut key = json!({
                    "remoteJid": s_whatsapp_net(&self.chat_id),
                    "fromMe": self.from_me,
                    "id": self.raw_id,
                });
                if let Some(p) = &self.participant {
                    key["participant"] = json!(s_whatsapp_net(p));
                }
                json!({
                    "key": key,
                    "messageTimestamp": self.timestamp,
                    "pushName": self.push_name,
                    "broadcast": false,
                    "message": self.noweb_message(body),
                    "status": self.ack + 1,
                })
            }
            Engine::Gows => json!({
                "Info": {
                    "Chat": s_whatsapp_net(&self.chat_id),
                    "Sender": s_whatsapp_net(&self.sender),
                    "IsFromMe": self.from_me,
                    "IsGroup": is_group(&self.chat_id),
                    "ID": self.raw_id,
                    "PushName": self.push_name.clone().unwrap_or_default(),
                    "Timestamp": self.timestamp,
                },
                "Message": self.noweb_message(body),
            }),
        }
    }

    fn noweb_message(&self, body: &str) -> Value {
        let mimetype = self.media.as_ref().map(|m| m.mimetype.clone());
        match self.kind {
            Kind::Text => json!({"extendedTextMessage": {"text": body}}),
            Kind::Image => json!({"imageMessage": {"caption": body, "mimetype": mimetype}}),
            Kind::File => json!({"documentMessage": {"caption": body, "mimetype": mimetype,
                "fileName": self.media.as_ref().and_then(|m| m.filename.clone())}}),
            Kind::Voice => json!({"audioMessage": {"mimetype": mimetype, "ptt": true}}),
            Kind::Video => json!({"videoMessage": {"caption": body, "mimetype": mimetype}}),
            Kind::Location => {
                let loc = self.location.clone();
                json!({"locationMessage": {
                    "degreesLatitude": loc.as_ref().map(|l| l.latitude),
                    "degreesLongitude": loc.as_ref().map(|l| l.longitude),
                    "name": loc.and_then(|l| l.title),
                }})
            }
        }
    }

    /// The `WAMessage` as sent in `message` / `message.any` and returned by the chats API.
    /// `quoted` is the message `reply_to` points at, when known.
    pub fn to_wa(
        &self,
        ctx: &RenderCtx<'_>,
        quoted: Option<&StoredMessage>,
        with_media: bool,
    ) -> Value {
        let (from, to, participant, author) = self.addressing(ctx);
        let media = if with_media {
            self.media.as_ref().map(|m| {
                json!({
                    "url": self.media_url(ctx),
                    "mimetype": m.mimetype,
                    "filename": m.filename,
                    "error": null,
                })
            })
        } else {
            None
        };
        let reply_to = match (&self.reply_to, quoted) {
            (_, Some(q)) => json!({
                "id": q.raw_id,
                "participant": q.sender,
                "body": q.visible_body(),
                "hasMedia": q.media.is_some(),
                "media": null,
                "_data": {},
            }),
            (Some(id), None) => {
                let raw = ids::parse_serialized(id)
                    .map(|k| k.id)
                    .unwrap_or_else(|_| id.clone());
                json!({"id": raw, "participant": null, "body": null, "hasMedia": false, "media": null, "_data": {}})
            }
            (None, None) => Value::Null,
        };
        let location = self.location.as_ref().map(|l| {
            json!({
                "latitude": l.latitude.to_string(),
                "longitude": l.longitude.to_string(),
                "description": l.title,
            })
        });
        let mut out = json!({
            "id": self.id,
            "timestamp": self.timestamp,
            "from": from,
            "fromMe": self.from_me,
            "source": self.source,
            "participant": participant,
            "author": author,
            "body": self.visible_body(),
            "hasMedia": self.media.is_some() && !self.revoked,
            "media": media,
            "ack": self.ack,
            "ackName": ack_name(self.ack),
            "location": location,
            "vCards": [],
            "replyTo": reply_to,
            "_data": self.raw_data(ctx),
        });
        if let Some(to) = to {
            out["to"] = json!(to);
        }
        out
    }

    /// `message.ack` payload: a full `WAMessage` on WEBJS, `WAMessageAckBody` elsewhere.
    pub fn ack_payload(&self, ctx: &RenderCtx<'_>) -> Value {
        if ctx.engine == Engine::Webjs {
            return self.to_wa(ctx, None, true);
        }
        let (from, to, participant, _) = self.addressing(ctx);
        json!({
            "id": self.id,
            "from": from,
            "to": to.unwrap_or_else(|| self.chat_id.clone()),
            "participant": participant,
            "fromMe": self.from_me,
            "ack": self.ack,
            "ackName": ack_name(self.ack),
            "_data": {"key": {"remoteJid": s_whatsapp_net(&self.chat_id), "fromMe": self.from_me, "id": self.raw_id}, "update": {"status": self.ack + 1}},
        })
    }

    /// What `POST /api/send*` answers: each engine's own format (contract §3.2).
    pub fn send_response(&self, ctx: &RenderCtx<'_>) -> Value {
        match ctx.engine {
            Engine::Noweb => json!({
                "key": {"remoteJid": s_whatsapp_net(&self.chat_id), "fromMe": true, "id": self.raw_id},
                "message": self.noweb_message(&self.body),
                "messageTimestamp": self.timestamp.to_string(),
                "status": "PENDING",
            }),
            Engine::Gows => json!({"id": self.id, "_data": self.raw_data(ctx)}),
            Engine::Webjs => {
                let (from, to, _, author) = self.addressing(ctx);
                json!({
                    "_data": self.raw_data(ctx),
                    "id": {"fromMe": true, "remote": self.chat_id, "id": self.raw_id, "_serialized": self.id},
                    "ack": self.ack,
                    "hasMedia": self.media.is_some(),
                    "body": self.body,
                    "type": self.kind.webjs_type(),
                    "timestamp": self.timestamp,
                    "from": from,
                    "to": to,
                    "author": author,
                    "deviceType": "web",
                    "isForwarded": false,
                    "forwardingScore": 0,
                    "isStatus": false,
                    "isStarred": false,
                    "broadcast": false,
                    "fromMe": true,
                    "hasQuotedMsg": self.reply_to.is_some(),
                    "hasReaction": false,
                    "vCards": [],
                    "mentionedIds": [],
                    "links": [],
                })
            }
        }
    }
}
