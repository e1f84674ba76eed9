//! One module per command group, one file per command (`commands/<group>/<verb>.rs`).

pub mod ecs;
pub mod setup;

use std::process::ExitCode;

use crate::args::{Cli, Command, EcsCommand, SetupCommand, SetupEcsCommand};

/// Runs the command `args` names.
pub fn dispatch(args: Cli) -> anyhow::Result<ExitCode> {
    let mode = args.output;
    match args.command {
        Command::Setup {
            what: SetupCommand::Ecs { what },
        } => match what {
            SetupEcsCommand::Auth(a) => setup::ecs_auth::run(&a),
            SetupEcsCommand::Ssl(a) => setup::ecs_ssl::run(&a, mode),
            SetupEcsCommand::Cert { what } => setup::cert::run(what, mode),
        },
        Command::Ecs { what } => match what {
            EcsCommand::Server(a) => ecs::server::run(&a),
            EcsCommand::Load(a) => ecs::load::run(&a),
            EcsCommand::Unload(a) => ecs::unload::run(&a),
            EcsCommand::List(a) => ecs::list::run_list(&a, mode),
            EcsCommand::Profile(a) => ecs::list::run_profile(&a, mode),
            EcsCommand::Env(a) => ecs::env::run(&a),
            EcsCommand::Ssh(a) => ecs::ssh::run(&a),
            EcsCommand::Docker { what } => ecs::docker::run(what),
        },
    }
}

/// A current-thread runtime for commands that make a few network calls.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}
