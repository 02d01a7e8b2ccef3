//! The ingestion benchmark: figures, not assertions. Run it with `scripts/bench-ingest`
//! (a throwaway PostgreSQL cluster with fsync and synchronous_commit on), or with
//! `cargo bench --bench ingest` when `DATABASE_URL` points at a server where it may create a
//! database.
//!
//! In one run, on this machine, it measures:
//! 1. **Throughput**: signed `message` webhooks (distinct envelope and message ids, a handful
//!    of chats, ~1 KB bodies) posted by N concurrent keep-alive senders, for each N given;
//!    events per second answered 2xx (= committed), and per event the latency from POST to
//!    the 2xx and from POST to the agent's `message.created` WebSocket frame. Each pass waits
//!    for every frame before the next begins, and also reports the end-to-end rate (events
//!    per second until the last frame arrived), Puente's mean commit batch and its mean
//!    apply batch (events applied per transaction).
//! 2. **Baseline**, right after each of those passes (so both see about the same disk):
//!    `pgbench` on the same server and schema with as many clients, one transaction per event
//!    doing what one webhook's persistence did before group commit (insert the ~1 KB event,
//!    touch the link's `last_event_at`); and, to show PostgreSQL's own WAL group commit, the
//!    insert alone.
//! 3. **Half rate**: open-loop senders paced at 50% of the best throughput of step 1 —
//!    latency to the 2xx and to the frame (the aim: p99 to the frame under 25 ms) —
//!    and the same at 50% of the best end-to-end rate, where applying keeps up; then 200
//!    events at 20/s, the latency floor with nothing queued.
//!
//! Each measured run starts with a `VACUUM` of the link and the inbox and a `CHECKPOINT`, so
//! none inherits the previous one's dead row versions or dirty buffers.
//!
//! Puente runs in this process as the API tests run it (`tests/api/helpers.rs`), with no
//! supervisor and no containers: the agency, agent and link rows are made directly, and the
//! webhooks are forged and signed with the link's key. The senders and the WebSocket client
//! share the machine's cores with Puente and PostgreSQL.
//!
//! Invariant: the database it creates is dropped at the end, also after an error or Ctrl-C.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use futures_util::StreamExt;
use puente::app::App;
use puente::config::ServeConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::{Connection, PgPool};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const USAGE: &str = "\
usage: scripts/bench-ingest [OPTIONS]     (or: cargo bench --bench ingest -- [OPTIONS])
  --clients LIST      concurrent senders (and pgbench clients), comma-separated (default 1,8,32,64)
  --events N          events per throughput pass and per pgbench run (default 5000)
  --half-events N     events per half-rate pass (default 3000)
  --chats N           distinct chats the messages come from (default 5)
  --body-bytes N      approximate size of each webhook body (default 1024)
  --timeout SECS      longest wait for the frames of one pass (default 300)
  --no-pgbench        skip the pgbench baseline
columns: 2xx = events answered 2xx; events/s = those per second (first POST to last 2xx);
  2xx/frame p50/p99 = ms from POST to the 2xx / to the agent's message.created frame;
  e2e ev/s = events per second until the last frame; batch, commit = Puente's mean events per
  commit and mean ms per commit (its writer's transaction); apply = Puente's mean events per
  apply transaction (a link's queued events applied together, ingest::batch)
env: DATABASE_URL (required), PGBENCH (path to pgbench; default: the server's own),
     BENCH_LOG=<filter> (Puente's logs)
";

const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone)]
struct Args {
    clients: Vec<usize>,
    events: usize,
    half_events: usize,
    chats: usize,
    body_bytes: usize,
    timeout: Duration,
    pgbench: bool,
}

/// The arguments, or `None` when only the usage was asked for.
fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        clients: vec![1, 8, 32, 64],
        events: 5000,
        half_events: 3000,
        chats: 5,
        body_bytes: 1024,
        timeout: Duration::from_secs(300),
        pgbench: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<String> {
            inline
                .clone()
                .or_else(|| it.next())
                .with_context(|| format!("{name} needs a value"))
        };
        let number = |name: &str, v: String| -> anyhow::Result<usize> {
            v.parse()
                .with_context(|| format!("{name} expects a number, got {v:?}"))
        };
        match key.as_str() {
            // `cargo bench` appends it for harnessed benches' sake.
            "--bench" => {}
            "--clients" => {
                let v = value("--clients")?;
                args.clients = v
                    .split(',')
                    .map(|s| number("--clients", s.trim().to_string()))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--events" => args.events = number("--events", value("--events")?)?,
            "--half-events" => args.half_events = number("--half-events", value("--half-events")?)?,
            "--chats" => args.chats = number("--chats", value("--chats")?)?,
            "--body-bytes" => args.body_bytes = number("--body-bytes", value("--body-bytes")?)?,
            "--timeout" => {
                args.timeout =
                    Duration::from_secs(number("--timeout", value("--timeout")?)? as u64);
            }
            "--no-pgbench" => args.pgbench = false,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    ensure!(
        !args.clients.is_empty() && args.clients.iter().all(|&c| c >= 1),
        "--clients needs numbers ≥ 1"
    );
    ensure!(args.events >= 1, "--events must be at least 1");
    ensure!(args.half_events >= 1, "--half-events must be at least 1");
    ensure!(args.chats >= 1, "--chats must be at least 1");
    ensure!(
        args.timeout >= Duration::from_secs(5),
        "--timeout must be ≥ 5"
    );
    Ok(Some(args))
}

fn main() -> ExitCode {
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
             a database (scripts/bench-ingest starts one)"
        );
        return ExitCode::from(2);
    };
    let target = Target {
        admin_url,
        db_name: format!(
            "puente_bench_ingest_{}",
            &Uuid::new_v4().simple().to_string()[..10]
        ),
        created: AtomicBool::new(false),
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = rt.block_on(async {
        tokio::select! {
            r = run(&args, &target) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(clean_up(&target));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up and tear-down

/// The database this run creates on the `DATABASE_URL` server.
struct Target {
    admin_url: String,
    db_name: String,
    created: AtomicBool,
}

impl Target {
    fn url(&self) -> anyhow::Result<String> {
        let mut url = reqwest::Url::parse(&self.admin_url).context("DATABASE_URL is not a URL")?;
        url.set_path(&format!("/{}", self.db_name));
        Ok(url.to_string())
    }
}

async fn clean_up(target: &Target) {
    if !target.created.load(Ordering::Acquire) {
        return;
    }
    let dropped = async {
        let mut conn = sqlx::PgConnection::connect(&target.admin_url).await?;
        // FORCE: Puente's pool may still hold connections.
        sqlx::raw_sql(&format!(
            "drop database if exists \"{}\" with (force)",
            target.db_name
        ))
        .execute(&mut conn)
        .await?;
        let _ = conn.close().await;
        anyhow::Ok(())
    }
    .await;
    match dropped {
        Ok(()) => println!("\ncleanup: database {} dropped", target.db_name),
        Err(e) => println!("\ncleanup: database {} NOT dropped: {e:#}", target.db_name),
    }
}

/// What every pass needs.
struct Ctx {
    args: Args,
    /// `http://127.0.0.1:<port>/webhooks/waha/<link>`.
    webhook_url: String,
    http: reqwest::Client,
    hmac_key: String,
    /// When each `message.created` frame arrived, by message body.
    frames: Arc<Frames>,
    /// `/metrics` of the in-process Puente (for the commit batch sizes).
    metrics_url: String,
    pool: PgPool,
}

#[derive(Default)]
struct Frames {
    arrived: Mutex<HashMap<String, Instant>>,
    resyncs: AtomicUsize,
    closed: AtomicBool,
}

async fn run(args: &Args, target: &Target) -> anyhow::Result<()> {
    init_tracing();
    print_header(args);
    {
        let mut conn = sqlx::PgConnection::connect(&target.admin_url)
            .await
            .context("connecting to DATABASE_URL")?;
        sqlx::raw_sql(&format!("create database \"{}\"", target.db_name))
            .execute(&mut conn)
            .await
            .context("creating the benchmark's database")?;
        target.created.store(true, Ordering::Release);
        let _ = conn.close().await;
    }
    let db_url = target.url()?;
    let mut config = ServeConfig::for_tests("postgres://unused");
    config.bind = "127.0.0.1:0".parse()?;
    config.access_token_ttl_secs = 3600;
    config.shutdown_grace_secs = 5;
    config.waha.supervise = false;
    config.validate()?;
    let pool = puente::db::connect(&db_url, config.db.db_max_connections)
        .await
        .context("connecting to the benchmark's database")?;
    puente::db::migrate(&pool).await?;
    print_server(&pool, config.db.db_max_connections).await?;

    let master = config.waha.master_secret.expose().to_string();
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let app = App::build_with_pool(config, pool.clone(), listener);
    let base = format!("http://127.0.0.1:{}", app.local_addr()?.port());
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(app.run(async move { signal.cancelled().await }));

    let result = passes(args, &base, &pool, &master, &db_url).await;

    stop.cancel();
    match tokio::time::timeout(Duration::from_secs(15), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("Puente stopped with an error: {e:#}"),
        Ok(Err(e)) => eprintln!("Puente's task failed: {e}"),
        Err(_) => eprintln!("Puente did not stop within 15 s"),
    }
    pool.close().await;
    result
}

fn init_tracing() {
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        let filter = if filter.is_empty() || filter == "1" {
            "info,sqlx=warn,hyper=info".to_string()
        } else {
            filter
        };
        puente::telemetry::init(&puente::config::LogArgs {
            log_format: puente::config::LogFormat::Pretty,
            log_filter: filter,
        });
    }
}

fn print_header(args: &Args) {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("== Puente ingestion benchmark ==");
    println!("machine:   {cores} core(s), {model}");
    println!("           Puente, PostgreSQL, the senders and the WebSocket client share these");
    println!(
        "           cores; figures are wall-clock on a small shared machine and noisy (expect"
    );
    println!("           ±10–20% between runs): compare runs, not single samples");
    println!(
        "settings:  senders {:?}, {} events per pass, {} per half-rate pass, {} chats, ~{} B bodies",
        args.clients, args.events, args.half_events, args.chats, args.body_bytes
    );
}

async fn print_server(pool: &PgPool, pool_size: u32) -> anyhow::Result<()> {
    let show = |name: &'static str| async move {
        sqlx::query_scalar::<_, String>(&format!("show {name}"))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|_| "?".into())
    };
    let version = show("server_version").await;
    let fsync = show("fsync").await;
    let sync = show("synchronous_commit").await;
    let method = show("wal_sync_method").await;
    let delay = show("commit_delay").await;
    println!(
        "postgres:  {version}, fsync={fsync}, synchronous_commit={sync}, wal_sync_method={method}, \
         commit_delay={delay}; Puente's pool {pool_size}"
    );
    if fsync != "on" || sync != "on" {
        println!("WARNING:   fsync or synchronous_commit is off: commits are not durable and the");
        println!("           figures say nothing about group commit (scripts/bench-ingest turns both on)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The passes

async fn passes(
    args: &Args,
    base: &str,
    pool: &PgPool,
    master: &str,
    db_url: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let (agent, agent_token, agency) = accounts(&http, base).await?;
    let link = Uuid::now_v7();
    puente::db::links::insert(
        pool,
        link,
        agent,
        agency,
        "GOWS",
        "puente/waha-emulator:dev",
        "bench",
    )
    .await
    .map_err(|e| anyhow::anyhow!("inserting the link: {e}"))?;
    let hmac_key = puente::links::keys::hmac_key(master.as_bytes(), link, 1);
    let frames = Arc::new(Frames::default());
    let ws_url = format!(
        "{}/api/v1/ws?access_token={agent_token}",
        base.replace("http://", "ws://")
    );
    let (ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .context("connecting the agent's WebSocket")?;
    let reader = tokio::spawn(read_frames(ws, frames.clone()));
    let ctx = Ctx {
        args: args.clone(),
        webhook_url: format!("{base}/webhooks/waha/{link}"),
        http,
        hmac_key,
        frames,
        metrics_url: format!("{base}/metrics"),
        pool: pool.clone(),
    };

    // Warm-up: the first contacts and conversations, connections, caches.
    let warm = pass(&ctx, "warm-up", 4, args.chats.max(50), None).await?;
    ensure!(
        warm.ok == warm.sent,
        "warm-up: {} of {} refused",
        warm.sent - warm.ok,
        warm.sent
    );

    println!(
        "\n-- 1. throughput: closed-loop senders, {} events per pass; after each, pgbench with \
         as many clients, one transaction per event --",
        args.events
    );
    // The baseline runs right after Puente's pass with the same client count, so both see
    // about the same disk (its fsync rate drifts with whatever else the machine does).
    let bench = if args.pgbench { pgbench_path() } else { None };
    let scripts = match &bench {
        Some(_) => {
            let sample = event_body(&ctx, 0, 0, args.body_bytes).0;
            Some((
                pgbench_script(link, &sample, true)?,
                pgbench_script(link, &sample, false)?,
            ))
        }
        None => None,
    };
    if args.pgbench && bench.is_none() {
        println!("pgbench not found (set PGBENCH or install postgresql-contrib): baseline skipped");
    }
    println!("{}", PassResult::header());
    let mut results = Vec::new();
    // (clients, tx/s) of pgbench: one webhook's persistence, and the insert alone.
    let mut baseline = Vec::new();
    let mut insert_only = Vec::new();
    for &c in &args.clients {
        let r = pass(&ctx, &format!("{c} sender(s)"), c, args.events, None).await?;
        println!("{}", r.row());
        results.push((c, r));
        if let (Some(bin), Some((touch, insert))) = (&bench, &scripts) {
            for (name, script, out) in [
                ("insert + touch link", touch, &mut baseline),
                ("insert only", insert, &mut insert_only),
            ] {
                settle(pool).await;
                let (tps, latency) = pgbench(bin, db_url, script, c, args.events).await?;
                println!(
                    "  pgbench {name:<19} {c:>3} client(s) {tps:>8.0} tx/s, latency avg {latency:.1} ms"
                );
                out.push((c, tps));
            }
        }
    }
    if let Some((touch, insert)) = &scripts {
        let _ = std::fs::remove_file(touch);
        let _ = std::fs::remove_file(insert);
    }
    let best = results
        .iter()
        .max_by(|a, b| a.1.rate().total_cmp(&b.1.rate()))
        .map(|(c, r)| (*c, r.rate()))
        .unwrap_or((1, 1.0));
    let best_e2e = results
        .iter()
        .map(|(_, r)| r.e2e_rate())
        .fold(0.0_f64, f64::max);
    let senders = args.clients.iter().copied().max().unwrap_or(64).max(8);

    println!(
        "\n-- 3. half rate: open-loop senders ({senders}), {} events per pass --",
        args.half_events
    );
    println!("{}", PassResult::header());
    let half = pass(
        &ctx,
        &format!("{:.0}/s (½ of {:.0})", best.1 / 2.0, best.1),
        senders,
        args.half_events,
        Some(best.1 / 2.0),
    )
    .await?;
    println!("{}", half.row());
    let half_e2e = pass(
        &ctx,
        &format!("{:.0}/s (½ e2e {:.0})", best_e2e / 2.0, best_e2e),
        senders,
        args.half_events,
        Some(best_e2e / 2.0),
    )
    .await?;
    println!("{}", half_e2e.row());
    // The floor: one event at a time, nothing queued anywhere.
    let floor = pass(&ctx, "20/s (floor)", 4, 200, Some(20.0)).await?;
    println!("{}", floor.row());
    println!(
        "aim: p99 POST → WS frame < 25 ms at half the maximum rate: {:.1} ms at {:.0}/s{}",
        ms(half.ws_pct(99.0)),
        best.1 / 2.0,
        if half.ws_pct(99.0) < Duration::from_millis(25) {
            " — met"
        } else {
            " — NOT met"
        }
    );

    println!("\n-- summary --");
    for (c, r) in &results {
        let base = baseline.iter().find(|(bc, _)| bc == c).map(|(_, t)| *t);
        let ratio = base.map_or("n/a".to_string(), |b| format!("{:.2}×", r.rate() / b));
        println!(
            "{c:>3} sender(s): Puente {:>7.0} events/s committed, pgbench {:>7} tx/s, ratio {ratio}",
            r.rate(),
            base.map_or("n/a".to_string(), |b| format!("{b:.0}"))
        );
    }
    let best_of = |runs: &[(usize, f64)]| runs.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
    for (what, runs) in [
        (
            "pgbench insert + touch link (one webhook's persistence; the issue's aim ≥ 1.5×)",
            &baseline,
        ),
        (
            "pgbench insert only (PostgreSQL's own WAL group commit, no row lock)",
            &insert_only,
        ),
    ] {
        if let Some((c, b)) = best_of(runs) {
            println!(
                "best: Puente {:.0}/s ({} senders) vs {b:.0}/s ({c} clients) {what}: {:.2}×",
                best.1,
                best.0,
                best.1 / b
            );
        }
    }
    println!(
        "frames: {} resync(s) on the agent's socket{}",
        ctx.frames.resyncs.load(Ordering::Relaxed),
        if ctx.frames.closed.load(Ordering::Relaxed) {
            "; the socket CLOSED during the run"
        } else {
            ""
        }
    );
    reader.abort();
    Ok(())
}

/// An agency admin, an agent (through the API, as a user would) and the agency's id.
async fn accounts(http: &reqwest::Client, base: &str) -> anyhow::Result<(Uuid, String, Uuid)> {
    async fn call(
        http: &reqwest::Client,
        url: String,
        body: Value,
        token: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut req = http.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        ensure!(status.is_success(), "{status}: {v}");
        Ok(v)
    }
    let admin = call(
        http,
        format!("{base}/api/v1/auth/register"),
        json!({"email": "admin@bench.example", "password": PASSWORD, "display_name": "Admin",
               "account_type": "agency_admin", "agency_name": "Bench Homes"}),
        None,
    )
    .await
    .context("registering the admin")?;
    let admin_token = admin["access_token"].as_str().context("admin token")?;
    let agency: Uuid = admin["user"]["agency_id"]
        .as_str()
        .context("agency id")?
        .parse()?;
    let invite = call(
        http,
        format!("{base}/api/v1/agency/invites"),
        json!({"email": null}),
        Some(admin_token),
    )
    .await
    .context("inviting the agent")?;
    let agent = call(
        http,
        format!("{base}/api/v1/auth/register"),
        json!({"email": "agent@bench.example", "password": PASSWORD, "display_name": "Agent",
               "account_type": "agent", "invite_code": invite["code"]}),
        None,
    )
    .await
    .context("registering the agent")?;
    let id: Uuid = agent["user"]["id"].as_str().context("agent id")?.parse()?;
    let token = agent["access_token"]
        .as_str()
        .context("agent token")?
        .to_string();
    Ok((id, token, agency))
}

/// Note when each `message.created` frame arrives (keyed by the message's body).
async fn read_frames(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    frames: Arc<Frames>,
) {
    while let Some(msg) = ws.next().await {
        let at = Instant::now();
        let Ok(Message::Text(text)) = msg else {
            if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
                break;
            }
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        match v["type"].as_str() {
            Some("message.created") => {
                if let Some(body) = v["data"]["message"]["body"].as_str() {
                    frames.arrived.lock().unwrap().insert(body.to_string(), at);
                }
            }
            Some("resync") => {
                frames.resyncs.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    frames.closed.store(true, Ordering::Relaxed);
}

static PASS: AtomicUsize = AtomicUsize::new(0);

/// A signed event: (body, signature, the message text the frame will carry).
fn event_body(ctx: &Ctx, pass: usize, i: usize, size: usize) -> (Vec<u8>, String, String) {
    let chat = format!("3461{:07}@c.us", i % ctx.args.chats);
    let text = format!("bench p{pass} e{i}");
    let mut env = json!({
        "id": format!("evt_p{pass}_e{i}"),
        "timestamp": 1_800_000_000_000_i64 + i as i64,
        "event": "message",
        "session": "default",
        "me": {"id": "34600000001@c.us", "pushName": "Agent"},
        "payload": {
            "id": format!("false_{chat}_P{pass}E{i}"),
            "timestamp": 1_800_000_000_i64 + i as i64,
            "from": chat,
            "fromMe": false,
            "to": "34600000001@c.us",
            "body": text,
            "hasMedia": false,
            "_data": {"pad": ""},
        },
        "engine": "GOWS",
        "environment": {"version": "2026.7.1", "engine": "GOWS", "tier": "PLUS"},
    });
    let len = serde_json::to_vec(&env).map_or(0, |b| b.len());
    env["payload"]["_data"]["pad"] = json!("x".repeat(size.saturating_sub(len)));
    let body = serde_json::to_vec(&env).unwrap();
    let sig = puente::waha::signature::sign(ctx.hmac_key.as_bytes(), &body);
    (body, sig, text)
}

/// One event's fate: when it was posted, when the 2xx came (None if refused or failed).
#[derive(Clone, Copy)]
struct Sample {
    posted: Instant,
    answered: Option<Instant>,
}

struct PassResult {
    label: String,
    sent: usize,
    ok: usize,
    /// First POST to last 2xx.
    wall: Duration,
    /// First POST to the last frame.
    e2e_wall: Duration,
    http: Vec<Duration>,
    ws: Vec<Duration>,
    missing_frames: usize,
    /// Events posted more than 5 ms after their slot (paced passes): the senders fell behind.
    late: usize,
    /// Puente's mean commit batch (events) and mean commit time, from its `/metrics`.
    mean_batch: Option<f64>,
    mean_commit: Option<Duration>,
    /// Puente's mean events per apply transaction (`ingest::batch`), from its `/metrics`.
    mean_apply: Option<f64>,
}

impl PassResult {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    fn e2e_rate(&self) -> f64 {
        (self.ok - self.missing_frames) as f64 / self.e2e_wall.as_secs_f64().max(1e-9)
    }
    fn ws_pct(&self, p: f64) -> Duration {
        pct(&self.ws, p)
    }
    fn header() -> String {
        format!(
            "{:<22} {:>6} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>6} {:>7} {:>6} {}",
            "pass",
            "2xx",
            "events/s",
            "2xx p50",
            "2xx p99",
            "frame p50",
            "frame p99",
            "e2e ev/s",
            "batch",
            "commit",
            "apply",
            "notes"
        )
    }
    fn row(&self) -> String {
        let mut notes = Vec::new();
        if self.ok < self.sent {
            notes.push(format!("{} refused/failed", self.sent - self.ok));
        }
        if self.missing_frames > 0 {
            notes.push(format!("{} frames missing", self.missing_frames));
        }
        if self.late > 0 {
            notes.push(format!("{} sent late", self.late));
        }
        format!(
            "{:<22} {:>6} {:>9.0} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>9.0} {:>6} {:>7} {:>6} {}",
            self.label,
            self.ok,
            self.rate(),
            ms(pct(&self.http, 50.0)),
            ms(pct(&self.http, 99.0)),
            ms(pct(&self.ws, 50.0)),
            ms(pct(&self.ws, 99.0)),
            self.e2e_rate(),
            self.mean_batch.map_or("?".into(), |b| format!("{b:.1}")),
            self.mean_commit
                .map_or("?".into(), |d| format!("{:.1}", ms(d))),
            self.mean_apply.map_or("?".into(), |b| format!("{b:.1}")),
            notes.join(", ")
        )
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Post `n` fresh events with `senders` concurrent keep-alive senders — as fast as they are
/// answered, or paced at `rate` per second — then wait for every frame.
async fn pass(
    ctx: &Ctx,
    label: &str,
    senders: usize,
    n: usize,
    rate: Option<f64>,
) -> anyhow::Result<PassResult> {
    let pass_no = PASS.fetch_add(1, Ordering::Relaxed);
    let events: Arc<Vec<(Vec<u8>, String, String)>> = Arc::new(
        (0..n)
            .map(|i| event_body(ctx, pass_no, i, ctx.args.body_bytes))
            .collect(),
    );
    settle(&ctx.pool).await;
    let batches_before = batch_stats(ctx).await;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (events, next) = (events.clone(), next.clone());
        let (http, url) = (ctx.http.clone(), ctx.webhook_url.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut late = 0;
            tokio::time::sleep_until(start).await;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= events.len() {
                    break;
                }
                if let Some(rate) = rate {
                    let slot = start + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(slot).await;
                    if Instant::now() > slot + Duration::from_millis(5) {
                        late += 1;
                    }
                }
                let (body, sig, _) = &events[i];
                let posted = Instant::now();
                let resp = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-webhook-hmac", sig)
                    .header("x-webhook-hmac-algorithm", "sha512")
                    .body(body.clone())
                    .send()
                    .await;
                let answered = match resp {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let at = Instant::now();
                        let _ = r.bytes().await;
                        Some(at)
                    }
                    Ok(r) => {
                        eprintln!(
                            "event {i}: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        );
                        None
                    }
                    Err(e) => {
                        eprintln!("event {i}: {e}");
                        None
                    }
                };
                out.push((i, Sample { posted, answered }));
            }
            (out, late)
        }));
    }
    let mut samples = vec![None; n];
    let mut late = 0;
    for t in tasks {
        let (out, l) = t.await?;
        late += l;
        for (i, s) in out {
            samples[i] = Some(s);
        }
    }
    let samples: Vec<Sample> = samples.into_iter().flatten().collect();
    let first = samples.iter().map(|s| s.posted).min().unwrap_or(start);
    let last = samples
        .iter()
        .filter_map(|s| s.answered)
        .max()
        .unwrap_or(first);
    let ok = samples.iter().filter(|s| s.answered.is_some()).count();

    // Every committed event should show up as a frame; wait for them.
    let deadline = Instant::now() + ctx.args.timeout;
    let arrivals = loop {
        let done = {
            let arrived = ctx.frames.arrived.lock().unwrap();
            events
                .iter()
                .zip(samples.iter())
                .filter(|(_, s)| s.answered.is_some())
                .all(|((_, _, text), _)| arrived.contains_key(text))
        };
        if done || Instant::now() > deadline || ctx.frames.closed.load(Ordering::Relaxed) {
            let mut arrived = ctx.frames.arrived.lock().unwrap();
            break events
                .iter()
                .map(|(_, _, text)| arrived.remove(text))
                .collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let batches_after = batch_stats(ctx).await;
    let mean = |before: Option<(f64, f64)>, after: Option<(f64, f64)>| match (before, after) {
        (Some((s0, c0)), Some((s1, c1))) if c1 > c0 => Some((s1 - s0) / (c1 - c0)),
        _ => None,
    };
    let mean_batch = mean(
        batches_before.map(|b| b.batch),
        batches_after.map(|b| b.batch),
    );
    let mean_commit = mean(
        batches_before.map(|b| b.seconds),
        batches_after.map(|b| b.seconds),
    )
    .map(Duration::from_secs_f64);
    let mean_apply = mean(
        batches_before.and_then(|b| b.apply),
        batches_after.and_then(|b| b.apply),
    );

    let mut http = Vec::new();
    let mut ws = Vec::new();
    let mut missing = 0;
    let mut last_frame = last;
    // `samples` is in event order (every index was taken exactly once).
    for (s, frame) in samples.iter().zip(arrivals.iter()) {
        let Some(answered) = s.answered else { continue };
        http.push(answered - s.posted);
        match frame {
            Some(at) => {
                ws.push(at.saturating_duration_since(s.posted));
                last_frame = last_frame.max(*at);
            }
            None => missing += 1,
        }
    }
    http.sort_unstable();
    ws.sort_unstable();
    Ok(PassResult {
        label: label.to_string(),
        sent: n,
        ok,
        wall: last - first,
        e2e_wall: last_frame - first,
        http,
        ws,
        missing_frames: missing,
        late,
        mean_batch,
        mean_commit,
        mean_apply,
    })
}

/// Start every measured run from the same place: the link's row and the inbox vacuumed (the
/// previous run left thousands of dead versions of that one row, which every lookup would
/// walk), and no dirty buffers for a checkpoint to write in the middle of this run.
async fn settle(pool: &PgPool) {
    for sql in ["vacuum (analyze) whatsapp_links, waha_events", "checkpoint"] {
        if let Err(e) = sqlx::raw_sql(sql).execute(pool).await {
            eprintln!("{sql} failed (figures may be noisier): {e}");
        }
    }
}

/// Puente's commit figures so far, each as (sum, count), from `/metrics`.
#[derive(Clone, Copy)]
struct BatchStats {
    batch: (f64, f64),
    seconds: (f64, f64),
    /// Events per apply transaction (absent until the first batch is applied).
    apply: Option<(f64, f64)>,
}

async fn batch_stats(ctx: &Ctx) -> Option<BatchStats> {
    let text = ctx
        .http
        .get(&ctx.metrics_url)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some(BatchStats {
        batch: (
            value("webhook_commit_batch_size_sum")?,
            value("webhook_commit_batch_size_count")?,
        ),
        seconds: (
            value("webhook_commit_seconds_sum")?,
            value("webhook_commit_seconds_count")?,
        ),
        apply: value("webhook_apply_batch_size_sum").zip(value("webhook_apply_batch_size_count")),
    })
}

// ---------------------------------------------------------------------------------------------
// The pgbench baseline

fn pgbench_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("PGBENCH") {
        return Some(p.into());
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|d| d.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

/// A pgbench script doing one webhook's persistence: the event (the same bytes and JSON
/// Puente stores) and, when `touch`, the link's `last_event_at`, in one transaction. The
/// JSON goes in hex too: pgbench would read `:false` in it as a variable.
fn pgbench_script(link: Uuid, body: &[u8], touch: bool) -> anyhow::Result<std::path::PathBuf> {
    let hex = hex::encode(body);
    let mut sql = String::from("begin;\n");
    sql.push_str(&format!(
        "insert into waha_events (link_id, event_id, event, body, payload) values ('{link}', \
         'pgb-' || gen_random_uuid(), 'message', '\\x{hex}'::bytea, \
         convert_from('\\x{hex}'::bytea, 'UTF8')::jsonb);\n"
    ));
    if touch {
        sql.push_str(&format!(
            "update whatsapp_links set last_event_at = now() where id = '{link}';\n"
        ));
    }
    sql.push_str("commit;\n");
    let path = std::env::temp_dir().join(format!(
        "puente-bench-ingest-{}-{}.sql",
        std::process::id(),
        if touch { "touch" } else { "insert" }
    ));
    std::fs::write(&path, sql)?;
    Ok(path)
}

/// Run pgbench with `clients` clients for about `events` transactions in all: (tps, mean
/// latency in ms).
async fn pgbench(
    bin: &std::path::Path,
    db_url: &str,
    script: &std::path::Path,
    clients: usize,
    events: usize,
) -> anyhow::Result<(f64, f64)> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per_client = events.div_ceil(clients);
    let out = tokio::process::Command::new(bin)
        .args(["-n", "-M", "prepared", "-f"])
        .arg(script)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(cores).to_string(),
            "-t",
            &per_client.to_string(),
            db_url,
        ])
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("running {}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let number_after = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let tps = number_after("tps = ").context("no tps in pgbench's output")?;
    let latency = number_after("latency average = ").unwrap_or(f64::NAN);
    Ok((tps, latency))
}
