//! [`Job`]: what an outbox row asks the worker to do, and its stored form.
//!
//! **Stored format** (unchanged from the string-kind rows, so rows already queued still run):
//! the `kind` column holds the variant's tag and the `payload` jsonb column its fields —
//!
//! | variant | `kind` | `payload` | `message_id` column |
//! |---|---|---|---|
//! | [`Job::Send`] | `wa.send` | `{}` | the message to send |
//! | [`Job::Seen`] | `wa.seen` | `{"chat_id": …, "message_ids": […]}` | — |
//! | [`Job::React`] | `wa.react` | `{"message_id": …, "emoji": …}` | — |
//!
//! That is serde's adjacently tagged form (`{"kind": …, "payload": …}`) split into the two
//! columns: [`Job::to_stored`] and [`Job::from_stored`] are the only places that know it. The
//! message a `Send` delivers stays in its own column, whose unique index with `kind` queues a
//! message for sending once.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `kind` of [`Job::Send`].
pub const SEND: &str = "wa.send";
/// `kind` of [`Job::Seen`].
pub const SEEN: &str = "wa.seen";
/// `kind` of [`Job::React`].
pub const REACT: &str = "wa.react";

/// One unit of work for a link's WAHA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Job {
    /// Send the row's message (`message_id`) to WhatsApp, once. (Braces, not a unit variant:
    /// its stored payload is `{}`, which serde reads as an empty struct, not as a unit.)
    #[serde(rename = "wa.send")]
    Send {},
    /// Mark a chat's incoming messages read on WhatsApp (the buyer sees blue ticks). An empty
    /// list marks the chat's unread messages of the last 7 days.
    #[serde(rename = "wa.seen")]
    Seen {
        chat_id: String,
        #[serde(default)]
        message_ids: Vec<String>,
    },
    /// Set the agent's reaction to a WhatsApp message (an empty emoji removes it).
    #[serde(rename = "wa.react")]
    React { message_id: String, emoji: String },
}

/// A stored row that is not a [`Job`]: an unknown kind, or a payload that does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadJob {
    #[error("unknown job kind {0}")]
    UnknownKind(String),
    #[error("bad {kind} payload: {error}")]
    BadPayload { kind: String, error: String },
}

impl Job {
    /// The `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Send {} => SEND,
            Job::Seen { .. } => SEEN,
            Job::React { .. } => REACT,
        }
    }

    /// The `kind` and `payload` columns.
    pub fn to_stored(&self) -> (&'static str, Value) {
        let payload = match serde_json::to_value(self) {
            Ok(Value::Object(mut tagged)) => tagged.remove("payload"),
            _ => None,
        };
        (self.kind(), payload.unwrap_or_else(|| json!({})))
    }

    /// A job from its `kind` and `payload` columns.
    pub fn from_stored(kind: &str, payload: Value) -> Result<Job, BadJob> {
        if ![SEND, SEEN, REACT].contains(&kind) {
            return Err(BadJob::UnknownKind(kind.to_string()));
        }
        serde_json::from_value(json!({"kind": kind, "payload": payload})).map_err(|e| {
            BadJob::BadPayload {
                kind: kind.to_string(),
                error: e.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Rows as the string-kind code wrote them still decode, and new rows are written the same.
    #[test]
    fn the_stored_format_is_the_one_already_in_databases() {
        let rows = [
            (SEND, json!({}), Job::Send {}),
            (
                SEEN,
                json!({"chat_id": "34600000002@c.us", "message_ids": ["false_34600000002@c.us_A"]}),
                Job::Seen {
                    chat_id: "34600000002@c.us".into(),
                    message_ids: vec!["false_34600000002@c.us_A".into()],
                },
            ),
            (
                REACT,
                json!({"message_id": "true_34600000002@c.us_B", "emoji": "👍"}),
                Job::React {
                    message_id: "true_34600000002@c.us_B".into(),
                    emoji: "👍".into(),
                },
            ),
        ];
        for (kind, payload, job) in rows {
            assert_eq!(Job::from_stored(kind, payload.clone()).unwrap(), job);
            assert_eq!(job.to_stored(), (kind, payload));
        }
    }

    #[test]
    fn rows_that_are_not_jobs_say_why() {
        assert_eq!(
            Job::from_stored("wa.poll", json!({})),
            Err(BadJob::UnknownKind("wa.poll".into()))
        );
        assert_eq!(
            Job::from_stored("wa.poll", json!({}))
                .unwrap_err()
                .to_string(),
            "unknown job kind wa.poll"
        );
        assert!(matches!(
            Job::from_stored(REACT, json!({"emoji": "👍"})),
            Err(BadJob::BadPayload { .. })
        ));
        // A seen job without ids marks the whole chat read, as before.
        assert_eq!(
            Job::from_stored(SEEN, json!({"chat_id": "1@c.us"})).unwrap(),
            Job::Seen {
                chat_id: "1@c.us".into(),
                message_ids: Vec::new()
            }
        );
    }
}
