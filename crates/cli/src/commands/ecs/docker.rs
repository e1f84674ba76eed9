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

/// The container's name unless `--name` says otherwise.
pub const CONTAINER_NAME: &str = "aws-sso-ecs";
/// The image's name; its tag is `<version>-<12 hex digits of a SHA-256 of the
/// Containerfile and the binary>`, so a new binary gets a new image.
pub const IMAGE_NAME: &str = "aws-sso-ecs";
/// How the image is built; its ENTRYPOINT reads `CONTAINER_RUN_DIR/SECRETS_FILE_NAME`.
const CONTAINERFILE: &str = include_str!("../../../../../containers/Containerfile");
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

/// The secrets `start` hands over, read from the SecureStore as `ecs server` would.
struct HostSecrets {
    token: Option<SecretString>,
    cert_pem: Option<SecretString>,
    key_pem: Option<SecretString>,
    /// The certificate the healthcheck trusts.
    leaf: Option<CertificateDer<'static>>,
}

impl HostSecrets {
    fn read(listen: &ListenArgs) -> anyhow::Result<Self> {
        let config = Config::load()?;
        let store = config.open_store()?;
        let token = if listen.disable_auth {
            None
        } else {
            // Checked first, the raw token is what the container gets.
            items::bearer_token(store.as_ref())?.context(
                "no bearer token is stored: run `aws-sso setup ecs auth --generate` (or start with --disable-auth)",
            )?;
            store.get(items::ECS_BEARER_TOKEN)?
        };
        let (mut cert_pem, mut key_pem, mut leaf) = (None, None, None);
        if !listen.disable_ssl {
            if let Some(key) = items::serving_key(store.as_ref())? {
                check_validity(&key, time::OffsetDateTime::now_utc())?;
                leaf = Some(key.leaf().clone());
                cert_pem = store.get(items::ECS_SSL_CERT)?;
                key_pem = store.get(items::ECS_SSL_KEY)?;
            } else {
                out::note(
                    "warning: no certificate is stored (aws-sso setup ecs ssl): the container serves plain HTTP",
                );
            }
        }
        Ok(HostSecrets {
            token,
            cert_pem,
            key_pem,
            leaf,
        })
    }

    fn url(&self, listen: &ListenArgs) -> String {
        let scheme = if self.leaf.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/", host_port(listen))
    }

    /// `text` with the token and every line of the key replaced, for logs shown to people.
    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if let Some(token) = &self.token {
            text = text.replace(token.expose_secret(), "[redacted]");
        }
        if let Some(key) = &self.key_pem {
            for line in key.expose_secret().lines().map(str::trim) {
                if line.len() >= 8 && !line.starts_with("-----") {
                    text = text.replace(line, "[redacted]");
                }
            }
        }
        text
    }
}

/// The hand-over directory: `<parent>/aws-sso-ecs-<random>/` (0700, so no other host user
/// reaches inside) holding `run/` (0703, mounted in the container) and in it the secrets
/// file (0604), so the container's user, "other" to both, can read and delete it.
/// Everything is removed on drop.
struct Handover {
    dir: PrivateDir,
}

impl Handover {
    fn create(parent: &Path, secrets: &HostSecrets) -> anyhow::Result<Self> {
        let dir = PrivateDir::create(parent, "aws-sso-ecs-")?;
        let handover = Handover { dir };
        let run = handover.run_dir();
        DirBuilder::new()
            .mode(0o700)
            .create(&run)
            .with_context(|| format!("cannot create {}", run.display()))?;
        let bytes = SecretsFile::encode(
            secrets.token.as_ref(),
            secrets.cert_pem.as_ref(),
            secrets.key_pem.as_ref(),
        )?;
        let file = run.join(SECRETS_FILE_NAME);
        securestore::write_private_file(&file, &bytes)?;
        // Widened only once written, and only behind the 0700 directory above.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o604))
            .with_context(|| format!("cannot chmod {}", file.display()))?;
        fs::set_permissions(&run, fs::Permissions::from_mode(0o703))
            .with_context(|| format!("cannot chmod {}", run.display()))?;
        tracing::debug!(dir = %handover.dir.path.display(), "secrets written for the container");
        Ok(handover)
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path.join("run")
    }

    /// The `-v` source, refused when `:` or `,` would break the flag.
    fn mount_source(&self) -> anyhow::Result<String> {
        let run = self.run_dir();
        match run.to_str() {
            Some(s) if !s.contains([':', ',']) => Ok(s.to_owned()),
            _ => bail!(
                "the hand-over directory {} cannot be mounted: its path must be UTF-8 without ':' or ','",
                run.display()
            ),
        }
    }

    /// Whether the container has deleted the secrets file.
    fn secrets_taken(&self) -> anyhow::Result<bool> {
        let file = self.run_dir().join(SECRETS_FILE_NAME);
        match fs::symlink_metadata(&file) {
            Ok(_) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e).with_context(|| format!("cannot check {}", file.display())),
        }
    }

    /// Removes the directory now, reporting a failure.
    fn remove(self) -> anyhow::Result<()> {
        self.dir.remove()
    }
}

/// A fresh directory, 0700, removed with its contents on drop.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn create(parent: &Path, prefix: &str) -> anyhow::Result<Self> {
        for _ in 0..8 {
            let path = parent.join(format!("{prefix}{}", random_hex(8)?));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
        bail!("cannot create a fresh directory in {}", parent.display())
    }

    fn remove(mut self) -> anyhow::Result<()> {
        let path = std::mem::take(&mut self.path);
        fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(hex::encode(buf))
}

/// Whether a container exists and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContainerState {
    Absent,
    Running,
    Stopped,
}

/// A container engine's command line.
#[derive(Debug)]
struct EngineCli {
    program: &'static str,
}

impl Engine {
    fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
}

impl EngineCli {
    /// `choice`, or the first of docker and podman that is on PATH and answers `info`
    /// (a docker client without a reachable daemon does not).
    fn select(choice: Option<Engine>) -> anyhow::Result<Self> {
        let candidates = match choice {
            Some(engine) => vec![engine],
            None => vec![Engine::Docker, Engine::Podman],
        };
        let mut refused = Vec::new();
        for engine in candidates {
            let cli = EngineCli {
                program: engine.program(),
            };
            if find_on_path(cli.program).is_none() {
                tracing::debug!(engine = cli.program, "not found on PATH");
                refused.push(format!("{} is not on PATH", cli.program));
                continue;
            }
            match cli.run(&["info"]) {
                Ok(_) => {
                    tracing::debug!(engine = cli.program, "using this container engine");
                    return Ok(cli);
                }
                Err(e) => {
                    tracing::debug!(engine = cli.program, error = %format!("{e:#}"), "the engine does not answer; trying the next one");
                    refused.push(format!("{e:#}"));
                }
            }
        }
        bail!(
            "no usable container engine (docker or podman): {}",
            refused.join("; ")
        )
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.program);
        cmd.args(args)
            .env_remove(FILE_PASSWORD_ENV)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `args`, returning its output whatever its exit status.
    fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        tracing::debug!(command = %self.display(args), "running");
        self.command(args)
            .output()
            .with_context(|| format!("cannot run `{}`", self.display(args)))
    }

    /// Runs `args` and returns its stdout; a failure names the command and its stderr.
    fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                self.display(args),
                out.status,
                failure_text(&out)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The command line as people read it (it never holds a secret).
    fn display(&self, args: &[&str]) -> String {
        let mut line = self.program.to_owned();
        for arg in args {
            line.push(' ');
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                line.push_str(&format!("'{arg}'"));
            } else {
                line.push_str(arg);
            }
        }
        line
    }

    fn container_state(&self, name: &str) -> anyhow::Result<ContainerState> {
        let args = [
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            name,
        ];
        let out = self.output(&args)?;
        if out.status.success() {
            return Ok(match String::from_utf8_lossy(&out.stdout).trim() {
                "true" => ContainerState::Running,
                _ => ContainerState::Stopped,
            });
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
        if stderr.contains("no such") {
            return Ok(ContainerState::Absent);
        }
        bail!(
            "`{}` failed ({}): {}",
            self.display(&args),
            out.status,
            failure_text(&out)
        )
    }

    /// Builds `image` from the Containerfile and `binary` unless it exists; true if built.
    fn ensure_image(&self, image: &str, binary: &Path) -> anyhow::Result<bool> {
        if self.output(&["image", "inspect", image])?.status.success() {
            tracing::debug!(image, "the image exists");
            return Ok(false);
        }
        out::note(&format!("Building image {image} with {}...", self.program));
        // The build context holds the Containerfile and the binary, nothing else.
        let context = PrivateDir::create(&std::env::temp_dir(), "aws-sso-build-")?;
        let containerfile = context.path.join("Containerfile");
        fs::write(&containerfile, CONTAINERFILE)
            .with_context(|| format!("cannot write {}", containerfile.display()))?;
        let copy = context.path.join("aws-sso");
        fs::copy(binary, &copy)
            .with_context(|| format!("cannot copy {} into the build context", binary.display()))?;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755))?;
        let utf8 = |p: &Path| {
            p.to_str()
                .map(str::to_owned)
                .with_context(|| format!("{} is not UTF-8", p.display()))
        };
        self.run(&[
            "build",
            "--tag",
            image,
            "--file",
            &utf8(&containerfile)?,
            &utf8(&context.path)?,
        ])?;
        context.remove()?;
        Ok(true)
    }

    /// The container's output, or why it cannot be had.
    fn logs(&self, name: &str) -> String {
        match self.output(&["logs", name]) {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => format!("(no logs: {e:#})"),
        }
    }
}

/// stderr, or stdout when stderr is empty, trimmed.
fn failure_text(out: &Output) -> String {
    let text = if out.stderr.iter().all(u8::is_ascii_whitespace) {
        &out.stdout
    } else {
        &out.stderr
    };
    String::from_utf8_lossy(text).trim().to_owned()
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `aws-sso-ecs:<version>-<hash>`, the hash over the Containerfile and the binary.
fn image_tag(binary: &Path) -> anyhow::Result<String> {
    let sha256 = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .map(|suite| suite.common.hash_provider)
        .context("the TLS 1.3 SHA-256 suite is missing")?;
    let mut ctx = sha256.start();
    ctx.update(CONTAINERFILE.as_bytes());
    let mut file =
        File::open(binary).with_context(|| format!("cannot open {}", binary.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", binary.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let digest = hex::encode(ctx.finish().as_ref());
    Ok(format!(
        "{IMAGE_NAME}:{}-{}",
        env!("CARGO_PKG_VERSION"),
        &digest[..12]
    ))
}

/// Refuses anything but a statically linked ELF executable for this machine: the image is
/// `FROM scratch`, with no dynamic loader or libc.
fn check_static_binary(path: &Path) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header)
        .with_context(|| format!("{} is not an ELF executable", path.display()))?;
    let elf = Elf64::parse(&header).with_context(|| format!("{} is refused", path.display()))?;
    if let Some(expected) = host_machine()
        && elf.machine != expected
    {
        bail!(
            "{} is built for another architecture (ELF machine {}, this one is {expected})",
            path.display(),
            elf.machine
        );
    }
    let len = usize::from(elf.phentsize) * usize::from(elf.phnum);
    let mut table = vec![0u8; len];
    file.seek(SeekFrom::Start(elf.phoff))
        .and_then(|_| file.read_exact(&mut table))
        .with_context(|| format!("cannot read the program headers of {}", path.display()))?;
    if elf.has_segment(&table, PT_INTERP) {
        let arch = std::env::consts::ARCH;
        bail!(
            "{} is dynamically linked (it names an ELF interpreter), but the image is FROM scratch, without a dynamic loader or libc. Build a static aws-sso and pass it with --binary:\n  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target {arch}-unknown-linux-gnu -p cli\n  aws-sso ecs docker start --binary target/{arch}-unknown-linux-gnu/release/aws-sso",
            path.display()
        );
    }
    Ok(())
}

/// The program header type of the dynamic loader's path.
const PT_INTERP: u32 = 3;

/// What matters here of a 64-bit ELF header.
#[derive(Debug, PartialEq, Eq)]
struct Elf64 {
    big_endian: bool,
    machine: u16,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
}

impl Elf64 {
    fn parse(h: &[u8; 64]) -> anyhow::Result<Self> {
        if h[..4] != *b"\x7fELF" {
            bail!("not an ELF file");
        }
        if h[4] != 2 {
            bail!("not a 64-bit ELF file");
        }
        let big_endian = match h[5] {
            1 => false,
            2 => true,
            _ => bail!("unknown ELF byte order"),
        };
        let u16_at = |at: usize| {
            let b = [h[at], h[at + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[0x20..0x28]);
        let phoff = if big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        };
        // ET_EXEC or ET_DYN (a static-pie executable is ET_DYN without PT_INTERP).
        if !matches!(u16_at(0x10), 2 | 3) {
            bail!("not an ELF executable");
        }
        let elf = Elf64 {
            big_endian,
            machine: u16_at(0x12),
            phoff,
            phentsize: u16_at(0x36),
            phnum: u16_at(0x38),
        };
        if elf.phentsize < 4 || elf.phnum == 0 {
            bail!("an ELF executable without program headers");
        }
        Ok(elf)
    }

    /// Whether the program header table holds a segment of type `p_type`.
    fn has_segment(&self, table: &[u8], p_type: u32) -> bool {
        table
            .chunks_exact(usize::from(self.phentsize))
            .any(|entry| {
                let b = [entry[0], entry[1], entry[2], entry[3]];
                let t = if self.big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
                t == p_type
            })
    }
}

/// The ELF `e_machine` of this host, where known.
fn host_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        _ => None,
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

    fn header(class: u8, data: u8, e_type: u16, phnum: u16) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        h[0x10..0x12].copy_from_slice(&e_type.to_le_bytes());
        h[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        h[0x38..0x3a].copy_from_slice(&phnum.to_le_bytes());
        h
    }

    #[test]
    fn elf_headers_are_parsed_and_refused_by_hand() {
        let elf = Elf64::parse(&header(2, 1, 3, 2)).unwrap();
        assert_eq!(
            elf,
            Elf64 {
                big_endian: false,
                machine: 62,
                phoff: 64,
                phentsize: 56,
                phnum: 2
            }
        );
        let mut table = vec![0u8; 112];
        table[..4].copy_from_slice(&6u32.to_le_bytes()); // PT_PHDR
        table[56..60].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        assert!(!elf.has_segment(&table, PT_INTERP));
        table[56..60].copy_from_slice(&PT_INTERP.to_le_bytes());
        assert!(elf.has_segment(&table, PT_INTERP));

        let err = |h: [u8; 64]| format!("{:#}", Elf64::parse(&h).unwrap_err());
        assert_eq!(err(header(1, 1, 2, 2)), "not a 64-bit ELF file");
        assert_eq!(err(header(2, 1, 1, 2)), "not an ELF executable");
        assert_eq!(
            err(header(2, 1, 2, 0)),
            "an ELF executable without program headers"
        );
        let mut not_elf = header(2, 1, 2, 2);
        not_elf[0] = b'#';
        assert_eq!(err(not_elf), "not an ELF file");
    }

    #[test]
    fn this_dynamically_linked_test_binary_is_refused() {
        let exe = std::env::current_exe().unwrap();
        let err = format!("{:#}", check_static_binary(&exe).unwrap_err());
        assert!(err.contains("is dynamically linked"), "{err}");
        assert!(err.contains("+crt-static"), "{err}");
        let err = format!(
            "{:#}",
            check_static_binary(Path::new("/etc/hostname")).unwrap_err()
        );
        assert!(
            err.contains("is refused") || err.contains("not an ELF"),
            "{err}"
        );
    }

    #[test]
    fn image_tags_follow_the_binary() {
        let dir = std::env::temp_dir().join(format!("aws-sso-tag-test-{}", random_hex(6).unwrap()));
        fs::create_dir(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, b"one").unwrap();
        fs::write(&b, b"two").unwrap();
        let tag = image_tag(&a).unwrap();
        assert!(
            tag.starts_with(&format!("aws-sso-ecs:{}-", env!("CARGO_PKG_VERSION"))),
            "{tag}"
        );
        assert_eq!(
            tag.len(),
            "aws-sso-ecs:".len() + env!("CARGO_PKG_VERSION").len() + 13
        );
        assert_eq!(image_tag(&a).unwrap(), tag);
        assert_ne!(image_tag(&b).unwrap(), tag);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_handover_is_private_on_the_host_and_open_to_the_container_user() {
        let parent =
            std::env::temp_dir().join(format!("aws-sso-ho-test-{}", random_hex(6).unwrap()));
        fs::create_dir(&parent).unwrap();
        let secrets = HostSecrets {
            token: Some(SecretString::from("tok".to_owned())),
            cert_pem: None,
            key_pem: None,
            leaf: None,
        };
        let handover = Handover::create(&parent, &secrets).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&handover.dir.path), 0o700);
        assert_eq!(mode(&handover.run_dir()), 0o703);
        let file = handover.run_dir().join(SECRETS_FILE_NAME);
        assert_eq!(mode(&file), 0o604);
        assert_eq!(fs::read_to_string(&file).unwrap(), r#"{"token":"tok"}"#);
        assert!(!handover.secrets_taken().unwrap());
        fs::remove_file(&file).unwrap();
        assert!(handover.secrets_taken().unwrap());
        drop(handover);
        assert_eq!(
            fs::read_dir(&parent).unwrap().count(),
            0,
            "dropped, nothing is left"
        );
        fs::remove_dir(&parent).unwrap();
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

    #[test]
    fn logs_are_redacted_and_commands_displayed() {
        let secrets = HostSecrets {
            token: Some(SecretString::from("t0k3n-value".to_owned())),
            cert_pem: None,
            key_pem: Some(SecretString::from(
                "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"
                    .to_owned(),
            )),
            leaf: None,
        };
        let text = "a t0k3n-value b\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----";
        assert_eq!(
            secrets.redact(text),
            "a [redacted] b\n[redacted]\n-----END PRIVATE KEY-----"
        );
        let engine = EngineCli { program: "podman" };
        let args = [
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            "a b",
        ];
        assert_eq!(
            engine.display(&args),
            "podman container inspect --format {{.State.Running}} 'a b'"
        );
    }
}
