//! Command line and configuration.
//!
//! Every setting is a `--flag` with an environment variable of the same meaning; defaults
//! suit a development machine. Secrets are wrapped in [`Secret`], whose `Debug` prints
//! `[redacted]`, so the configuration can be logged whole at start-up.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A string that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// One `KEY=value` of extra environment for the session containers. Its value may be a
/// credential (a proxy's, an API token), so `Debug` — and so the logged configuration —
/// shows the key only.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar(String);

impl EnvVar {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The key and the value, when there is an `=`.
    pub fn pair(&self) -> Option<(&str, &str)> {
        self.0.split_once('=')
    }
}

impl fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pair() {
            Some((k, _)) => write!(f, "{k}=[redacted]"),
            None => f.write_str("[redacted]"),
        }
    }
}

impl FromStr for EnvVar {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl From<&str> for EnvVar {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<String> for EnvVar {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// `http(s)://host[:port]` with nothing after it: what a browser sends as `Origin`.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

/// Which container runtime runs the WAHA sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// One Docker engine, one container per link.
    Docker,
    /// A Docker Swarm, one single-replica service per link, pinned to a node.
    Swarm,
}

/// How a Swarm service publishes WAHA's port when no network is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SwarmPublishMode {
    /// On the node that runs the task only (a random port per task).
    Host,
    /// Through the routing mesh, on every node.
    Ingress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "puente",
    version,
    about = "WhatsApp-bridge orchestration for real-estate teams"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log output format.
    #[arg(
        long,
        env = "PUENTE_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,
    /// Log filter (tracing-subscriber EnvFilter syntax).
    #[arg(
        long,
        env = "RUST_LOG",
        default_value = "info,puente=info,sqlx=warn",
        global = true
    )]
    pub log_filter: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve(Box<ServeConfig>),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Operate WhatsApp links from the command line (same settings as `serve`).
    Links {
        #[command(flatten)]
        config: Box<ServeConfig>,
        #[command(subcommand)]
        command: LinksCommand,
    },
    /// Stored WAHA webhook events.
    Events {
        #[command(flatten)]
        config: Box<ServeConfig>,
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Print the OpenAPI document (JSON) to standard output; needs no database.
    Openapi,
    /// Ask a running server's `/readyz` and exit 0 when it is ready, 1 otherwise (a health
    /// check for images without a shell).
    Healthcheck(HealthcheckArgs),
    /// Administrative tasks.
    Admin {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// Every live link with its agent, status and container state.
    List,
    /// Draw a link's current QR code in the terminal.
    Qr { id: uuid::Uuid },
    /// Restart a link's container (the login survives).
    Restart { id: uuid::Uuid },
    /// Print the URL of the emulator's simulated phone for a link (emulator image only;
    /// the URL carries the link's WAHA API key: keep it to yourself).
    Phone { id: uuid::Uuid },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Re-apply a link's stored events (idempotent), oldest first.
    Replay {
        #[arg(long)]
        link: uuid::Uuid,
        /// Only events received since this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create (or reset the password of) an operator account.
    CreateOperator {
        #[arg(long)]
        email: String,
        #[arg(long, env = "PUENTE_OPERATOR_PASSWORD")]
        password: Secret,
        #[arg(long, default_value = "Operator")]
        name: String,
    },
    /// Create the demo accounts (idempotent) and print them with their passwords.
    SeedDemo {
        /// Password given to every demo account.
        #[arg(long, env = "PUENTE_DEMO_PASSWORD", default_value = "puente-demo-2026")]
        password: Secret,
    },
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The address the server listens on (the same setting as `serve --bind`); an unspecified
    /// address (`0.0.0.0`, `::`) is asked on loopback.
    #[arg(long, env = "PUENTE_BIND", default_value = "0.0.0.0:8080")]
    pub bind: SocketAddr,
    /// The same setting as `serve --bind-subnet`: ask the server on its address in this subnet.
    #[arg(long, env = "PUENTE_BIND_SUBNET")]
    pub bind_subnet: Option<Subnet>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL connection string.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Secret,
    /// Maximum connections in the pool.
    #[arg(long, env = "PUENTE_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "PUENTE_BIND", default_value = "0.0.0.0:8080")]
    pub bind: SocketAddr,
    /// A second address that serves only the WAHA webhooks (`/webhooks/*`), for the session
    /// containers' network. When set, `--bind` no longer serves them; unset, it does.
    #[arg(long, env = "PUENTE_WEBHOOK_BIND")]
    pub webhook_bind: Option<SocketAddr>,
    /// Listen on this host's address within this subnet (e.g. `10.213.0.0/24`) instead of the
    /// address of `--bind` (its port is kept): how a container on several networks serves its
    /// API on one network only when its address there is not fixed (a Swarm service, a
    /// compose service without a static address). No such address at start is an error.
    #[arg(long, env = "PUENTE_BIND_SUBNET")]
    pub bind_subnet: Option<Subnet>,
    /// The same for `--webhook-bind`: serve the webhooks on this host's address in this subnet
    /// (the session containers' network).
    #[arg(long, env = "PUENTE_WEBHOOK_BIND_SUBNET")]
    pub webhook_bind_subnet: Option<Subnet>,
    /// How long `serve` waits for PostgreSQL to accept connections at start (it may still be
    /// starting, as in a compose stack or a Swarm), in seconds; 0: fail at once.
    #[arg(long, env = "PUENTE_DB_WAIT_SECS", default_value_t = 60)]
    pub db_wait_secs: u64,
    /// The URL clients use to reach this server (links in responses, docs).
    #[arg(
        long,
        env = "PUENTE_PUBLIC_URL",
        default_value = "http://localhost:8080"
    )]
    pub public_url: String,
    /// Origins (`https://app.example.com`, comma-separated) whose pages may call the API from
    /// a browser (CORS). Empty, the default: none — the web app Puente serves is same-origin.
    #[arg(long, env = "PUENTE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Secret for signing access tokens (HS256). At least 32 bytes.
    #[arg(long, env = "PUENTE_JWT_SECRET")]
    pub jwt_secret: Secret,
    /// Access token lifetime in seconds.
    #[arg(long, env = "PUENTE_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    /// Refresh token lifetime in days.
    #[arg(long, env = "PUENTE_REFRESH_TOKEN_TTL_DAYS", default_value_t = 30)]
    pub refresh_token_ttl_days: u64,
    /// Login attempts allowed per client IP per minute.
    #[arg(long, env = "PUENTE_LOGIN_RATE_PER_IP", default_value_t = 20)]
    pub login_rate_per_ip: u32,
    /// Login attempts allowed per account (email) per minute.
    #[arg(long, env = "PUENTE_LOGIN_RATE_PER_ACCOUNT", default_value_t = 5)]
    pub login_rate_per_account: u32,
    /// Take the client IP from the last `X-Forwarded-For` hop (only behind a trusted proxy).
    #[arg(long, env = "PUENTE_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Largest JSON request body accepted, in bytes.
    #[arg(long, env = "PUENTE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds after which a request is answered 408.
    #[arg(long, env = "PUENTE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Docker engine address (unix socket path or tcp URL); the local default when unset.
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// The built web app (Vite's `dist/`: `index.html` and `assets/`) to serve at `/`. Unset:
    /// no app is served and `/` is a 404 problem like any unknown path.
    #[arg(long, env = "PUENTE_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Where Puente keeps files (media, uploads).
    #[arg(long, env = "PUENTE_DATA_DIR", default_value = ".data/files")]
    pub data_dir: PathBuf,
    /// Seconds to let in-flight requests finish after a shutdown signal.
    #[arg(long, env = "PUENTE_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Show WhatsApp group chats in the inbox (they are always stored).
    #[arg(long, env = "PUENTE_INBOX_GROUPS", default_value_t = false)]
    pub inbox_groups: bool,
    /// How long an agent's WhatsApp message may wait for its link before it is marked failed.
    #[arg(long, env = "PUENTE_SEND_DEADLINE_SECS", default_value_t = 600)]
    pub send_deadline_secs: u64,
    /// Messages one user may send per minute (REST and socket alike; notes, edits and
    /// reactions not counted); beyond it 429 with `Retry-After`. Retries of a message already
    /// sent (same `client_id`) are not counted.
    #[arg(long, env = "PUENTE_SENDS_PER_MINUTE", default_value_t = 30)]
    pub sends_per_minute: i64,
    /// Files one user may upload per hour; beyond it 429 with `Retry-After`.
    #[arg(long, env = "PUENTE_UPLOADS_PER_HOUR", default_value_t = 120)]
    pub uploads_per_hour: i64,
    /// Bytes of uploads one user may keep, in MiB; beyond it 409 `storage_quota_reached`.
    #[arg(long, env = "PUENTE_UPLOAD_QUOTA_MB", default_value_t = 1024)]
    pub upload_quota_mb: i64,
    /// Days a user's realtime events are kept for `?since=` replay and notifications.
    #[arg(long, env = "PUENTE_KEEP_REALTIME_DAYS", default_value_t = 7)]
    pub keep_realtime_days: i32,
    /// Days a settled webhook event (applied, skipped, failed, malformed) is kept for an
    /// operator's replay; pending and deferred events are never removed.
    #[arg(long, env = "PUENTE_KEEP_WEBHOOK_EVENTS_DAYS", default_value_t = 14)]
    pub keep_webhook_events_days: i32,
    /// Days a finished outbox job (sent or given up) is kept.
    #[arg(long, env = "PUENTE_KEEP_OUTBOX_DAYS", default_value_t = 7)]
    pub keep_outbox_days: i32,
    /// Hours a file no message or listing carries (an upload never sent, a deleted upload,
    /// the media of a removed message) is kept before its row and bytes are removed.
    #[arg(long, env = "PUENTE_KEEP_UNSENT_FILES_HOURS", default_value_t = 24)]
    pub keep_unsent_files_hours: i32,
    /// Outbox jobs (sends, read receipts, reactions to WhatsApp) run at once per process; at
    /// most one per link.
    #[arg(long, env = "PUENTE_OUTBOX_CONCURRENCY", default_value_t = 8)]
    pub outbox_concurrency: usize,
    /// WebSockets one user may hold open at once.
    #[arg(long, env = "PUENTE_WS_MAX_PER_USER", default_value_t = 10)]
    pub ws_max_per_user: usize,
    /// Words and phrases refused in in-app messages (repeatable; comma-separated in the env
    /// var). Matched as whole words, ignoring case and accents.
    #[arg(
        long = "blocked-word",
        env = "PUENTE_BLOCKED_WORDS",
        value_delimiter = ','
    )]
    pub blocked_words: Vec<String>,
    #[command(flatten)]
    pub waha: WahaConfig,
}

/// How Puente runs and reaches the WAHA session containers.
#[derive(Debug, Clone, Args)]
pub struct WahaConfig {
    /// Secret the per-link WAHA API keys and webhook HMAC keys are derived from (≥ 32 bytes).
    #[arg(long, env = "PUENTE_MASTER_SECRET")]
    pub master_secret: Secret,
    /// Name of this Puente installation; its containers carry `puente.instance=<name>` and it
    /// never touches containers of another instance on the same engine.
    #[arg(long, env = "PUENTE_INSTANCE", default_value = "puente")]
    pub instance: String,
    /// WAHA image to run (the real `devlikeapro/waha:<tag>` or the emulator).
    #[arg(
        long,
        env = "PUENTE_WAHA_IMAGE",
        default_value = "puente/waha-emulator:dev"
    )]
    pub waha_image: String,
    /// WAHA engine: GOWS, NOWEB or WEBJS.
    #[arg(long, env = "PUENTE_WAHA_ENGINE", default_value = "GOWS")]
    pub waha_engine: String,
    /// A Docker network to put the containers on and reach them by name. When unset, the
    /// container port is published on `--waha-publish-host` instead (Puente on the host).
    #[arg(long, env = "PUENTE_WAHA_NETWORK")]
    pub waha_network: Option<String>,
    /// Host address the container port is published on when no network is set.
    #[arg(long, env = "PUENTE_WAHA_PUBLISH_HOST", default_value = "127.0.0.1")]
    pub waha_publish_host: String,
    /// Base URL the containers use to post webhooks to Puente. Default:
    /// `http://host.docker.internal:<port>`, the port of `--webhook-bind` when set, else of
    /// `--bind`.
    #[arg(long, env = "PUENTE_WEBHOOK_BASE_URL")]
    pub webhook_base_url: Option<String>,
    /// Memory limit per container, MiB. Unset: by engine — WEBJS 1024, NOWEB and GOWS 512.
    #[arg(long, env = "PUENTE_WAHA_MEMORY_MB")]
    pub waha_memory_mb: Option<i64>,
    /// CPU limit per container, in CPUs.
    #[arg(long, env = "PUENTE_WAHA_CPUS", default_value_t = 1.0)]
    pub waha_cpus: f64,
    /// Process limit per container. Unset: by engine — WEBJS 1024, NOWEB and GOWS 512.
    #[arg(long, env = "PUENTE_WAHA_PIDS")]
    pub waha_pids: Option<i64>,
    /// Size of the container's `/tmp` tmpfs (downloaded media, the engine's sockets,
    /// Chromium's shared memory), MiB. Unset: by engine — WEBJS 512, NOWEB and GOWS 256.
    #[arg(long, env = "PUENTE_WAHA_TMP_MB")]
    pub waha_tmp_mb: Option<i64>,
    /// Seconds WAHA keeps a downloaded media file (`WHATSAPP_FILES_LIFETIME`; WAHA's default
    /// is 180): long enough for a late apply to still find it.
    #[arg(long, env = "PUENTE_WAHA_FILES_LIFETIME_SECS", default_value_t = 900)]
    pub waha_files_lifetime_secs: u64,
    /// Run the container with a read-only root filesystem (a tmpfs on /tmp).
    #[arg(long, env = "PUENTE_WAHA_READ_ONLY", default_value_t = true, action = clap::ArgAction::Set)]
    pub waha_read_only: bool,
    /// Extra environment for every WAHA container, `KEY=value` (repeatable; comma-separated in
    /// the env var). Cannot override the variables Puente sets itself.
    #[arg(
        long = "waha-env",
        env = "PUENTE_WAHA_EXTRA_ENV",
        value_delimiter = ','
    )]
    pub waha_extra_env: Vec<EnvVar>,
    /// How many WhatsApp links one agent may have.
    #[arg(long, env = "PUENTE_MAX_LINKS_PER_AGENT", default_value_t = 1)]
    pub max_links_per_agent: i64,
    /// How many live WhatsApp links this installation runs at most, over every agency (each
    /// is a container): the global cap beside each agency's own quota.
    #[arg(long, env = "PUENTE_MAX_LINKS", default_value_t = 500)]
    pub max_links: i64,
    /// How many links one agent may create per hour (creating and deleting in a loop would
    /// churn containers).
    #[arg(long, env = "PUENTE_LINK_CREATES_PER_HOUR", default_value_t = 6)]
    pub link_creates_per_hour: i64,
    /// Run the supervisor (reconciler, probes) in this process when it wins leadership.
    #[arg(long, env = "PUENTE_SUPERVISE", default_value_t = true, action = clap::ArgAction::Set)]
    pub supervise: bool,
    /// Seconds between full reconcile passes (events trigger passes sooner).
    #[arg(long, env = "PUENTE_RECONCILE_INTERVAL_SECS", default_value_t = 15)]
    pub reconcile_interval_secs: u64,
    /// A WORKING link without events for this long is probed (and restarted if the probe fails).
    #[arg(long, env = "PUENTE_SILENT_AFTER_SECS", default_value_t = 600)]
    pub silent_after_secs: u64,
    /// Docker operations the supervisor runs at once.
    #[arg(long, env = "PUENTE_DOCKER_CONCURRENCY", default_value_t = 4)]
    pub docker_concurrency: usize,
    /// The container runtime: one Docker engine, or a Docker Swarm (the engine must be a
    /// manager; `PUENTE_WAHA_NETWORK` is then an attachable overlay network).
    #[arg(long, env = "PUENTE_RUNTIME", value_enum, default_value = "docker")]
    pub runtime: RuntimeKind,
    /// Swarm: how WAHA's port is published when no network is set (Puente outside the
    /// overlay). Swarm binds every interface of the node; use a network in production.
    #[arg(
        long,
        env = "PUENTE_SWARM_PUBLISH_MODE",
        value_enum,
        default_value = "host"
    )]
    pub swarm_publish_mode: SwarmPublishMode,
    /// Swarm: most links placed on one node.
    #[arg(long, env = "PUENTE_SWARM_NODE_CAP", default_value_t = 50)]
    pub swarm_node_cap: i64,
    /// Swarm: the session volumes' driver is shared between nodes, so a link moved to another
    /// node keeps its login (otherwise a moved link needs a new scan).
    #[arg(long, env = "PUENTE_SWARM_SHARED_VOLUMES", default_value_t = false)]
    pub swarm_shared_volumes: bool,
}

impl ServeConfig {
    /// Whether clients reach this server over HTTPS (cookies get `Secure`, responses HSTS).
    pub fn public_https(&self) -> bool {
        self.public_url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    }

    /// Check the settings that clap cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.jwt_secret.expose().len() < 32 {
            anyhow::bail!("PUENTE_JWT_SECRET must be at least 32 bytes long");
        }
        if self.access_token_ttl_secs == 0 || self.refresh_token_ttl_days == 0 {
            anyhow::bail!("token lifetimes must be positive");
        }
        if self.login_rate_per_ip == 0 || self.login_rate_per_account == 0 {
            anyhow::bail!("login rate limits must be positive");
        }
        if self.waha.master_secret.expose().len() < 32 {
            anyhow::bail!("PUENTE_MASTER_SECRET must be at least 32 bytes long");
        }
        if !matches!(self.waha.waha_engine.as_str(), "GOWS" | "NOWEB" | "WEBJS") {
            anyhow::bail!("PUENTE_WAHA_ENGINE must be GOWS, NOWEB or WEBJS");
        }
        if self.waha.instance.is_empty()
            || !self
                .waha
                .instance
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            anyhow::bail!("PUENTE_INSTANCE must be letters, digits, '-' or '_'");
        }
        if self.webhook_bind == Some(self.bind) && self.bind.port() != 0 {
            anyhow::bail!("PUENTE_WEBHOOK_BIND must differ from PUENTE_BIND");
        }
        if self.waha.swarm_node_cap < 1 {
            anyhow::bail!("PUENTE_SWARM_NODE_CAP must be at least 1");
        }
        for origin in &self.cors_origins {
            if !is_origin(origin) {
                anyhow::bail!(
                    "PUENTE_CORS_ORIGINS: {origin:?} is not an origin (scheme://host[:port], no path)"
                );
            }
        }
        for kv in &self.waha.waha_extra_env {
            if kv.pair().is_none() {
                // Not the value itself: it may be a credential.
                anyhow::bail!("--waha-env expects KEY=value; one value has no '='");
            }
        }
        Ok(())
    }

    /// A configuration for tests and embedding: everything default but the database and secret.
    pub fn for_tests(database_url: &str) -> Self {
        let cli = Cli::parse_from([
            "puente",
            "serve",
            "--database-url",
            database_url,
            "--jwt-secret",
            "test-secret-test-secret-test-secret-0123456789",
            "--master-secret",
            "test-master-secret-test-master-secret-0123456789",
            "--bind",
            "127.0.0.1:0",
        ]);
        match cli.command {
            Command::Serve(cfg) => ServeConfig {
                // Never from the environment: a test that wants the app sets it.
                web_dir: None,
                ..*cfg
            },
            _ => unreachable!("parsed a serve command"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_origins() {
        for good in [
            "https://app.example.com",
            "http://localhost:5173",
            "http://[::1]:8080",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://a/b",
            "ftp://x",
            "https://",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut cfg = ServeConfig::for_tests("postgres://u:hunter2@localhost/db");
        cfg.waha.waha_extra_env = vec!["HTTPS_PROXY=http://user:proxy-pass@proxy:3128".into()];
        let printed = format!("{cfg:?}");
        assert!(!printed.contains("proxy-pass"), "{printed}");
        assert!(printed.contains("HTTPS_PROXY=[redacted]"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("test-secret"), "{printed}");
        assert!(!printed.contains("test-master"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn the_runtime_is_docker_unless_swarm_is_asked_for() {
        let cfg = ServeConfig::for_tests("postgres://localhost/db");
        assert_eq!(cfg.waha.runtime, RuntimeKind::Docker);
        assert_eq!(cfg.waha.swarm_publish_mode, SwarmPublishMode::Host);
        assert!(!cfg.waha.swarm_shared_volumes);
        let cli = Cli::parse_from([
            "puente",
            "serve",
            "--database-url",
            "postgres://localhost/db",
            "--jwt-secret",
            "test-secret-test-secret-test-secret-0123456789",
            "--master-secret",
            "test-master-secret-test-master-secret-0123456789",
            "--runtime",
            "swarm",
            "--swarm-publish-mode",
            "ingress",
            "--swarm-node-cap",
            "0",
        ]);
        let Command::Serve(cfg) = cli.command else {
            panic!("a serve command");
        };
        assert_eq!(cfg.waha.runtime, RuntimeKind::Swarm);
        assert_eq!(cfg.waha.swarm_publish_mode, SwarmPublishMode::Ingress);
        assert!(cfg.validate().is_err(), "a node cap of 0 is refused");
    }

    #[test]
    fn short_jwt_secret_is_refused() {
        let mut cfg = ServeConfig::for_tests("postgres://localhost/db");
        cfg.jwt_secret = Secret::new("short");
        assert!(cfg.validate().is_err());
    }
}

/// An IP network, `address/prefix` (`10.213.0.0/24`, `fd00::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Subnet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// This host's address within the subnet (the first, in interface order).
    pub fn local_address(&self) -> anyhow::Result<IpAddr> {
        let interfaces = if_addrs::get_if_addrs()
            .map_err(|e| anyhow::anyhow!("listing this host's addresses: {e}"))?;
        interfaces
            .iter()
            .map(if_addrs::Interface::ip)
            .find(|ip| self.contains(*ip))
            .ok_or_else(|| anyhow::anyhow!("this host has no address in {self}"))
    }

    /// `addr` with its IP replaced by this host's address in the subnet, if one is given.
    pub fn resolve(subnet: Option<&Subnet>, mut addr: SocketAddr) -> anyhow::Result<SocketAddr> {
        if let Some(subnet) = subnet {
            addr.set_ip(subnet.local_address()?);
        }
        Ok(addr)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a subnet (address/prefix, e.g. 10.213.0.0/24)"))?;
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let prefix: u8 = prefix
            .trim()
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("a prefix of {prefix} is longer than {max}"));
        }
        Ok(Self { addr, prefix })
    }
}

#[cfg(test)]
mod subnet_tests {
    use super::*;

    #[test]
    fn a_subnet_parses_and_contains_its_addresses() {
        let net: Subnet = "10.213.16.0/20".parse().expect("subnet");
        assert!(net.contains("10.213.16.10".parse().expect("ip")));
        assert!(net.contains("10.213.31.255".parse().expect("ip")));
        assert!(!net.contains("10.213.32.1".parse().expect("ip")));
        assert!(!net.contains("fd00::1".parse().expect("ip")));
        let all: Subnet = "0.0.0.0/0".parse().expect("subnet");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        let v6: Subnet = "fd00:1::/64".parse().expect("subnet");
        assert!(v6.contains("fd00:1::5".parse().expect("ip")));
        assert!(!v6.contains("fd00:2::5".parse().expect("ip")));
        for bad in ["10.0.0.0", "10.0.0.0/33", "nope/8", "10.0.0.0/x"] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_is_found_on_this_host() {
        let lo: Subnet = "127.0.0.0/8".parse().expect("subnet");
        assert!(lo.local_address().expect("loopback").is_loopback());
        let none: Subnet = "203.0.113.0/24".parse().expect("subnet");
        assert!(none.local_address().is_err());
    }
}
