//! `aws-sso setup ecs auth`: store, generate or delete the ECS server's bearer token.

use std::process::ExitCode;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::args::AuthArgs;
use crate::config::Config;
use crate::items::ECS_BEARER_TOKEN;
use crate::out;

/// Runs the command.
pub fn run(args: &AuthArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    if args.delete {
        let store = config.open_store()?;
        if store.delete(ECS_BEARER_TOKEN)? {
            out::note("Deleted the ECS server's bearer token.");
        } else {
            out::note("No bearer token was stored.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (token, generated) = match &args.bearer_token {
        Some(t) => (SecretString::from(t.clone()), false),
        None => (generate_token()?, true),
    };
    // Check before opening the store so a bad token never prompts for a password.
    ecs::BearerToken::new(&token).context("refusing the bearer token")?;
    let store = config.open_store()?;
    store.set(ECS_BEARER_TOKEN, &token)?;
    if generated {
        out::note("Generated and stored a new bearer token; it is printed once, here:");
        out::line(token.expose_secret())?;
    } else {
        out::note(&format!("Stored the bearer token in {}.", store.describe()));
    }
    out::note("Restart `aws-sso ecs server` and run `eval \"$(aws-sso ecs env)\"` in your shells.");
    Ok(ExitCode::SUCCESS)
}

/// 256 random bits from the crypto provider, hex-encoded.
pub fn generate_token() -> anyhow::Result<SecretString> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(bytes.as_mut())
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(SecretString::from(hex::encode(&bytes[..])))
}
