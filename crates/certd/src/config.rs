//! certd's configuration: the TOML file ([`FileConfig`], unknown keys refused), checked
//! and resolved into the [`Config`] the service runs with. Secrets (the EAB HMAC key) are
//! read from files named in the config, never written in it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

/// Let's Encrypt's production directory.
pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory.
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// The newest schema this binary knows is the store's business; this is the config's.
const DEFAULT_HOSTNAMES_PER_ACCOUNT: u32 = 5;

/// What `certd.toml` may say.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The zone and where data lives.
    pub service: ServiceSection,
    /// The HTTP listener.
    pub http: HttpSection,
    /// The DNS listener and zone data.
    pub dns: DnsSection,
    /// The ACME CA.
    pub acme: AcmeSection,
    /// Storage; SQLite in `data_dir` when absent.
    #[serde(default)]
    pub store: StoreSection,
    /// Limits.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Outgoing mail (verification and password-reset links). Absent: the `log` transport
    /// (standard error), allowed only when the service's URL is on loopback.
    #[serde(default)]
    pub mail: Option<certd_mail::MailConfig>,
}

/// `[service]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// The zone users get names under, e.g. `aws-sso-cli.org`.
    pub zone: String,
    /// Directory for the SQLite database and the ACME account.
    pub data_dir: PathBuf,
}

/// `[http]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Whether session cookies carry `Secure` (turn off only for plain-HTTP local use).
    #[serde(default = "yes")]
    pub secure_cookies: bool,
    /// The URL users reach the service at (links in mails); default `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// PEM certificate chain to serve HTTPS with (with `tls_key`).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The service is reached over HTTPS through a trusted proxy (send HSTS).
    #[serde(default)]
    pub behind_https_proxy: bool,
    /// Serve HTTPS with a certificate certd gets itself for `<label>.<zone>` from its ACME
    /// CA through its own DNS (renewed automatically). Not with `tls_cert`.
    #[serde(default)]
    pub acme_web_label: Option<String>,
}

fn yes() -> bool {
    true
}

/// `[dns]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSection {
    /// Address of the UDP and TCP listeners.
    pub listen: SocketAddr,
    /// The zone's nameservers (NS records at the apex).
    pub nameservers: Vec<String>,
    /// SOA RNAME, the zone admin's mailbox as a name (`hostmaster.example.org`).
    pub hostmaster: String,
    /// Answer AAAA `::1` for registered names.
    #[serde(default)]
    pub answer_aaaa: bool,
}

/// `[acme]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSection {
    /// `letsencrypt`, `letsencrypt-staging`, or a directory URL.
    pub directory: String,
    /// Contact email for the ACME account.
    pub contact: String,
    /// The CA's domain for the CAA record at the apex (`letsencrypt.org`).
    pub caa_issuer: String,
    /// This service's ACME account URL, to pin the CAA record to it (`accounturi`); certd
    /// logs the URL when it first opens the account.
    #[serde(default)]
    pub caa_account_uri: Option<String>,
    /// PEM file of an extra root to trust for the ACME server (test CAs such as Pebble).
    #[serde(default)]
    pub extra_root: Option<PathBuf>,
    /// External Account Binding key id (other ACME CAs).
    #[serde(default)]
    pub eab_kid: Option<String>,
    /// File holding the EAB HMAC key (base64url).
    #[serde(default)]
    pub eab_hmac_key_file: Option<PathBuf>,
}

/// `[store]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://path` or `postgres://...`; default: SQLite `certd.sqlite` in `data_dir`.
    #[serde(default)]
    pub url: Option<String>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Hostnames one account may hold.
    #[serde(default)]
    pub hostnames_per_account: Option<u32>,
}

/// Where the ACME server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeDirectory(pub String);

/// External Account Binding credentials.
pub struct Eab {
    /// Key id.
    pub kid: String,
    /// The HMAC key.
    pub hmac_key: SecretString,
}

impl std::fmt::Debug for Eab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .field("hmac_key", &"[redacted]")
            .finish()
    }
}

/// Whether `url`'s host is `localhost` or a loopback address.
fn url_is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    certd_mail::is_loopback_host(host)
}

/// A TOML error as "line L, column C: message", without the quoted source line that
/// toml's own `Display` adds: a line such as `smtp_password = "..."` (refused: secrets live
/// in files) must not reach the log.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// The configuration in force.
#[derive(Debug)]
pub struct Config {
    /// The zone, lowercase, no trailing dot.
    pub zone: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// HTTP listener.
    pub http_listen: SocketAddr,
    /// `Secure` on cookies.
    pub secure_cookies: bool,
    /// DNS listener.
    pub dns_listen: SocketAddr,
    /// Nameservers.
    pub nameservers: Vec<String>,
    /// SOA RNAME.
    pub hostmaster: String,
    /// AAAA ::1 answers.
    pub answer_aaaa: bool,
    /// ACME directory URL.
    pub acme_directory: AcmeDirectory,
    /// ACME contact.
    pub acme_contact: String,
    /// CAA issuer domain.
    pub caa_issuer: String,
    /// CAA `accounturi`.
    pub caa_account_uri: Option<String>,
    /// Extra root PEM path.
    pub acme_extra_root: Option<PathBuf>,
    /// EAB.
    pub eab: Option<Eab>,
    /// Where the store is (`Debug` and `Display` hide a PostgreSQL password).
    pub store: certd_store::Dsn,
    /// Hostnames per account.
    pub hostnames_per_account: u32,
    /// Base URL of links in mails.
    pub public_url: String,
    /// Trusted reverse proxies.
    pub trusted_proxies: Vec<crate::proxy::IpNet>,
    /// HTTPS certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The label of certd's own web name, when it gets its certificate itself.
    pub acme_web_label: Option<String>,
    /// HSTS is sent (own TLS, or a proxy that terminates HTTPS).
    pub https: bool,
    /// Outgoing mail.
    pub mail: certd_mail::MailConfig,
    /// Directory relative mail paths are taken from.
    pub config_dir: PathBuf,
}

impl Config {
    /// Reads, parses and checks `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let file: FileConfig = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "invalid config file {}: {}",
                path.display(),
                toml_error(&text, &e)
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::resolve(file, base)
            .with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Checks a parsed file; relative paths are taken from `base`.
    pub fn resolve(file: FileConfig, base: &Path) -> anyhow::Result<Config> {
        let zone = file.service.zone.trim_end_matches('.').to_ascii_lowercase();
        if zone.split('.').count() < 2
            || zone.split('.').any(|l| certd_dns::Label::parse(l).is_err())
        {
            bail!("service.zone {zone:?} is not a domain name like example.org");
        }
        if file.dns.nameservers.is_empty() {
            bail!("dns.nameservers: give at least one nameserver name");
        }
        let directory = match file.acme.directory.as_str() {
            "letsencrypt" => LETSENCRYPT.to_owned(),
            "letsencrypt-staging" => LETSENCRYPT_STAGING.to_owned(),
            url if url.starts_with("https://") => url.to_owned(),
            other => bail!(
                "acme.directory {other:?}: use letsencrypt, letsencrypt-staging or an https:// URL"
            ),
        };
        if !file.acme.contact.contains('@') {
            bail!(
                "acme.contact {:?} is not an email address",
                file.acme.contact
            );
        }
        let at = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let data_dir = at(file.service.data_dir);
        let eab = match (file.acme.eab_kid, file.acme.eab_hmac_key_file) {
            (None, None) => None,
            (Some(kid), Some(key_file)) => {
                let key_file = at(key_file);
                let key = std::fs::read_to_string(&key_file).with_context(|| {
                    format!("cannot read acme.eab_hmac_key_file {}", key_file.display())
                })?;
                Some(Eab {
                    kid,
                    hmac_key: SecretString::from(key.trim().to_owned()),
                })
            }
            _ => bail!("acme.eab_kid and acme.eab_hmac_key_file go together"),
        };
        let store = match file.store.url {
            Some(url) => certd_store::Dsn::parse(&url).context("store.url")?,
            None => certd_store::Dsn::Sqlite(data_dir.join("certd.sqlite")),
        };
        let trusted_proxies = file
            .http
            .trusted_proxies
            .iter()
            .map(|n| n.parse::<crate::proxy::IpNet>())
            .collect::<Result<Vec<_>, _>>()
            .context("http.trusted_proxies")?;
        let tls = match (file.http.tls_cert, file.http.tls_key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((at(c), at(k))),
            _ => bail!("http.tls_cert and http.tls_key go together"),
        };
        let acme_web_label = match file.http.acme_web_label {
            None => None,
            Some(_) if tls.is_some() => {
                bail!(
                    "http.acme_web_label and http.tls_cert exclude each other: pick one certificate"
                )
            }
            Some(l) => {
                let label = certd_dns::Label::parse(&l)
                    .map_err(|e| anyhow::anyhow!("http.acme_web_label {l:?}: {e}"))?;
                Some(label.as_str().to_owned())
            }
        };
        let https = tls.is_some() || acme_web_label.is_some() || file.http.behind_https_proxy;
        let public_url = match file.http.public_url {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                u.trim_end_matches('/').to_owned()
            }
            Some(u) => bail!("http.public_url {u:?} must start with https:// or http://"),
            None if acme_web_label.is_some() => {
                let label = acme_web_label.as_deref().unwrap_or_default();
                match file.http.listen.port() {
                    443 => format!("https://{label}.{zone}"),
                    port => format!("https://{label}.{zone}:{port}"),
                }
            }
            None if tls.is_some() => format!("https://{}", file.http.listen),
            None => format!("http://{}", file.http.listen),
        };
        let mail = match file.mail {
            Some(mail) => mail,
            None if url_is_loopback(&public_url) => certd_mail::MailConfig::default(),
            // The log transport prints every mail, password-reset links included, where
            // the service's log goes: fine on one machine, an account takeover for whoever
            // reads the log of a public service.
            None => bail!(
                "[mail] is missing: users reach this service at {public_url}, and without \
                 [mail] certd would print their verification and password-reset links to its \
                 log; configure transport = \"smtp\" (or transport = \"log\" explicitly, for \
                 a test setup)"
            ),
        };
        if https && !file.http.secure_cookies {
            bail!("http.secure_cookies = false is only for plain-HTTP local use, not with HTTPS");
        }
        Ok(Config {
            zone,
            data_dir,
            http_listen: file.http.listen,
            secure_cookies: file.http.secure_cookies,
            dns_listen: file.dns.listen,
            nameservers: file.dns.nameservers,
            hostmaster: file.dns.hostmaster,
            answer_aaaa: file.dns.answer_aaaa,
            acme_directory: AcmeDirectory(directory),
            acme_contact: file.acme.contact,
            caa_issuer: file.acme.caa_issuer,
            caa_account_uri: file.acme.caa_account_uri,
            acme_extra_root: file.acme.extra_root.map(at),
            eab,
            store,
            hostnames_per_account: file
                .limits
                .hostnames_per_account
                .unwrap_or(DEFAULT_HOSTNAMES_PER_ACCOUNT),
            public_url,
            trusted_proxies,
            tls,
            acme_web_label,
            https,
            mail,
            config_dir: base.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../docs/certd.example.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        let cfg = Config::resolve(file, Path::new("/etc/certd")).unwrap();
        assert_eq!(cfg.zone, "aws-sso-cli.org");
        assert_eq!(cfg.acme_directory.0, LETSENCRYPT_STAGING);
        assert_eq!(cfg.store.to_string(), "sqlite:/var/lib/certd/certd.sqlite");
        assert_eq!(cfg.public_url, "https://aws-sso-cli.org");
        assert_eq!(cfg.trusted_proxies.len(), 2);
        assert!(cfg.https);
    }

    #[test]
    fn http_mistakes_are_named() {
        let text = include_str!("../../../docs/certd.example.toml");
        let resolve = |t: &str| {
            Config::resolve(toml::from_str(t).unwrap(), Path::new("/"))
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        };
        let bad = text.replace("\"173.245.48.0/20\"", "\"173.245.48.0/40\"");
        assert!(resolve(&bad).unwrap_err().contains("173.245.48.0/40"));
        let bad = text.replace(
            "public_url = \"https://aws-sso-cli.org\"",
            "public_url = \"aws-sso-cli.org\"",
        );
        assert!(
            resolve(&bad)
                .unwrap_err()
                .contains("must start with https://")
        );
        let bad = text.replace("secure_cookies = true", "secure_cookies = false");
        assert!(resolve(&bad).unwrap_err().contains("only for plain-HTTP"));
    }

    #[test]
    fn a_refused_line_is_not_quoted_and_a_password_url_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certd.toml");
        let text = include_str!("../../../docs/certd.example.toml");
        let bad = text.replace(
            "\n[limits]\n",
            "\n[limits]\nsmtp_password = \"hunter2-s3cret\"\n",
        );
        std::fs::write(&path, &bad).unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        let line = bad
            .lines()
            .position(|l| l.starts_with("smtp_password"))
            .unwrap()
            + 1;
        assert!(
            err.contains(&format!(
                "line {line}, column 1: unknown field `smtp_password`"
            )),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");

        let pg = text.replace(
            "# url = \"sqlite:///var/lib/certd/certd.sqlite\"",
            "url = \"postgres://certd:hunter2-s3cret@db.internal/certd\"",
        );
        let cfg = Config::resolve(toml::from_str(&pg).unwrap(), Path::new("/")).unwrap();
        let shown = format!("{cfg:?}");
        assert!(
            shown.contains("db.internal") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn without_mail_the_service_must_be_on_loopback() {
        let text = include_str!("../../../docs/certd.example.toml");
        let at = text.find("\n[mail]").unwrap();
        let no_mail = &text[..at];
        let resolve = |t: &str| Config::resolve(toml::from_str(t).unwrap(), Path::new("/"));
        let err = resolve(no_mail).unwrap_err().to_string();
        assert!(
            err.contains("[mail] is missing") && err.contains("https://aws-sso-cli.org"),
            "{err}"
        );
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "https://[::1]:8443",
            "http://127.0.0.2",
        ] {
            let local = no_mail.replace("https://aws-sso-cli.org", url);
            let cfg = resolve(&local).unwrap();
            assert_eq!(cfg.mail.transport, certd_mail::Transport::Log, "{url}");
        }
        for url in [
            "http://10.0.0.1",
            "http://localhost.example.org",
            "http://[2001:db8::1]",
        ] {
            assert!(
                resolve(&no_mail.replace("https://aws-sso-cli.org", url)).is_err(),
                "{url}"
            );
        }
        let explicit_log =
            format!("{no_mail}\n[mail]\ntransport = \"log\"\nfrom = \"a@example.org\"\n");
        assert!(resolve(&explicit_log).is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let text = include_str!("../../../docs/certd.example.toml");
        let bad = text.replace("\n[limits]\n", "\n[limits]\nhostname_per_account = 3\n");
        let err = toml::from_str::<FileConfig>(&bad).unwrap_err().to_string();
        assert!(
            err.contains("unknown field `hostname_per_account`"),
            "{err}"
        );
        let bad = text.replace(
            "directory = \"letsencrypt-staging\"",
            "directory = \"http://ca\"",
        );
        let err = Config::resolve(toml::from_str(&bad).unwrap(), Path::new("/")).unwrap_err();
        assert!(
            err.to_string()
                .contains("use letsencrypt, letsencrypt-staging or an https:// URL")
        );
    }
}
