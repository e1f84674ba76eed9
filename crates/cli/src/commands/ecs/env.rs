//! `aws-sso ecs env`: the shell exports an SDK needs, with the token in a file (0600, no
//! trailing newline) rather than in the environment.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::args::EnvArgs;
use crate::config::Config;
use crate::{items, out};

/// Name of the token file.
pub const TOKEN_FILE: &str = "ecs-token";

/// Runs the command.
pub fn run(args: &EnvArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    let store = config.open_store()?;
    let key = items::serving_key(store.as_ref())?;
    let token = items::bearer_token(store.as_ref())?;
    drop(store);
    let (host, port) = split_host_port(&args.server.server)?;
    let (scheme, host) = match &key {
        Some(k) => {
            let info = pki::cert_info(k.leaf())?;
            let name = info
                .dns_names
                .first()
                .or(info.ip_addresses.first())
                .cloned();
            ("https", name.unwrap_or(host))
        }
        None => ("http", host),
    };
    let path = ecs::path_for(args.slot.as_deref());
    let mut lines = vec![format!(
        "export AWS_CONTAINER_CREDENTIALS_FULL_URI={}",
        shell_quote(&format!("{scheme}://{host}:{port}{path}"))
    )];
    match token {
        Some(t) => {
            let file = token_file_path(&config)?;
            securestore::write_private_file(&file, t.header_value().expose_secret().as_bytes())
                .with_context(|| format!("cannot write the token file {}", file.display()))?;
            lines.push(format!(
                "export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={}",
                shell_quote(&file.display().to_string())
            ));
        }
        None => out::note("warning: no bearer token is stored (aws-sso setup ecs auth --generate)"),
    }
    lines.push("unset AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned());
    out::line(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Where the token file goes: `$XDG_RUNTIME_DIR/aws-sso/` (a per-user tmpfs) when set,
/// else the config directory.
pub fn token_file_path(config: &Config) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("aws-sso"),
        None => config.dir.clone(),
    };
    Ok(dir.join(TOKEN_FILE))
}

fn split_host_port(server: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = server
        .rsplit_once(':')
        .with_context(|| format!("--server {server:?}: expected HOST:PORT"))?;
    let port = port
        .parse()
        .with_context(|| format!("--server {server:?}: bad port"))?;
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
    ))
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/:._-%@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quoting_and_parsing() {
        assert_eq!(shell_quote("https://x:4144/"), "https://x:4144/");
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(
            split_host_port("127.0.0.1:4144").unwrap(),
            ("127.0.0.1".into(), 4144)
        );
        assert_eq!(split_host_port("[::1]:80").unwrap(), ("::1".into(), 80));
        assert!(split_host_port("nohost").is_err());
    }
}
