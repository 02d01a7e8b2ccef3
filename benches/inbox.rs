//! The inbox benchmark: figures, not assertions. Run it with `scripts/bench-inbox` (a
//! throwaway PostgreSQL cluster), or with `cargo bench --bench inbox` when `DATABASE_URL`
//! points at a server where it may create a database.
//!
//! It seeds one agent with `--conversations` WhatsApp conversations holding `--messages`
//! messages in all (Spanish texts built from a small vocabulary, spread over the last months,
//! a third of the conversations with something unread), runs Puente in this process, and
//! measures, one request at a time after a warm-up:
//! 1. `GET /api/v1/conversations?limit=50` — the first page, and pages further down through
//!    the cursor — beside **the floor**: the bare indexed read of the same 50 conversation
//!    rows (`order by last_message_at desc limit 50`) on the same pool. The page itself runs
//!    3 SQL statements (counted by `tests/api/inbox.rs`).
//! 2. `GET /api/v1/search?q=…` for a common word (in ~10 % of the messages) and a rare one
//!    (~0.1 %), beside the floor: the same text-search match and ranking, bare, without the
//!    visibility rules or the rendering.
//!
//! Each prints p50 / p90 / p99 / max in milliseconds and the ratio of p99 to the floor's.
//! Invariant: the database it creates is dropped at the end, also after an error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use puente::app::App;
use puente::auth::tokens::JwtKeys;
use puente::config::ServeConfig;
use puente::model::Role;
use serde_json::Value;
use sqlx::{Connection, PgPool};
use tokio::net::TcpListener;
use uuid::Uuid;

const USAGE: &str = "\
usage: scripts/bench-inbox [OPTIONS]     (or: cargo bench --bench inbox -- [OPTIONS])
  --conversations N   conversations of the agent (default 10000)
  --messages N        messages in all, spread over them (default 1000000)
  --requests N        timed requests per measurement (default 200)";

struct Args {
    conversations: i64,
    messages: i64,
    requests: usize,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        conversations: 10_000,
        messages: 1_000_000,
        requests: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> anyhow::Result<i64> {
            it.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--conversations" => args.conversations = number("--conversations")?,
            "--messages" => args.messages = number("--messages")?,
            "--requests" => args.requests = usize::try_from(number("--requests")?)?,
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if args.conversations < 1 || args.messages < args.conversations || args.requests < 10 {
        bail!("need --conversations ≥ 1, --messages ≥ conversations, --requests ≥ 10");
    }
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
        eprintln!("error: DATABASE_URL must name a PostgreSQL server where the benchmark may create a database (scripts/bench-inbox starts one)");
        return ExitCode::from(2);
    };
    let name = format!(
        "puente_inboxbench_{}",
        &Uuid::new_v4().simple().to_string()[..10]
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let result = rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("create database {name}"))
            .execute(&mut conn)
            .await?;
        let out = run(&args, &db_url(&admin_url, &name)?).await;
        sqlx::query(&format!("drop database {name} with (force)"))
            .execute(&mut conn)
            .await?;
        out
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn db_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(admin_url).context("DATABASE_URL is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Milliseconds at the 50th, 90th, 99th percentile and the maximum.
fn percentiles(mut ms: Vec<f64>) -> [f64; 4] {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    [at(0.50), at(0.90), at(0.99), ms[ms.len() - 1]]
}

fn line(what: &str, p: [f64; 4], floor_p99: Option<f64>) {
    let ratio = floor_p99.map_or(String::new(), |f| {
        format!("   p99 {:.1}× the floor", p[2] / f)
    });
    println!(
        "  {what:<44} p50 {:>7.2}  p90 {:>7.2}  p99 {:>7.2}  max {:>7.2} ms{ratio}",
        p[0], p[1], p[2], p[3]
    );
}

async fn timed<F, Fut>(n: usize, mut f: F) -> anyhow::Result<[f64; 4]>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for i in 0..(n / 10).max(5) {
        f(i).await?; // warm-up
    }
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(percentiles(ms))
}

async fn seed(pool: &PgPool, args: &Args) -> anyhow::Result<(Uuid, Uuid)> {
    let (agency, agent, link) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    sqlx::query("insert into agencies (id, name) values ($1, 'Bench Homes')")
        .bind(agency)
        .execute(pool)
        .await?;
    sqlx::query(
        "insert into users (id, email, password_hash, display_name, role, agency_id)
         values ($1, 'agent@bench.example', 'x', 'Bench Agent', 'agent', $2)",
    )
    .bind(agent)
    .bind(agency)
    .execute(pool)
    .await?;
    puente::db::links::insert(pool, link, agent, agency, "NOWEB", "bench", "bench").await?;
    let per = args.messages / args.conversations;
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "create temporary table bench_ids on commit drop as
           select g, gen_random_uuid() as contact_id, gen_random_uuid() as conv_id,
                  now() - (g || ' minutes')::interval as at
           from generate_series(1, $1::int) g",
    )
    .bind(args.conversations as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into contacts (id, link_id, wa_id, phone, push_name)
         select contact_id, $1, '34' || (700000000 + g) || '@c.us', '34' || (700000000 + g),
                'Contacto ' || g from bench_ids",
    )
    .bind(link)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into conversations (id, agency_id, agent_id, channel, link_id, contact_id, chat_id, last_message_at)
         select conv_id, $1, $2, 'whatsapp', $3, contact_id, '34' || (700000000 + g) || '@c.us', at from bench_ids",
    )
    .bind(agency)
    .bind(agent)
    .bind(link)
    .execute(&mut *tx)
    .await?;
    // `per` messages per conversation, alternating in and out, the newest at the
    // conversation's time; one word in ten is "terraza", one in a thousand "ascensor".
    sqlx::query(
        "insert into messages (id, conversation_id, direction, author_contact_id, author_user_id, kind, body, status, link_id, sent_at)
         select gen_random_uuid(), b.conv_id,
                case when k % 2 = 0 then 'in' else 'out' end,
                case when k % 2 = 0 then b.contact_id end,
                case when k % 2 = 1 then $2::uuid end,
                'text',
                (array['¿Sigue disponible el piso?', 'Le paso fotos del salón', '¿Cuánto es la comunidad?',
                       'El sábado por la mañana me viene bien', '¿Tiene garaje incluido?', 'Gracias, lo hablo con mi pareja',
                       'Hay una oferta por debajo del precio', 'Le envío la nota simple', '¿Admiten mascotas?',
                       'Tiene una terraza de veinte metros'])[1 + ((b.g + k) % 10)]
                  || case when (b.g * 7 + k) % 1000 = 0 then ' y ascensor nuevo' else '' end,
                'read', $1, b.at - ((($3::int - k) * 7) || ' minutes')::interval
         from bench_ids b, generate_series(1, $3::int) k",
    )
    .bind(link)
    .bind(agent)
    .bind(per as i32)
    .execute(&mut *tx)
    .await?;
    // Two thirds read up to their newest message.
    sqlx::query(
        "insert into conversation_reads (conversation_id, user_id, last_read_message_id, last_read_at)
         select b.conv_id, $1, (select m.id from messages m where m.conversation_id = b.conv_id
                                 order by m.sent_at desc, m.id desc limit 1), now()
         from bench_ids b where b.g % 3 <> 0",
    )
    .bind(agent)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("analyze").execute(pool).await?;
    println!(
        "seeded {} conversations, {} messages in {:.1} s",
        args.conversations,
        per * args.conversations,
        started.elapsed().as_secs_f64()
    );
    Ok((agency, agent))
}

async fn run(args: &Args, url: &str) -> anyhow::Result<()> {
    let mut config = ServeConfig::for_tests("postgres://unused");
    config.access_token_ttl_secs = 3600;
    config.waha.supervise = false;
    config.validate()?;
    let pool = puente::db::connect(url, config.db.db_max_connections).await?;
    puente::db::migrate(&pool).await?;
    let (agency, agent) = seed(&pool, args).await?;
    let jwt = JwtKeys::new(
        config.jwt_secret.expose().as_bytes(),
        config.access_token_ttl_secs,
    );
    let token = jwt.issue(agent, Role::Agent, Some(agency))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let app = App::build_with_pool(config, pool.clone(), listener);
    let base = format!("http://127.0.0.1:{}", app.local_addr()?.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(app.run({
        let s = stop.clone();
        async move { s.cancelled().await }
    }));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, token, base) = (http.clone(), token.clone(), base.clone());
        async move {
            let resp = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("{path}: {}", resp.status());
            }
            Ok::<Value, anyhow::Error>(resp.json().await?)
        }
    };

    println!(
        "\n# inbox: {} conversations, {} messages; {} timed requests each, one at a time; {} cores",
        args.conversations,
        args.messages,
        args.requests,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let floor = timed(args.requests, |_| {
        let pool = pool.clone();
        async move {
            let rows: Vec<(Uuid,)> = sqlx::query_as(
                "select id from conversations where agent_id = $1
                 order by last_message_at desc nulls last, id desc limit 50",
            )
            .bind(agent)
            .fetch_all(&pool)
            .await?;
            anyhow::ensure!(rows.len() == 50);
            Ok(())
        }
    })
    .await?;
    line("floor: 50 conversation rows, bare SQL", floor, None);
    let first = timed(args.requests, |_| async move {
        let page = get("/api/v1/conversations?limit=50".into()).await?;
        anyhow::ensure!(page["items"].as_array().map_or(0, Vec::len) == 50);
        Ok(())
    })
    .await?;
    line(
        "GET /conversations?limit=50 (first page)",
        first,
        Some(floor[2]),
    );
    // Cursors of pages further down, to time a deep page too.
    let mut cursors = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations?limit=50&cursor={c}"),
            None => "/api/v1/conversations?limit=50".into(),
        };
        let page = get(path).await?;
        cursor = page["next_cursor"].as_str().map(str::to_string);
        match &cursor {
            Some(c) => cursors.push(c.clone()),
            None => break,
        }
    }
    let deep = timed(args.requests, |i| {
        let c = cursors[i % cursors.len()].clone();
        async move {
            get(format!("/api/v1/conversations?limit=50&cursor={c}")).await?;
            Ok(())
        }
    })
    .await?;
    line(
        "GET /conversations?limit=50 (pages 2–21)",
        deep,
        Some(floor[2]),
    );
    let unread = timed(args.requests, |_| async move {
        get("/api/v1/conversations?limit=50&unread=true".into()).await?;
        Ok(())
    })
    .await?;
    line(
        "GET /conversations?limit=50&unread=true",
        unread,
        Some(floor[2]),
    );

    println!("\n# full-text search over {} messages", args.messages);
    for (word, share) in [("terraza", "~10 %"), ("ascensor", "~0.1 %")] {
        let bare = timed(args.requests, |_| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "with q as (select websearch_to_tsquery('spanish', $1) || websearch_to_tsquery('english', $1) as tsq)
                     select m.id from messages m, q where m.search_vector @@ q.tsq
                     order by ts_rank(m.search_vector, q.tsq) desc, m.sent_at desc limit 20",
                )
                .bind(word)
                .fetch_all(&pool)
                .await?;
                Ok(())
            }
        })
        .await?;
        line(
            &format!("floor: match + rank \"{word}\" ({share}), bare"),
            bare,
            None,
        );
        let api = timed(args.requests, |_| async move {
            get(format!("/api/v1/search?q={word}")).await?;
            Ok(())
        })
        .await?;
        line(&format!("GET /search?q={word}"), api, Some(bare[2]));
    }
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    Ok(())
}
