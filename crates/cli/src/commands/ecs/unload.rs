//! `aws-sso ecs unload`: remove the default credentials, one slot, or every slot.

use std::process::ExitCode;

use crate::args::UnloadArgs;
use crate::commands::block_on;
use crate::config::Config;
use crate::out;

/// Runs the command.
pub fn run(args: &UnloadArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    let store = config.open_store()?;
    let client = super::client_for(store.as_ref(), &args.server.server)?;
    drop(store);
    block_on(async {
        if args.all {
            client.unload_all_slots().await?;
            out::note("Unloaded every slot.");
        } else {
            client.unload(args.profile.as_deref()).await?;
            match &args.profile {
                Some(p) => out::note(&format!("Unloaded slot {p:?}.")),
                None => out::note("Unloaded the default credentials."),
            }
        }
        anyhow::Ok(())
    })??;
    Ok(ExitCode::SUCCESS)
}
