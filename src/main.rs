//! The `puente` binary: parse the command line, set up tracing, run the subcommand.

use anyhow::Context;
use clap::Parser;
use puente::app::{shutdown_signal, App};
use puente::config::{Cli, Command};

/// mimalloc instead of glibc's malloc: every argon2 hash allocates ~19 MiB for a moment, and
/// glibc's adaptive mmap threshold keeps those blocks in the heap after the first free, so a
/// burst of logins would leave the process hundreds of MiB larger for good.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    puente::telemetry::init(&cli.log);
    match cli.command {
        Command::Serve(config) => {
            tracing::info!(config = ?config, "starting");
            let app = App::build(*config).await?;
            app.run(shutdown_signal()).await
        }
        Command::Migrate(db) => {
            let pool = puente::db::connect(db.database_url.expose(), 2)
                .await
                .context("connecting to PostgreSQL")?;
            puente::db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Links { config, command } => puente::cli::run_links(*config, command).await,
        Command::Events { config, command } => puente::cli::run_events(*config, command).await,
        Command::Openapi => {
            println!("{}", puente::http::openapi::document_json()?);
            Ok(())
        }
        Command::Healthcheck(args) => {
            if let Err(e) = puente::cli::healthcheck(&args).await {
                eprintln!("not ready: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Admin { db, command } => {
            let pool = puente::db::connect(db.database_url.expose(), 2)
                .await
                .context("connecting to PostgreSQL")?;
            puente::db::migrate(&pool).await?;
            puente::cli::run_admin(&pool, command).await
        }
    }
}
