//! `aws-sso-certd`: parses arguments, sets up logging, loads the config and serves.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The certificate service of aws-sso.
#[derive(Debug, Parser)]
#[command(name = "aws-sso-certd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API, the DNS server and the background jobs.
    Serve {
        /// The configuration file.
        #[arg(long, default_value = "certd.toml")]
        config: PathBuf,
    },
    /// Check a configuration file and print what it resolves to (no secrets).
    CheckConfig {
        /// The configuration file.
        #[arg(long, default_value = "certd.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("CERTD_LOG").unwrap_or_else(|_| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let result = match cli.command {
        Command::Serve { config } => certd::config::Config::load(&config).and_then(certd::run),
        Command::CheckConfig { config } => certd::config::Config::load(&config).map(|c| {
            tracing::info!(config = ?c, "configuration is valid");
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}
