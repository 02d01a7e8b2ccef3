//! WAHA's data shapes as Puente reads them: session info, `me`, the webhook envelope and the
//! payloads of the events Puente applies, plus the replies of the read endpoints (chats,
//! contacts, lids, server version) and the engine-specific send response.
//!
//! Invariants:
//! - **Lenient in, never panicking.** Every field WAHA may omit, null or change between engines
//!   and versions is optional or defaulted; numbers arrive as integers, floats, numeric strings
//!   (NOWEB's `messageTimestamp`) or protobuf `Long`s and are all accepted; a field of an
//!   unexpected type reads as absent instead of failing the whole event. Only a webhook without
//!   an `event` name is rejected.
//! - **WAHA's casing.** Fields keep WAHA's names on the wire (`fromMe`, `hasMedia`, `_data`) via
//!   serde renames; Rust names are snake_case.
//! - **Raw engine data stays raw.** `_data` and other engine-specific objects are kept as
//!   [`serde_json::Value`] and never interpreted beyond the documented fallbacks
//!   ([`SentMessage::from_value`], [`push_name_of`]).

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Event names (`WebhookEnvelope::event`) Puente applies. WAHA has more (contract §5.1).
pub mod event {
    pub const SESSION_STATUS: &str = "session.status";
    pub const MESSAGE: &str = "message";
    pub const MESSAGE_ANY: &str = "message.any";
    pub const MESSAGE_ACK: &str = "message.ack";
    pub const MESSAGE_ACK_GROUP: &str = "message.ack.group";
    pub const MESSAGE_REACTION: &str = "message.reaction";
    pub const MESSAGE_REVOKED: &str = "message.revoked";
    pub const MESSAGE_EDITED: &str = "message.edited";
    pub const PRESENCE_UPDATE: &str = "presence.update";
}

// ----- lenient field readers ------------------------------------------------------------------

/// Field readers that accept whatever shape WAHA sends and never fail.
mod lenient {
    use super::*;

    /// A number from an integer, a float (truncated), a numeric string, or a protobuf `Long`
    /// (`{low, high}`); anything else is `None`.
    pub fn i64_of(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().map(|f| f as i64))
            }
            Value::Object(o) => {
                let low = o.get("low").and_then(Value::as_i64)?;
                let high = o.get("high").and_then(Value::as_i64).unwrap_or(0);
                Some((high << 32) | (low & 0xffff_ffff))
            }
            _ => None,
        }
    }

    pub fn f64_of(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(i64_of(&Value::deserialize(d)?))
    }

    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(f64_of(&Value::deserialize(d)?))
    }

    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_string(d)?.unwrap_or_default())
    }

    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(matches!(Value::deserialize(d)?, Value::Bool(true)))
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(Value::deserialize(d)?.as_bool())
    }

    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    /// `T` from an object; `None` for null, a non-object, or an object that does not fit.
    pub fn opt_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(match Value::deserialize(d)? {
            v @ Value::Object(_) => serde_json::from_value(v).ok(),
            _ => None,
        })
    }

    /// A list of `T`, skipping entries that do not fit.
    pub fn objects<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(a) => a
                .into_iter()
                .filter(Value::is_object)
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect(),
            _ => Vec::new(),
        })
    }
}

// ----- sessions -------------------------------------------------------------------------------

/// `WAHASessionStatus`, with a fallback for statuses newer than this code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    Stopped,
    Starting,
    ScanQrCode,
    /// GOWS passkey pairing (2026.7.1+).
    PasskeyRequired,
    /// GOWS passkey pairing (2026.7.1+).
    PasskeyConfirmationRequired,
    Working,
    Failed,
    /// Any other value, kept verbatim (empty when the field was missing or not a string).
    Unknown(String),
}

impl Default for SessionStatus {
    /// `Unknown("")`: what a missing status reads as.
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

impl SessionStatus {
    /// The wire name (`SCAN_QR_CODE`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stopped => "STOPPED",
            Self::Starting => "STARTING",
            Self::ScanQrCode => "SCAN_QR_CODE",
            Self::PasskeyRequired => "PASSKEY_REQUIRED",
            Self::PasskeyConfirmationRequired => "PASSKEY_CONFIRMATION_REQUIRED",
            Self::Working => "WORKING",
            Self::Failed => "FAILED",
            Self::Unknown(s) => s,
        }
    }

    /// Whether the session waits for the user to pair (QR or passkey).
    pub fn is_pairing(&self) -> bool {
        matches!(
            self,
            Self::ScanQrCode | Self::PasskeyRequired | Self::PasskeyConfirmationRequired
        )
    }
}

impl From<&str> for SessionStatus {
    fn from(s: &str) -> Self {
        match s {
            "STOPPED" => Self::Stopped,
            "STARTING" => Self::Starting,
            "SCAN_QR_CODE" => Self::ScanQrCode,
            "PASSKEY_REQUIRED" => Self::PasskeyRequired,
            "PASSKEY_CONFIRMATION_REQUIRED" => Self::PasskeyConfirmationRequired,
            "WORKING" => Self::Working,
            "FAILED" => Self::Failed,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl FromStr for SessionStatus {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Self::from(s.as_str()),
            _ => Self::Unknown(String::new()),
        })
    }
}

/// `MeInfo`: the WhatsApp account a session is logged in as.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Me {
    /// `<phone>@c.us`.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// `<digits>@lid` (GOWS/NOWEB since 2025.8.2, WEBJS since 2026.7.1).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub lid: Option<String>,
    /// `<phone>:<device>@s.whatsapp.net` (NOWEB/GOWS).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub jid: Option<String>,
    #[serde(rename = "pushName", deserialize_with = "lenient::opt_string")]
    pub push_name: Option<String>,
}

impl Me {
    /// The phone number (digits) of `id`, when it is a `@c.us` id.
    pub fn phone(&self) -> Option<String> {
        phone_from_cus(&self.id)
    }
}

/// `SessionInfo` (`GET /api/sessions/{session}` and the lifecycle calls).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionInfo {
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    pub status: SessionStatus,
    /// `null` until the session is WORKING.
    #[serde(deserialize_with = "lenient::opt_object")]
    pub me: Option<Me>,
    /// `{engine: "WEBJS", ...}`; only on single-session responses.
    pub engine: Option<Value>,
    /// The session config as WAHA keeps it (`null` on legacy Core after a restart).
    pub config: Option<Value>,
    /// `online | offline | null`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub presence: Option<String>,
}

impl SessionInfo {
    /// `engine.engine` (`WEBJS`, `NOWEB`, `GOWS`…), when present.
    pub fn engine_name(&self) -> Option<&str> {
        self.engine.as_ref()?.get("engine")?.as_str()
    }
}

/// The `environment` object: `GET /api/server/version` and every envelope's `environment`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerVersion {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub version: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub engine: Option<String>,
    /// `CORE` or `PLUS`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub tier: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub browser: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub platform: Option<String>,
    pub worker: Option<Value>,
}

// ----- webhook envelope -----------------------------------------------------------------------

/// The JSON every webhook (and websocket frame) carries (contract §5.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    /// `evt_` + lower-case ULID, the same for every delivery of one event: dedupe on it.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// Event creation time in **milliseconds** (2025.3.1+).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub timestamp: Option<i64>,
    pub event: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub session: Option<String>,
    /// The session's `config.metadata`; absent when it has none.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// `null` before the session is authenticated.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub me: Option<Me>,
    #[serde(default)]
    pub payload: Value,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub engine: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub environment: Option<ServerVersion>,
}

/// Parse a JSON body into a value PostgreSQL can store: every U+0000 in a string or a key
/// (`\u0000` in the JSON — `jsonb` and `text` refuse it) becomes U+FFFD, the replacement
/// character. The raw bytes, kept apart (`waha_events.body`), still hold the original.
pub fn json_without_nul(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut value: Value = serde_json::from_slice(body)?;
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        replace_nul(&mut value);
    }
    Ok(value)
}

fn replace_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(k.replace('\0', "\u{FFFD}"), v);
                }
            }
            map.values_mut().for_each(replace_nul);
        }
        _ => {}
    }
}

impl WebhookEnvelope {
    /// Parses a webhook body. Fails only on invalid JSON or a missing/non-string `event`.
    /// Strings hold no U+0000 ([`json_without_nul`]), so whatever is stored from them is
    /// storable.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_value(json_without_nul(body)?)
    }

    /// The payload as one of the typed payloads below (or any `Deserialize` type). Fails,
    /// never panics, when the payload is not a JSON object (serde would otherwise read an array
    /// into a struct field by field).
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        from_object(&self.payload)
    }
}

/// `T` from a JSON object; an error for anything else.
pub fn from_object<T: DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    if !v.is_object() {
        return Err(serde::de::Error::custom("expected a JSON object"));
    }
    T::deserialize(v)
}

// ----- payloads -------------------------------------------------------------------------------

/// `media` of a message. `url` is `null` when WAHA did not download it (config) and `error`
/// holds the download error when it failed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Media {
    /// `{WAHA_BASE_URL}/api/files/{session}/{messageId}.{ext}`; fetch it with
    /// [`WahaClient::download_media`](super::WahaClient::download_media).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub url: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub mimetype: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub filename: Option<String>,
    pub error: Option<Value>,
}

/// `location` of a message; WAHA sends the coordinates as strings or numbers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub latitude: Option<f64>,
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub longitude: Option<f64>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub description: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub address: Option<String>,
}

/// `replyTo`: the quoted message. Usually an object whose `id` is the **raw** WhatsApp id;
/// a bare string is read as that id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplyTo {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub participant: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub body: Option<String>,
    #[serde(rename = "hasMedia", deserialize_with = "lenient::bool")]
    pub has_media: bool,
    #[serde(deserialize_with = "lenient::opt_object")]
    pub media: Option<Media>,
    #[serde(rename = "_data")]
    pub data: Value,
}

fn opt_reply_to<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ReplyTo>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(id) if !id.is_empty() => Some(ReplyTo {
            id: Some(id),
            ..ReplyTo::default()
        }),
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

/// `WAMessage`: the payload of `message`, `message.any` (and of WEBJS `message.ack`), and the
/// items of `GET /api/{session}/chats/{chatId}/messages`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MessagePayload {
    /// Serialized id `{fromMe}_{chatId}_{rawId}[_{participant}]`.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// **Seconds** (floats truncated).
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub from: Option<String>,
    /// Absent for NOWEB/GOWS direct messages.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub to: Option<String>,
    #[serde(rename = "fromMe", deserialize_with = "lenient::bool")]
    pub from_me: bool,
    /// The sender inside a group.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub participant: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub author: Option<String>,
    /// `api` when WAHA sent it itself (last 10 min), else `app`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub source: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub body: Option<String>,
    #[serde(rename = "hasMedia", deserialize_with = "lenient::bool")]
    pub has_media: bool,
    #[serde(deserialize_with = "lenient::opt_object")]
    pub media: Option<Media>,
    /// `null` on GOWS when the engine reports ERROR.
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub ack: Option<i64>,
    #[serde(rename = "ackName", deserialize_with = "lenient::opt_string")]
    pub ack_name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_object")]
    pub location: Option<Location>,
    #[serde(rename = "vCards", deserialize_with = "lenient::strings")]
    pub v_cards: Vec<String>,
    #[serde(rename = "replyTo", deserialize_with = "opt_reply_to")]
    pub reply_to: Option<ReplyTo>,
    /// The engine's raw object; differs per engine.
    #[serde(rename = "_data")]
    pub data: Value,
}

/// `message.ack` / `message.ack.group` (`WAMessageAckBody`; a full `WAMessage` on WEBJS DMs,
/// which reads fine as this too).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AckPayload {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub from: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub to: Option<String>,
    /// The reader, for `message.ack.group`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub participant: Option<String>,
    #[serde(rename = "fromMe", deserialize_with = "lenient::bool")]
    pub from_me: bool,
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub ack: Option<i64>,
    #[serde(rename = "ackName", deserialize_with = "lenient::opt_string")]
    pub ack_name: Option<String>,
    #[serde(rename = "_data")]
    pub data: Value,
}

impl AckPayload {
    /// The ack level: `ack`, or the number behind `ackName` when `ack` is null (GOWS ERROR).
    /// `-1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED`.
    pub fn level(&self) -> Option<i64> {
        self.ack
            .or_else(|| self.ack_name.as_deref().and_then(ack_from_name))
    }
}

/// `ackName` → ack number (`UNKNOWN` and others → `None`).
pub fn ack_from_name(name: &str) -> Option<i64> {
    match name {
        "ERROR" => Some(-1),
        "PENDING" => Some(0),
        "SERVER" => Some(1),
        "DEVICE" => Some(2),
        "READ" => Some(3),
        "PLAYED" => Some(4),
        _ => None,
    }
}

/// `reaction` inside [`ReactionPayload`]. An empty `text` removes the reaction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Reaction {
    #[serde(deserialize_with = "lenient::string")]
    pub text: String,
    /// Serialized id of the message reacted to.
    #[serde(rename = "messageId", deserialize_with = "lenient::string")]
    pub message_id: String,
}

/// `message.reaction` (`WAMessageReaction`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReactionPayload {
    /// Id of the reaction message itself.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub from: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub to: Option<String>,
    #[serde(rename = "fromMe", deserialize_with = "lenient::bool")]
    pub from_me: bool,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub participant: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub source: Option<String>,
    pub reaction: Reaction,
}

/// `message.revoked` (`WAMessageRevokedBody`). `after.id` is the id of the *revoke action*;
/// `revoked_message_id` is the **raw** id of the revoked message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RevokedPayload {
    #[serde(deserialize_with = "lenient::opt_object")]
    pub after: Option<MessagePayload>,
    #[serde(deserialize_with = "lenient::opt_object")]
    pub before: Option<MessagePayload>,
    #[serde(rename = "revokedMessageId", deserialize_with = "lenient::opt_string")]
    pub revoked_message_id: Option<String>,
    #[serde(rename = "_data")]
    pub data: Value,
}

/// `message.edited`: the `WAMessage` with the new `body`, plus the **raw** id of the edited
/// message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EditedPayload {
    #[serde(flatten)]
    pub message: MessagePayload,
    #[serde(
        rename = "editedMessageId",
        default,
        deserialize_with = "lenient::opt_string"
    )]
    pub edited_message_id: Option<String>,
}

/// One entry of `presence.update.presences`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Presence {
    #[serde(deserialize_with = "lenient::string")]
    pub participant: String,
    /// `online | offline | typing | recording | paused`.
    #[serde(rename = "lastKnownPresence", deserialize_with = "lenient::string")]
    pub last_known_presence: String,
    #[serde(rename = "lastSeen", deserialize_with = "lenient::opt_i64")]
    pub last_seen: Option<i64>,
}

/// `presence.update` (`WAHAChatPresences`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PresencePayload {
    /// The chat.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(deserialize_with = "lenient::objects")]
    pub presences: Vec<Presence>,
}

/// One entry of `session.status.statuses`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusChange {
    pub status: SessionStatus,
    /// Milliseconds.
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub timestamp: Option<i64>,
}

/// `session.status` (`WASessionStatusBody`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionStatusPayload {
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    pub status: SessionStatus,
    /// The last three statuses.
    #[serde(deserialize_with = "lenient::objects")]
    pub statuses: Vec<StatusChange>,
    /// Passkey challenge or `{code}` (2026.7.1+).
    pub data: Option<Value>,
}

// ----- read endpoints -------------------------------------------------------------------------

/// One chat of `GET /api/{session}/chats`, read from each engine's raw chat object (`id` is a
/// string on NOWEB/GOWS and `{_serialized}` on WEBJS; the time is `conversationTimestamp` or
/// `timestamp`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatSummary {
    pub id: String,
    pub name: Option<String>,
    /// Seconds.
    pub timestamp: Option<i64>,
    pub unread_count: Option<i64>,
    /// WEBJS: the last `WAMessage`.
    pub last_message: Option<Value>,
    pub raw: Value,
}

impl ChatSummary {
    /// `None` when the object has no usable id.
    pub fn from_value(v: Value) -> Option<Self> {
        let id = serialized_id(v.get("id")?)?;
        let timestamp = ["conversationTimestamp", "timestamp"]
            .iter()
            .find_map(|k| v.get(*k).and_then(lenient::i64_of));
        Some(Self {
            id,
            name: v.get("name").and_then(Value::as_str).map(str::to_owned),
            timestamp,
            unread_count: v.get("unreadCount").and_then(lenient::i64_of),
            last_message: v.get("lastMessage").filter(|m| !m.is_null()).cloned(),
            raw: v,
        })
    }
}

/// A string id, or a wwebjs id object's `_serialized`.
fn serialized_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o
            .get("_serialized")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        _ => None,
    }
}

/// `GET /api/contacts?contactId=…` (always answers, even for unregistered numbers).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub number: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub pushname: Option<String>,
    #[serde(rename = "shortName", deserialize_with = "lenient::opt_string")]
    pub short_name: Option<String>,
    #[serde(rename = "isMe", deserialize_with = "lenient::opt_bool")]
    pub is_me: Option<bool>,
    #[serde(rename = "isGroup", deserialize_with = "lenient::opt_bool")]
    pub is_group: Option<bool>,
    #[serde(rename = "isWAContact", deserialize_with = "lenient::opt_bool")]
    pub is_wa_contact: Option<bool>,
    #[serde(rename = "isMyContact", deserialize_with = "lenient::opt_bool")]
    pub is_my_contact: Option<bool>,
    #[serde(rename = "isBlocked", deserialize_with = "lenient::opt_bool")]
    pub is_blocked: Option<bool>,
}

/// `GET /api/{session}/lids/{lid}`: `pn` can be null.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LidMapping {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub lid: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub pn: Option<String>,
}

// ----- send responses -------------------------------------------------------------------------

/// What a `POST /api/send*` answered, with WhatsApp's serialized message id pulled out of
/// whatever shape the engine returned (contract §3.2, §9 item 9).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SentMessage {
    /// Serialized id (`true_<chat>@c.us_<rawId>`), when the response carried one.
    pub id: Option<String>,
    /// The raw WhatsApp id (the last part of `id`, or the engine's own id field). Group sends
    /// from NOWEB lack the `_participant` suffix in `id`; matching later events by this raw id
    /// always works.
    pub raw_id: Option<String>,
    /// Seconds.
    pub timestamp: Option<i64>,
    /// The body as received (`Null` for an empty body).
    pub raw: Value,
}

impl SentMessage {
    /// Extracts the id and timestamp from any engine's send response. Shapes, first match wins:
    /// - `{"id": "true_…"}` (GOWS `{id, _data}`, a plain id);
    /// - `{"id": {"_serialized": …}}` or `{"id": {fromMe, remote, id}}` (WEBJS Message);
    /// - `{"key": {remoteJid, fromMe, id, participant?}}` (NOWEB raw Baileys proto; the jid is
    ///   converted to `@c.us` as WAHA does in its events);
    /// - `{"Info": {Chat, IsFromMe, ID}}` (GOWS raw);
    /// - the same inside `_data`;
    /// - an empty body, `null` or anything else → no id.
    pub fn from_value(raw: Value) -> Self {
        let key = message_key_of(&raw, 0);
        let (id, raw_id) = match key {
            Some(KeyFound::Serialized(s)) => {
                let raw_id = parse_message_id(&s).map(|k| k.id);
                (Some(s), raw_id)
            }
            Some(KeyFound::Parts(k)) => (Some(k.to_string()), Some(k.id)),
            Some(KeyFound::RawOnly(r)) => (None, Some(r)),
            None => (None, None),
        };
        let timestamp = ["timestamp", "messageTimestamp", "t"]
            .iter()
            .find_map(|k| raw.get(*k).and_then(lenient::i64_of))
            .or_else(|| {
                let d = raw.get("_data")?;
                d.get("t")
                    .or_else(|| d.get("messageTimestamp"))
                    .or_else(|| d.get("Info")?.get("Timestamp"))
                    .and_then(timestamp_of)
            });
        Self {
            id,
            raw_id,
            timestamp,
            raw,
        }
    }
}

/// Seconds from a number or an RFC 3339 string (GOWS writes Go times).
fn timestamp_of(v: &Value) -> Option<i64> {
    lenient::i64_of(v).or_else(|| {
        let s = v.as_str()?;
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp())
    })
}

enum KeyFound {
    Serialized(String),
    Parts(MessageKey),
    RawOnly(String),
}

fn message_key_of(v: &Value, depth: u8) -> Option<KeyFound> {
    let obj = v.as_object()?;
    match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() => {
            return Some(KeyFound::Serialized(s.clone()));
        }
        Some(Value::Object(id)) => {
            if let Some(s) = id.get("_serialized").and_then(Value::as_str) {
                if !s.is_empty() {
                    return Some(KeyFound::Serialized(s.to_owned()));
                }
            }
            let raw = id
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let remote = id.get("remote").and_then(serialized_id);
            match (raw, remote) {
                (Some(raw), Some(remote)) => {
                    return Some(KeyFound::Parts(MessageKey {
                        from_me: id.get("fromMe").and_then(Value::as_bool).unwrap_or(true),
                        chat_id: to_cus(&remote),
                        id: raw.to_owned(),
                        participant: None,
                    }));
                }
                (Some(raw), None) => return Some(KeyFound::RawOnly(raw.to_owned())),
                _ => {}
            }
        }
        _ => {}
    }
    if let Some(key) = obj.get("key").and_then(Value::as_object) {
        let raw = key
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let remote = key
            .get("remoteJid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        match (raw, remote) {
            (Some(raw), Some(remote)) => {
                return Some(KeyFound::Parts(MessageKey {
                    from_me: key.get("fromMe").and_then(Value::as_bool).unwrap_or(true),
                    chat_id: to_cus(remote),
                    id: raw.to_owned(),
                    participant: key
                        .get("participant")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(to_cus),
                }));
            }
            (Some(raw), None) => return Some(KeyFound::RawOnly(raw.to_owned())),
            _ => {}
        }
    }
    if let Some(info) = obj.get("Info").and_then(Value::as_object) {
        let raw = info
            .get("ID")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let chat = info
            .get("Chat")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        match (raw, chat) {
            (Some(raw), Some(chat)) => {
                return Some(KeyFound::Parts(MessageKey {
                    from_me: info
                        .get("IsFromMe")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    chat_id: to_cus(chat),
                    id: raw.to_owned(),
                    participant: None,
                }));
            }
            (Some(raw), None) => return Some(KeyFound::RawOnly(raw.to_owned())),
            _ => {}
        }
    }
    if depth == 0 {
        if let Some(data) = obj.get("_data") {
            return message_key_of(data, 1);
        }
    }
    None
}

// ----- ids ------------------------------------------------------------------------------------

/// The parts of a serialized message id `{fromMe}_{chatId}_{rawId}[_{participant}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageKey {
    pub from_me: bool,
    pub chat_id: String,
    /// The raw WhatsApp id (what `revokedMessageId` / `editedMessageId` carry).
    pub id: String,
    pub participant: Option<String>,
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}", self.from_me, self.chat_id, self.id)?;
        if let Some(p) = &self.participant {
            write!(f, "_{p}")?;
        }
        Ok(())
    }
}

/// Splits a serialized message id as WAHA's `parseMessageIdSerialized` does (3 or 4 parts).
pub fn parse_message_id(serialized: &str) -> Option<MessageKey> {
    let parts: Vec<&str> = serialized.split('_').collect();
    if !(3..=4).contains(&parts.len()) {
        return None;
    }
    let from_me = match parts[0] {
        "true" => true,
        "false" => false,
        _ => return None,
    };
    if parts[1].is_empty() || parts[2].is_empty() {
        return None;
    }
    Some(MessageKey {
        from_me,
        chat_id: parts[1].to_owned(),
        id: parts[2].to_owned(),
        participant: parts
            .get(3)
            .filter(|p| !p.is_empty())
            .map(|p| (*p).to_owned()),
    })
}

/// `…@s.whatsapp.net` (with an optional `:device`) → `…@c.us`, as WAHA's `toCusFormat`; other
/// ids unchanged.
pub fn to_cus(jid: &str) -> String {
    match jid.split_once('@') {
        Some((user, "s.whatsapp.net" | "c.us")) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{user}@c.us")
        }
        _ => jid.to_owned(),
    }
}

/// The chat a message belongs to — the other party: `to` for own messages, `from` otherwise,
/// falling back to the other field (NOWEB/GOWS DMs have no `to` and put the chat in `from`)
/// and then to the chat part of the serialized id.
pub fn chat_id_of(m: &MessagePayload) -> Option<String> {
    let (first, second) = if m.from_me {
        (&m.to, &m.from)
    } else {
        (&m.from, &m.to)
    };
    first
        .as_deref()
        .or(second.as_deref())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| parse_message_id(&m.id).map(|k| k.chat_id))
}

/// The sender's push name from the engine's raw `_data` (WEBJS `notifyName`, NOWEB `pushName`,
/// GOWS `Info.PushName`), when present and not empty.
pub fn push_name_of(m: &MessagePayload) -> Option<String> {
    let d = &m.data;
    [
        d.get("notifyName"),
        d.get("pushName"),
        d.get("Info").and_then(|i| i.get("PushName")),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
    .map(str::to_owned)
}

/// `<digits>[-<digits>]@g.us`.
pub fn is_group(chat_id: &str) -> bool {
    chat_id.ends_with("@g.us")
}

/// `status@broadcast` (stories).
pub fn is_status_broadcast(chat_id: &str) -> bool {
    chat_id == "status@broadcast"
}

/// `<digits>@lid`: a hidden "linked id" user, no phone number.
pub fn is_lid(chat_id: &str) -> bool {
    chat_id.ends_with("@lid")
}

/// The phone number (digits, no `+`) of a user id `346…@c.us` (also `…@s.whatsapp.net`, device
/// suffix dropped). `None` for groups, lids, channels, broadcasts and anything not all digits.
pub fn phone_from_cus(id: &str) -> Option<String> {
    let cus = to_cus(id);
    let user = cus.strip_suffix("@c.us")?;
    (!user.is_empty() && user.len() <= 20 && user.bytes().all(|b| b.is_ascii_digit()))
        .then(|| user.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn status_known_values_and_unknown_fallback() {
        for s in [
            "STOPPED",
            "STARTING",
            "SCAN_QR_CODE",
            "PASSKEY_REQUIRED",
            "PASSKEY_CONFIRMATION_REQUIRED",
            "WORKING",
            "FAILED",
        ] {
            let st: SessionStatus = serde_json::from_value(json!(s)).unwrap();
            assert!(!matches!(st, SessionStatus::Unknown(_)), "{s}");
            assert_eq!(serde_json::to_value(&st).unwrap(), json!(s));
        }
        let st: SessionStatus = serde_json::from_value(json!("HIBERNATING")).unwrap();
        assert_eq!(st, SessionStatus::Unknown("HIBERNATING".into()));
        assert_eq!(st.to_string(), "HIBERNATING");
        assert_eq!(serde_json::to_value(&st).unwrap(), json!("HIBERNATING"));
        let st: SessionStatus = serde_json::from_value(json!(null)).unwrap();
        assert_eq!(st, SessionStatus::Unknown(String::new()));
        assert!(SessionStatus::ScanQrCode.is_pairing());
        assert!(!SessionStatus::Working.is_pairing());
    }

    #[test]
    fn session_info_contract_example() {
        let v = json!({
            "name": "default",
            "status": "WORKING",
            "config": {"metadata": {"user.id": "123"}, "webhooks": [], "debug": false, "proxy": null},
            "me": {"id": "11111111111@c.us", "lid": "123123@lid", "jid": "11111111111:12@s.whatsapp.net", "pushName": "Bob"},
            "presence": "online",
            "timestamps": {"activity": 1741249702485_i64},
            "assignedWorker": "waha1",
            "engine": {"engine": "NOWEB"}
        });
        let s: SessionInfo = serde_json::from_value(v).unwrap();
        assert_eq!(s.status, SessionStatus::Working);
        let me = s.me.clone().unwrap();
        assert_eq!(me.push_name.as_deref(), Some("Bob"));
        assert_eq!(me.lid.as_deref(), Some("123123@lid"));
        assert_eq!(me.phone().as_deref(), Some("11111111111"));
        assert_eq!(s.engine_name(), Some("NOWEB"));
        assert_eq!(s.presence.as_deref(), Some("online"));

        let s: SessionInfo = serde_json::from_value(
            json!({"name": "default", "status": "STOPPED", "me": null, "config": null}),
        )
        .unwrap();
        assert_eq!(s.me, None);
        assert_eq!(s.config, None);
        assert_eq!(s.engine_name(), None);
        let s: SessionInfo = serde_json::from_value(json!({})).unwrap();
        assert_eq!(s.status, SessionStatus::Unknown(String::new()));
    }

    fn envelope(payload: Value, event: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "evt_01jyewpavw2ns6gc9j48ta562t",
            "timestamp": 1741249702485_i64,
            "event": event,
            "session": "default",
            "metadata": {"user.id": "123"},
            "me": {"id": "71111111111@c.us", "pushName": "Bob", "lid": "123@lid"},
            "payload": payload,
            "engine": "NOWEB",
            "environment": {"version": "2026.2.1", "engine": "NOWEB", "tier": "CORE", "browser": null, "platform": "linux/x64", "worker": {"id": null}}
        }))
        .unwrap()
    }

    #[test]
    fn envelope_contract_example() {
        let env = WebhookEnvelope::from_slice(&envelope(json!({}), "message")).unwrap();
        assert_eq!(env.id.as_deref(), Some("evt_01jyewpavw2ns6gc9j48ta562t"));
        assert_eq!(env.timestamp, Some(1741249702485));
        assert_eq!(env.event, event::MESSAGE);
        assert_eq!(env.session.as_deref(), Some("default"));
        assert_eq!(env.metadata.unwrap()["user.id"], "123");
        assert_eq!(env.me.unwrap().id, "71111111111@c.us");
        assert_eq!(env.engine.as_deref(), Some("NOWEB"));
        let environment = env.environment.unwrap();
        assert_eq!(environment.version.as_deref(), Some("2026.2.1"));
        assert_eq!(environment.tier.as_deref(), Some("CORE"));
    }

    #[test]
    fn envelope_is_lenient_but_needs_event() {
        // Old builds: no id/timestamp, `me` null, short environment, no metadata.
        let env = WebhookEnvelope::from_slice(
            br#"{"event":"session.status","session":"default","me":null,"payload":{"name":"default","status":"STARTING"},"engine":"WEBJS","environment":{"version":"2024.10.8","engine":"WEBJS","tier":"CORE","browser":"/usr/bin/chromium"}}"#,
        )
        .unwrap();
        assert_eq!(env.id, None);
        assert_eq!(env.me, None);
        assert_eq!(env.metadata, None);
        let p: SessionStatusPayload = env.payload_as().unwrap();
        assert_eq!(p.status, SessionStatus::Starting);
        assert!(p.statuses.is_empty());
        assert_eq!(p.data, None);
        // Odd types read as absent instead of failing.
        let env = WebhookEnvelope::from_slice(
            br#"{"event":"message","id":7,"timestamp":"1741249702485","me":"x","environment":[1]}"#,
        )
        .unwrap();
        assert_eq!(env.id, None);
        assert_eq!(env.timestamp, Some(1741249702485));
        assert_eq!(env.me, None);
        assert_eq!(env.payload, Value::Null);
        assert!(WebhookEnvelope::from_slice(br#"{"session":"default"}"#).is_err());
        assert!(WebhookEnvelope::from_slice(br#"{"event":null}"#).is_err());
        assert!(WebhookEnvelope::from_slice(b"not json").is_err());
        // A payload of the wrong kind gives an error, never a panic.
        let env = WebhookEnvelope::from_slice(br#"{"event":"message","payload":[1,2]}"#).unwrap();
        assert!(env.payload_as::<MessagePayload>().is_err());
    }

    #[test]
    fn message_payload_contract_example() {
        let payload = json!({
            "id": "false_11111111111@c.us_3EB0C767D26A1D4E7F3A",
            "timestamp": 1667561485,
            "from": "11111111111@c.us",
            "fromMe": false,
            "source": "app",
            "to": "22222222222@c.us",
            "participant": null,
            "author": null,
            "body": "Hi there!",
            "hasMedia": true,
            "media": {"url": "http://localhost:3000/api/files/default/false_11111111111@c.us_3EB0C767D26A1D4E7F3A.jpg", "mimetype": "image/jpeg", "filename": null, "error": null},
            "mediaUrl": null,
            "ack": 2,
            "ackName": "DEVICE",
            "location": null,
            "vCards": [],
            "replyTo": {"id": "AAAA", "participant": "33333333333@c.us", "body": "quoted", "hasMedia": false, "media": null, "_data": {}},
            "_data": {"notifyName": "Ana"}
        });
        let env = WebhookEnvelope::from_slice(&envelope(payload, "message")).unwrap();
        let m: MessagePayload = env.payload_as().unwrap();
        assert_eq!(m.id, "false_11111111111@c.us_3EB0C767D26A1D4E7F3A");
        assert_eq!(m.timestamp, Some(1667561485));
        assert!(!m.from_me);
        assert!(m.has_media);
        let media = m.media.clone().unwrap();
        assert_eq!(media.mimetype.as_deref(), Some("image/jpeg"));
        assert!(media.url.unwrap().ends_with(".jpg"));
        assert_eq!(media.error, None);
        assert_eq!(m.ack, Some(2));
        assert_eq!(m.ack_name.as_deref(), Some("DEVICE"));
        let reply = m.reply_to.clone().unwrap();
        assert_eq!(reply.id.as_deref(), Some("AAAA"));
        assert_eq!(reply.body.as_deref(), Some("quoted"));
        assert_eq!(chat_id_of(&m).as_deref(), Some("11111111111@c.us"));
        assert_eq!(push_name_of(&m).as_deref(), Some("Ana"));
    }

    #[test]
    fn message_payload_lenient_fields() {
        let m: MessagePayload = serde_json::from_value(json!({
            "id": "false_1@c.us_X",
            "timestamp": 1710481111.532,
            "from": 5,
            "fromMe": null,
            "body": null,
            "location": {"latitude": "40.4168", "longitude": -3.7038, "description": "Madrid"},
            "vCards": ["BEGIN:VCARD", 3],
            "replyTo": "false_1@c.us_Y",
            "media": "nope",
            "ack": null
        }))
        .unwrap();
        assert_eq!(m.timestamp, Some(1710481111));
        assert_eq!(m.from, None);
        assert!(!m.from_me);
        assert_eq!(m.body, None);
        let loc = m.location.unwrap();
        assert_eq!(loc.latitude, Some(40.4168));
        assert_eq!(loc.longitude, Some(-3.7038));
        assert_eq!(loc.description.as_deref(), Some("Madrid"));
        assert_eq!(m.v_cards, vec!["BEGIN:VCARD".to_owned()]);
        assert_eq!(m.reply_to.unwrap().id.as_deref(), Some("false_1@c.us_Y"));
        assert_eq!(m.media, None);
        assert_eq!(m.ack, None);
        // Falls back to the id's chat when from/to are unusable.
        let m: MessagePayload =
            serde_json::from_value(json!({"id": "true_34600000002@c.us_ABC"})).unwrap();
        assert_eq!(chat_id_of(&m).as_deref(), Some("34600000002@c.us"));
    }

    #[test]
    fn chat_id_per_engine() {
        // WEBJS own DM: from = me, to = the other party.
        let m: MessagePayload = serde_json::from_value(
            json!({"id": "true_2@c.us_A", "fromMe": true, "from": "1@c.us", "to": "2@c.us"}),
        )
        .unwrap();
        assert_eq!(chat_id_of(&m).as_deref(), Some("2@c.us"));
        // NOWEB own DM: from = chat, no to.
        let m: MessagePayload = serde_json::from_value(
            json!({"id": "true_2@c.us_A", "fromMe": true, "from": "2@c.us"}),
        )
        .unwrap();
        assert_eq!(chat_id_of(&m).as_deref(), Some("2@c.us"));
        // Group message from someone: from = group.
        let m: MessagePayload = serde_json::from_value(json!({"id": "false_120363@g.us_A_3@c.us", "from": "120363@g.us", "to": "1@c.us", "participant": "3@c.us"})).unwrap();
        let chat = chat_id_of(&m).unwrap();
        assert_eq!(chat, "120363@g.us");
        assert!(is_group(&chat));
    }

    #[test]
    fn ack_reaction_revoked_edited_presence_status_payloads() {
        let a: AckPayload = serde_json::from_value(json!({"id":"true_11111111111@c.us_3EB0AA","from":"11111111111@c.us","to":"11111111111@c.us","participant":null,"fromMe":true,"ack":3,"ackName":"READ","_data":{}})).unwrap();
        assert_eq!(a.level(), Some(3));
        assert!(a.from_me);
        let a: AckPayload =
            serde_json::from_value(json!({"id":"x","ack":null,"ackName":"ERROR"})).unwrap();
        assert_eq!(a.level(), Some(-1));
        let a: AckPayload =
            serde_json::from_value(json!({"id":"x","ack":null,"ackName":"UNKNOWN"})).unwrap();
        assert_eq!(a.level(), None);

        let r: ReactionPayload = serde_json::from_value(json!({"id":"false_79111111@c.us_1111AAAA","timestamp":1710481111.25,"from":"79111111@c.us","fromMe":false,"source":"app","to":"79222222@c.us","participant":"79111111@c.us","reaction":{"text":"🙏","messageId":"true_79111111@c.us_2222BBBB"}})).unwrap();
        assert_eq!(r.reaction.text, "🙏");
        assert_eq!(r.reaction.message_id, "true_79111111@c.us_2222BBBB");
        assert_eq!(r.timestamp, Some(1710481111));
        let r: ReactionPayload =
            serde_json::from_value(json!({"id":"x","reaction":{"text":"","messageId":"m"}}))
                .unwrap();
        assert!(r.reaction.text.is_empty(), "empty text removes");

        let v: RevokedPayload = serde_json::from_value(json!({"after":{"id":"false_123@c.us_REVOKEACTIONID","body":""},"before":null,"revokedMessageId":"A06CA7BB5DD8C8F705628CDB7E3A33C9","_data":{}})).unwrap();
        assert_eq!(
            v.revoked_message_id.as_deref(),
            Some("A06CA7BB5DD8C8F705628CDB7E3A33C9")
        );
        assert_eq!(v.after.unwrap().id, "false_123@c.us_REVOKEACTIONID");
        assert_eq!(v.before, None);

        let e: EditedPayload = serde_json::from_value(json!({"id":"false_2@c.us_EDIT","timestamp":1700000000,"from":"2@c.us","fromMe":false,"body":"Hola!!","editedMessageId":"RAWID","_data":{}})).unwrap();
        assert_eq!(e.edited_message_id.as_deref(), Some("RAWID"));
        assert_eq!(e.message.body.as_deref(), Some("Hola!!"));
        assert_eq!(e.message.timestamp, Some(1700000000));

        let p: PresencePayload = serde_json::from_value(json!({"id":"111111111111111111@g.us","presences":[{"participant":"11111111111@c.us","lastKnownPresence":"typing","lastSeen":null}, 5]})).unwrap();
        assert_eq!(p.presences.len(), 1);
        assert_eq!(p.presences[0].last_known_presence, "typing");

        let s: SessionStatusPayload = serde_json::from_value(json!({"name":"default","status":"WORKING","statuses":[{"status":"STOPPED","timestamp":1700000001000_i64},{"status":"STARTING","timestamp":1700000002000_i64},{"status":"WORKING","timestamp":1700000003000_i64}],"data":null})).unwrap();
        assert_eq!(s.status, SessionStatus::Working);
        assert_eq!(s.statuses.len(), 3);
        assert_eq!(s.statuses[0].status, SessionStatus::Stopped);
        assert_eq!(s.data, None);
        let s: SessionStatusPayload = serde_json::from_value(
            json!({"name":"default","status":"PASSKEY_REQUIRED","data":{"challenge":"x"}}),
        )
        .unwrap();
        assert_eq!(s.status, SessionStatus::PasskeyRequired);
        assert!(s.data.is_some());
    }

    #[test]
    fn sent_id_webjs_message() {
        let s = SentMessage::from_value(json!({
            "_data": {"id": {"fromMe": true, "remote": "34600000002@c.us", "id": "3EB0AAA", "_serialized": "true_34600000002@c.us_3EB0AAA"}},
            "id": {"fromMe": true, "remote": "34600000002@c.us", "id": "3EB0AAA", "_serialized": "true_34600000002@c.us_3EB0AAA"},
            "ack": 0, "body": "Hi", "timestamp": 1738070128, "from": "34600000001@c.us", "to": "34600000002@c.us"
        }));
        assert_eq!(s.id.as_deref(), Some("true_34600000002@c.us_3EB0AAA"));
        assert_eq!(s.raw_id.as_deref(), Some("3EB0AAA"));
        assert_eq!(s.timestamp, Some(1738070128));
        // No _serialized: built from the parts (remote may be a wwebjs id object).
        let s = SentMessage::from_value(
            json!({"id": {"fromMe": true, "remote": {"server": "c.us", "user": "346", "_serialized": "346@c.us"}, "id": "3EB0BBB"}}),
        );
        assert_eq!(s.id.as_deref(), Some("true_346@c.us_3EB0BBB"));
        // Only id.id: the raw id, no serialized id.
        let s = SentMessage::from_value(json!({"id": {"id": "3EB0CCC"}}));
        assert_eq!(s.id, None);
        assert_eq!(s.raw_id.as_deref(), Some("3EB0CCC"));
    }

    #[test]
    fn sent_id_noweb_baileys_key() {
        let s = SentMessage::from_value(json!({
            "key": {"remoteJid": "111@s.whatsapp.net", "fromMe": true, "id": "3EB08A68"},
            "message": {"extendedTextMessage": {"text": "Hi"}},
            "messageTimestamp": "1738070128",
            "status": "PENDING"
        }));
        assert_eq!(s.id.as_deref(), Some("true_111@c.us_3EB08A68"));
        assert_eq!(s.raw_id.as_deref(), Some("3EB08A68"));
        assert_eq!(s.timestamp, Some(1738070128));
        // Long timestamp, device suffix, group participant.
        let s = SentMessage::from_value(json!({
            "key": {"remoteJid": "120363@g.us", "fromMe": true, "id": "ABC", "participant": "111:5@s.whatsapp.net"},
            "messageTimestamp": {"low": 1738070128, "high": 0, "unsigned": true}
        }));
        assert_eq!(s.id.as_deref(), Some("true_120363@g.us_ABC_111@c.us"));
        assert_eq!(s.timestamp, Some(1738070128));
    }

    #[test]
    fn sent_id_gows_shapes() {
        let s = SentMessage::from_value(
            json!({"id": "true_111@c.us_3EB0DDD", "_data": {"Info": {"ID": "3EB0DDD", "Timestamp": "2025-01-28T12:00:00Z"}}}),
        );
        assert_eq!(s.id.as_deref(), Some("true_111@c.us_3EB0DDD"));
        assert_eq!(s.raw_id.as_deref(), Some("3EB0DDD"));
        assert_eq!(s.timestamp, Some(1738065600));
        // Raw GOWS message only.
        let s = SentMessage::from_value(
            json!({"_data": {"Info": {"Chat": "111@s.whatsapp.net", "IsFromMe": true, "ID": "3EB0EEE", "Timestamp": 1738070128}}}),
        );
        assert_eq!(s.id.as_deref(), Some("true_111@c.us_3EB0EEE"));
        assert_eq!(s.timestamp, Some(1738070128));
    }

    #[test]
    fn sent_id_plain_and_empty() {
        let s = SentMessage::from_value(json!({"id": "true_111@c.us_PLAIN"}));
        assert_eq!(s.id.as_deref(), Some("true_111@c.us_PLAIN"));
        let s = SentMessage::from_value(json!("true_111@c.us_X"));
        assert_eq!(s.id, None, "a bare string body is not an object");
        for empty in [
            Value::Null,
            json!({}),
            json!([]),
            json!({"id": ""}),
            json!({"_data": null}),
        ] {
            let s = SentMessage::from_value(empty.clone());
            assert_eq!(s.id, None, "{empty}");
            assert_eq!(s.raw_id, None, "{empty}");
            assert_eq!(s.timestamp, None, "{empty}");
        }
    }

    #[test]
    fn message_ids() {
        let k =
            parse_message_id("false_120363000000000000@g.us_A06CA7BB_22222222222@c.us").unwrap();
        assert!(!k.from_me);
        assert_eq!(k.chat_id, "120363000000000000@g.us");
        assert_eq!(k.id, "A06CA7BB");
        assert_eq!(k.participant.as_deref(), Some("22222222222@c.us"));
        assert_eq!(
            k.to_string(),
            "false_120363000000000000@g.us_A06CA7BB_22222222222@c.us"
        );
        let k = parse_message_id("false_4639135154355@lid_297A4A9C").unwrap();
        assert_eq!(k.chat_id, "4639135154355@lid");
        assert!(parse_message_id("maybe_1@c.us_X").is_none());
        assert!(parse_message_id("true_1@c.us").is_none());
        assert!(parse_message_id("A06CA7BB").is_none());
        assert!(parse_message_id("").is_none());
    }

    #[test]
    fn id_helpers() {
        assert_eq!(
            phone_from_cus("34600000001@c.us").as_deref(),
            Some("34600000001")
        );
        assert_eq!(
            phone_from_cus("34600000001:12@s.whatsapp.net").as_deref(),
            Some("34600000001")
        );
        assert_eq!(phone_from_cus("4639135154355@lid"), None);
        assert_eq!(phone_from_cus("120363@g.us"), None);
        assert_eq!(phone_from_cus("status@broadcast"), None);
        assert_eq!(phone_from_cus("@c.us"), None);
        assert_eq!(phone_from_cus("34600000001"), None);
        assert!(is_group("123-456@g.us"));
        assert!(!is_group("123@c.us"));
        assert!(is_status_broadcast("status@broadcast"));
        assert!(!is_status_broadcast("123@broadcast"));
        assert!(is_lid("1@lid"));
        assert_eq!(to_cus("1:3@s.whatsapp.net"), "1@c.us");
        assert_eq!(to_cus("1@g.us"), "1@g.us");
    }

    #[test]
    fn chat_summaries_per_engine() {
        let webjs = ChatSummary::from_value(json!({
            "id": {"server": "c.us", "user": "346", "_serialized": "346@c.us"},
            "name": "Ana", "unreadCount": 2, "timestamp": 1700000000,
            "lastMessage": {"id": "false_346@c.us_X", "body": "hi"}
        }))
        .unwrap();
        assert_eq!(webjs.id, "346@c.us");
        assert_eq!(webjs.name.as_deref(), Some("Ana"));
        assert_eq!(webjs.timestamp, Some(1700000000));
        assert_eq!(webjs.unread_count, Some(2));
        assert!(webjs.last_message.is_some());
        let noweb = ChatSummary::from_value(
            json!({"id": "346@c.us", "conversationTimestamp": "1700000001", "unreadCount": 0}),
        )
        .unwrap();
        assert_eq!(noweb.timestamp, Some(1700000001));
        assert_eq!(noweb.name, None);
        assert!(ChatSummary::from_value(json!({"name": "no id"})).is_none());
        assert!(ChatSummary::from_value(json!(3)).is_none());
    }

    #[test]
    fn contact_and_lid() {
        let c: Contact = serde_json::from_value(json!({"id": "346@c.us", "number": "346", "name": null, "pushname": "Ana", "shortName": null, "isMe": false, "isGroup": false, "isWAContact": true, "isMyContact": false, "isBlocked": false})).unwrap();
        assert_eq!(c.pushname.as_deref(), Some("Ana"));
        assert_eq!(c.is_wa_contact, Some(true));
        let l: LidMapping = serde_json::from_value(json!({"lid": "1@lid", "pn": null})).unwrap();
        assert_eq!(l.pn, None);
    }
}
