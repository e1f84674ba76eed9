//! `aws-sso ecs ssh <host> [ssh args...]`: `ssh` to a host with a reverse forward of the
//! ECS server, so that SDKs on that host reach it at `https://<name>:<remote-port>/`.
//!
//! The forward is `-R 127.0.0.1:<remote-port>:127.0.0.1:<port>` with
//! `ExitOnForwardFailure=yes`, and both addresses are spelled out on purpose:
//! - remote: with the plain `-R <port>:...` form, sshd binds every loopback address of the
//!   host (127.0.0.1 and ::1) and reports success when any one bind works. A user there who
//!   already listens on 127.0.0.1:<port> keeps it, the forward takes only ::1, ssh carries
//!   on, and SDKs that resolve the name to 127.0.0.1 (all that the certificate service
//!   publishes) connect to that user. Asking for 127.0.0.1 makes the squatted port a
//!   forward failure, and `ExitOnForwardFailure` makes that an exit with status 255.
//! - local: `localhost` resolves to ::1 first on most systems, where a local user could
//!   listen; the ECS server listens on 127.0.0.1.
//!
//! Nothing here reads a secret: the bearer token never passes through this command.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::args::SshArgs;
use crate::out;

/// The environment variable naming the ssh program (default `ssh`).
pub const SSH_PROGRAM_ENV: &str = "AWS_SSO_SSH";

/// How long the reachability check of the local server waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// ssh's exit status when the connection or a forward fails (else it is the remote
/// command's own).
const SSH_FAILED: i32 = 255;

/// Runs the command.
pub fn run(args: &SshArgs) -> anyhow::Result<ExitCode> {
    if args.host.is_empty() || args.host.starts_with('-') {
        bail!(
            "{:?} is not a host: give the destination first, then ssh's own options",
            args.host
        );
    }
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    if let Err(e) = TcpStream::connect_timeout(&local, CONNECT_TIMEOUT) {
        out::note(&format!(
            "warning: no ECS server answers on {local} ({e}): SDKs on {} will get no \
             credentials through the tunnel until you start one (aws-sso ecs server, or \
             aws-sso ecs docker start), or give its port with --port.",
            args.host
        ));
    }
    let program = std::env::var_os(SSH_PROGRAM_ENV).unwrap_or_else(|| "ssh".into());
    let forward = forward_spec(args.remote_port, args.port);
    out::note(&format!(
        "aws-sso: forwarding 127.0.0.1:{} on {} to the ECS server on {local} (ssh -R {forward})",
        args.remote_port, args.host
    ));
    let status = Command::new(&program)
        .args(ssh_args(&forward, &args.host, &args.ssh_args))
        .status()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    if status.code() == Some(SSH_FAILED) {
        out::note(&squat_explanation(&args.host, args.remote_port));
    }
    Ok(exit_code(status))
}

/// `127.0.0.1:<remote>:127.0.0.1:<local>`.
fn forward_spec(remote_port: u16, local_port: u16) -> String {
    format!("127.0.0.1:{remote_port}:127.0.0.1:{local_port}")
}

/// ssh's arguments: ours, the destination, then the user's, untouched (OpenSSH reads
/// options after the destination too, and the rest is the remote command).
fn ssh_args(forward: &str, host: &str, extra: &[String]) -> Vec<String> {
    let mut all: Vec<String> = ["-o", "ExitOnForwardFailure=yes", "-R", forward, host]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    all.extend(extra.iter().cloned());
    all
}

/// What a 255 from ssh may mean for the forward, and what to do.
fn squat_explanation(host: &str, port: u16) -> String {
    format!(
        "aws-sso: ssh exited with status 255: the connection failed, or the reverse forward \
         did. If ssh said \"remote port forwarding failed for listen port {port}\", something \
         on {host} already listens on 127.0.0.1:{port}, possibly another user squatting the \
         port to steal credentials: do not point SDKs on that host at it. Check with \
         `ss -ltnp` there (as root to see every owner), and pick a free port with \
         --remote-port."
    )
}

/// ssh's exit code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ssh_arguments_bind_the_remote_loopback_explicitly_and_pass_the_rest_through() {
        let extra = vec!["-p".to_owned(), "2222".to_owned(), "-N".to_owned()];
        assert_eq!(
            ssh_args(&forward_spec(4144, 5000), "me@box", &extra),
            [
                "-o",
                "ExitOnForwardFailure=yes",
                "-R",
                "127.0.0.1:4144:127.0.0.1:5000",
                "me@box",
                "-p",
                "2222",
                "-N"
            ]
        );
    }

    #[test]
    fn ssh_failure_explains_a_squatted_port() {
        let text = squat_explanation("box", 4144);
        for part in [
            "something on box already listens on 127.0.0.1:4144",
            "squatting",
            "do not point SDKs on that host at it",
            "ss -ltnp",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }

    #[test]
    fn ssh_exit_codes_propagate() {
        use std::os::unix::process::ExitStatusExt;
        let code = |raw| format!("{:?}", exit_code(std::process::ExitStatus::from_raw(raw)));
        assert_eq!(code(255 << 8), format!("{:?}", ExitCode::from(255)));
        assert_eq!(code(3 << 8), format!("{:?}", ExitCode::from(3)));
        assert_eq!(code(15), format!("{:?}", ExitCode::from(143)));
    }
}
