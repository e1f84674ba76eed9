//! `aws-sso`: hands AWS credentials to AWS SDKs through a local ECS credential server.
//!
//! `main` parses arguments, sets up logging and calls [`cli::run`]; errors are printed
//! once, with their chain, and turn into a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    cli::logging::init(&args);
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if cli::out::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            cli::out::error(&err);
            ExitCode::FAILURE
        }
    }
}
