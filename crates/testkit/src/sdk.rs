//! Runners for the real AWS SDKs as credential clients: botocore and awscli v1 from the
//! venv, and the AWS SDK for Rust through the `rust-sdk-probe` binary. Each child starts
//! from an empty environment (PATH, a throwaway HOME, then the caller's variables), so the
//! machine's own ~/.aws and AWS_* variables never leak in.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::paths::target_profile_dir;
use crate::venv::{aws_bin, python, require_venv};

/// Prints botocore's resolved credentials as one JSON line; errors as `Type: message`.
const BOTOCORE_FETCH: &str = r#"
import json, sys
import botocore.session
try:
    creds = botocore.session.get_session().get_credentials()
    if creds is None:
        print("NoCredentials: botocore found no credentials", file=sys.stderr)
        sys.exit(1)
    frozen = creds.get_frozen_credentials()
except Exception as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps({
    "AccessKeyId": frozen.access_key,
    "SecretAccessKey": frozen.secret_key,
    "Token": frozen.token,
    "Method": creds.method,
}))
"#;

/// Resolves credentials with botocore's default chain under `env`.
/// Ok: `{AccessKeyId, SecretAccessKey, Token, Method}` (Method is e.g. `container-role`);
/// Err: botocore's error text.
pub fn python_sdk_fetch(env: &[(&str, &str)]) -> Result<Value, String> {
    python_sdk_fetch_in(&[], env)
}

/// [`python_sdk_fetch`] run through `wrapper` (e.g. `["ip", "netns", "exec", NS]`).
pub fn python_sdk_fetch_in(wrapper: &[&str], env: &[(&str, &str)]) -> Result<Value, String> {
    require_venv();
    let python = python();
    let cmd = wrapped(wrapper, python.as_os_str(), &["-c", BOTOCORE_FETCH]);
    json_line(run_clean(cmd, env))
}

/// Runs `aws <args>` (awscli v1) under `env`, e.g. `["configure", "list"]`.
pub fn aws_cli(env: &[(&str, &str)], args: &[&str]) -> Output {
    aws_cli_in(&[], env, args)
}

/// [`aws_cli`] run through `wrapper`.
pub fn aws_cli_in(wrapper: &[&str], env: &[(&str, &str)], args: &[&str]) -> Output {
    require_venv();
    let aws = aws_bin();
    run_clean(wrapped(wrapper, aws.as_os_str(), args), env)
}

/// `target/<profile>/rust-sdk-probe`; fails the test if `scripts/test` has not built it.
pub fn rust_sdk_probe_path() -> PathBuf {
    let path = target_profile_dir().join("rust-sdk-probe");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, or `cargo build -p testkit --bins` first",
        path.display()
    );
    path
}

/// Resolves credentials with the AWS SDK for Rust's default chain under `env`.
/// Ok: `{AccessKeyId, SecretAccessKey, SessionToken, Expiration}`; Err: the error chain.
pub fn rust_sdk_fetch(env: &[(&str, &str)]) -> Result<Value, String> {
    rust_sdk_fetch_in(&[], env)
}

/// [`rust_sdk_fetch`] run through `wrapper`.
pub fn rust_sdk_fetch_in(wrapper: &[&str], env: &[(&str, &str)]) -> Result<Value, String> {
    let probe = rust_sdk_probe_path();
    json_line(run_clean(wrapped(wrapper, probe.as_os_str(), &[]), env))
}

/// `program args` itself, or `wrapper[0] wrapper[1..] program args`.
fn wrapped(wrapper: &[&str], program: &std::ffi::OsStr, args: &[&str]) -> Command {
    match wrapper.split_first() {
        None => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program).args(args);
            cmd
        }
    }
}

/// Runs `cmd` with an empty environment plus PATH, a temporary HOME and `env`.
fn run_clean(mut cmd: Command, env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("temp HOME");
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    cmd.output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()))
}

/// Parses a successful run's stdout as JSON; a failed run becomes its stderr.
fn json_line(out: Output) -> Result<Value, String> {
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
