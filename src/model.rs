//! The vocabulary every layer shares: roles and the other closed sets of values the database
//! stores as text. Nothing here knows about HTTP, the database or WAHA.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who a user is to the platform. Stored as text in `users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    AgencyAdmin,
    Agent,
    Buyer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::AgencyAdmin => "agency_admin",
            Role::Agent => "agent",
            Role::Buyer => "buyer",
        }
    }

    /// Agency staff: agents and agency admins.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::AgencyAdmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "operator" => Ok(Role::Operator),
            "agency_admin" => Ok(Role::AgencyAdmin),
            "agent" => Ok(Role::Agent),
            "buyer" => Ok(Role::Buyer),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_text() {
        for role in [Role::Operator, Role::AgencyAdmin, Role::Agent, Role::Buyer] {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}

/// A closed set of values stored as text: `as_str`, `FromStr`, `Display`, serde as the same
/// snake_case text, and sqlx encoding/decoding as PostgreSQL `text` (so `query!` columns can
/// be read as the enum with `col as "col: Type"`). The table's `check` constraint lists the
/// same values.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
        #[schema(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue { of: stringify!($name), value: other.to_string() }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                Ok(text.parse()?)
            }
        }
    };
}

/// A keyset page cursor, `<time in µs>_<id>`: where the previous page ended, for lists ordered
/// by (time, id) descending. One format for every paged list.
pub fn page_cursor(at: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> String {
    format!("{}_{}", at.timestamp_micros(), id)
}

/// Read a [`page_cursor`]; `400 invalid_cursor` for anything else.
pub fn parse_page_cursor(
    c: &str,
) -> crate::error::Result<(chrono::DateTime<chrono::Utc>, uuid::Uuid)> {
    let bad = || crate::error::AppError::bad_request("invalid_cursor", "The cursor is not valid.");
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let micros: i64 = t.parse().map_err(|_| bad())?;
    Ok((
        chrono::DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// A stored value outside its enum (a database row or client input out of the closed set).
#[derive(Debug, thiserror::Error)]
#[error("unknown {of} {value:?}")]
pub struct UnknownValue {
    pub of: &'static str,
    pub value: String,
}

text_enum!(
    /// A message's delivery status, ordered: a status only ever moves forward, except to
    /// `Failed` (`messages.status`).
    MessageStatus {
        Pending = "pending",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
    }
);

impl MessageStatus {
    /// From a WAHA ack number (`-1` error, `0` pending, `1` server, `2` device, `3` read,
    /// `4` played); `None` for numbers WAHA does not define.
    pub fn from_ack(ack: i64) -> Option<Self> {
        Some(match ack {
            -1 => Self::Failed,
            0 => Self::Pending,
            1 => Self::Sent,
            2 => Self::Delivered,
            3 | 4 => Self::Read,
            _ => return None,
        })
    }

    /// Whether moving from `self` to `next` goes forward (acks arrive out of order).
    pub fn advances_to(self, next: Self) -> bool {
        match (self, next) {
            (Self::Failed, _) => false,
            (_, Self::Failed) => self != Self::Read,
            (a, b) => b > a,
        }
    }
}

text_enum!(
    /// Which way a message went, seen from the agent (`messages.direction`).
    Direction {
        In = "in",
        Out = "out",
    }
);

text_enum!(
    /// What a message is (`messages.kind`).
    MessageKind {
        Text = "text",
        Image = "image",
        File = "file",
        Audio = "audio",
        Voice = "voice",
        Video = "video",
        Location = "location",
        Contact = "contact",
        System = "system",
        Offer = "offer",
        /// An internal note between staff: never shown to a buyer.
        Note = "note",
    }
);

impl MessageKind {
    /// The kind of a media message from its MIME type; `voice` when it is a voice note
    /// (`audio/ogg`, or flagged push-to-talk by WhatsApp).
    pub fn from_mime(mimetype: &str, push_to_talk: bool) -> Self {
        let mime = mimetype.trim().to_ascii_lowercase();
        if mime.starts_with("image/") {
            Self::Image
        } else if mime.starts_with("video/") {
            Self::Video
        } else if mime.starts_with("audio/ogg") || (push_to_talk && mime.starts_with("audio/")) {
            Self::Voice
        } else if mime.starts_with("audio/") {
            Self::Audio
        } else if push_to_talk {
            Self::Voice
        } else {
            Self::File
        }
    }

    /// Whether the message carries a file.
    pub fn has_media(self) -> bool {
        matches!(
            self,
            Self::Image | Self::File | Self::Audio | Self::Voice | Self::Video
        )
    }
}

text_enum!(
    /// Where a conversation happens (`conversations.channel`).
    Channel {
        Whatsapp = "whatsapp",
        InApp = "in_app",
    }
);

text_enum!(
    /// A conversation's state in the inbox (`conversations.status`).
    ConversationStatus {
        Open = "open",
        Archived = "archived",
        Closed = "closed",
    }
);

text_enum!(
    /// How an audited action ended (`audit_log.result`).
    AuditResult {
        Ok = "ok",
        Error = "error",
    }
);

text_enum!(
    /// What the operator or agent wants of a link's container (`whatsapp_links.desired_state`).
    DesiredState {
        Running = "running",
        Stopped = "stopped",
        Deleted = "deleted",
    }
);

text_enum!(
    /// A listing's state (`properties.status`).
    ListingStatus {
        Active = "active",
        Pending = "pending",
        Sold = "sold",
        Inactive = "inactive",
    }
);

#[cfg(test)]
mod vocabulary_tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_text() {
        fn check<T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr>(
            all: &[T],
            text: fn(T) -> &'static str,
        ) {
            for &v in all {
                assert_eq!(text(v).parse::<T>().ok(), Some(v));
            }
        }
        check(MessageStatus::ALL, MessageStatus::as_str);
        check(Direction::ALL, Direction::as_str);
        check(MessageKind::ALL, MessageKind::as_str);
        check(Channel::ALL, Channel::as_str);
        check(ConversationStatus::ALL, ConversationStatus::as_str);
        check(DesiredState::ALL, DesiredState::as_str);
        check(ListingStatus::ALL, ListingStatus::as_str);
        assert!("shipped".parse::<MessageStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&Channel::InApp).ok().as_deref(),
            Some("\"in_app\"")
        );
    }

    #[test]
    fn statuses_only_move_forward() {
        use MessageStatus::*;
        assert!(Pending.advances_to(Sent) && Sent.advances_to(Read) && Delivered.advances_to(Read));
        assert!(!Read.advances_to(Delivered) && !Delivered.advances_to(Sent));
        assert!(Sent.advances_to(Failed) && !Read.advances_to(Failed) && !Failed.advances_to(Read));
        assert_eq!(MessageStatus::from_ack(4), Some(Read));
        assert_eq!(MessageStatus::from_ack(9), None);
    }

    #[test]
    fn one_function_names_the_kind_of_a_file() {
        assert_eq!(
            MessageKind::from_mime("image/jpeg", false),
            MessageKind::Image
        );
        assert_eq!(
            MessageKind::from_mime("audio/ogg; codecs=opus", false),
            MessageKind::Voice
        );
        assert_eq!(
            MessageKind::from_mime("audio/mpeg", true),
            MessageKind::Voice
        );
        assert_eq!(
            MessageKind::from_mime("audio/mpeg", false),
            MessageKind::Audio
        );
        assert_eq!(
            MessageKind::from_mime("application/pdf", false),
            MessageKind::File
        );
        assert_eq!(
            MessageKind::from_mime("VIDEO/MP4", false),
            MessageKind::Video
        );
    }
}
