//! Logging setup: tracing to stderr, level from `--log-level`, `AWS_SSO_LOG`, or `warn`
//! (`info` for the server). No secret is ever passed to a log macro anywhere in the code.

use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command, EcsCommand};

/// Installs the global subscriber.
pub fn init(args: &Cli) {
    let default = match &args.command {
        Command::Ecs {
            what: EcsCommand::Server(_),
        } => "info",
        _ => "warn",
    };
    let filter = args
        .log_level
        .clone()
        .or_else(|| std::env::var("AWS_SSO_LOG").ok())
        .unwrap_or_else(|| default.to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
