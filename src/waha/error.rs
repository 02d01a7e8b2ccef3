//! [`Error`]: everything that can go wrong talking to WAHA, and what it means for trying
//! again ([`Fault`]).
//!
//! Invariants:
//! - **Errors say what WAHA meant**: transport failures, 401, 404, the 422 state object
//!   `{error, session, status, expected}`, other 422s with their message, other non-2xx with a
//!   body cut to 300 characters, undecodable bodies, unusable URLs, answers over a size limit.
//! - **One classification.** [`Error::fault`] is the only place that says what a failure means
//!   for trying again: callers (the outbox retrying a send, the link operations) decide by
//!   [`Fault`] or by variant, never by a status code or an error's text.
//! - **No secret in an error.** Transport errors drop the URL; the API key is never in one.
//!
//! [`WahaError`](super::WahaError) is the same type under its older name.

use reqwest::StatusCode;
use serde_json::Value;

use super::types::SessionStatus;

/// Longest error message kept from a WAHA response body, in characters.
const MAX_ERROR_CHARS: usize = 300;

/// Everything that can go wrong talking to WAHA.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Could not connect, the call timed out, or the connection broke mid-answer.
    #[error("WAHA unreachable: {0}")]
    Unreachable(String),
    /// 401: the API key was refused.
    #[error("WAHA refused the API key")]
    Unauthorized,
    /// 404: no such session, message, file or route.
    #[error("not found in WAHA")]
    NotFound,
    /// 422 `{error, session, status, expected}`: the session is not in a status the call needs
    /// (WAHA waited up to 15 s for it first).
    #[error("WAHA session is {status}, expected {expected:?}")]
    WrongStatus {
        status: String,
        expected: Vec<String>,
    },
    /// Any other 422, with WAHA's message (legacy Core's "only 'default' session", "already
    /// started", "available only in Plus", NOWEB's "Can request code only in SCAN_QR_CODE"…).
    #[error("WAHA refused the request: {0}")]
    Unprocessable(String),
    /// Any other non-2xx answer; `message` is WAHA's message or the body, cut to 300 chars.
    #[error("WAHA answered {status}: {message}")]
    Http { status: u16, message: String },
    /// A 2xx answer whose body is not what the contract says.
    #[error("unexpected WAHA response: {0}")]
    Decode(String),
    /// A base URL or media URL that cannot be used (bad syntax, wrong scheme, outside
    /// `/api/files/`), or an API key that is not a valid header value.
    #[error("invalid WAHA URL or key: {0}")]
    InvalidUrl(String),
    /// An answer larger than allowed: a media file over the caller's limit, or a JSON answer
    /// over [`MAX_JSON_BYTES`](super::client::MAX_JSON_BYTES).
    #[error("WAHA answer larger than {max_bytes} bytes")]
    TooLarge { max_bytes: usize },
}

impl Error {
    /// What this failure says about trying again (see [`Fault`]).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Unreachable(_) | Error::WrongStatus { .. } => Fault::Unavailable,
            // 501: the engine does not implement it (video on Core) — asking again will not help.
            Error::Http { status, .. }
                if (*status >= 500 && *status != 501) || *status == 408 || *status == 429 =>
            {
                Fault::Busy
            }
            Error::Http { .. }
            | Error::Unauthorized
            | Error::NotFound
            | Error::Unprocessable(_)
            | Error::Decode(_)
            | Error::InvalidUrl(_)
            | Error::TooLarge { .. } => Fault::Refused,
        }
    }

    /// Whether trying again later may succeed: transport failures, 5xx, 408/429, and a session
    /// that is not WORKING yet. Auth, validation and decoding errors are permanent.
    pub fn is_transient(&self) -> bool {
        self.fault() != Fault::Refused
    }

    /// The session status WAHA reported in a 422 state error.
    pub fn wrong_status(&self) -> Option<SessionStatus> {
        match self {
            Error::WrongStatus { status, .. } => Some(SessionStatus::from(status.as_str())),
            _ => None,
        }
    }
}

/// What a failed call says about trying it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The session cannot take calls now: WAHA did not answer (no connection, a timeout, a
    /// connection broken mid-answer), or the session is not in the status the call needs
    /// ([`Error::WrongStatus`]). Passes when the link is back.
    Unavailable,
    /// WAHA answered with a failure that may pass: a 5xx, 408 or 429.
    Busy,
    /// The call itself was refused — the key, a missing resource, validation, an answer that
    /// is not what the contract says, one too large — and would be refused again.
    Refused,
}

/// Whether a 422 message says the session already exists / is already started.
pub(super) fn is_already(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("already started") || m.contains("already exists")
}

/// A transport-level reqwest error, without its URL.
pub(super) fn transport(e: reqwest::Error) -> Error {
    let e = e.without_url();
    if e.is_builder() {
        return Error::InvalidUrl(chain(&e));
    }
    if e.is_decode() {
        return Error::Decode(chain(&e));
    }
    Error::Unreachable(chain(&e))
}

/// An error and its sources, `: `-joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// Maps a non-2xx answer to a [`Error`].
pub(super) fn error_from(status: StatusCode, body: &[u8]) -> Error {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized,
        StatusCode::NOT_FOUND => Error::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY => {
            if let Some(v) = &json {
                let expected = v.get("expected").and_then(Value::as_array);
                let st = v.get("status").and_then(Value::as_str);
                if let (Some(expected), Some(st)) = (expected, st) {
                    return Error::WrongStatus {
                        status: st.to_owned(),
                        expected: expected
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    };
                }
            }
            Error::Unprocessable(message_of(json.as_ref(), body))
        }
        _ => Error::Http {
            status: status.as_u16(),
            message: message_of(json.as_ref(), body),
        },
    }
}

/// WAHA's message from a Nest error body (`message` string or list, `error` string or
/// `{message}`, `exception.message`), else the raw body; cut to [`MAX_ERROR_CHARS`].
fn message_of(json: Option<&Value>, body: &[u8]) -> String {
    let from_json = json.and_then(|v| {
        let text = |x: &Value| -> Option<String> {
            match x {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Array(a) if !a.is_empty() => Some(
                    a.iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                _ => None,
            }
        };
        v.get("message")
            .and_then(text)
            .or_else(|| v.get("exception")?.get("message").and_then(text))
            .or_else(|| v.get("error")?.get("message").and_then(text))
            .or_else(|| v.get("error").and_then(text))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    truncate(&text, MAX_ERROR_CHARS)
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The older name, as the assertions below spell it.
    type WahaError = Error;

    #[test]
    fn error_mapping() {
        let e = error_from(
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"error":"Session status is not as expected. Try again later or restart the session","session":"default","status":"WORKING","expected":["SCAN_QR_CODE"]}"#,
        );
        match &e {
            WahaError::WrongStatus { status, expected } => {
                assert_eq!(status, "WORKING");
                assert_eq!(expected, &vec!["SCAN_QR_CODE".to_owned()]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.wrong_status(), Some(SessionStatus::Working));
        assert!(e.is_transient());

        let e = error_from(
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"statusCode":422,"message":"Session 'default' is already started.","error":"Unprocessable Entity"}"#,
        );
        assert!(
            matches!(&e, WahaError::Unprocessable(m) if m == "Session 'default' is already started.")
        );
        assert!(matches!(&e, WahaError::Unprocessable(m) if is_already(m)));
        assert!(!e.is_transient());

        assert!(matches!(
            error_from(
                StatusCode::UNAUTHORIZED,
                br#"{"message":"Unauthorized","statusCode":401}"#
            ),
            WahaError::Unauthorized
        ));
        assert!(matches!(
            error_from(StatusCode::NOT_FOUND, b""),
            WahaError::NotFound
        ));

        let e = error_from(
            StatusCode::BAD_REQUEST,
            br#"{"statusCode":400,"message":["chatId should not be empty","text must be a string"],"error":"Bad Request"}"#,
        );
        assert!(
            matches!(&e, WahaError::Http { status: 400, message } if message == "chatId should not be empty; text must be a string"),
            "{e:?}"
        );
        let e = error_from(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"statusCode":500,"timestamp":"x","exception":{"message":"boom","name":"Error","stack":"..."}}"#,
        );
        assert!(matches!(&e, WahaError::Http { status: 500, message } if message == "boom"));
        assert!(e.is_transient());

        let long = "x".repeat(5000);
        match error_from(StatusCode::BAD_GATEWAY, long.as_bytes()) {
            WahaError::Http {
                status: 502,
                message,
            } => {
                assert_eq!(message.chars().count(), MAX_ERROR_CHARS + 1);
            }
            other => panic!("{other:?}"),
        }
        let e = error_from(StatusCode::UNPROCESSABLE_ENTITY, b"plain text");
        assert!(matches!(&e, WahaError::Unprocessable(m) if m == "plain text"));
    }

    #[test]
    fn truncate_is_char_safe() {
        assert_eq!(truncate("ñandú", 3), "ñan…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn every_variant_has_one_fault() {
        let refused = [
            Error::Unauthorized,
            Error::NotFound,
            Error::Unprocessable("x".into()),
            Error::Http {
                status: 400,
                message: "x".into(),
            },
            Error::Decode("x".into()),
            Error::InvalidUrl("x".into()),
            Error::TooLarge { max_bytes: 1 },
            // Not implemented by the engine (video on Core).
            Error::Http {
                status: 501,
                message: "x".into(),
            },
        ];
        for e in refused {
            assert_eq!(e.fault(), Fault::Refused, "{e:?}");
            assert!(!e.is_transient(), "{e:?}");
        }
        for status in [500, 502, 503, 408, 429] {
            let e = Error::Http {
                status,
                message: String::new(),
            };
            assert_eq!(e.fault(), Fault::Busy, "{status}");
        }
        assert_eq!(Error::Unreachable("x".into()).fault(), Fault::Unavailable);
        let e = Error::WrongStatus {
            status: "STOPPED".into(),
            expected: vec!["WORKING".into()],
        };
        assert_eq!(e.fault(), Fault::Unavailable);
    }
}
