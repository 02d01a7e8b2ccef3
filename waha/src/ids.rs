//! Identifier formats: event ids (`evt_` + lowercase ULID), webhook request ids (uniqid-like),
//! WhatsApp message ids, serialized message ids (`{fromMe}_{chat}_{id}[_{participant}]`),
//! chat-id suffixes, lids and QR strings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the epoch.
pub fn now_s() -> i64 {
    now_ms() / 1000
}

/// `evt_` + a lower-case ULID, generated once per event.
pub fn event_id() -> String {
    format!("evt_{}", ulid::Ulid::new().to_string().to_lowercase())
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

static UNIQ: AtomicU64 = AtomicU64::new(0);

/// A short unique string like the npm `uniqid()` output (`4n5pxq24kpiob12og9`): a per-process
/// prefix, the time in base36 and a counter. Used for `X-Webhook-Request-Id`.
pub fn uniqid() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix =
        PREFIX.get_or_init(|| base36(rand::thread_rng().gen_range(36u128.pow(5)..36u128.pow(6))));
    let n = UNIQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}{}{}",
        base36(now_ms() as u128),
        base36(u128::from(n % 1296) + 1296)
    )
}

fn upper_hex(len_bytes: usize) -> String {
    let bytes: Vec<u8> = (0..len_bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode_upper(bytes)
}

/// A raw id for a message sent through the API (`3EB0` + 18 hex digits, as web clients use).
pub fn api_message_id() -> String {
    format!("3EB0{}", &upper_hex(9))
}

/// A raw id for a message typed on a phone (32 upper-hex digits).
pub fn phone_message_id() -> String {
    upper_hex(16)
}

/// Appends `@c.us` to a bare phone number (WAHA's `ensureSuffix`).
pub fn ensure_suffix(chat_id: &str) -> String {
    if chat_id.contains('@') {
        chat_id.to_owned()
    } else {
        format!("{chat_id}@c.us")
    }
}

/// `true_<chat>_<id>` / `false_<chat>_<id>[_<participant>]`.
pub fn serialize_id(
    from_me: bool,
    chat_id: &str,
    raw_id: &str,
    participant: Option<&str>,
) -> String {
    match participant {
        Some(p) => format!("{from_me}_{chat_id}_{raw_id}_{p}"),
        None => format!("{from_me}_{chat_id}_{raw_id}"),
    }
}

/// The parts of a serialized message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageKey {
    pub from_me: bool,
    pub chat_id: String,
    pub id: String,
    pub participant: Option<String>,
}

/// Parses a serialized id the way WAHA does (3 or 4 `_`-separated parts).
pub fn parse_serialized(id: &str) -> Result<MessageKey, String> {
    let err = || {
        "Message id be in format false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAA[_participant]"
            .to_owned()
    };
    let parts: Vec<&str> = id.split('_').collect();
    if parts.len() != 3 && parts.len() != 4 {
        return Err(err());
    }
    let from_me = match parts[0] {
        "true" => true,
        "false" => false,
        _ => return Err(err()),
    };
    Ok(MessageKey {
        from_me,
        chat_id: parts[1].to_owned(),
        id: parts[2].to_owned(),
        participant: parts.get(3).map(|s| (*s).to_owned()),
    })
}

/// The user part of a jid (`34600000001@c.us` → `34600000001`).
pub fn user_part(jid: &str) -> &str {
    jid.split('@').next().unwrap_or(jid)
}

/// The stable, made-up lid of a phone number (15 digits derived from a hash).
pub fn lid_for_phone(phone: &str) -> String {
    let digest = Sha256::digest(phone.as_bytes());
    let mut n: u64 = 0;
    for b in &digest[..8] {
        n = (n << 8) | u64::from(*b);
    }
    format!("{}@lid", 100_000_000_000_000 + n % 900_000_000_000_000)
}

/// A WEBJS-style raw QR string: `2@<ref>,<noise key>,<identity key>,<adv secret>`.
pub fn qr_value() -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let rand_b64 = |n: usize| {
        let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
        b64.encode(bytes)
    };
    format!(
        "2@{},{},{},{}",
        rand_b64(60),
        rand_b64(32),
        rand_b64(32),
        rand_b64(32)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_lowercase_ulids() {
        let id = event_id();
        assert!(id.starts_with("evt_"));
        assert_eq!(id.len(), 30);
        assert_eq!(id, id.to_lowercase());
    }

    #[test]
    fn serialized_ids_round_trip() {
        let s = serialize_id(false, "1@g.us", "ABC", Some("2@c.us"));
        let k = parse_serialized(&s).unwrap();
        assert_eq!(k.chat_id, "1@g.us");
        assert_eq!(k.participant.as_deref(), Some("2@c.us"));
        assert!(parse_serialized("nope").is_err());
    }

    #[test]
    fn uniqids_differ() {
        assert_ne!(uniqid(), uniqid());
    }
}
