//! Configuration, read from the environment the way the real `devlikeapro/waha` image reads it.
//!
//! Real WAHA variables keep their names (`WHATSAPP_*`, `WAHA_*`); everything that only exists in
//! the emulator starts with `EMULATOR_`. [`Config::from_vars`] takes any key/value source so tests
//! can build a config without touching the process environment. Every variable is documented in
//! `waha/README.md`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha512};

/// Which WAHA generation the emulator imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// WAHA Core before 2026.6.1: only `default`, start not idempotent, config kept in memory,
    /// media sending and `/health` answer 422.
    CoreLegacy,
    /// 2026.6.1 and later (the former Plus features in the free image).
    Current,
}

impl Flavor {
    /// The WAHA version the flavor reports in `environment.version`.
    pub fn version(self) -> &'static str {
        match self {
            Flavor::CoreLegacy => "2026.2.1",
            Flavor::Current => "2026.7.1",
        }
    }
}

/// The WhatsApp engine the emulated image runs. It changes `engine` fields, the id shapes and the
/// raw send responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Webjs,
    Noweb,
    Gows,
}

impl Engine {
    /// Upper-case name as WAHA prints it (`WEBJS`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Webjs => "WEBJS",
            Engine::Noweb => "NOWEB",
            Engine::Gows => "GOWS",
        }
    }

    /// Folder name under the local store (`/app/.sessions/<engine>/<session>`).
    pub fn dir(self) -> &'static str {
        match self {
            Engine::Webjs => "webjs",
            Engine::Noweb => "noweb",
            Engine::Gows => "gows",
        }
    }
}

/// Retry policy of a webhook (`constant` is WAHA's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    Constant,
    Linear,
    Exponential,
}

impl RetryPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "constant" => Some(Self::Constant),
            "linear" => Some(Self::Linear),
            "exponential" => Some(Self::Exponential),
            _ => None,
        }
    }
}

/// One webhook target (a session's `config.webhooks[]` entry or the global env one).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub url: String,
    pub events: Vec<String>,
    pub hmac_key: Option<String>,
    pub policy: Option<RetryPolicy>,
    pub delay_seconds: Option<f64>,
    pub attempts: Option<u32>,
    pub custom_headers: Vec<(String, String)>,
}

/// How the API key is checked.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiKey {
    /// `WAHA_NO_API_KEY=True`: every request passes.
    Disabled,
    /// The lowercase hex SHA-512 of the key (plain keys are hashed on boot, as `entrypoint.sh` does).
    Sha512(String),
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiKey::Disabled => f.write_str("Disabled"),
            ApiKey::Sha512(_) => f.write_str("Sha512(<redacted>)"),
        }
    }
}

impl ApiKey {
    /// Whether `candidate` (as sent by a client) is the key.
    pub fn accepts(&self, candidate: Option<&str>) -> bool {
        match self {
            ApiKey::Disabled => true,
            ApiKey::Sha512(hash) => match candidate {
                Some(c) => {
                    let got = sha512_hex(c);
                    constant_time_eq(got.as_bytes(), hash.as_bytes())
                }
                None => false,
            },
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lowercase hex SHA-512 of a string.
pub fn sha512_hex(s: &str) -> String {
    hex::encode(Sha512::digest(s.as_bytes()))
}

/// Keys WAHA (2025.10.3+) refuses as too weak; a random key replaces them.
fn is_weak_key(key: &str) -> bool {
    let zeros = "0".repeat(32);
    let ones = "1".repeat(32);
    let plain_weak = [
        "",
        "123",
        "321",
        "waha",
        "admin",
        zeros.as_str(),
        ones.as_str(),
    ];
    if plain_weak.contains(&key) {
        return true;
    }
    if let Some(hash) = key.strip_prefix("sha512:") {
        let hash = hash.to_ascii_lowercase();
        return plain_weak.iter().any(|w| sha512_hex(w) == hash);
    }
    false
}

/// The variables being read.
struct Vars(HashMap<String, String>);

impl Vars {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Everything the emulator reads at boot.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub base_url: String,
    pub flavor: Flavor,
    pub engine: Engine,
    pub version: String,
    pub api_key: ApiKey,
    /// Set when the key was generated at boot because none (or a weak one) was configured.
    pub generated_api_key: Option<String>,
    pub global_webhook: Option<WebhookTarget>,
    pub start_sessions: Vec<String>,
    pub restart_sessions: bool,
    pub store_dir: PathBuf,
    pub worker_id: Option<String>,
    pub timings: Timings,
    /// Per-attempt HTTP timeout of webhook POSTs.
    pub hook_timeout: Duration,
    /// `EMULATOR_SIGTERM=ignore` (default): SIGTERM is logged and swallowed, as real WAHA's own
    /// handler does, so `docker stop` waits its whole timeout and ends in SIGKILL.
    pub ignore_sigterm: bool,
    /// `EMULATOR_PREDEFINED_START=fail`: the `WHATSAPP_START_SESSION` start fails at boot; the
    /// session is left STOPPED (a failed predefined start).
    pub predefined_start_fails: bool,
    /// `EMULATOR_WHATSAPP=unreachable`: the engine cannot reach WhatsApp; every start stays
    /// STARTING and then goes FAILED without ever showing a QR code.
    pub whatsapp_unreachable: bool,
    /// Warnings produced while reading the config, logged once tracing is up.
    pub warnings: Vec<String>,
}

/// Emulator-only timings (`EMULATOR_*`).
#[derive(Debug, Clone)]
pub struct Timings {
    pub starting: Duration,
    pub qr_first: Duration,
    pub qr_next: Duration,
    pub qr_count: u32,
    /// Wait for a session to be running before answering 422 (real: 5 s).
    pub wait_running: Duration,
    /// Then wait for the expected status (real: 10 s).
    pub wait_status: Duration,
    /// Delays after a send for the automatic acks; `None` disables that step.
    pub ack_server: Option<Duration>,
    pub ack_device: Option<Duration>,
    pub ack_read: Option<Duration>,
    /// How long `…/stop` (and the stop inside restart, PUT and DELETE) takes to answer.
    pub stop: Duration,
    /// How long `…/logout` takes to answer (the device is unpaired at once).
    pub logout: Duration,
    /// With [`Config::whatsapp_unreachable`]: time spent STARTING before FAILED.
    pub connect_fail: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            starting: Duration::from_millis(1000),
            qr_first: Duration::from_secs(60),
            qr_next: Duration::from_secs(20),
            qr_count: 6,
            wait_running: Duration::from_secs(5),
            wait_status: Duration::from_secs(10),
            ack_server: Some(Duration::from_millis(200)),
            ack_device: Some(Duration::from_millis(1000)),
            ack_read: Some(Duration::from_millis(3000)),
            stop: Duration::from_millis(2000),
            logout: Duration::from_millis(2000),
            connect_fail: Duration::from_secs(20),
        }
    }
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on")
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the given variables (tests pass a literal list).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = Vars(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        let mut warnings = Vec::new();

        let bad = |name: &str, value: &str, reason: &str| ConfigError {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let parse_port = |name: &str| -> Result<Option<u16>, ConfigError> {
            match vars.get(name) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse::<u16>()
                    .map(Some)
                    .map_err(|_| bad(name, v, "not a port number")),
            }
        };
        let port = match parse_port("PORT")? {
            Some(p) => p,
            None => parse_port("WHATSAPP_API_PORT")?.unwrap_or(3000),
        };

        let flavor = match vars.get("EMULATOR_FLAVOR").unwrap_or("current") {
            "current" | "" => Flavor::Current,
            "core-legacy" | "legacy" => Flavor::CoreLegacy,
            other => return Err(bad("EMULATOR_FLAVOR", other, "use core-legacy or current")),
        };

        let engine = match vars.get("WHATSAPP_DEFAULT_ENGINE").unwrap_or("WEBJS") {
            "WEBJS" | "" => Engine::Webjs,
            "NOWEB" => Engine::Noweb,
            "GOWS" => Engine::Gows,
            other => {
                warnings.push(format!(
                    "Unknown WhatsApp default engine WHATSAPP_DEFAULT_ENGINE={other}. Using WEBJS"
                ));
                Engine::Webjs
            }
        };

        let schema = vars.get("WHATSAPP_API_SCHEMA").unwrap_or("http");
        let hostname = vars.get("WHATSAPP_API_HOSTNAME").unwrap_or("localhost");
        let base_url = match vars.get("WAHA_BASE_URL") {
            Some(u) if !u.is_empty() => u.trim_end_matches('/').to_owned(),
            _ => format!("{schema}://{hostname}:{port}"),
        };

        let (api_key, generated_api_key) = if vars.get("WAHA_NO_API_KEY").is_some_and(truthy) {
            (ApiKey::Disabled, None)
        } else {
            let configured = vars
                .get("WHATSAPP_API_KEY")
                .or_else(|| vars.get("WAHA_API_KEY"))
                .unwrap_or("");
            if is_weak_key(configured) {
                let key = random_key();
                (ApiKey::Sha512(sha512_hex(&key)), Some(key))
            } else if let Some(hash) = configured.strip_prefix("sha512:") {
                (ApiKey::Sha512(hash.to_ascii_lowercase()), None)
            } else {
                (ApiKey::Sha512(sha512_hex(configured)), None)
            }
        };

        let global_webhook = global_webhook(&vars, &mut warnings)?;

        let start_sessions = vars
            .get("WHATSAPP_START_SESSION")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let restart_sessions = vars.get("WAHA_WORKER_RESTART_SESSIONS").is_none_or(truthy);

        let store_dir = match vars.get("WAHA_LOCAL_STORE_BASE_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from("./.sessions"),
        };

        let mut timings = Timings::default();
        let ms = |name: &str, slot: &mut Duration| -> Result<(), ConfigError> {
            if let Some(v) = vars.get(name) {
                let n: u64 = v
                    .parse()
                    .map_err(|_| bad(name, v, "milliseconds expected"))?;
                *slot = Duration::from_millis(n);
            }
            Ok(())
        };
        ms("EMULATOR_STARTING_MS", &mut timings.starting)?;
        ms("EMULATOR_QR_FIRST_MS", &mut timings.qr_first)?;
        ms("EMULATOR_QR_NEXT_MS", &mut timings.qr_next)?;
        ms("EMULATOR_WAIT_RUNNING_MS", &mut timings.wait_running)?;
        ms("EMULATOR_WAIT_STATUS_MS", &mut timings.wait_status)?;
        ms("EMULATOR_STOP_MS", &mut timings.stop)?;
        ms("EMULATOR_LOGOUT_MS", &mut timings.logout)?;
        ms("EMULATOR_CONNECT_FAIL_MS", &mut timings.connect_fail)?;
        if let Some(v) = vars.get("EMULATOR_QR_COUNT") {
            timings.qr_count = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("EMULATOR_QR_COUNT", v, "a positive number expected"))?;
        }
        let opt_ms = |name: &str, slot: &mut Option<Duration>| -> Result<(), ConfigError> {
            if let Some(v) = vars.get(name) {
                *slot = if v == "off" || v.is_empty() {
                    None
                } else {
                    Some(Duration::from_millis(v.parse().map_err(|_| {
                        bad(name, v, "milliseconds or \"off\" expected")
                    })?))
                };
            }
            Ok(())
        };
        opt_ms("EMULATOR_ACK_SERVER_MS", &mut timings.ack_server)?;
        opt_ms("EMULATOR_ACK_DEVICE_MS", &mut timings.ack_device)?;
        opt_ms("EMULATOR_ACK_READ_MS", &mut timings.ack_read)?;

        let mut hook_timeout = Duration::from_secs(10);
        ms("EMULATOR_HOOK_TIMEOUT_MS", &mut hook_timeout)?;

        let choice =
            |name: &str, default: &str, strict: &str, lax: &str| -> Result<bool, ConfigError> {
                match vars.get(name).filter(|v| !v.is_empty()).unwrap_or(default) {
                    v if v == strict => Ok(true),
                    v if v == lax => Ok(false),
                    other => Err(bad(name, other, &format!("use {strict} or {lax}"))),
                }
            };
        let ignore_sigterm = choice("EMULATOR_SIGTERM", "ignore", "ignore", "exit")?;
        let predefined_start_fails = choice("EMULATOR_PREDEFINED_START", "ok", "fail", "ok")?;
        let whatsapp_unreachable =
            choice("EMULATOR_WHATSAPP", "reachable", "unreachable", "reachable")?;

        let version = vars
            .get("EMULATOR_VERSION")
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| flavor.version().to_owned());

        Ok(Self {
            port,
            base_url,
            flavor,
            engine,
            version,
            api_key,
            generated_api_key,
            global_webhook,
            start_sessions,
            restart_sessions,
            store_dir,
            worker_id: vars
                .get("WAHA_WORKER_ID")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            timings,
            hook_timeout,
            ignore_sigterm,
            predefined_start_fails,
            whatsapp_unreachable,
            warnings,
        })
    }
}

fn global_webhook(
    vars: &Vars,
    warnings: &mut Vec<String>,
) -> Result<Option<WebhookTarget>, ConfigError> {
    let (Some(url), Some(events)) = (
        vars.get("WHATSAPP_HOOK_URL"),
        vars.get("WHATSAPP_HOOK_EVENTS"),
    ) else {
        return Ok(None);
    };
    if url.is_empty() || events.is_empty() {
        return Ok(None);
    }
    // WAHA splits on ',' without trimming: " message" is not "message".
    let events = events.split(',').map(str::to_owned).collect();
    let policy = match vars.get("WHATSAPP_HOOK_RETRIES_POLICY") {
        None | Some("") => None,
        Some(p) => Some(RetryPolicy::parse(p).ok_or_else(|| ConfigError {
            name: "WHATSAPP_HOOK_RETRIES_POLICY".into(),
            value: p.into(),
            reason: "use constant, linear or exponential".into(),
        })?),
    };
    let delay_seconds = match vars.get("WHATSAPP_HOOK_RETRIES_DELAY_SECONDS") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<f64>().map_err(|_| ConfigError {
            name: "WHATSAPP_HOOK_RETRIES_DELAY_SECONDS".into(),
            value: v.into(),
            reason: "a number expected".into(),
        })?),
    };
    let attempts = match vars.get("WHATSAPP_HOOK_RETRIES_ATTEMPTS") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<u32>().map_err(|_| ConfigError {
            name: "WHATSAPP_HOOK_RETRIES_ATTEMPTS".into(),
            value: v.into(),
            reason: "a whole number expected".into(),
        })?),
    };
    let mut custom_headers = Vec::new();
    if let Some(spec) = vars.get("WHATSAPP_HOOK_CUSTOM_HEADERS") {
        for pair in spec.split(';').filter(|p| !p.is_empty()) {
            let parts: Vec<&str> = pair.split(':').collect();
            if parts.len() != 2 || parts[0].is_empty() {
                warnings.push(format!(
                    "WHATSAPP_HOOK_CUSTOM_HEADERS: invalid header {pair:?} (use Name:value;Other:value, no ':' in values), ignored"
                ));
                continue;
            }
            custom_headers.push((parts[0].to_owned(), parts[1].to_owned()));
        }
    }
    Ok(Some(WebhookTarget {
        url: url.to_owned(),
        events,
        hmac_key: vars
            .get("WHATSAPP_HOOK_HMAC_KEY")
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        policy,
        delay_seconds,
        attempts,
        custom_headers,
    }))
}

/// A random 32-char hex API key, as WAHA generates when none (or a weak one) is configured.
fn random_key() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn port_wins_over_whatsapp_api_port() {
        let c = Config::from_vars([("PORT", "4000"), ("WHATSAPP_API_PORT", "5000")]).unwrap();
        assert_eq!(c.port, 4000);
        let c = Config::from_vars([("WHATSAPP_API_PORT", "5000")]).unwrap();
        assert_eq!(c.port, 5000);
        assert_eq!(c.base_url, "http://localhost:5000");
    }

    #[test]
    fn weak_keys_are_replaced() {
        for weak in ["", "123", "waha", "admin"] {
            let c = Config::from_vars([("WAHA_API_KEY", weak)]).unwrap();
            let generated = c.generated_api_key.clone().unwrap();
            assert!(c.api_key.accepts(Some(&generated)));
            assert!(!c.api_key.accepts(Some(weak)));
        }
        let hashed = format!("sha512:{}", sha512_hex("secret-key"));
        let c = Config::from_vars([("WAHA_API_KEY", hashed.as_str())]).unwrap();
        assert!(c.generated_api_key.is_none());
        assert!(c.api_key.accepts(Some("secret-key")));
        let c = Config::from_vars([("WAHA_API_KEY", "a"), ("WHATSAPP_API_KEY", "b-key")]).unwrap();
        assert!(c.api_key.accepts(Some("b-key")));
    }

    #[test]
    fn strict_lifecycle_switches_default_to_real_waha() {
        let c = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert!(c.ignore_sigterm);
        assert!(!c.predefined_start_fails);
        assert!(!c.whatsapp_unreachable);
        assert_eq!(c.timings.stop, Duration::from_secs(2));
        assert_eq!(c.timings.logout, Duration::from_secs(2));
        let c = Config::from_vars([
            ("EMULATOR_SIGTERM", "exit"),
            ("EMULATOR_PREDEFINED_START", "fail"),
            ("EMULATOR_WHATSAPP", "unreachable"),
            ("EMULATOR_STOP_MS", "50"),
        ])
        .unwrap();
        assert!(!c.ignore_sigterm);
        assert!(c.predefined_start_fails);
        assert!(c.whatsapp_unreachable);
        assert_eq!(c.timings.stop, Duration::from_millis(50));
        assert!(Config::from_vars([("EMULATOR_SIGTERM", "maybe")]).is_err());
    }

    #[test]
    fn unknown_engine_falls_back_to_webjs() {
        let c = Config::from_vars([("WHATSAPP_DEFAULT_ENGINE", "FOO")]).unwrap();
        assert_eq!(c.engine, Engine::Webjs);
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn hook_events_are_not_trimmed() {
        let c = Config::from_vars([
            ("WHATSAPP_HOOK_URL", "http://h/wh"),
            ("WHATSAPP_HOOK_EVENTS", "message, session.status"),
            ("WHATSAPP_HOOK_CUSTOM_HEADERS", "X-A:1;X-B:2"),
        ])
        .unwrap();
        let hook = c.global_webhook.unwrap();
        assert_eq!(hook.events, vec!["message", " session.status"]);
        assert_eq!(hook.custom_headers.len(), 2);
    }
}
