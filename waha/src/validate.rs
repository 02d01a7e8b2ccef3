//! Request validation with class-validator-like messages, so bad input gets Nest's 400 body
//! (`{statusCode:400, message:[...], error:"Bad Request"}`) instead of a panic.

use serde_json::Value;

use crate::config::{RetryPolicy, WebhookTarget};
use crate::error::ApiError;
use crate::webhook::ALL_EVENTS;

/// Collects messages for one request body.
#[derive(Default)]
pub struct Checker {
    pub errors: Vec<String>,
}

impl Checker {
    /// A required non-empty string field.
    pub fn string(&mut self, body: &Value, field: &str) -> String {
        match body.get(field) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                self.errors.push(format!("{field} should not be empty"));
                self.errors.push(format!("{field} must be a string"));
                String::new()
            }
            Some(_) => {
                self.errors.push(format!("{field} must be a string"));
                String::new()
            }
        }
    }

    /// A required string that may be empty (e.g. a reaction "" removes it).
    pub fn string_allow_empty(&mut self, body: &Value, field: &str) -> String {
        match body.get(field) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.errors.push(format!("{field} must be a string"));
                String::new()
            }
        }
    }

    /// An optional string field.
    pub fn opt_string(&mut self, body: &Value, field: &str) -> Option<String> {
        match body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.errors.push(format!("{field} must be a string"));
                None
            }
        }
    }

    /// A required number.
    pub fn number(&mut self, body: &Value, field: &str) -> f64 {
        match body.get(field).and_then(Value::as_f64) {
            Some(n) => n,
            None => {
                self.errors.push(format!(
                    "{field} must be a number conforming to the specified constraints"
                ));
                0.0
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// The body must be a JSON object.
pub fn object(body: &Value) -> Result<(), ApiError> {
    if body.is_object() {
        Ok(())
    } else {
        Err(ApiError::bad_request("request body must be an object"))
    }
}

/// `SessionName()`: `^[a-zA-Z0-9_-]*$`, at most 54 characters.
pub fn session_name(name: &str) -> Result<(), ApiError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let mut errors = Vec::new();
    if !ok_chars {
        errors.push("name must match /^[a-zA-Z0-9_-]*$/ regular expression".to_owned());
    }
    if name.len() > 54 {
        errors.push("name must be shorter than or equal to 54 characters".to_owned());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'))
}

/// Validates `SessionConfig` and extracts its webhooks. `null`/absent is fine.
pub fn session_config(config: Option<&Value>) -> Result<Vec<WebhookTarget>, ApiError> {
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return Ok(Vec::new());
    };
    let mut errors = Vec::new();
    if !config.is_object() {
        return Err(ApiError::bad_request("config must be an object"));
    }
    if let Some(meta) = config.get("metadata").filter(|m| !m.is_null()) {
        let ok = meta
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string));
        if !ok {
            errors.push("config.metadata must be an object of strings".to_owned());
        }
    }
    let mut targets = Vec::new();
    match config.get("webhooks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(hooks)) => {
            for (i, hook) in hooks.iter().enumerate() {
                let p = format!("config.webhooks.{i}");
                let url = hook.get("url").and_then(Value::as_str).unwrap_or("");
                if !is_http_url(url) {
                    errors.push(format!("{p}.url must be a URL address"));
                }
                let mut events = Vec::new();
                match hook.get("events") {
                    Some(Value::Array(list)) => {
                        for e in list {
                            match e.as_str() {
                                Some(e) if e == "*" || ALL_EVENTS.contains(&e) => {
                                    events.push(e.to_owned())
                                }
                                _ => errors.push(format!(
                                    "{p}.each value in events must be one of the following values: *, {}",
                                    ALL_EVENTS.join(", ")
                                )),
                            }
                        }
                    }
                    _ => errors.push(format!("{p}.events must be an array")),
                }
                let hmac_key = hook
                    .get("hmac")
                    .and_then(|h| h.get("key"))
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned);
                let retries = hook.get("retries").filter(|r| !r.is_null());
                let mut policy = None;
                let mut delay_seconds = None;
                let mut attempts = None;
                if let Some(r) = retries {
                    if let Some(p_val) = r.get("policy").filter(|v| !v.is_null()) {
                        match p_val.as_str().and_then(RetryPolicy::parse) {
                            Some(pol) => policy = Some(pol),
                            None => errors.push(format!(
                                "{p}.retries.policy must be one of the following values: linear, exponential, constant"
                            )),
                        }
                    }
                    if let Some(d) = r.get("delaySeconds").filter(|v| !v.is_null()) {
                        match d.as_f64() {
                            Some(d) if d >= 0.0 => delay_seconds = Some(d),
                            _ => errors.push(format!("{p}.retries.delaySeconds must be a number")),
                        }
                    }
                    if let Some(a) = r.get("attempts").filter(|v| !v.is_null()) {
                        match a.as_u64() {
                            Some(a) => attempts = Some(a.min(1000) as u32),
                            _ => errors.push(format!("{p}.retries.attempts must be a number")),
                        }
                    }
                }
                let mut custom_headers = Vec::new();
                if let Some(Value::Array(hs)) = hook.get("customHeaders") {
                    for h in hs {
                        match (
                            h.get("name").and_then(Value::as_str),
                            h.get("value").and_then(Value::as_str),
                        ) {
                            (Some(n), Some(v)) if !n.is_empty() => {
                                custom_headers.push((n.to_owned(), v.to_owned()))
                            }
                            _ => errors
                                .push(format!("{p}.customHeaders must have a name and a value")),
                        }
                    }
                }
                targets.push(WebhookTarget {
                    url: url.to_owned(),
                    events,
                    hmac_key,
                    policy,
                    delay_seconds,
                    attempts,
                    custom_headers,
                });
            }
        }
        Some(_) => errors.push("config.webhooks must be an array".to_owned()),
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        Err(ApiError::Validation(errors))
    }
}
