//! The links benchmark: figures, not assertions. Run it with `scripts/bench` (which provides
//! PostgreSQL, the Docker engine and the emulator image), or with `cargo bench --bench links`
//! when `DATABASE_URL` points at a server where it may create a database.
//!
//! In one run, on this machine, it measures:
//! 1. the baseline: a bare `docker run -d` of the WAHA image until its `GET /ping` answers;
//! 2. Puente, one link at a time: from `POST /api/v1/whatsapp/links` to the first `link.qr`
//!    frame on the agent's WebSocket (a new agent per run, the link deleted after it), and the
//!    ratio of its median to the baseline's;
//! 3. Puente, a burst: as many agents as links, each with its WebSocket open, all POST at once;
//!    wall time until every agent has its QR, per-link time to QR (p50/p99), this process's
//!    peak RSS (sampled every 100 ms) and CPU time, and the containers' memory.
//!
//! Puente runs in this process the way the API tests run it (`tests/api/helpers.rs`): bound to
//! port 0 on all interfaces (the containers post webhooks to `host.docker.internal`), on a fresh
//! database created on the `DATABASE_URL` server and migrated, with a unique instance label and
//! fast emulator timings. So the RSS and CPU figures are Puente's *plus* those of the
//! benchmark's own HTTP and WebSocket clients.
//!
//! Invariants: everything it creates — containers and volumes labelled with its instance (the
//! baseline's under `puente.bench`, so Puente's supervisor never sees them) and the database —
//! is removed at the end, also after an error, a panic inside a phase, or Ctrl-C. No wait
//! panics: one that runs out is reported as timed out, and the figures gathered so far are
//! still printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use futures_util::{StreamExt, TryStreamExt};
use puente::app::App;
use puente::config::ServeConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const USAGE: &str = "\
usage: scripts/bench [OPTIONS]        (or: cargo bench --bench links -- [OPTIONS])
  --runs N                 repetitions of the baseline and of the one-link case (default 5)
  --links N                links created at once in the burst (default 50)
  --docker-concurrency N   Puente's bound on concurrent Docker work (default: Puente's, 4)
  --timeout SECS           longest wait for a container or a QR (default 180)
  --starting-ms MS         the emulator's simulated STARTING phase (default 300, as in tests)
env: DATABASE_URL (required), PUENTE_WAHA_IMAGE (default puente/waha-emulator:dev),
     PUENTE_BENCH_INSTANCE (instance label; scripts/bench sets it), BENCH_LOG=<filter> (logs)
";

const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone)]
struct Args {
    runs: usize,
    links: usize,
    docker_concurrency: Option<usize>,
    timeout: Duration,
    starting_ms: u64,
}

/// The arguments, or `None` when only the usage was asked for.
fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        runs: 5,
        links: 50,
        docker_concurrency: None,
        timeout: Duration::from_secs(180),
        starting_ms: 300,
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
            // `cargo bench` appends it for harnessed benches' sake.
            "--bench" => {}
            "--runs" => args.runs = usize::try_from(number("--runs")?)?,
            "--links" => args.links = usize::try_from(number("--links")?)?,
            "--docker-concurrency" => {
                args.docker_concurrency = Some(usize::try_from(number("--docker-concurrency")?)?);
            }
            "--timeout" => args.timeout = Duration::from_secs(number("--timeout")?),
            "--starting-ms" => args.starting_ms = number("--starting-ms")?,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    ensure!(args.runs >= 1, "--runs must be at least 1");
    ensure!(args.links >= 1, "--links must be at least 1");
    ensure!(
        args.timeout >= Duration::from_secs(5),
        "--timeout must be ≥ 5"
    );
    ensure!(
        args.docker_concurrency != Some(0),
        "--docker-concurrency must be at least 1"
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
             a database (scripts/bench starts one)"
        );
        return ExitCode::from(2);
    };
    let instance = std::env::var("PUENTE_BENCH_INSTANCE")
        .ok()
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
    let target = Target {
        admin_url,
        db_name: format!("puente_{instance}"),
        instance,
        db_created: AtomicBool::new(false),
    };

    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = rt.block_on(run(args, &target));
    // Dropping the runtime ends what is left of Puente's tasks: a reconcile still waiting for
    // the Docker semaphore would otherwise go on creating containers during the clean-up.
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

/// What this run creates outside the process, so it can be removed at the end.
struct Target {
    /// `DATABASE_URL`: the server where the run's database is created.
    admin_url: String,
    db_name: String,
    /// The `puente.instance` label of Puente's containers (`puente.bench` on the baseline's).
    instance: String,
    db_created: AtomicBool,
}

/// What every phase needs.
struct Ctx {
    args: Args,
    instance: String,
    image: String,
    /// `http://127.0.0.1:<port>` of the in-process Puente.
    base: String,
    http: reqwest::Client,
    /// Filled in as phases finish, so an error late in the run keeps the early figures.
    report: Mutex<Report>,
}

/// A signed-in account: its access token.
#[derive(Clone)]
struct Account {
    token: String,
}

async fn run(args: Args, target: &Target) -> anyhow::Result<()> {
    let image =
        std::env::var("PUENTE_WAHA_IMAGE").unwrap_or_else(|_| "puente/waha-emulator:dev".into());
    init_tracing();

    let engine = docker(&["version", "--format", "{{.Server.Version}}"])
        .await
        .context("the Docker engine does not answer")?;
    let image_id = docker(&["image", "inspect", "--format", "{{.Id}}", &image])
        .await
        .with_context(|| format!("image {image} is missing; run scripts/build-waha-image"))?;
    print_header(&args, &engine, &image, &image_id);

    create_database(&target.admin_url, &target.db_name).await?;
    target.db_created.store(true, Ordering::Release);
    with_database(args, target, &image).await
}

/// Remove the run's containers, volumes and database; say what was removed and what was not.
async fn clean_up(target: &Target) {
    eprintln!("cleaning up");
    let (mut containers, mut volumes) = remove_labelled(&target.instance).await;
    // A Docker call that was in flight when the runtime stopped may still land.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c, v) = remove_labelled(&target.instance).await;
    containers += c;
    volumes += v;
    let (left_c, left_v) = labelled(&target.instance).await;
    let database = if target.db_created.load(Ordering::Acquire) {
        match drop_database(&target.admin_url, &target.db_name).await {
            Ok(()) => format!("{} dropped", target.db_name),
            Err(e) => format!("{} NOT dropped: {e:#}", target.db_name),
        }
    } else {
        "not created".to_string()
    };
    println!(
        "\ncleanup: removed {containers} container(s) and {volumes} volume(s) labelled {}; \
         database {database}",
        target.instance
    );
    if !left_c.is_empty() || !left_v.is_empty() {
        println!(
            "cleanup: LEFT BEHIND {} container(s) and {} volume(s) labelled \
             puente.instance={inst} or puente.bench={inst}",
            left_c.len(),
            left_v.len(),
            inst = target.instance
        );
    }
}

/// Migrate the fresh database, run Puente on it, run the phases, stop Puente, print.
async fn with_database(args: Args, target: &Target, image: &str) -> anyhow::Result<()> {
    let (instance, db_name) = (target.instance.as_str(), target.db_name.as_str());
    let mut url = reqwest::Url::parse(&target.admin_url).context("DATABASE_URL is not a URL")?;
    url.set_path(&format!("/{db_name}"));

    let mut config = ServeConfig::for_tests("postgres://unused");
    config.bind = "0.0.0.0:0".parse()?;
    config.access_token_ttl_secs = 3600;
    config.shutdown_grace_secs = 5;
    config.waha.instance = instance.to_string();
    config.waha.waha_image = image.to_string();
    config.waha.waha_memory_mb = Some(128);
    if let Some(n) = args.docker_concurrency {
        config.waha.docker_concurrency = n;
    }
    config.waha.waha_extra_env = vec![
        format!("EMULATOR_STARTING_MS={}", args.starting_ms).into(),
        "EMULATOR_WAIT_RUNNING_MS=1000".into(),
        "EMULATOR_WAIT_STATUS_MS=1000".into(),
        "EMULATOR_ACK_SERVER_MS=100".into(),
        "EMULATOR_ACK_DEVICE_MS=200".into(),
        "EMULATOR_ACK_READ_MS=300".into(),
        "WHATSAPP_HOOK_RETRIES_DELAY_SECONDS=1".into(),
    ];
    config.validate()?;
    println!(
        "puente:    docker_concurrency {}, reconcile pass every {} s, db pool {}, container memory {} MB",
        config.waha.docker_concurrency,
        config.waha.reconcile_interval_secs,
        config.db.db_max_connections,
        config.waha.waha_memory_mb.unwrap_or_default()
    );

    let pool = puente::db::connect(url.as_str(), config.db.db_max_connections)
        .await
        .context("connecting to the benchmark's database")?;
    puente::db::migrate(&pool).await?;
    // The benchmark's agency runs as many links as it asks for (new agencies start at 3).
    sqlx::query("alter table agencies alter column link_quota set default 100000")
        .execute(&pool)
        .await?;
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let app = App::build_with_pool(config, pool, listener);
    let port = app.local_addr()?.port();
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(app.run(async move { signal.cancelled().await }));

    let ctx = Arc::new(Ctx {
        args,
        instance: instance.to_string(),
        image: image.to_string(),
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?,
        report: Mutex::new(Report {
            rss_at_start: rss_kib(),
            ..Report::default()
        }),
    });
    let mut work = tokio::spawn(phases(ctx.clone()));
    let result = tokio::select! {
        joined = &mut work => match joined {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("a phase panicked: {e}")),
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; stopping Puente and cleaning up");
            work.abort();
            let _ = work.await;
            Err(anyhow::anyhow!("interrupted"))
        }
    };

    stop.cancel();
    match tokio::time::timeout(Duration::from_secs(15), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("Puente stopped with an error: {e:#}"),
        Ok(Err(e)) => eprintln!("Puente's task failed: {e}"),
        Err(_) => eprintln!("Puente did not stop within 15 s; cleaning up anyway"),
    }
    let report = ctx.report.lock().unwrap_or_else(|e| e.into_inner());
    print!("{}", report.render(&ctx.args));
    result
}

fn init_tracing() {
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        let filter = if filter.is_empty() || filter == "1" {
            "info,sqlx=warn,hyper=info,bollard=info".to_string()
        } else {
            filter
        };
        puente::telemetry::init(&puente::config::LogArgs {
            log_format: puente::config::LogFormat::Pretty,
            log_filter: filter,
        });
    }
}

fn print_header(args: &Args, engine: &str, image: &str, image_id: &str) {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("== Puente links benchmark ==");
    println!("machine:   {cores} core(s), {model}");
    println!("           figures are wall-clock times on a small, shared machine: they are noisy;");
    println!("           compare medians between runs, not single samples");
    println!(
        "docker:    engine {engine}, image {image} ({})",
        image_id.get(..19).unwrap_or(image_id)
    );
    println!(
        "settings:  runs {}, burst {} links, timeout {} s, emulator STARTING_MS={}",
        args.runs,
        args.links,
        args.timeout.as_secs(),
        args.starting_ms
    );
}

async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting to DATABASE_URL")?;
    sqlx::raw_sql(&format!("create database \"{name}\""))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating database {name}"))?;
    let _ = conn.close().await;
    Ok(())
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    // FORCE: Puente's background tasks may still hold connections.
    sqlx::raw_sql(&format!("drop database if exists \"{name}\" with (force)"))
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(())
}

/// Run the docker CLI; its trimmed stdout, or an error with its stderr.
async fn docker(args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("docker")
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .context("running the docker CLI")?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The containers and the volumes labelled with this run's instance (Puente's and the
/// baseline's); an engine that does not answer lists nothing.
async fn labelled(instance: &str) -> (Vec<String>, Vec<String>) {
    let (mut containers, mut volumes) = (Vec::new(), Vec::new());
    for label in [
        format!("label=puente.instance={instance}"),
        format!("label=puente.bench={instance}"),
    ] {
        let ids = docker(&["ps", "-aq", "--filter", &label]).await;
        containers.extend(ids.unwrap_or_default().split_whitespace().map(String::from));
        let vols = docker(&["volume", "ls", "-q", "--filter", &label]).await;
        volumes.extend(
            vols.unwrap_or_default()
                .split_whitespace()
                .map(String::from),
        );
    }
    (containers, volumes)
}

/// Remove this run's containers, then its volumes; best effort. How many of each went away.
async fn remove_labelled(instance: &str) -> (usize, usize) {
    let (containers, volumes) = labelled(instance).await;
    if !containers.is_empty() {
        let mut cmd = vec!["rm", "-f", "-v"];
        cmd.extend(containers.iter().map(String::as_str));
        let _ = docker(&cmd).await;
    }
    if !volumes.is_empty() {
        let mut cmd = vec!["volume", "rm", "-f"];
        cmd.extend(volumes.iter().map(String::as_str));
        let _ = docker(&cmd).await;
    }
    let (c, v) = labelled(instance).await;
    (
        containers.len().saturating_sub(c.len()),
        volumes.len().saturating_sub(v.len()),
    )
}

// ---------------------------------------------------------------------------------------------
// The phases

async fn phases(ctx: Arc<Ctx>) -> anyhow::Result<()> {
    // Accounts first: password hashing is CPU-heavy and must not overlap a measurement.
    let needed = ctx.args.runs + ctx.args.links;
    eprintln!("registering an agency admin and {needed} agents");
    let admin = register_admin(&ctx).await?;
    let agents: Vec<Account> = futures_util::stream::iter(0..needed)
        .map(|i| register_agent(&ctx, &admin, i))
        .buffered(4)
        .try_collect()
        .await?;
    lock(&ctx).rss_after_accounts = rss_kib();
    let (single_agents, burst_agents) = agents.split_at(ctx.args.runs);

    baseline(&ctx).await?;
    one_link(&ctx, single_agents).await?;
    // Let the last deletion's container teardown finish before the burst.
    tokio::time::sleep(Duration::from_secs(1)).await;
    burst(&ctx, burst_agents).await
}

/// Phase 1: `docker run -d` of the image until `GET /ping` answers.
async fn baseline(ctx: &Ctx) -> anyhow::Result<()> {
    eprintln!(
        "[1/3] baseline: docker run -d {} until GET /ping",
        ctx.image
    );
    for run in 1..=ctx.args.runs {
        let sample = match baseline_once(ctx).await {
            Ok(Some(d)) => {
                eprintln!("  run {run}: {}", fmt_dur(d));
                Sample::Ok(d)
            }
            Ok(None) => {
                eprintln!("  run {run}: timed out");
                Sample::TimedOut
            }
            Err(e) => {
                eprintln!("  run {run}: failed: {e:#}");
                Sample::Failed(format!("{e:#}"))
            }
        };
        lock(ctx).baseline.push(sample);
    }
    Ok(())
}

async fn baseline_once(ctx: &Ctx) -> anyhow::Result<Option<Duration>> {
    let label = format!("puente.bench={}", ctx.instance);
    let t0 = Instant::now();
    let id = docker(&[
        "run",
        "-d",
        "--label",
        &label,
        "-p",
        "127.0.0.1::3000",
        &ctx.image,
    ])
    .await?;
    let result = async {
        let addr = docker(&["port", &id, "3000/tcp"]).await?;
        let addr = addr.lines().next().context("no published port")?.trim();
        let url = format!("http://{addr}/ping");
        let deadline = t0 + ctx.args.timeout;
        loop {
            let answered = ctx
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return Ok(Some(t0.elapsed()));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    .await;
    let _ = docker(&["rm", "-f", "-v", &id]).await;
    result
}

/// Phase 2: one link at a time, a new agent per run; the link is deleted after each run.
async fn one_link(ctx: &Ctx, agents: &[Account]) -> anyhow::Result<()> {
    eprintln!("[2/3] Puente, one link: POST /api/v1/whatsapp/links until the first link.qr");
    for (run, agent) in agents.iter().enumerate() {
        let run = run + 1;
        let mut ws = Socket::connect(ctx, &agent.token).await?;
        let t0 = Instant::now();
        let (status, body) = send(ctx, reqwest::Method::POST, LINKS, &agent.token).await?;
        let post = t0.elapsed();
        let Some(id) = body["id"]
            .as_str()
            .filter(|_| status == StatusCode::CREATED)
        else {
            eprintln!("  run {run}: POST failed: {status} {body}");
            lock(ctx)
                .single
                .push(Sample::Failed(format!("POST: {status}")));
            continue;
        };
        let sample = match ws.wait_qr(id, t0 + ctx.args.timeout).await {
            Waited::Qr(at) => {
                let d = at - t0;
                eprintln!(
                    "  run {run}: {} (POST answered in {})",
                    fmt_dur(d),
                    fmt_dur(post)
                );
                Sample::Ok(d)
            }
            Waited::TimedOut => {
                eprintln!("  run {run}: timed out waiting for link.qr");
                Sample::TimedOut
            }
            Waited::Lost(why) => {
                eprintln!("  run {run}: no link.qr: {why}");
                Sample::Failed(why)
            }
        };
        {
            let mut report = lock(ctx);
            report.single.push(sample);
            report.single_post.push(post);
        }
        drop(ws);
        let (status, _) = send(
            ctx,
            reqwest::Method::DELETE,
            &format!("{LINKS}/{id}"),
            &agent.token,
        )
        .await?;
        if !status.is_success() {
            eprintln!("  run {run}: deleting the link answered {status}");
        }
    }
    Ok(())
}

/// Phase 3: every agent POSTs at once; each waits for its own QR.
async fn burst(ctx: &Arc<Ctx>, agents: &[Account]) -> anyhow::Result<()> {
    let n = agents.len();
    eprintln!("[3/3] Puente, {n} links at once: opening {n} WebSockets");
    let mut sockets = Vec::with_capacity(n);
    for agent in agents {
        sockets.push(Socket::connect(ctx, &agent.token).await?);
    }
    let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
    let tasks: Vec<_> = agents
        .iter()
        .zip(sockets)
        .map(|(agent, ws)| tokio::spawn(burst_link(ctx.clone(), agent.clone(), ws, gate.clone())))
        .collect();

    let rss_before = rss_kib();
    let cpu_before = cpu_secs();
    let sampler = RssSampler::start();
    eprintln!("  all POST now");
    gate.wait().await;
    let mut links = Vec::with_capacity(n);
    for task in tasks {
        links.push(match task.await {
            Ok(l) => l,
            Err(e) => BurstLink {
                start: None,
                post: None,
                outcome: Waited::Lost(format!("task failed: {e}")),
            },
        });
    }
    let cpu_after = cpu_secs();
    let rss_peak = sampler.stop();
    let rss_after = rss_kib();

    let start = links.iter().filter_map(|l| l.start).min();
    let mut qr = Vec::new();
    let (mut timed_out, mut failed) = (0, Vec::new());
    let mut last = None;
    for l in &links {
        match (&l.outcome, l.start) {
            (Waited::Qr(at), Some(s)) => {
                qr.push(*at - s);
                last = last.max(Some(*at));
            }
            (Waited::TimedOut, _) => timed_out += 1,
            (Waited::Lost(why), _) => failed.push(why.clone()),
            (Waited::Qr(_), None) => failed.push("no start time".into()),
        }
    }
    let wall = match (start, last) {
        (Some(s), Some(l)) => Some(l - s),
        _ => None,
    };
    let wall_cpu = match (start, links.iter().filter_map(|l| l.end()).max()) {
        (Some(s), Some(e)) => Some(e - s),
        _ => None,
    };
    eprintln!(
        "  {} of {n} QRs{}",
        qr.len(),
        wall.map(|w| format!(", the last after {}", fmt_dur(w)))
            .unwrap_or_default()
    );
    eprintln!("  docker stats of the containers");
    let containers = containers_memory(&ctx.instance).await;
    if let Err(e) = &containers {
        eprintln!("  docker stats failed: {e:#}");
    }
    lock(ctx).burst = Some(Burst {
        links: n,
        qr,
        post: links.iter().filter_map(|l| l.post).collect(),
        timed_out,
        failed,
        wall,
        busy: wall_cpu,
        rss_before,
        rss_peak,
        rss_after,
        cpu: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        containers: containers.ok(),
    });
    Ok(())
}

struct BurstLink {
    start: Option<Instant>,
    post: Option<Duration>,
    outcome: Waited,
}

impl BurstLink {
    /// When this link's wait ended (for the CPU figure's time base).
    fn end(&self) -> Option<Instant> {
        match self.outcome {
            Waited::Qr(at) => Some(at),
            _ => None,
        }
    }
}

async fn burst_link(
    ctx: Arc<Ctx>,
    agent: Account,
    mut ws: Socket,
    gate: Arc<tokio::sync::Barrier>,
) -> BurstLink {
    gate.wait().await;
    let t0 = Instant::now();
    let mut link = BurstLink {
        start: Some(t0),
        post: None,
        outcome: Waited::TimedOut,
    };
    let id = match send(&ctx, reqwest::Method::POST, LINKS, &agent.token).await {
        Ok((StatusCode::CREATED, body)) => body["id"].as_str().map(str::to_string),
        Ok((status, body)) => {
            link.outcome = Waited::Lost(format!("POST answered {status}: {body}"));
            return link;
        }
        Err(e) => {
            link.outcome = Waited::Lost(format!("POST failed: {e:#}"));
            return link;
        }
    };
    link.post = Some(t0.elapsed());
    link.outcome = match id {
        Some(id) => ws.wait_qr(&id, t0 + ctx.args.timeout).await,
        None => Waited::Lost("POST answered without an id".into()),
    };
    link
}

// ---------------------------------------------------------------------------------------------
// HTTP and WebSocket clients

const LINKS: &str = "/api/v1/whatsapp/links";

/// A request with a bearer token and an empty JSON body for POSTs: status and JSON body.
async fn send(
    ctx: &Ctx,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut req = ctx
        .http
        .request(method.clone(), format!("{}{path}", ctx.base))
        .bearer_auth(token);
    if method == reqwest::Method::POST {
        req = req.json(&json!({}));
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("{method} {path}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn post_created(
    ctx: &Ctx,
    path: &str,
    body: Value,
    token: Option<&str>,
) -> anyhow::Result<Value> {
    let mut req = ctx.http.post(format!("{}{path}", ctx.base)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.with_context(|| format!("POST {path}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    ensure!(
        status == StatusCode::CREATED,
        "POST {path}: {status} {text}"
    );
    Ok(serde_json::from_str(&text)?)
}

fn account(body: &Value) -> anyhow::Result<Account> {
    Ok(Account {
        token: body["access_token"]
            .as_str()
            .context("no access_token in the answer")?
            .to_string(),
    })
}

async fn register_admin(ctx: &Ctx) -> anyhow::Result<Account> {
    let body = post_created(
        ctx,
        "/api/v1/auth/register",
        json!({"email": "admin@bench.example", "password": PASSWORD, "display_name": "Bench Admin",
               "account_type": "agency_admin", "agency_name": "Bench Homes"}),
        None,
    )
    .await?;
    account(&body)
}

async fn register_agent(ctx: &Ctx, admin: &Account, i: usize) -> anyhow::Result<Account> {
    let invite = post_created(
        ctx,
        "/api/v1/agency/invites",
        json!({"email": null}),
        Some(&admin.token),
    )
    .await?;
    let code = invite["code"].as_str().context("no invite code")?;
    let body = post_created(
        ctx,
        "/api/v1/auth/register",
        json!({"email": format!("agent{i}@bench.example"), "password": PASSWORD,
               "display_name": format!("Agent {i}"), "account_type": "agent", "invite_code": code}),
        None,
    )
    .await?;
    account(&body)
}

/// How a wait for a QR ended.
enum Waited {
    Qr(Instant),
    TimedOut,
    Lost(String),
}

/// An agent's `/api/v1/ws` connection, past its `hello` frame.
struct Socket(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Socket {
    async fn connect(ctx: &Ctx, token: &str) -> anyhow::Result<Self> {
        let url = format!(
            "{}/api/v1/ws?access_token={token}",
            ctx.base.replace("http://", "ws://")
        );
        let (stream, _) = tokio::time::timeout(
            Duration::from_secs(30),
            tokio_tungstenite::connect_async(url),
        )
        .await
        .context("WebSocket connect timed out")?
        .context("WebSocket connect")?;
        let mut socket = Self(stream);
        let deadline = Instant::now() + Duration::from_secs(30);
        match socket.next_json(deadline).await {
            Ok(v) if v["type"] == "hello" => Ok(socket),
            Ok(v) => bail!("expected a hello frame, got {v}"),
            Err(Waited::Lost(why)) => bail!("the WebSocket ended before its hello frame: {why}"),
            Err(_) => bail!("no hello frame within 30 s"),
        }
    }

    /// The next JSON text frame before `deadline`.
    async fn next_json(&mut self, deadline: Instant) -> Result<Value, Waited> {
        loop {
            match tokio::time::timeout_at(deadline, self.0.next()).await {
                Err(_) => return Err(Waited::TimedOut),
                Ok(None) => return Err(Waited::Lost("socket closed".into())),
                Ok(Some(Err(e))) => return Err(Waited::Lost(format!("socket error: {e}"))),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Ok(serde_json::from_str(t.as_str()).unwrap_or(Value::Null))
                }
                Ok(Some(Ok(Message::Close(f)))) => {
                    return Err(Waited::Lost(format!("socket closed by the server: {f:?}")))
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Read frames until the `link.qr` of `link_id` (its arrival time), or the deadline.
    async fn wait_qr(&mut self, link_id: &str, deadline: Instant) -> Waited {
        loop {
            match self.next_json(deadline).await {
                Ok(v) if v["type"] == "link.qr" && v["data"]["link_id"] == link_id => {
                    return Waited::Qr(Instant::now())
                }
                Ok(v) if v["type"] == "resync" => {
                    return Waited::Lost("the socket fell behind (resync)".into())
                }
                Ok(_) => {}
                Err(w) => return w,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Process and container resources

/// This process's resident set size, in KiB (`VmRSS` of `/proc/self/status`).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time used by this process so far (utime + stime of `/proc/self/stat`), in seconds.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name start at field 3 (state).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks())
}

/// `sysconf(_SC_CLK_TCK)` without libc: ask getconf, else Linux's usual 100.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// Samples `rss_kib` every 100 ms on its own thread (so a busy runtime cannot delay it).
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib().unwrap_or(0)));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = rss_kib() {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Self { stop, peak, thread }
    }

    /// Stop sampling; the peak seen, in KiB.
    fn stop(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        if let Some(kib) = rss_kib() {
            self.peak.fetch_max(kib, Ordering::Relaxed);
        }
        Some(self.peak.load(Ordering::Relaxed)).filter(|k| *k > 0)
    }
}

/// Running containers of this instance and their summed memory use (bytes), per docker stats.
async fn containers_memory(instance: &str) -> anyhow::Result<(usize, u64)> {
    let label = format!("label=puente.instance={instance}");
    let ids = docker(&["ps", "-q", "--filter", &label]).await?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok((0, 0));
    }
    let mut cmd = vec!["stats", "--no-stream", "--format", "{{.MemUsage}}"];
    cmd.extend(&ids);
    let out = docker(&cmd).await?;
    let mut total = 0;
    for line in out.lines() {
        let used = line.split('/').next().unwrap_or_default().trim();
        total += parse_size(used).with_context(|| format!("docker stats said {line:?}"))?;
    }
    Ok((ids.len(), total))
}

/// "2.5MiB" → bytes (docker's binary units, and the decimal ones just in case).
fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = s.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim() {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some((number * factor) as u64)
}

// ---------------------------------------------------------------------------------------------
// Figures

enum Sample {
    Ok(Duration),
    TimedOut,
    Failed(String),
}

#[derive(Default)]
struct Report {
    baseline: Vec<Sample>,
    single: Vec<Sample>,
    single_post: Vec<Duration>,
    burst: Option<Burst>,
    /// This process's RSS right after Puente started, and after the accounts were registered
    /// (KiB).
    rss_at_start: Option<u64>,
    rss_after_accounts: Option<u64>,
}

struct Burst {
    links: usize,
    /// Per link: from its POST to its `link.qr`.
    qr: Vec<Duration>,
    /// Per link: how long its POST took to answer.
    post: Vec<Duration>,
    timed_out: usize,
    failed: Vec<String>,
    /// From the first POST to the last QR.
    wall: Option<Duration>,
    /// The time base of the CPU figure (the same, over links that got a QR).
    busy: Option<Duration>,
    rss_before: Option<u64>,
    rss_peak: Option<u64>,
    rss_after: Option<u64>,
    cpu: Option<f64>,
    containers: Option<(usize, u64)>,
}

fn lock(ctx: &Ctx) -> std::sync::MutexGuard<'_, Report> {
    ctx.report.lock().unwrap_or_else(|e| e.into_inner())
}

fn ok_samples(samples: &[Sample]) -> Vec<Duration> {
    let mut ok: Vec<Duration> = samples
        .iter()
        .filter_map(|s| match s {
            Sample::Ok(d) => Some(*d),
            _ => None,
        })
        .collect();
    ok.sort();
    ok
}

fn median(sorted: &[Duration]) -> Option<Duration> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn fmt_dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn fmt_opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".into(), fmt_dur)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Report {
    fn render(&self, args: &Args) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "\n== Results ==");
        let _ = writeln!(
            w,
            "{:<44} {:>7} {:>10} {:>10} {:>10}",
            "", "ok/runs", "min", "median", "max"
        );
        let base = ok_samples(&self.baseline);
        let single = ok_samples(&self.single);
        series_row(
            w,
            "1. baseline: docker run -d → GET /ping",
            &self.baseline,
            &base,
        );
        series_row(
            w,
            "2. Puente: POST link → first link.qr",
            &self.single,
            &single,
        );
        let mut post = self.single_post.clone();
        post.sort();
        if !post.is_empty() {
            let _ = writeln!(
                w,
                "{:<44} {:>7} {:>10} {:>10} {:>10}",
                "   of which the POST answered after",
                "",
                fmt_dur(post[0]),
                fmt_opt(median(&post)),
                fmt_dur(post[post.len() - 1])
            );
        }
        match (median(&single), median(&base)) {
            (Some(s), Some(b)) if !b.is_zero() => {
                let _ = writeln!(
                    w,
                    "   ratio of medians, Puente / baseline  {:.2}×\n   (Puente's time includes the \
                     emulator's {} ms STARTING phase, the webhook, the QR fetch and the push)",
                    s.as_secs_f64() / b.as_secs_f64(),
                    args.starting_ms
                );
            }
            _ => {
                let _ = writeln!(w, "   ratio of medians: not available");
            }
        }
        let Some(b) = &self.burst else {
            let _ = writeln!(w, "3. burst: not run");
            return out;
        };
        let _ = writeln!(w, "3. Puente: {} links created at once", b.links);
        let mut qr = b.qr.clone();
        qr.sort();
        let mut posts = b.post.clone();
        posts.sort();
        let _ = writeln!(
            w,
            "   links with a QR                      {} of {}{}{}",
            qr.len(),
            b.links,
            if b.timed_out > 0 {
                format!(
                    ", {} TIMED OUT after {} s",
                    b.timed_out,
                    args.timeout.as_secs()
                )
            } else {
                String::new()
            },
            if b.failed.is_empty() {
                String::new()
            } else {
                format!(", {} failed (first: {})", b.failed.len(), b.failed[0])
            }
        );
        let _ = writeln!(
            w,
            "   wall time, first POST → last QR      {}{}",
            fmt_opt(b.wall),
            if b.timed_out > 0 || !b.failed.is_empty() {
                " (over the links that got one)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            w,
            "   per-link POST → link.qr              p50 {}   p99 {}   (min {}, max {})",
            fmt_opt(percentile(&qr, 50.0)),
            fmt_opt(percentile(&qr, 99.0)),
            fmt_opt(qr.first().copied()),
            fmt_opt(qr.last().copied())
        );
        let _ = writeln!(
            w,
            "   per-link POST answered after         p50 {}   p99 {}",
            fmt_opt(percentile(&posts, 50.0)),
            fmt_opt(percentile(&posts, 99.0))
        );
        let kib = |v: Option<u64>| v.map_or_else(|| "—".into(), mib);
        let _ = writeln!(
            w,
            "   bench process RSS (Puente and the bench's own clients)"
        );
        let _ = writeln!(
            w,
            "     when Puente started                {}",
            kib(self.rss_at_start)
        );
        let _ = writeln!(
            w,
            "     after registering the accounts     {} (password hashing on the blocking pool)",
            kib(self.rss_after_accounts)
        );
        let _ = writeln!(
            w,
            "     burst: before / peak / after       {} / {} / {} (peak {}; sampled every 100 ms)",
            kib(b.rss_before),
            kib(b.rss_peak),
            kib(b.rss_after),
            match (b.rss_before, b.rss_peak) {
                (Some(before), Some(peak)) => format!(
                    "{:+.1} MiB over before",
                    (peak as f64 - before as f64) / 1024.0
                ),
                _ => "—".into(),
            }
        );
        match (b.cpu, b.busy) {
            (Some(cpu), Some(busy)) if !busy.is_zero() => {
                let _ = writeln!(
                    w,
                    "   bench process CPU during the burst   {cpu:.2} s ({:.2} cores on average over {})",
                    cpu / busy.as_secs_f64(),
                    fmt_dur(busy)
                );
            }
            (Some(cpu), _) => {
                let _ = writeln!(w, "   bench process CPU during the burst   {cpu:.2} s");
            }
            _ => {
                let _ = writeln!(w, "   bench process CPU during the burst   —");
            }
        }
        match b.containers {
            Some((n, bytes)) if n > 0 => {
                let _ = writeln!(
                    w,
                    "   containers' memory (docker stats)    {n} running, total {}, {} each on average",
                    mib(bytes / 1024),
                    mib(bytes / 1024 / n as u64)
                );
            }
            Some(_) => {
                let _ = writeln!(
                    w,
                    "   containers' memory (docker stats)    no running containers"
                );
            }
            None => {
                let _ = writeln!(
                    w,
                    "   containers' memory (docker stats)    — (docker stats failed)"
                );
            }
        }
        out
    }
}

fn series_row(w: &mut String, name: &str, samples: &[Sample], ok: &[Duration]) {
    let timed_out = samples
        .iter()
        .filter(|s| matches!(s, Sample::TimedOut))
        .count();
    let failed: Vec<&str> = samples
        .iter()
        .filter_map(|s| match s {
            Sample::Failed(why) => Some(why.as_str()),
            _ => None,
        })
        .collect();
    let _ = writeln!(
        w,
        "{:<44} {:>7} {:>10} {:>10} {:>10}",
        name,
        format!("{}/{}", ok.len(), samples.len()),
        fmt_opt(ok.first().copied()),
        fmt_opt(median(ok)),
        fmt_opt(ok.last().copied())
    );
    if timed_out > 0 {
        let _ = writeln!(w, "   {timed_out} run(s) TIMED OUT");
    }
    if let Some(first) = failed.first() {
        let _ = writeln!(w, "   {} run(s) failed (first: {first})", failed.len());
    }
}
