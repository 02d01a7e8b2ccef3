//! The WebSocket benchmark: figures, not assertions. Run it with `scripts/bench-ws` (which
//! provides a throwaway PostgreSQL and raises the open-file limit), or with
//! `cargo bench --bench ws` when `DATABASE_URL` points at a server where it may create a
//! database.
//!
//! In one run, on this machine, it measures two servers holding the same number of sockets:
//! 1. **Puente** (`/api/v1/ws`, authenticated with access tokens) with `--clients` users, half
//!    agents and half buyers paired in in-app conversations: connect time, the server's memory
//!    per connection (its RSS with every socket open minus its RSS before the first, divided
//!    by the sockets), and the time from sending a message to the other side's frame
//!    (p50/p90/p99/max), in two series: messages sent with
//!    `POST /api/v1/conversations/{id}/messages` (when in-app sending answers 201; the report
//!    says when it does not), then the same `message.created` event published with
//!    `puente::realtime::publish` in a transaction — the realtime path alone (store, NOTIFY,
//!    listener, hub, socket).
//! 2. **The floor**: a minimal tokio-tungstenite server written here that routes a frame to
//!    one socket by id (a bounded queue per socket, like Puente's hub) with no database, no
//!    auth, no persistence; the same clients, the same messages at the same rate, published
//!    over one extra WebSocket.
//!
//! Both servers run as child processes (this executable again, with `PUENTE_WS_BENCH_ROLE`
//! set), so their RSS is theirs alone; the clients and the publisher live in this process.
//! Users are inserted directly with one precomputed password hash and their access tokens
//! minted with the server's signing key (`JwtKeys::issue`), since hashing 5,000 passwords
//! would take minutes. The database is created on the `DATABASE_URL` server and dropped at
//! the end, also after an error or Ctrl-C; the child processes are killed with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use futures_util::{SinkExt, StreamExt};
use puente::app::App;
use puente::auth::tokens::JwtKeys;
use puente::config::ServeConfig;
use puente::model::Role;
use serde_json::{json, Value};
use sqlx::{Connection, PgPool};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const USAGE: &str = "\
usage: scripts/bench-ws [OPTIONS]        (or: cargo bench --bench ws -- [OPTIONS])
  --clients N        WebSocket clients on each server (default 5000; half agents, half buyers)
  --messages N       messages timed on each server (default 2000)
  --rate N           messages per second (default 200)
  --concurrency N    clients connecting at once (default 200)
env: DATABASE_URL (required), BENCH_LOG=<filter> (Puente's logs, on stderr)
";

/// Set in the child processes: `puente` or `floor`.
const ROLE_ENV: &str = "PUENTE_WS_BENCH_ROLE";
/// The child Puente's database.
const DB_ENV: &str = "PUENTE_WS_BENCH_DB";
/// A frame carries `bench-<n>` when it is the n-th timed message.
const MARK: &str = "\"bench-";

#[derive(Debug, Clone)]
struct Args {
    clients: usize,
    messages: usize,
    rate: u64,
    concurrency: usize,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        clients: 5000,
        messages: 2000,
        rate: 200,
        concurrency: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut number = |name: &str| -> anyhow::Result<u64> {
            let v = inline
                .clone()
                .or_else(|| it.next())
                .with_context(|| format!("{name} needs a value"))?;
            v.parse()
                .with_context(|| format!("{name} expects a number, got {v:?}"))
        };
        match key.as_str() {
            "--bench" => {}
            "--clients" => args.clients = usize::try_from(number("--clients")?)?,
            "--messages" => args.messages = usize::try_from(number("--messages")?)?,
            "--rate" => args.rate = number("--rate")?,
            "--concurrency" => args.concurrency = usize::try_from(number("--concurrency")?)?,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    ensure!(args.clients >= 2, "--clients must be at least 2");
    ensure!(args.messages >= 1, "--messages must be at least 1");
    ensure!(args.rate >= 1, "--rate must be at least 1");
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    Ok(Some(args))
}

fn main() -> ExitCode {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("puente") => return child_main(serve_puente()),
        Ok("floor") => return child_main(serve_floor()),
        _ => {}
    }
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let Ok(admin_url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "error: DATABASE_URL must name a PostgreSQL server where the benchmark may create \
             a database (scripts/bench-ws starts one)"
        );
        return ExitCode::from(2);
    };
    let db_name = format!(
        "puente_wsbench_{}",
        &Uuid::new_v4().simple().to_string()[..10]
    );
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = rt.block_on(async {
        tokio::select! {
            r = run(&args, &admin_url, &db_name) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    // Dropping the runtime drops the children's handles, which kills them.
    rt.shutdown_timeout(Duration::from_secs(5));
    let dropped = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(drop_database(&admin_url, &db_name));
    match dropped {
        Ok(true) => println!("cleanup: database {db_name} dropped"),
        Ok(false) => {}
        Err(e) => println!("cleanup: database {db_name} NOT dropped: {e:#}"),
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The two servers, as child processes

fn child_main(serve: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench child: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves when the parent closes our stdin (or dies).
async fn parent_gone() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

fn puente_config() -> ServeConfig {
    let mut config = ServeConfig::for_tests("postgres://unused");
    config.access_token_ttl_secs = 3600;
    config.shutdown_grace_secs = 3;
    config.waha.supervise = false;
    config
}

async fn serve_puente() -> anyhow::Result<()> {
    let url = std::env::var(DB_ENV).context("no database")?;
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        puente::telemetry::init(&puente::config::LogArgs {
            log_format: puente::config::LogFormat::Pretty,
            log_filter: if filter.is_empty() || filter == "1" {
                "info,sqlx=warn".into()
            } else {
                filter
            },
        });
    }
    let config = puente_config();
    config.validate()?;
    let pool = puente::db::connect(&url, config.db.db_max_connections).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let app = App::build_with_pool(config, pool, listener);
    println!("PORT {}", app.local_addr()?.port());
    app.run(parent_gone()).await
}

/// The floor: route each published frame `{"to": n, …}` to client n's socket.
async fn serve_floor() -> anyhow::Result<()> {
    type Peers = Arc<Mutex<HashMap<u64, mpsc::Sender<String>>>>;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("PORT {}", listener.local_addr()?.port());
    let peers: Peers = Arc::default();

    async fn peer(stream: tokio::net::TcpStream, peers: Peers) -> anyhow::Result<()> {
        let mut id = String::new();
        use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
        // The error type is tungstenite's; nothing to shrink here.
        #[allow(clippy::result_large_err)]
        let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            id = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("id="))
                .unwrap_or_default()
                .to_string();
            Ok(resp)
        };
        // The same socket settings as Puente's, so the two differ only in what they do.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(puente::realtime::ws::READ_BUFFER)
            .max_message_size(Some(64 * 1024));
        let mut ws =
            tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await?;
        if id == "pub" {
            while let Some(msg) = ws.next().await {
                if let Message::Text(text) = msg? {
                    let to = serde_json::from_str::<Value>(text.as_str())?["to"]
                        .as_u64()
                        .unwrap_or(u64::MAX);
                    let tx = peers.lock().unwrap().get(&to).cloned();
                    if let Some(tx) = tx {
                        let _ = tx.try_send(text.as_str().to_string());
                    }
                }
            }
            return Ok(());
        }
        let key: u64 = id.parse()?;
        let (tx, mut rx) = mpsc::channel(256);
        peers.lock().unwrap().insert(key, tx);
        loop {
            tokio::select! {
                out = rx.recv() => {
                    let Some(text) = out else { break };
                    ws.send(Message::Text(text.into())).await?;
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        peers.lock().unwrap().remove(&key);
        Ok(())
    }

    let gone = parent_gone();
    tokio::pin!(gone);
    loop {
        tokio::select! {
            () = &mut gone => return Ok(()),
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let _ = stream.set_nodelay(true);
                tokio::spawn(peer(stream, peers.clone()));
            }
        }
    }
}

/// A server child process; killed when dropped.
struct Server {
    child: tokio::process::Child,
    port: u16,
}

impl Server {
    async fn start(role: &str, db_url: Option<&str>) -> anyhow::Result<Self> {
        let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
        cmd.env(ROLE_ENV, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = db_url {
            cmd.env(DB_ENV, url);
        }
        let mut child = cmd.spawn().context("starting a server process")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("the server did not start within 60 s")??
            .context("the server exited at start-up")?;
        let port = line
            .strip_prefix("PORT ")
            .with_context(|| format!("unexpected start-up line {line:?}"))?
            .parse()?;
        // Keep reading, so a later line never meets a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, port })
    }

    fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Close its stdin (a graceful stop), then kill it if it lingers.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Database set-up

fn db_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(admin_url).context("DATABASE_URL is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Drop the run's database if it exists; true when it did.
async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<bool> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if exists {
        sqlx::query(&format!("drop database {name} with (force)"))
            .execute(&mut conn)
            .await?;
    }
    Ok(exists)
}

/// The people: `agents[i]` and `buyers[i]` talk in `convs[i]`.
struct People {
    agents: Vec<Uuid>,
    buyers: Vec<Uuid>,
    convs: Vec<Uuid>,
    agent_tokens: Vec<String>,
    buyer_tokens: Vec<String>,
}

async fn seed(pool: &PgPool, pairs: usize) -> anyhow::Result<People> {
    let hash = puente::auth::password::hash("correct horse battery".into()).await?;
    let agency = Uuid::now_v7();
    sqlx::query("insert into agencies (id, name) values ($1, 'Bench Homes')")
        .bind(agency)
        .execute(pool)
        .await?;
    let ids = |n: usize| (0..n).map(|_| Uuid::now_v7()).collect::<Vec<_>>();
    let (agents, buyers, convs) = (ids(pairs), ids(pairs), ids(pairs));
    sqlx::query(
        "insert into users (id, email, password_hash, display_name, role, agency_id)
         select id, 'agent' || n || '@bench.example', $2, 'Agent ' || n, 'agent', $3
         from unnest($1::uuid[]) with ordinality as t(id, n)",
    )
    .bind(&agents)
    .bind(&hash)
    .bind(agency)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into users (id, email, password_hash, display_name, role)
         select id, 'buyer' || n || '@bench.example', $2, 'Buyer ' || n, 'buyer'
         from unnest($1::uuid[]) with ordinality as t(id, n)",
    )
    .bind(&buyers)
    .bind(&hash)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into conversations (id, agency_id, agent_id, channel, buyer_id, last_message_at)
         select c, $4, a, 'in_app', b, now() from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as t(c, a, b)",
    )
    .bind(&convs)
    .bind(&agents)
    .bind(&buyers)
    .bind(agency)
    .execute(pool)
    .await?;
    let config = puente_config();
    let jwt = JwtKeys::new(
        config.jwt_secret.expose().as_bytes(),
        config.access_token_ttl_secs,
    );
    let agent_tokens = agents
        .iter()
        .map(|a| jwt.issue(*a, Role::Agent, Some(agency)))
        .collect::<Result<_, _>>()?;
    let buyer_tokens = buyers
        .iter()
        .map(|b| jwt.issue(*b, Role::Buyer, None))
        .collect::<Result<_, _>>()?;
    Ok(People {
        agents,
        buyers,
        convs,
        agent_tokens,
        buyer_tokens,
    })
}

// ---------------------------------------------------------------------------------------------
// Clients and timing

/// Send and receive times of the timed messages, in µs since `base`.
struct Clock {
    base: Instant,
    sent: Vec<AtomicU64>,
    got: Vec<AtomicU64>,
    /// The client index that must receive message n.
    receiver: Vec<usize>,
}

impl Clock {
    fn new(messages: usize, receiver: impl Fn(usize) -> usize) -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            sent: (0..messages).map(|_| AtomicU64::new(0)).collect(),
            got: (0..messages).map(|_| AtomicU64::new(0)).collect(),
            receiver: (0..messages).map(receiver).collect(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn mark_sent(&self, n: usize) {
        self.sent[n].store(self.now(), Ordering::Release);
    }

    /// A frame reached client `me`: if it carries message n meant for `me`, note the time.
    fn frame(&self, me: usize, text: &str) {
        let Some(at) = text.find(MARK) else { return };
        let digits: String = text[at + MARK.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<usize>() {
            if self.receiver.get(n) == Some(&me) {
                let _ = self.got[n].compare_exchange(
                    0,
                    self.now(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
        }
    }

    fn received(&self, range: std::ops::Range<usize>) -> usize {
        self.got[range]
            .iter()
            .filter(|g| g.load(Ordering::Acquire) != 0)
            .count()
    }

    /// Latencies in ms of the messages in `range` that arrived, sorted.
    fn latencies(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        let mut v: Vec<f64> = self.sent[range.clone()]
            .iter()
            .zip(&self.got[range])
            .filter_map(|(s, g)| {
                let (s, g) = (s.load(Ordering::Acquire), g.load(Ordering::Acquire));
                (g != 0 && s != 0).then(|| g.saturating_sub(s) as f64 / 1000.0)
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// Open `urls` (client i gets `urls[i]`), `concurrency` at a time; each socket is read by its
/// own task until dropped. Returns the tasks and the connect times (ms) of those that opened.
async fn connect_all(
    urls: Vec<String>,
    concurrency: usize,
    clock: Arc<Clock>,
    expect_hello: bool,
) -> (Vec<tokio::task::JoinHandle<()>>, Vec<f64>, usize) {
    let results: Vec<anyhow::Result<(tokio::task::JoinHandle<()>, f64)>> =
        futures_util::stream::iter(urls.into_iter().enumerate())
            .map(|(me, url)| {
                let clock = clock.clone();
                async move {
                    let t0 = Instant::now();
                    let (mut ws, _) = tokio::time::timeout(
                        Duration::from_secs(30),
                        tokio_tungstenite::connect_async(url),
                    )
                    .await
                    .context("connect timed out")??;
                    if expect_hello {
                        let first = tokio::time::timeout(Duration::from_secs(30), ws.next())
                            .await
                            .context("no hello")?
                            .context("closed before hello")??;
                        ensure!(first.to_text()?.contains("\"hello\""), "no hello: {first}");
                    }
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    let task = tokio::spawn(async move {
                        while let Some(Ok(msg)) = ws.next().await {
                            if let Message::Text(t) = msg {
                                clock.frame(me, t.as_str());
                            }
                        }
                    });
                    Ok((task, ms))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    let mut tasks = Vec::new();
    let mut times = Vec::new();
    let mut failed = 0;
    for r in results {
        match r {
            Ok((t, ms)) => {
                tasks.push(t);
                times.push(ms);
            }
            Err(e) => {
                if failed == 0 {
                    eprintln!("a client failed to connect: {e:#}");
                }
                failed += 1;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    (tasks, times, failed)
}

/// Wait until `expected` of the messages in `range` arrived, or `grace` passed.
async fn await_delivery(
    clock: &Clock,
    range: std::ops::Range<usize>,
    expected: usize,
    grace: Duration,
) {
    let deadline = Instant::now() + grace;
    while clock.received(range.clone()) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What one server's run measured.
#[derive(Default)]
struct Figures {
    clients: usize,
    failed: usize,
    connect_wall: f64,
    connect: Vec<f64>,
    rss_before_kib: u64,
    rss_after_kib: u64,
    deliveries: Vec<Delivery>,
}

/// One timed series of messages.
struct Delivery {
    label: &'static str,
    sent: usize,
    wall: f64,
    /// Sorted, ms.
    latencies: Vec<f64>,
}

impl Delivery {
    fn p(&self, q: f64) -> f64 {
        pct(&self.latencies, q)
    }
}

impl Figures {
    fn per_connection_kib(&self) -> f64 {
        self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64 / self.clients.max(1) as f64
    }

    fn render(&self, name: &str) -> String {
        let mut out = format!(
            "{name}\n  sockets          {} open ({} failed) in {:.1} s; connect p50 {:.1} ms, p99 {:.1} ms\n  \
             memory           RSS {:.1} MB → {:.1} MB: {:.1} KiB per connection\n",
            self.clients,
            self.failed,
            self.connect_wall,
            pct(&self.connect, 50.0),
            pct(&self.connect, 99.0),
            self.rss_before_kib as f64 / 1024.0,
            self.rss_after_kib as f64 / 1024.0,
            self.per_connection_kib(),
        );
        for d in &self.deliveries {
            out.push_str(&format!(
                "  {:<16} {}/{} frames, sent over {:.1} s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
                d.label,
                d.latencies.len(),
                d.sent,
                d.wall,
                d.p(50.0),
                d.p(90.0),
                d.p(99.0),
                d.latencies.last().copied().unwrap_or(f64::NAN),
            ));
        }
        out
    }
}

/// Let a freshly started or freshly loaded server settle before reading its RSS.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

// ---------------------------------------------------------------------------------------------
// The run

async fn run(args: &Args, admin_url: &str, db_name: &str) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let pairs = args.clients / 2;
    let clients = pairs * 2;
    println!(
        "ws benchmark: {clients} clients ({pairs} agent/buyer pairs), {} messages at {}/s, \
         {} connecting at once; {cores} cores",
        args.messages, args.rate, args.concurrency
    );
    create_database(admin_url, db_name).await?;
    let url = db_url(admin_url, db_name)?;
    let pool = puente::db::connect(&url, 16).await?;
    puente::db::migrate(&pool).await?;
    let t = Instant::now();
    let people = seed(&pool, pairs).await?;
    println!(
        "seeded {clients} users and {pairs} in-app conversations in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Client i: agents first, then buyers. Message n goes from agent n % pairs to that buyer.
    let receiver = move |n: usize| pairs + n % pairs;

    // --- Puente ---
    let server = Server::start("puente", Some(&url)).await?;
    let base = format!("127.0.0.1:{}", server.port);
    settle().await;
    let mut puente = Figures {
        clients,
        rss_before_kib: server.rss_kib().unwrap_or(0),
        ..Figures::default()
    };
    let urls: Vec<String> = people
        .agent_tokens
        .iter()
        .chain(&people.buyer_tokens)
        .map(|t| format!("ws://{base}/api/v1/ws?access_token={t}"))
        .collect();
    // Messages 0..m go through POST (when available), m..2m through publish.
    let clock = Clock::new(2 * args.messages, receiver);
    let t = Instant::now();
    let (tasks, connect, failed) = connect_all(urls, args.concurrency, clock.clone(), true).await;
    puente.connect_wall = t.elapsed().as_secs_f64();
    (puente.connect, puente.failed) = (connect, failed);
    // Presence: every user's coming online is announced to their counterpart; wait for it.
    let t = Instant::now();
    loop {
        let rows: i64 = sqlx::query_scalar("select count(*) from realtime_presence")
            .fetch_one(&pool)
            .await?;
        if usize::try_from(rows).unwrap_or(0) >= clients - failed
            || t.elapsed() > Duration::from_secs(120)
        {
            println!(
                "puente: {rows} users marked online (presence) {:.1} s after the last connect",
                t.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    settle().await;
    puente.rss_after_kib = server.rss_kib().unwrap_or(0);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let convs = people.convs.clone();
    let send_url = |p: usize| format!("http://{base}/api/v1/conversations/{}/messages", convs[p]);
    let probe = http
        .post(send_url(0))
        .bearer_auth(&people.agent_tokens[0])
        .json(&json!({"client_id": "probe", "body": "Hola"}))
        .send()
        .await?;
    let via_post = probe.status() == reqwest::StatusCode::CREATED;
    if via_post {
        println!(
            "puente: messages are sent with POST /api/v1/conversations/{{id}}/messages \
             (in-app send), then the same number published with puente::realtime::publish"
        );
    } else {
        println!(
            "puente: in-app send answered {}; messages are published with \
             puente::realtime::publish in a transaction",
            probe.status()
        );
    }
    let ctx = Arc::new(SendCtx {
        people,
        http,
        pool: pool.clone(),
        base: base.clone(),
        clock: clock.clone(),
        pairs,
    });
    let m = args.messages;
    if via_post {
        puente
            .deliveries
            .push(send_series(&ctx, "POST → frame", 0..m, true, args.rate).await);
    }
    puente
        .deliveries
        .push(send_series(&ctx, "publish → frame", m..2 * m, false, args.rate).await);
    for task in &tasks {
        task.abort();
    }
    drop(tasks);
    server.stop().await;
    print!("{}", puente.render("\npuente (/api/v1/ws)"));

    // --- The floor ---
    let server = Server::start("floor", None).await?;
    let base = format!("127.0.0.1:{}", server.port);
    settle().await;
    let mut floor = Figures {
        clients,
        rss_before_kib: server.rss_kib().unwrap_or(0),
        ..Figures::default()
    };
    let clock = Clock::new(args.messages, receiver);
    let urls = (0..clients)
        .map(|i| format!("ws://{base}/?id={i}"))
        .collect();
    let t = Instant::now();
    let (tasks, connect, failed) = connect_all(urls, args.concurrency, clock.clone(), false).await;
    floor.connect_wall = t.elapsed().as_secs_f64();
    (floor.connect, floor.failed) = (connect, failed);
    settle().await;
    floor.rss_after_kib = server.rss_kib().unwrap_or(0);
    let (mut publisher, _) =
        tokio_tungstenite::connect_async(format!("ws://{base}/?id=pub")).await?;
    let t = Instant::now();
    for n in 0..args.messages {
        tokio::time::sleep_until(t + Duration::from_secs_f64(n as f64 / args.rate as f64)).await;
        clock.mark_sent(n);
        let frame = json!({"to": receiver(n), "type": "message.created",
            "data": {"message": {"client_id": format!("bench-{n}"), "body": "Hola, ¿sigue disponible el piso?"}}});
        publisher
            .send(Message::Text(frame.to_string().into()))
            .await?;
    }
    let wall = t.elapsed().as_secs_f64();
    let m = args.messages;
    await_delivery(&clock, 0..m, m, Duration::from_secs(15)).await;
    floor.deliveries.push(Delivery {
        label: "send → frame",
        sent: m,
        wall,
        latencies: clock.latencies(0..m),
    });
    for task in &tasks {
        task.abort();
    }
    drop(tasks);
    server.stop().await;
    print!(
        "{}",
        floor.render("\nfloor (minimal tokio-tungstenite router, no database)")
    );

    let floor_d = &floor.deliveries[0];
    println!();
    for d in &puente.deliveries {
        println!(
            "puente ({}) vs floor: p50 ×{:.1}, p99 ×{:.1}",
            d.label,
            d.p(50.0) / floor_d.p(50.0),
            d.p(99.0) / floor_d.p(99.0),
        );
    }
    println!(
        "memory per connection: puente ×{:.1} the floor's",
        puente.per_connection_kib() / floor.per_connection_kib().max(0.001),
    );
    println!(
        "note: {cores} cores shared by the clients, both servers and PostgreSQL; wall-clock \
         figures move with whatever else the machine does — compare medians across runs. \
         RSS deltas include allocator slack. Puente's POST includes the HTTP request, auth, \
         checks and the message insert; both of its series include the transaction, NOTIFY \
         and the listener; the floor's only one extra WebSocket hop. A connect p99 near 1 s \
         is the kernel's SYN retry when a connect burst overflows the accept backlog."
    );
    pool.close().await;
    Ok(())
}

/// What the sending tasks share.
struct SendCtx {
    people: People,
    http: reqwest::Client,
    pool: PgPool,
    /// `127.0.0.1:<port>` of Puente.
    base: String,
    clock: Arc<Clock>,
    pairs: usize,
}

/// Send messages `range` at `rate` per second (at most 64 in flight), by POST or by
/// publishing, and collect their delivery times.
async fn send_series(
    ctx: &Arc<SendCtx>,
    label: &'static str,
    range: std::ops::Range<usize>,
    via_post: bool,
    rate: u64,
) -> Delivery {
    let sem = Arc::new(Semaphore::new(64));
    let t = Instant::now();
    let mut sends = Vec::with_capacity(range.len());
    for (i, n) in range.clone().enumerate() {
        tokio::time::sleep_until(t + Duration::from_secs_f64(i as f64 / rate as f64)).await;
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let ctx = ctx.clone();
        sends.push(tokio::spawn(async move {
            let p = n % ctx.pairs;
            let client_id = format!("bench-{n}");
            ctx.clock.mark_sent(n);
            let result: anyhow::Result<()> = if via_post {
                let url = format!(
                    "http://{}/api/v1/conversations/{}/messages",
                    ctx.base, ctx.people.convs[p]
                );
                let resp = ctx
                    .http
                    .post(url)
                    .bearer_auth(&ctx.people.agent_tokens[p])
                    .json(&json!({"client_id": client_id, "body": "Hola, ¿sigue disponible el piso?"}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(anyhow::anyhow!("send answered {}", r.status())),
                    Err(e) => Err(e.into()),
                }
            } else {
                publish_message(&ctx.pool, &ctx.people, p, &client_id).await
            };
            drop(permit);
            result
        }));
    }
    let mut errors = 0;
    for s in sends {
        if !matches!(s.await, Ok(Ok(()))) {
            errors += 1;
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let sent = range.len() - errors;
    await_delivery(&ctx.clock, range.clone(), sent, Duration::from_secs(15)).await;
    Delivery {
        label,
        sent,
        wall,
        latencies: ctx.clock.latencies(range),
    }
}

/// The event an in-app send would publish: `message.created` to the agent and the buyer.
async fn publish_message(
    pool: &PgPool,
    people: &People,
    p: usize,
    client_id: &str,
) -> anyhow::Result<()> {
    let (agent, buyer, conv) = (people.agents[p], people.buyers[p], people.convs[p]);
    let data = json!({
        "conversation_id": conv,
        "message": {
            "id": Uuid::now_v7(), "conversation_id": conv, "direction": "out",
            "author_user_id": agent, "author_contact_id": null, "kind": "text",
            "body": "Hola, ¿sigue disponible el piso?", "media": null, "meta": {},
            "reply_to_id": null, "status": "sent", "failure_reason": null,
            "client_id": client_id, "sent_at": chrono::Utc::now(), "created_at": chrono::Utc::now(),
            "edited_at": null, "deleted_at": null, "reactions": [],
        }
    });
    let mut tx = pool.begin().await?;
    puente::realtime::publish(&mut tx, &[agent, buyer], "message.created", &data).await?;
    tx.commit().await?;
    Ok(())
}
