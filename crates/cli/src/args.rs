//! The command line of `aws-sso`, flag for flag compatible with aws-sso-cli where the two
//! overlap.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Hands AWS credentials to AWS SDKs through a local ECS credential server.
#[derive(Debug, Parser)]
#[command(name = "aws-sso", version, about, propagate_version = true)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace); also AWS_SSO_LOG.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Output format of commands that print data.
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Text)]
    pub output: OutputMode,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How commands print their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// For people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configure aws-sso.
    Setup {
        /// What to configure.
        #[command(subcommand)]
        what: SetupCommand,
    },
    /// Run and talk to the ECS credential server.
    Ecs {
        /// What to do.
        #[command(subcommand)]
        what: EcsCommand,
    },
}

/// `aws-sso setup ...`
#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Settings of the ECS server.
    Ecs {
        /// Which setting.
        #[command(subcommand)]
        what: SetupEcsCommand,
    },
}

/// `aws-sso setup ecs ...`
#[derive(Debug, Subcommand)]
pub enum SetupEcsCommand {
    /// Store, generate or delete the bearer token SDKs must present.
    Auth(AuthArgs),
    /// Import, print or delete the ECS server's TLS certificate and key.
    Ssl(SslArgs),
    /// Get the ECS server's certificate from the certificate service (or your own CA).
    Cert {
        /// What to do.
        #[command(subcommand)]
        what: CertCommand,
    },
}

/// `aws-sso setup ecs cert ...`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Check and store the name the certificate is for (it must resolve to loopback).
    Fqdn(CertFqdnArgs),
    /// Enroll a new device key with the certificate service, using a one-time API key.
    ApiKey(CertApiKeyArgs),
    /// Make a new key, have the service sign a certificate for it, and store both.
    SignCsr(CertSignCsrArgs),
    /// Make a new key and write only its CSR, for your own CA.
    ExportCsr(CertExportCsrArgs),
    /// Store a certificate chain from your own CA for the key `export-csr` made.
    Load(CertLoadArgs),
    /// Show the name, the DNS check, the certificate and its renewal window.
    Status,
    /// Get a new certificate if the stored one is in its renewal window (the last third of
    /// its lifetime) or expired; otherwise say when it will be due.
    Renew(CertRenewArgs),
}

/// `aws-sso setup ecs cert renew`
#[derive(Debug, Args)]
pub struct CertRenewArgs {
    /// The service.
    #[command(flatten)]
    pub service: CertServiceArgs,
}

/// `aws-sso setup ecs cert export-csr`
#[derive(Debug, Args)]
pub struct CertExportCsrArgs {
    /// Write the CSR here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `aws-sso setup ecs cert load`
#[derive(Debug, Args)]
pub struct CertLoadArgs {
    /// PEM file with the certificate chain, leaf first.
    pub file: PathBuf,
}

/// `aws-sso setup ecs cert fqdn`
#[derive(Debug, Args)]
pub struct CertFqdnArgs {
    /// The name, e.g. `mybox.aws-sso-cli.org`.
    pub fqdn: String,
    /// The certificate service's URL; repeat it to give more, tried in this order when
    /// one cannot be reached or answers 5xx.
    #[arg(long, value_name = "URL")]
    pub service: Vec<String>,
}

/// Where the certificate service is and which extra CA to trust for it.
#[derive(Debug, Args, Clone)]
pub struct CertServiceArgs {
    /// A PEM file with a CA to trust for the service besides the platform's roots; also
    /// AWS_SSO_CERTD_CA.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// `aws-sso setup ecs cert api-key`
#[derive(Debug, Args)]
pub struct CertApiKeyArgs {
    /// The one-time API key from the service's web page (it is never stored).
    #[arg(value_parser = secret_arg)]
    pub key: secrecy::SecretString,
    /// The service.
    #[command(flatten)]
    pub service: CertServiceArgs,
}

/// A secret argument: redacted in `Debug`.
fn secret_arg(s: &str) -> Result<secrecy::SecretString, std::convert::Infallible> {
    Ok(secrecy::SecretString::from(s.to_owned()))
}

/// `aws-sso setup ecs cert sign-csr`
#[derive(Debug, Args)]
pub struct CertSignCsrArgs {
    /// Get a new certificate even if the stored one is not due for renewal.
    #[arg(long)]
    pub force: bool,
    /// The service.
    #[command(flatten)]
    pub service: CertServiceArgs,
}

/// `aws-sso setup ecs auth`
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AuthArgs {
    /// Store this token (without the "Bearer " prefix). Prefer --generate: a token on the
    /// command line lands in your shell history.
    #[arg(long, value_name = "TOKEN")]
    pub bearer_token: Option<String>,
    /// Generate a random 256-bit token, store it and print it once.
    #[arg(long)]
    pub generate: bool,
    /// Delete the stored token.
    #[arg(long)]
    pub delete: bool,
}

/// `aws-sso setup ecs ssl`
#[derive(Debug, Args)]
pub struct SslArgs {
    /// PEM file with the certificate chain, leaf first.
    #[arg(long, value_name = "FILE", requires = "private_key", conflicts_with_all = ["print", "delete"])]
    pub certificate: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, SEC1 or PKCS#1).
    #[arg(long, value_name = "FILE", requires = "certificate")]
    pub private_key: Option<PathBuf>,
    /// Print the stored certificate chain (never the key).
    #[arg(long, conflicts_with = "delete")]
    pub print: bool,
    /// Delete the stored certificate and key.
    #[arg(long)]
    pub delete: bool,
}

/// Where the ECS server listens.
#[derive(Debug, Args, Clone)]
pub struct ListenArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_ip: IpAddr,
    /// Port to bind.
    #[arg(long, default_value_t = ecs::DEFAULT_PORT)]
    pub port: u16,
    /// Serve without a bearer token (anyone who can connect gets the credentials).
    #[arg(long)]
    pub disable_auth: bool,
    /// Serve plain HTTP even when a certificate is stored.
    #[arg(long)]
    pub disable_ssl: bool,
}

/// `aws-sso ecs server`
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Where to listen.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Read the token, certificate and key from this JSON file, delete it at once, and
    /// leave the SecureStore closed: how `ecs docker start` hands secrets to a container.
    #[arg(long, value_name = "FILE", hide = true)]
    pub secrets_file: Option<PathBuf>,
}

/// `aws-sso ecs ...`
#[derive(Debug, Subcommand)]
pub enum EcsCommand {
    /// Run the ECS credential server in the foreground.
    Server(ServerArgs),
    /// Resolve an AWS profile's credentials and load them into the server.
    Load(LoadArgs),
    /// Remove credentials from the server.
    Unload(UnloadArgs),
    /// List the profiles loaded in slots.
    List(ServerArg),
    /// Show the profile loaded as the default credentials.
    Profile(ServerArg),
    /// Print the shell exports an SDK needs to use the server.
    Env(EnvArgs),
    /// ssh to a host with a reverse forward of the server, for SDKs on that host.
    Ssh(SshArgs),
    /// Run the server in a container (docker or podman).
    Docker {
        /// Start or stop.
        #[command(subcommand)]
        what: DockerCommand,
    },
}

/// The server to talk to.
#[derive(Debug, Args, Clone)]
pub struct ServerArg {
    /// The ECS server, host:port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4144")]
    pub server: String,
}

/// `aws-sso ecs load`
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The AWS profile (from ~/.aws/config and ~/.aws/credentials).
    #[arg(long, short = 'p')]
    pub profile: String,
    /// Load into the profile's own slot (/slot/<profile>) instead of the default.
    #[arg(long)]
    pub slotted: bool,
    /// The server.
    #[command(flatten)]
    pub server: ServerArg,
}

/// `aws-sso ecs unload`
#[derive(Debug, Args)]
pub struct UnloadArgs {
    /// Unload this profile's slot; without it, the default credentials.
    #[arg(long, short = 'p', conflicts_with = "all")]
    pub profile: Option<String>,
    /// Unload every slot.
    #[arg(long)]
    pub all: bool,
    /// The server.
    #[command(flatten)]
    pub server: ServerArg,
}

/// `aws-sso ecs env`
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Point the SDK at this profile's slot instead of the default credentials.
    #[arg(long, value_name = "PROFILE")]
    pub slot: Option<String>,
    /// The server.
    #[command(flatten)]
    pub server: ServerArg,
}

/// `aws-sso ecs ssh`: `ssh -o ExitOnForwardFailure=yes -R 127.0.0.1:<remote-port>:127.0.0.1:<port>
/// <host> [ssh args...]`; the ssh program is `$AWS_SSO_SSH` when set.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// The port SDKs on the host connect to (`https://<name>:<port>/` there).
    #[arg(long, value_name = "PORT", default_value_t = ecs::DEFAULT_PORT)]
    pub remote_port: u16,
    /// The local ECS server's port.
    #[arg(long, value_name = "PORT", default_value_t = ecs::DEFAULT_PORT)]
    pub port: u16,
    /// The destination, as ssh takes it (`[user@]host` or a Host alias).
    pub host: String,
    /// More ssh arguments (options, a remote command), after `--` or trailing; passed
    /// through untouched.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "SSH_ARGS"
    )]
    pub ssh_args: Vec<String>,
}

/// `aws-sso ecs docker ...`
#[derive(Debug, Subcommand)]
pub enum DockerCommand {
    /// Build the image if needed and start the server container.
    Start(DockerStartArgs),
    /// Stop and remove the server container.
    Stop(DockerStopArgs),
}

/// A container engine with a Docker-compatible command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// `docker`.
    Docker,
    /// `podman`.
    Podman,
}

/// Which engine runs which container.
#[derive(Debug, Args, Clone)]
pub struct ContainerArgs {
    /// The container engine (default: the first of docker, podman that answers).
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<Engine>,
    /// The container's name.
    #[arg(long, value_name = "NAME", default_value = crate::commands::ecs::docker::CONTAINER_NAME)]
    pub name: String,
}

/// `aws-sso ecs docker start`
#[derive(Debug, Args)]
pub struct DockerStartArgs {
    /// The engine and the container.
    #[command(flatten)]
    pub container: ContainerArgs,
    /// Where to publish the server.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// The statically linked aws-sso binary to put in the image (default: this one).
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
    /// The directory under which the secrets are handed over (default: $XDG_RUNTIME_DIR,
    /// else the temp directory); for tests.
    #[arg(long, value_name = "DIR", hide = true)]
    pub handover_dir: Option<PathBuf>,
}

/// `aws-sso ecs docker stop`
#[derive(Debug, Args)]
pub struct DockerStopArgs {
    /// The engine and the container.
    #[command(flatten)]
    pub container: ContainerArgs,
}
