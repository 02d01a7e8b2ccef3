//! Operator command-line tasks that are not the server: `puente admin …`, `puente links …`,
//! `puente events …`, `puente healthcheck`.
//!
//! `links` and `events` build a [`Core`] ([`Core::connect`]: connect, migrate) and call the
//! same domain operations as the API; nothing binds a port. Background work they start is
//! owned by the core and waited for before the process exits. `admin` needs only the
//! database (`DATABASE_URL`), not the server's settings, so it works on a pool.

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::password;
use crate::auth::service::normalize_email;
use crate::config::{
    AdminCommand, EventsCommand, HealthcheckArgs, LinksCommand, Secret, ServeConfig,
};
use crate::core::Core;
use crate::db;
use crate::links;
use crate::model::{ListingStatus, Role};

/// How long a command waits for the background work it started before exiting.
const FINISH_GRACE: Duration = Duration::from_secs(10);

pub async fn run_admin(pool: &PgPool, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateOperator {
            email,
            password,
            name,
        } => {
            let id = upsert_user(pool, &email, &password, &name, Role::Operator, None).await?;
            println!("operator {email} ready (id {id})");
        }
        AdminCommand::SeedDemo { password } => seed_demo(pool, &password).await?,
    }
    Ok(())
}

/// Create a user, or reset the password, name and activity of an existing one of that role.
async fn upsert_user(
    pool: &PgPool,
    email: &str,
    pw: &Secret,
    name: &str,
    role: Role,
    agency: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    let email = normalize_email(email).context("not a valid email address")?;
    if let Some(why) = password::policy_violation(pw.expose(), &email) {
        anyhow::bail!("password {why}");
    }
    let hash = password::hash(pw.expose().to_string())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(existing) = db::users::find_by_email(pool, &email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        if existing.role != role.as_str() {
            anyhow::bail!("{email} already exists with role {}", existing.role);
        }
        db::users::reset_account(pool, existing.id, &hash, name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(existing.id);
    }
    let row = db::users::insert(
        pool,
        db::users::NewUser {
            email: &email,
            password_hash: &hash,
            display_name: name,
            phone: None,
            role,
            agency_id: agency,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(row.id)
}

async fn seed_demo(pool: &PgPool, pw: &Secret) -> anyhow::Result<()> {
    let admin_email = "admin@costa-homes.example";
    let agency = match db::users::find_by_email(pool, admin_email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        Some(u) => u.agency_id.context("demo admin has no agency")?,
        None => db::users::insert_agency(pool, "Costa Homes")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let accounts = [
        ("ops@puente.example", "Olga Operator", Role::Operator, None),
        (admin_email, "Alba Admin", Role::AgencyAdmin, Some(agency)),
        (
            "agent@costa-homes.example",
            "Diego Agent",
            Role::Agent,
            Some(agency),
        ),
        ("buyer@example.com", "Bea Buyer", Role::Buyer, None),
    ];
    println!("Demo accounts (password for all: {}):", pw.expose());
    let mut agent = None;
    for (email, name, role, agency) in accounts {
        let id = upsert_user(pool, email, pw, name, role, agency).await?;
        if role == Role::Agent {
            agent = Some(id);
        }
        println!("  {:<13} {email}", role.as_str());
    }
    let agent = agent.context("the demo agent was not created")?;
    seed_demo_listings(pool, agency, agent).await
}

/// A few active listings of the demo agent, so a buyer has something to find and write
/// about on a fresh install. Only when the agency has none: a second run adds nothing.
async fn seed_demo_listings(pool: &PgPool, agency: Uuid, agent: Uuid) -> anyhow::Result<()> {
    let fail = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    if db::properties::count_for_agency(pool, agency)
        .await
        .map_err(fail)?
        > 0
    {
        return Ok(());
    }
    let listings = [
        (
            "Ático con terraza frente al mar",
            "Tres dormitorios, terraza de 40 m² con vistas al mar, a cinco minutos de la playa.",
            48_500_000,
            "Paseo Marítimo 12",
            "Málaga",
            "apartment",
        ),
        (
            "Casa con jardín y piscina",
            "Cuatro dormitorios, jardín de 300 m², piscina y garaje para dos coches.",
            62_000_000,
            "Calle de los Almendros 4",
            "Marbella",
            "house",
        ),
        (
            "Estudio reformado en el centro",
            "Luminoso, recién reformado, ideal para inversión o primera vivienda.",
            14_900_000,
            "Calle Larios 30",
            "Málaga",
            "condo",
        ),
    ];
    for (title, description, price_cents, address, city, property_type) in listings {
        db::properties::insert(
            pool,
            db::properties::NewProperty {
                agency_id: agency,
                agent_id: agent,
                title,
                description,
                price_cents,
                currency: "EUR",
                address,
                city,
                property_type,
                status: ListingStatus::Active,
            },
        )
        .await
        .map_err(fail)?;
    }
    println!("  and {} demo listings of the agent", listings.len());
    Ok(())
}

/// `puente links …`: the same operations as the operator API, from a terminal.
pub async fn run_links(config: ServeConfig, command: LinksCommand) -> anyhow::Result<()> {
    let core = Core::connect(config).await?;
    fn fail(e: impl Into<crate::error::AppError>) -> anyhow::Error {
        let e = e.into();
        anyhow::anyhow!("{} ({})", e, e.code())
    }
    match command {
        LinksCommand::List => {
            let rows = db::links::list_admin(&core.db).await.map_err(fail)?;
            let containers = links::service::containers_by_link(&core).await;
            println!(
                "{:<36}  {:<28}  {:<12}  {:<16}  {:<14}  container",
                "id", "agent", "status", "reason", "phone"
            );
            for r in rows {
                let l = &r.link;
                let c = containers.get(&l.id).map_or("absent", |c| c.state.as_str());
                println!(
                    "{:<36}  {:<28}  {:<12}  {:<16}  {:<14}  {c}",
                    l.id,
                    r.agent_email,
                    l.status,
                    l.status_reason.as_deref().unwrap_or("-"),
                    l.phone.as_deref().unwrap_or("-"),
                );
            }
        }
        LinksCommand::Qr { id } => {
            let link = db::links::find(&core.db, id)
                .await
                .map_err(fail)?
                .context("no such link")?;
            let raw = links::service::qr_raw(&core, &link).await.map_err(fail)?;
            println!("{}", links::qr::terminal(&raw).map_err(fail)?);
            println!(
                "Scan with WhatsApp → Linked devices → Link a device (QR {}).",
                link.qr_rotations.max(1)
            );
        }
        LinksCommand::Phone { id } => {
            let link = db::links::find(&core.db, id)
                .await
                .map_err(fail)?
                .context("no such link")?;
            let base = links::service::base_url(&core, &link).await.map_err(fail)?;
            let key = links::keys::api_key(
                core.config.waha.master_secret.expose().as_bytes(),
                link.id,
                link.key_version,
            );
            println!("{base}/__emulator/phone?x-api-key={key}");
        }
        LinksCommand::Restart { id } => {
            let link = db::links::find(&core.db, id)
                .await
                .map_err(fail)?
                .context("no such link")?;
            let actor = links::service::Actor {
                user: None,
                ip: Some("cli"),
            };
            links::service::restart(&core, &link, &actor)
                .await
                .map_err(fail)?;
            println!("restarting {id}");
        }
    }
    finish(&core).await;
    Ok(())
}

/// `puente events …`.
pub async fn run_events(config: ServeConfig, command: EventsCommand) -> anyhow::Result<()> {
    let core = Core::connect(config).await?;
    match command {
        EventsCommand::Replay { link, since } => {
            db::links::find(&core.db, link)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .context("no such link")?;
            let n = crate::ingest::apply::replay(&core, link, since).await?;
            let audit = db::audit::Entry {
                actor: None,
                actor_role: Some("cli"),
                action: "events.replay",
                target_type: Some("whatsapp_link"),
                target_id: Some(link.to_string()),
                ok: true,
                detail: serde_json::json!({"replayed": n, "since": since}),
                ip: None,
            };
            db::audit::record(&core.db, audit)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("replayed {n} event(s) of link {link}");
        }
    }
    finish(&core).await;
    Ok(())
}

/// Before the process exits: let the background work a command started (the reconcile a
/// restart kicks, a QR push) finish, within [`FINISH_GRACE`].
async fn finish(core: &Core) {
    core.drain(FINISH_GRACE).await;
}

/// `GET /readyz` on the server's own address: `Ok` only for a 2xx within the timeout. Used as
/// the image's health check, so it needs nothing but this binary.
pub async fn healthcheck(args: &HealthcheckArgs) -> anyhow::Result<()> {
    let mut addr = crate::config::Subnet::resolve(args.bind_subnet.as_ref(), args.bind)?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{addr}/readyz");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(args.timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        anyhow::bail!("GET {url}: {status} {body}");
    }
    Ok(())
}
