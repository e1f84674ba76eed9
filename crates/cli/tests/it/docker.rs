//! `aws-sso ecs docker start|stop` with a real podman: the server in a container answers
//! with the loaded credentials, and its secrets reach the container and nothing else (not
//! the image, the container's configuration, its logs, or the hand-over directory).
//!
//! Needs podman (`apt-get install -y podman runc`) and a statically linked aws-sso in
//! `AWS_SSO_STATIC_BIN` (see [`static_bin`]).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::{Run, User};

/// The statically linked aws-sso the image is built from.
fn static_bin() -> PathBuf {
    let Some(path) = std::env::var_os("AWS_SSO_STATIC_BIN") else {
        panic!(
            "AWS_SSO_STATIC_BIN is not set: the container test needs a statically linked aws-sso. Build one and export its path:\n  RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p cli --bin aws-sso\n  export AWS_SSO_STATIC_BIN=$PWD/target/x86_64-unknown-linux-gnu/debug/aws-sso"
        )
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "AWS_SSO_STATIC_BIN={} is not a file",
        path.display()
    );
    path
}

/// podman's configuration: `$CONTAINERS_CONF`, else one written here with what podman
/// needs in this sandbox (no rlimit changes, runc).
struct Podman {
    conf: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Podman {
    fn new() -> Self {
        if let Some(conf) = std::env::var_os("CONTAINERS_CONF") {
            return Podman {
                conf: conf.into(),
                _dir: None,
            };
        }
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n",
        )
        .unwrap();
        Podman {
            conf,
            _dir: Some(dir),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let out: Output = Command::new("podman")
            .env("CONTAINERS_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run podman ({e}): apt-get install -y podman runc"));
        out.into()
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(r.ok, "podman {args:?} failed: {}", r.stderr);
        r.stdout
    }

    /// `aws-sso <args>` in `user`'s home, with this podman configuration.
    fn aws_sso(&self, user: &User, args: &[&str]) -> Run {
        let mut cmd = user.command(args);
        cmd.env("CONTAINERS_CONF", &self.conf);
        cmd.output().unwrap().into()
    }

    fn container_listed(&self, name: &str) -> bool {
        let names = self.ok(&["ps", "--all", "--format", "{{.Names}}"]);
        names.lines().any(|n| n == name)
    }
}

/// Removes the container, and the image when this test built it, even when the test fails.
struct Cleanup<'a> {
    podman: &'a Podman,
    name: String,
    built_image: Option<String>,
}

impl Cleanup<'_> {
    /// Remembers the image `docker start` says it built (not one it found, which another
    /// test may be using).
    fn note_built_image(&mut self, start_stderr: &str) {
        self.built_image = start_stderr.lines().find_map(|l| {
            l.strip_prefix("Built image ")
                .and_then(|rest| rest.split_once(' '))
                .map(|(image, _)| image.to_owned())
        });
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.podman.run(&["rm", "--force", &self.name]);
        if let Some(image) = &self.built_image {
            let _ = self.podman.run(&["rmi", image]);
        }
    }
}

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("aws-sso-test-{}-{nanos}", std::process::id())
}

/// A throwaway P-256 certificate for localhost and 127.0.0.1: (cert.pem, key.pem).
fn openssl_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-days", "2", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// `curl` of `url` trusting `cert`, with the header read from a file (not the command
/// line): (HTTP status, body).
fn curl(url: &str, cert: &Path, auth_header: &str, dir: &Path) -> (String, String) {
    let header_file = dir.join("auth-header");
    std::fs::write(&header_file, format!("Authorization: {auth_header}\n")).unwrap();
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .arg("--cacert")
        .arg(cert)
        .arg("--header")
        .arg(format!("@{}", header_file.display()))
        .args(["--write-out", "\n%{http_code}", url])
        .output()
        .unwrap();
    std::fs::remove_file(&header_file).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.to_owned(), body.to_owned())
}

fn assert_leaks_none(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} contains a secret ({} characters)",
            secret.len()
        );
    }
}

#[test]
fn docker_start_serves_in_podman_and_the_secrets_stay_out_of_sight() {
    let binary = static_bin();
    let podman = Podman::new();
    let user = User::new();
    let dir = tempfile::tempdir().unwrap();
    let handover = dir.path().join("handover");
    std::fs::create_dir(&handover).unwrap();
    let name = unique_name();
    let port = testkit::free_port().to_string();
    let mut cleanup = Cleanup {
        podman: &podman,
        name: name.clone(),
        built_image: None,
    };

    let (cert, key) = openssl_cert(dir.path());
    let token = user.generate_token();
    let mut args = vec!["setup", "ecs", "ssl", "--certificate"];
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    args.extend([cert_s, "--private-key", key_s]);
    user.ok(&args);
    let (akid, secret_key, session_token) = user.profile("p");

    let start = podman.aws_sso(
        &user,
        &[
            "ecs",
            "docker",
            "start",
            "--engine",
            "podman",
            "--port",
            &port,
            "--name",
            &name,
            "--binary",
            binary.to_str().unwrap(),
            "--handover-dir",
            handover.to_str().unwrap(),
        ],
    );
    cleanup.note_built_image(&start.stderr);
    assert!(start.ok, "docker start failed: {}", start.stderr);
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(start.stdout.trim(), format!("ECS server: {url}"));
    assert!(
        start
            .stderr
            .contains(&format!("Started container {name} (")),
        "{}",
        start.stderr
    );
    let left: Vec<_> = std::fs::read_dir(&handover).unwrap().collect();
    assert!(
        left.is_empty(),
        "the hand-over directory is emptied: {left:?}"
    );

    let server = format!("127.0.0.1:{port}");
    let load = podman.aws_sso(
        &user,
        &["ecs", "load", "--profile", "p", "--server", &server],
    );
    assert!(load.ok, "ecs load failed: {}", load.stderr);
    let (status, body) = curl(&url, &cert, &format!("Bearer {token}"), dir.path());
    assert_eq!(status, "200", "{body}");
    let creds: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(creds["AccessKeyId"], akid.as_str(), "{body}");
    assert_eq!(creds["SecretAccessKey"], secret_key.as_str());
    let (status, _) = curl(&url, &cert, "Bearer wrong-token", dir.path());
    assert_eq!(status, "403");

    // Neither the image nor the container's configuration or logs hold a secret.
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let mut secrets = vec![token.as_str(), secret_key.as_str(), session_token.as_str()];
    secrets.extend(
        key_pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----")),
    );
    let inspect = podman.ok(&["inspect", &name]);
    assert!(inspect.contains("\"User\": \"65534:65534\""), "{inspect}");
    assert_leaks_none("podman inspect", &inspect, &secrets);
    let image = podman
        .ok(&["inspect", "--format", "{{.ImageName}}", &name])
        .trim()
        .to_owned();
    assert!(image.contains("aws-sso-ecs:"), "{image}");
    let image_inspect = podman.ok(&["image", "inspect", &image]);
    assert_leaks_none("podman image inspect", &image_inspect, &secrets);
    let history = podman.ok(&["history", "--no-trunc", &image]);
    assert_leaks_none("podman history", &history, &secrets);
    let logs = podman.run(&["logs", &name]);
    assert!(
        logs.stderr.contains("read and deleted the secrets file"),
        "{}",
        logs.stderr
    );
    assert_leaks_none("podman logs", &(logs.stdout + &logs.stderr), &secrets);

    let again = podman.aws_sso(
        &user,
        &[
            "ecs",
            "docker",
            "start",
            "--engine",
            "podman",
            "--name",
            &name,
            "--binary",
            binary.to_str().unwrap(),
        ],
    );
    assert!(!again.ok);
    assert!(
        again.stderr.contains(&format!(
            "is already running: run `aws-sso ecs docker stop --name {name}`"
        )),
        "{}",
        again.stderr
    );

    let stop = podman.aws_sso(&user, &["ecs", "docker", "stop", "--name", &name]);
    assert!(stop.ok, "docker stop failed: {}", stop.stderr);
    assert!(
        stop.stderr
            .contains(&format!("Stopped and removed container {name}")),
        "{}",
        stop.stderr
    );
    let addr: SocketAddr = server.parse().unwrap();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "the port no longer answers"
    );
    assert!(!podman.container_listed(&name));
    let stop = podman.aws_sso(&user, &["ecs", "docker", "stop", "--name", &name]);
    assert!(stop.ok, "{}", stop.stderr);
    assert!(stop.stderr.contains("nothing to stop"), "{}", stop.stderr);
}

#[test]
fn docker_start_refuses_a_dynamically_linked_binary() {
    let podman = Podman::new();
    let user = User::new();
    let name = unique_name();
    let port = testkit::free_port().to_string();
    let _cleanup = Cleanup {
        podman: &podman,
        name: name.clone(),
        built_image: None,
    };
    let dynamic = env!("CARGO_BIN_EXE_aws-sso");
    let r = podman.aws_sso(
        &user,
        &[
            "ecs", "docker", "start", "--engine", "podman", "--port", &port, "--name", &name,
            "--binary", dynamic,
        ],
    );
    assert!(!r.ok, "a dynamically linked binary is refused");
    assert!(
        r.stderr.contains(&format!(
            "{dynamic} is dynamically linked (it names an ELF interpreter)"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("RUSTFLAGS='-C target-feature=+crt-static' cargo build --release"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Building image"), "{}", r.stderr);
    assert!(!podman.container_listed(&name));
}

/// A static binary that is not aws-sso (catatonit, which podman's package recommends) makes
/// the container exit at once: `start` fails with its logs and leaves nothing behind.
#[test]
fn a_container_that_dies_is_reported_and_cleaned_up() {
    let catatonit = Path::new("/usr/bin/catatonit");
    assert!(
        catatonit.is_file(),
        "this test needs /usr/bin/catatonit, a static binary: apt-get install -y catatonit"
    );
    let podman = Podman::new();
    let user = User::new();
    user.generate_token();
    let dir = tempfile::tempdir().unwrap();
    let name = unique_name();
    let port = testkit::free_port().to_string();
    let mut cleanup = Cleanup {
        podman: &podman,
        name: name.clone(),
        built_image: None,
    };
    let r = podman.aws_sso(
        &user,
        &[
            "ecs",
            "docker",
            "start",
            "--engine",
            "podman",
            "--port",
            &port,
            "--name",
            &name,
            "--binary",
            "/usr/bin/catatonit",
            "--handover-dir",
            dir.path().to_str().unwrap(),
        ],
    );
    cleanup.note_built_image(&r.stderr);
    assert!(!r.ok, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("the server container exited while starting"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "the container {name} was stopped and removed. Its logs:"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("catatonit"), "its logs: {}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "the hand-over directory is removed: {left:?}"
    );
    assert!(!podman.container_listed(&name));
}
