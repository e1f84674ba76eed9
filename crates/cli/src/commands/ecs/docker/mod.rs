//! `aws-sso ecs docker start|stop`: the ECS server (`ecs server`, see `server.rs`) in a
//! container run by docker or podman, from an image built here out of
//! `containers/Containerfile` and a statically linked aws-sso.
//!
//! The secrets (bearer token, certificate, key) never enter the image, a command line or
//! the container's environment: they travel in a file in a bind-mounted directory, which
//! the server deletes as soon as it has read it, and `start` removes that directory before
//! it returns. On the host the file sits in a 0700 directory only its owner can enter;
//! inside, it is readable and deletable by "other", the container's unprivileged user
//! (65534), whatever host uid the engine maps that user to (rootful or rootless).

use std::fs::{self, DirBuilder, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustls::pki_types::CertificateDer;
use secrecy::{ExposeSecret, SecretString};

use crate::args::{DockerCommand, DockerStartArgs, DockerStopArgs, Engine, ListenArgs};
use crate::commands::ecs::server::{SecretsFile, check_validity};
use crate::config::Config;
use crate::{items, out};

mod engine;
mod handover;
mod image;

use engine::*;
use handover::*;
use image::*;

/// The container's name unless `--name` says otherwise.
pub const CONTAINER_NAME: &str = "aws-sso-ecs";
/// The image's name; its tag is `<version>-<12 hex digits of a SHA-256 of the
/// Containerfile and the binary>`, so a new binary gets a new image.
pub const IMAGE_NAME: &str = "aws-sso-ecs";
/// How the image is built; its ENTRYPOINT reads `CONTAINER_RUN_DIR/SECRETS_FILE_NAME`.
const CONTAINERFILE: &str = include_str!("../../../../../../containers/Containerfile");
/// Where the hand-over directory is mounted in the container.
const CONTAINER_RUN_DIR: &str = "/run/aws-sso";
/// The secrets file's name in the hand-over directory.
const SECRETS_FILE_NAME: &str = "secrets.json";
/// The port the server listens on inside the container.
const CONTAINER_PORT: u16 = 4144;
/// How long `start` waits for the server to take its secrets and answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The environment variable that holds the file store's password: engines never need it.
const FILE_PASSWORD_ENV: &str = "AWS_SSO_FILE_PASSWORD";

/// Runs the command.
pub fn run(what: DockerCommand) -> anyhow::Result<ExitCode> {
    match what {
        DockerCommand::Start(args) => start(&args),
        DockerCommand::Stop(args) => stop(&args),
    }
}

fn start(args: &DockerStartArgs) -> anyhow::Result<ExitCode> {
    let name = &args.container.name;
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot find the running aws-sso binary")?,
    };
    check_static_binary(&binary)?;
    let engine = EngineCli::select(args.container.engine)?;
    match engine.container_state(name)? {
        ContainerState::Running => bail!(
            "the container {name} is already running: run `aws-sso ecs docker stop{}` first",
            name_flag(name)
        ),
        ContainerState::Stopped => {
            tracing::debug!(container = %name, "removing the stopped container of an earlier run");
            engine.run(&["rm", name])?;
        }
        ContainerState::Absent => {}
    }
    let secrets = HostSecrets::read(&args.listen)?;
    let image = image_tag(&binary)?;
    if engine.ensure_image(&image, &binary)? {
        out::note(&format!("Built image {image} with {}.", engine.program));
    }

    let parent = match &args.handover_dir {
        Some(dir) => dir.clone(),
        None => default_handover_parent(),
    };
    let handover = Handover::create(&parent, &secrets)?;
    let publish = match args.listen.bind_ip {
        IpAddr::V4(ip) => format!("{ip}:{}:{CONTAINER_PORT}", args.listen.port),
        IpAddr::V6(ip) => format!("[{ip}]:{}:{CONTAINER_PORT}", args.listen.port),
    };
    let volume = format!("{}:{CONTAINER_RUN_DIR}:Z", handover.mount_source()?);
    let mut run_args = vec![
        "run",
        "--detach",
        "--name",
        name,
        "--publish",
        &publish,
        "--volume",
        &volume,
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        &image,
    ];
    if args.listen.disable_auth {
        run_args.push("--disable-auth");
    }
    if args.listen.disable_ssl {
        run_args.push("--disable-ssl");
    }
    let id = match engine.run(&run_args) {
        Ok(stdout) => stdout.trim().to_owned(),
        Err(err) => {
            // An engine may leave a created but unstarted container behind.
            let _ = engine.output(&["rm", "--force", name]);
            return Err(err);
        }
    };
    let short_id: String = id.chars().take(12).collect();

    let url = secrets.url(&args.listen);
    if let Err(err) = wait_until_ready(&engine, name, &handover, &url, &secrets) {
        let logs = engine.logs(name);
        if let Err(e) = engine.run(&["rm", "--force", name]) {
            tracing::warn!(error = %format!("{e:#}"), "cannot remove the failed container");
        }
        drop(handover);
        bail!(
            "{err:#}; the container {name} was stopped and removed. Its logs:\n{}",
            secrets.redact(&logs)
        );
    }
    handover.remove()?;
    out::note(&format!(
        "Started container {name} ({short_id}) with {} from image {image}.",
        engine.program
    ));
    out::line(&format!("ECS server: {url}"))?;
    out::note(&format!(
        "Load credentials with `aws-sso ecs load --profile NAME --server {}`, and point SDKs at it with `eval \"$(aws-sso ecs env --server {})\"`.",
        host_port(&args.listen),
        host_port(&args.listen)
    ));
    Ok(ExitCode::SUCCESS)
}

fn stop(args: &DockerStopArgs) -> anyhow::Result<ExitCode> {
    let name = &args.container.name;
    let engine = EngineCli::select(args.container.engine)?;
    match engine.container_state(name)? {
        ContainerState::Absent => {
            out::note(&format!(
                "No container named {name} exists ({}): nothing to stop.",
                engine.program
            ));
            return Ok(ExitCode::SUCCESS);
        }
        ContainerState::Running => {
            engine.run(&["stop", name])?;
        }
        ContainerState::Stopped => {}
    }
    engine.run(&["rm", name])?;
    out::note(&format!(
        "Stopped and removed container {name} ({}).",
        engine.program
    ));
    Ok(ExitCode::SUCCESS)
}

fn name_flag(name: &str) -> String {
    if name == CONTAINER_NAME {
        String::new()
    } else {
        format!(" --name {name}")
    }
}

/// `host:port` to reach the published server from this host.
fn host_port(listen: &ListenArgs) -> String {
    match listen.bind_ip {
        IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", listen.port),
        IpAddr::V4(ip) => format!("{ip}:{}", listen.port),
        IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", listen.port),
        IpAddr::V6(ip) => format!("[{ip}]:{}", listen.port),
    }
}

/// `$XDG_RUNTIME_DIR` (a per-user tmpfs) when set, else the temp directory.
fn default_handover_parent() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// Polls until the server has deleted the secrets file and answers `/healthcheck`.
fn wait_until_ready(
    engine: &EngineCli,
    name: &str,
    handover: &Handover,
    url: &str,
    secrets: &HostSecrets,
) -> anyhow::Result<()> {
    let client = ecs::EcsClient::new(url, None, secrets.leaf.clone())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last = String::from("the secrets file was not read");
    loop {
        if handover.secrets_taken()? {
            let health = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(1), client.health()).await
            });
            match health {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last = format!("{url}healthcheck: {e}"),
                Err(_) => last = format!("{url}healthcheck did not answer"),
            }
        }
        if engine.container_state(name)? != ContainerState::Running {
            bail!("the server container exited while starting ({last})");
        }
        if Instant::now() >= deadline {
            bail!(
                "the server container was not ready within {}s ({last})",
                START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_containerfile_runs_the_server_on_the_mounted_secrets() {
        assert!(CONTAINERFILE.contains("FROM scratch"));
        assert!(CONTAINERFILE.contains(&format!("EXPOSE {CONTAINER_PORT}")));
        let secrets_file = format!("{CONTAINER_RUN_DIR}/{SECRETS_FILE_NAME}");
        assert!(CONTAINERFILE.contains(&format!("\"--secrets-file\", \"{secrets_file}\"")));
        assert!(CONTAINERFILE.contains(&format!("\"--port\", \"{CONTAINER_PORT}\"")));
    }

    #[test]
    fn the_server_is_reached_on_loopback_when_published_on_every_address() {
        let listen = |ip: &str| ListenArgs {
            bind_ip: ip.parse().unwrap(),
            port: 4144,
            disable_auth: false,
            disable_ssl: false,
        };
        assert_eq!(host_port(&listen("0.0.0.0")), "127.0.0.1:4144");
        assert_eq!(host_port(&listen("::")), "[::1]:4144");
        assert_eq!(host_port(&listen("192.0.2.1")), "192.0.2.1:4144");
        assert_eq!(host_port(&listen("::1")), "[::1]:4144");
    }
}
