//! `aws-sso ecs list` and `aws-sso ecs profile`: what the server holds, without secrets.

use std::fmt::Write;
use std::process::ExitCode;

use wire::ecs::ProfileSummary;

use crate::args::{OutputMode, ServerArg};
use crate::commands::block_on;
use crate::config::Config;
use crate::out;

fn table(rows: &[ProfileSummary]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<40} {:<12} {:<24} EXPIRES",
        "PROFILE", "ACCOUNT", "ROLE"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<40} {:<12} {:<24} {}",
            r.profile_name, r.account_id, r.role_name, r.expires
        );
    }
    s
}

/// `aws-sso ecs list`.
pub fn run_list(args: &ServerArg, mode: OutputMode) -> anyhow::Result<ExitCode> {
    let store = Config::load()?.open_store()?;
    let client = super::client_for(store.as_ref(), &args.server)?;
    drop(store);
    let rows = block_on(client.list())??;
    if rows.is_empty() && mode == OutputMode::Text {
        out::note("No profiles are loaded in slots.");
        return Ok(ExitCode::SUCCESS);
    }
    out::value(mode, &rows, &table(&rows))?;
    Ok(ExitCode::SUCCESS)
}

/// `aws-sso ecs profile`.
pub fn run_profile(args: &ServerArg, mode: OutputMode) -> anyhow::Result<ExitCode> {
    let store = Config::load()?.open_store()?;
    let client = super::client_for(store.as_ref(), &args.server)?;
    drop(store);
    let row = block_on(client.profile())??;
    out::value(mode, &row, &table(std::slice::from_ref(&row)))?;
    Ok(ExitCode::SUCCESS)
}
