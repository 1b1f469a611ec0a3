//! Entry point: parse the command line, load configuration, start logging, dispatch.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use cofre::cli::dispatch::run_operator_command;
use cofre::cli::run::run_dsm;
use cofre::cli::{Cli, Command};
use cofre::{App, Config, clock::SystemClock, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The pipeline client needs no server configuration.
    if let Some(Command::Dsm(command)) = cli.command {
        return match run_dsm(command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cofre: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cofre: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // Exits at once, not through the runtime's drop: that would wait for any blocking
            // task still stuck on the store (an fsync on a hung disk) after the bounded flush.
            let code = match serve(config).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("cofre: {e}");
                    1
                }
            };
            std::process::exit(code);
        }
        // The health probe needs no store and no key: only where the server listens.
        Command::Ready => cofre::cli::ready::probe(&config).await,
        other => run_operator_command(config, other).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cofre: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = App::build(config, Arc::new(SystemClock)).await?;
    let scheme = if app.is_tls() { "https" } else { "http" };
    tracing::info!(address = %app.local_addr(), "cofre listening");
    eprintln!("cofre: listening on {scheme}://{}", app.local_addr());
    let sessions = app.state().core.config.proxy_base();
    eprintln!("cofre: session web proxy on {} (each session on its own host under {sessions})", app.proxy_addr());
    if let Some(ssh) = app.ssh_addr() {
        eprintln!("cofre: SSH gateway on {ssh} (ssh -p {} TICKET@host)", ssh.port());
    }
    if let Some(note) = app.state().core.config.local_links_note() {
        tracing::warn!("{note}");
        eprintln!("cofre: {note}");
    }
    app.run_until_signal().await?;
    Ok(())
}
