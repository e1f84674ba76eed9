//! `aws-sso ecs load`: resolve an AWS profile's credentials and push them to the server.

use std::process::ExitCode;

use crate::args::LoadArgs;
use crate::commands::block_on;
use crate::config::Config;
use crate::{out, profile};

/// Runs the command.
pub fn run(args: &LoadArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    let store = config.open_store()?;
    let client = super::client_for(store.as_ref(), &args.server.server)?;
    drop(store);
    let slot = args.slotted.then_some(args.profile.as_str());
    block_on(async {
        let req = profile::resolve(&args.profile).await?;
        client.load(slot, &req).await?;
        let akid = req
            .creds
            .as_ref()
            .map(|c| c.access_key_id.clone())
            .unwrap_or_default();
        let expiry = req.creds.as_ref().map_or(0, |c| c.expiration);
        let expiry = if expiry == 0 {
            "no expiry".to_owned()
        } else {
            time::OffsetDateTime::from_unix_timestamp(expiry / 1000)
                .map(|t| format!("expires {}", wire::ecs::rfc3339_z(t)))
                .unwrap_or_default()
        };
        let target = match slot {
            Some(p) => format!("slot {p:?}"),
            None => "the default credentials".to_owned(),
        };
        out::note(&format!(
            "Loaded profile {:?} ({akid}, {expiry}) as {target} of {}",
            args.profile,
            client.base_url()
        ));
        anyhow::Ok(())
    })??;
    Ok(ExitCode::SUCCESS)
}
