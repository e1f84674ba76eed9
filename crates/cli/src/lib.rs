//! The `aws-sso` command-line tool as a library, so tests drive it in-process: argument
//! definitions, configuration, the SecureStore items it keeps, and one module per command.

pub mod args;
pub mod certd_client;
pub mod commands;
pub mod config;
pub mod items;
pub mod logging;
pub mod out;
pub mod profile;

use std::process::ExitCode;

/// Runs one parsed command line.
pub fn run(args: args::Cli) -> anyhow::Result<ExitCode> {
    // Every TLS user in the process shares the one provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    commands::dispatch(args)
}
