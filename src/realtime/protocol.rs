//! The WebSocket protocol: every frame a client may send ([`ClientFrame`]) and every frame the
//! server sends ([`ServerFrame`]), each one JSON object in a text frame, told apart by its
//! `"type"`. The web client (`web/src/realtime/socket.ts`) and the tests speak it.
//!
//! Invariants:
//! - **The JSON is the contract.** Field names and their order are what the wire carried
//!   before these types existed; the tests at the bottom pin the exact text of every frame.
//! - **Events carry a `seq`, nothing else does.** An [`Event`] (`{"seq","type","data","at"}`)
//!   is stored and replayed; a [`Signal`] (`{"type","data","at"}`: `typing`, `presence`) is
//!   live only; control frames (`hello`, `resync`, `pong`, `auth_ok`, `error`) answer the
//!   socket itself. A client keeps its position from `seq` alone.
//! - **A bad frame gets an `error` frame, never a closed socket.** [`ClientFrame::parse`]
//!   says what was wrong ([`FrameError`]) with the same codes and messages as always:
//!   `malformed_message` (not JSON, no `"type"`, or fields that do not fit the type) and
//!   `unsupported_message` (a type the server does not know).
//!
//! No database, no sockets: only the frames' shapes and their (de)serialisation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A stored event as sent to the client: `{"seq","type","data","at"}`. `type` is open-ended
/// (each domain names its own; [`EventKind`] lists this crate's), `data` its payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// The event types this crate publishes (an event's `type` on the wire). Publishers pass the
/// text ([`EventKind::as_str`]) to [`super::publish`]; tests publish types of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A message appeared in a conversation (`{"message": …}`).
    MessageCreated,
    /// A message changed: status, edit, reaction, deletion.
    MessageUpdated,
    /// A conversation changed (assignment, state).
    ConversationUpdated,
    /// Someone's read marker in a conversation moved.
    Read,
    /// A WhatsApp link's status changed.
    LinkStatus,
    /// A WhatsApp link has a QR code to scan.
    LinkQr,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MessageCreated => "message.created",
            Self::MessageUpdated => "message.updated",
            Self::ConversationUpdated => "conversation.updated",
            Self::Read => "read",
            Self::LinkStatus => "link.status",
            Self::LinkQr => "link.qr",
        }
    }
}

/// A live-only frame: `{"type","data","at"}`, no `seq`. Not stored, not replayed; it travels
/// between replicas as it is sent to the client ([`super::signals`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Signal {
    /// Someone in a conversation started or stopped typing.
    Typing { data: Typing, at: DateTime<Utc> },
    /// A counterpart came online or went offline.
    Presence { data: Presence, at: DateTime<Utc> },
}

/// `typing`'s data. Clients drop it after `expires_in_ms` without a newer one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub typing: bool,
    pub expires_in_ms: u64,
}

/// `presence`'s data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub user_id: Uuid,
    pub online: bool,
    pub at: DateTime<Utc>,
}

impl Signal {
    /// A `typing` signal, stamped now.
    pub fn typing(data: Typing) -> Self {
        Self::Typing {
            data,
            at: Utc::now(),
        }
    }

    /// A `presence` signal, stamped now.
    pub fn presence(data: Presence) -> Self {
        Self::Presence {
            data,
            at: Utc::now(),
        }
    }

    /// The frame's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Typing { .. } => "typing",
            Self::Presence { .. } => "presence",
        }
    }
}

/// Every frame the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// First on every socket: `{"type":"hello","user_id","last_seq"}` (the user's newest
    /// event when the socket opened).
    Hello { user_id: Uuid, last_seq: i64 },
    /// `{"type":"resync","last_seq"}`: the client fell behind (or asked to resume from too
    /// far back). It re-fetches its state over REST, then continues from `last_seq`.
    Resync { last_seq: i64 },
    /// `{"type":"pong"}`, answering `ping`.
    Pong,
    /// `{"type":"auth_ok","expires_at"}`: an `auth` frame extended the socket's life to
    /// `expires_at` (Unix seconds).
    AuthOk { expires_at: u64 },
    /// `{"type":"error","code","message"?,"conversation_id"?}`: a client frame the server could
    /// not act on (`conversation_id` when it named one).
    Error {
        code: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation_id: Option<Uuid>,
    },
    /// A stored event, as it is.
    #[serde(untagged)]
    Event(&'a Event),
    /// A signal (`typing`, `presence`), as it is.
    #[serde(untagged)]
    Signal(&'a Signal),
}

impl<'a> ServerFrame<'a> {
    /// An `error` frame.
    pub fn error(code: &'a str, message: impl Into<String>, conversation: Option<Uuid>) -> Self {
        Self::Error {
            code,
            message: Some(message.into()),
            conversation_id: conversation,
        }
    }

    /// The frame's text.
    pub fn to_text(&self) -> String {
        // Plain data (no maps with non-string keys): serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Every frame a client may send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// `{"type":"ping"}` → `pong`.
    Ping,
    /// `{"type":"typing","conversation_id","typing":bool}` → a `typing` signal to the
    /// conversation's other participants.
    Typing { conversation_id: Uuid, typing: bool },
    /// `{"type":"read","conversation_id","up_to"?}` → the conversation is read up to that
    /// message (default: its newest); the `read` event that follows is the answer.
    Read {
        conversation_id: Uuid,
        #[serde(default)]
        up_to: Option<Uuid>,
    },
    /// `{"type":"auth","access_token"}` → the socket lives as long as this newer token of the
    /// same user; answered `auth_ok`.
    Auth { access_token: String },
}

/// Why a client frame could not be read; [`FrameError::frame`] is the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON at all.
    NotJson,
    /// JSON without a string `"type"`.
    NoType,
    /// A known type whose fields do not fit it (the message says how).
    Malformed(String),
    /// A type the server does not know.
    Unsupported(String),
}

impl FrameError {
    /// The `error` frame that answers it.
    pub fn frame(&self) -> ServerFrame<'static> {
        match self {
            Self::NotJson => ServerFrame::error("malformed_message", "not JSON", None),
            Self::NoType => ServerFrame::error("malformed_message", "no \"type\"", None),
            Self::Malformed(why) => ServerFrame::error("malformed_message", why.as_str(), None),
            Self::Unsupported(kind) => ServerFrame::error(
                "unsupported_message",
                format!("unknown type {kind:?}"),
                None,
            ),
        }
    }
}

impl ClientFrame {
    /// Read one text frame. Unknown fields are ignored.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Err(FrameError::NotJson);
        };
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            return Err(FrameError::NoType);
        };
        let kind = kind.to_string();
        if !matches!(kind.as_str(), "ping" | "typing" | "read" | "auth") {
            return Err(FrameError::Unsupported(kind));
        }
        serde_json::from_value(value).map_err(|e| {
            FrameError::Malformed(if kind == "auth" {
                // The only field `auth` has; absent or not a string alike.
                "missing field `access_token`".to_string()
            } else {
                e.to_string()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        "2026-01-02T03:04:05.123456Z".parse().unwrap()
    }

    /// The exact text of every server frame, as the `json!` literals that built them wrote it.
    #[test]
    fn server_frames_keep_their_text() {
        let (u, c) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let cases: Vec<(ServerFrame, Value)> = vec![
            (
                ServerFrame::Hello {
                    user_id: u,
                    last_seq: 7,
                },
                json!({"type": "hello", "user_id": u, "last_seq": 7}),
            ),
            (
                ServerFrame::Resync { last_seq: 9 },
                json!({"type": "resync", "last_seq": 9}),
            ),
            (ServerFrame::Pong, json!({"type": "pong"})),
            (
                ServerFrame::AuthOk { expires_at: 1234 },
                json!({"type": "auth_ok", "expires_at": 1234u64}),
            ),
            (
                ServerFrame::error("not_found", "no such conversation", Some(c)),
                json!({"type": "error", "code": "not_found", "message": "no such conversation", "conversation_id": c}),
            ),
            (
                ServerFrame::error("rate_limited", "slow down", None),
                json!({"type": "error", "code": "rate_limited", "message": "slow down"}),
            ),
            (
                ServerFrame::Error {
                    code: "binary_not_supported",
                    message: None,
                    conversation_id: None,
                },
                json!({"type": "error", "code": "binary_not_supported"}),
            ),
        ];
        for (frame, old) in cases {
            assert_eq!(frame.to_text(), old.to_string());
        }
        let ev = Event {
            seq: 3,
            kind: "message.created".into(),
            data: json!({"b": 1, "a": [true]}),
            at: at(),
        };
        assert_eq!(
            ServerFrame::Event(&ev).to_text(),
            r#"{"seq":3,"type":"message.created","data":{"b":1,"a":[true]},"at":"2026-01-02T03:04:05.123456Z"}"#
        );
        let typing = Signal::Typing {
            data: Typing {
                conversation_id: c,
                user_id: u,
                typing: true,
                expires_in_ms: 6000,
            },
            at: at(),
        };
        let old = json!({"type": "typing", "data": {"conversation_id": c, "user_id": u, "typing": true, "expires_in_ms": 6000u64}, "at": at()});
        assert_eq!(ServerFrame::Signal(&typing).to_text(), old.to_string());
        let presence = Signal::Presence {
            data: Presence {
                user_id: u,
                online: false,
                at: at(),
            },
            at: at(),
        };
        let old = json!({"type": "presence", "data": {"user_id": u, "online": false, "at": at()}, "at": at()});
        assert_eq!(ServerFrame::Signal(&presence).to_text(), old.to_string());
        // Signals cross replicas as JSON and come back the same.
        let back: Signal =
            serde_json::from_str(&serde_json::to_string(&presence).unwrap()).unwrap();
        assert_eq!(back, presence);
    }

    #[test]
    fn client_frames_parse() {
        let c = Uuid::from_u128(2);
        let ok = |v: Value| ClientFrame::parse(&v.to_string());
        assert_eq!(
            ok(json!({"type": "ping", "extra": 1})),
            Ok(ClientFrame::Ping)
        );
        assert_eq!(
            ok(json!({"type": "typing", "conversation_id": c, "typing": false})),
            Ok(ClientFrame::Typing {
                conversation_id: c,
                typing: false
            })
        );
        assert_eq!(
            ok(json!({"type": "read", "conversation_id": c})),
            Ok(ClientFrame::Read {
                conversation_id: c,
                up_to: None
            })
        );
        assert_eq!(
            ok(json!({"type": "auth", "access_token": "t"})),
            Ok(ClientFrame::Auth {
                access_token: "t".into()
            })
        );
    }

    /// The answers to bad frames, as they were when each type was read on its own.
    #[test]
    fn bad_client_frames_keep_their_answers() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct OldTyping {
            conversation_id: Uuid,
            typing: bool,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct OldRead {
            conversation_id: Uuid,
            #[serde(default)]
            up_to: Option<Uuid>,
        }
        let err = |text: &str| ClientFrame::parse(text).unwrap_err();
        assert_eq!(err("{nope"), FrameError::NotJson);
        assert_eq!(err(r#"{"no":"type"}"#), FrameError::NoType);
        assert_eq!(err(r#"{"type":5}"#), FrameError::NoType);
        assert_eq!(err("[1]"), FrameError::NoType);
        assert_eq!(
            err(r#"{"type":"dance"}"#),
            FrameError::Unsupported("dance".into())
        );
        for bad in [
            json!({"type": "auth"}),
            json!({"type": "auth", "access_token": 5}),
            json!({"type": "auth", "access_token": null}),
        ] {
            assert_eq!(
                err(&bad.to_string()),
                FrameError::Malformed("missing field `access_token`".into())
            );
        }
        let typing = [
            json!({"type": "typing", "conversation_id": "nope"}),
            json!({"type": "typing", "conversation_id": "nope", "typing": true}),
            json!({"type": "typing", "conversation_id": Uuid::from_u128(1)}),
            json!({"type": "typing", "conversation_id": Uuid::from_u128(1), "typing": "yes"}),
            json!({"type": "typing", "conversation_id": 5, "typing": 1}),
            json!({"type": "typing", "conversation_id": null, "typing": [1]}),
            json!({"type": "typing", "typing": {"a": 1}}),
            json!({"type": "typing", "conversation_id": Uuid::from_u128(1), "typing": 1.5}),
            json!({"type": "typing", "conversation_id": Uuid::from_u128(1), "typing": -1}),
        ];
        for bad in typing {
            let old = serde_json::from_value::<OldTyping>(bad.clone())
                .err()
                .unwrap();
            assert_eq!(
                err(&bad.to_string()),
                FrameError::Malformed(old.to_string()),
                "{bad}"
            );
        }
        let read = [
            json!({"type": "read"}),
            json!({"type": "read", "conversation_id": "x"}),
            json!({"type": "read", "conversation_id": Uuid::from_u128(1), "up_to": "x"}),
            json!({"type": "read", "conversation_id": Uuid::from_u128(1), "up_to": 3}),
            json!({"type": "read", "conversation_id": true}),
        ];
        for bad in read {
            let old = serde_json::from_value::<OldRead>(bad.clone())
                .err()
                .unwrap();
            assert_eq!(
                err(&bad.to_string()),
                FrameError::Malformed(old.to_string()),
                "{bad}"
            );
        }
        assert_eq!(
            FrameError::Unsupported("dance".into()).frame().to_text(),
            json!({"type": "error", "code": "unsupported_message", "message": "unknown type \"dance\""}).to_string()
        );
        assert_eq!(
            FrameError::NoType.frame().to_text(),
            json!({"type": "error", "code": "malformed_message", "message": "no \"type\""})
                .to_string()
        );
    }
}
