//! `[mail]` of certd.toml: [`MailConfig`] as the file says it (unknown keys refused), and
//! the checks that turn it into settings a [`crate::Mailer`] can use. It reads the SMTP
//! password file; it opens no sockets.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::Deserialize;

use crate::MailError;

/// How long an SMTP exchange may wait for the server when `smtp_timeout_secs` is unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `[mail]` of certd.toml. Holds no secret: the SMTP password is read from
/// `smtp_password_file` by [`crate::Mailer::new`], so `Debug` shows only the file's path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// `"log"` (default: mails go to stderr, for local use) or `"smtp"`.
    #[serde(default)]
    pub transport: Transport,
    /// The sender, e.g. `aws-sso-certd <noreply@example.org>`; must parse as a mailbox.
    pub from: String,
    /// The SMTP server's name (required with `transport = "smtp"`, refused otherwise).
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// The SMTP server's port; default 587, or 465 with `smtp_tls = "tls"`.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// How the connection is encrypted; default `"opportunistic"`.
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    /// The SMTP login (with `smtp_password_file`).
    #[serde(default)]
    pub smtp_username: Option<String>,
    /// A file holding the SMTP password (one trailing newline is ignored); relative paths
    /// are taken from the `base_dir` given to [`crate::Mailer::new`].
    #[serde(default)]
    pub smtp_password_file: Option<PathBuf>,
    /// Seconds to wait for the server at each step; default 30.
    #[serde(default)]
    pub smtp_timeout_secs: Option<u64>,
}

impl Default for MailConfig {
    /// The log transport from `aws-sso-certd <noreply@localhost>`: what certd uses when
    /// its config has no `[mail]`.
    fn default() -> Self {
        Self {
            transport: Transport::Log,
            from: "aws-sso-certd <noreply@localhost>".to_owned(),
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Opportunistic,
            smtp_username: None,
            smtp_password_file: None,
            smtp_timeout_secs: None,
        }
    }
}

/// Where mails go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Written whole to stderr and not sent: for running certd on one machine.
    #[default]
    Log,
    /// Sent through the SMTP server of `smtp_host`.
    Smtp,
}

impl Transport {
    /// `"log"` or `"smtp"`, as in the config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Smtp => "smtp",
        }
    }
}

/// How the SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SmtpTls {
    /// STARTTLS when the server offers it, clear text otherwise.
    #[default]
    #[serde(rename = "opportunistic")]
    Opportunistic,
    /// STARTTLS, required: a server that does not offer it is an error.
    #[serde(rename = "starttls")]
    StartTls,
    /// Implicit TLS from the first byte (SMTPS, usually port 465).
    #[serde(rename = "tls")]
    Tls,
    /// Clear text only (a relay on the same host).
    #[serde(rename = "none")]
    None,
}

impl SmtpTls {
    /// The port used when `smtp_port` is unset: 465 for implicit TLS, 587 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tls => 465,
            Self::Opportunistic | Self::StartTls | Self::None => 587,
        }
    }
}

/// What a [`MailConfig`] comes to once checked.
pub(crate) struct Checked {
    pub(crate) from: Mailbox,
    pub(crate) smtp: Option<SmtpSettings>,
}

/// A checked SMTP setup, the password read.
pub(crate) struct SmtpSettings {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: SmtpTls,
    pub(crate) login: Option<(String, SecretString)>,
    pub(crate) timeout: Duration,
}

impl MailConfig {
    /// Checks the settings and reads the password file (relative to `base_dir`).
    pub(crate) fn check(&self, base_dir: &Path) -> Result<Checked, MailError> {
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| MailError::BadAddress { field: "from" })?;
        let smtp = match self.transport {
            Transport::Log => {
                let set = [
                    ("smtp_host", self.smtp_host.is_some()),
                    ("smtp_port", self.smtp_port.is_some()),
                    ("smtp_username", self.smtp_username.is_some()),
                    ("smtp_password_file", self.smtp_password_file.is_some()),
                    ("smtp_timeout_secs", self.smtp_timeout_secs.is_some()),
                ];
                if let Some((key, _)) = set.iter().find(|(_, is_set)| *is_set) {
                    // Most likely a forgotten `transport = "smtp"`: mails would silently
                    // go to stderr instead of users.
                    return Err(MailError::Config(format!(
                        "{key} is set but transport is \"log\" (set transport = \"smtp\" to send mail)"
                    )));
                }
                None
            }
            Transport::Smtp => Some(self.check_smtp(base_dir)?),
        };
        Ok(Checked { from, smtp })
    }

    fn check_smtp(&self, base_dir: &Path) -> Result<SmtpSettings, MailError> {
        let host = match self.smtp_host.as_deref().map(str::trim) {
            Some(host) if !host.is_empty() => host.to_owned(),
            _ => {
                return Err(MailError::Config(
                    "transport = \"smtp\" needs smtp_host".to_owned(),
                ));
            }
        };
        let port = match self.smtp_port {
            Some(0) => return Err(MailError::Config("smtp_port must not be 0".to_owned())),
            Some(port) => port,
            None => self.smtp_tls.default_port(),
        };
        let timeout = match self.smtp_timeout_secs {
            Some(0) => {
                return Err(MailError::Config(
                    "smtp_timeout_secs must be at least 1".to_owned(),
                ));
            }
            Some(secs) => Duration::from_secs(secs),
            None => DEFAULT_TIMEOUT,
        };
        let login = match (&self.smtp_username, &self.smtp_password_file) {
            (Some(user), Some(file)) => Some((user.clone(), read_password(&base_dir.join(file))?)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(MailError::Config(
                    "smtp_username needs smtp_password_file".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(MailError::Config(
                    "smtp_password_file needs smtp_username".to_owned(),
                ));
            }
        };
        if login.is_some() {
            match self.smtp_tls {
                // lettre sends AUTH whether or not STARTTLS happened: whoever strips
                // STARTTLS from the server's EHLO answer would read the password.
                SmtpTls::Opportunistic => {
                    return Err(MailError::Config(
                        "smtp_username needs smtp_tls = \"starttls\" or \"tls\": with \
                         \"opportunistic\", a server (or a man in the middle) that does not offer \
                         STARTTLS would receive the password in clear text"
                            .to_owned(),
                    ));
                }
                SmtpTls::None if !is_loopback_host(&host) => {
                    return Err(MailError::Config(format!(
                        "smtp_tls = \"none\" with smtp_username sends the password in clear text: \
                         allowed only to a relay on this host (localhost, 127.0.0.1, ::1), not \
                         {host}; use smtp_tls = \"starttls\" or \"tls\""
                    )));
                }
                _ => {}
            }
        }
        Ok(SmtpSettings {
            host,
            port,
            tls: self.smtp_tls,
            login,
            timeout,
        })
    }
}

/// `localhost` or a loopback address (IPv6 with or without brackets): where clear text
/// never leaves the machine.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads a password file: one trailing newline dropped, empty refused, a group- or
/// world-readable file warned about (the warning names the path, never the contents).
fn read_password(path: &Path) -> Result<SecretString, MailError> {
    let io = |source| MailError::PasswordFile {
        path: path.to_owned(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "the SMTP password file is readable by other users; chmod 600 it"
        );
    }
    let mut text = std::fs::read_to_string(path).map_err(io)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(MailError::Config(format!(
            "the SMTP password file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::os::unix::fs::OpenOptionsExt;

    use super::*;

    fn parse(toml_text: &str) -> Result<MailConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    fn checked(toml_text: &str, dir: &Path) -> Result<Checked, MailError> {
        parse(toml_text).unwrap().check(dir)
    }

    fn secret_file(dir: &Path, name: &str, contents: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join(name))
            .unwrap();
        f.write_all(contents.as_bytes()).unwrap();
    }

    #[test]
    fn defaults_are_log_and_opportunistic_587() {
        let config = parse(r#"from = "aws-sso-certd <noreply@example.org>""#).unwrap();
        assert_eq!(config.transport, Transport::Log);
        assert_eq!(config.smtp_tls, SmtpTls::Opportunistic);
        let dir = tempfile::tempdir().unwrap();
        let ok = config.check(dir.path()).unwrap();
        assert!(ok.smtp.is_none());
        assert_eq!(ok.from.email.to_string(), "noreply@example.org");
        assert!(MailConfig::default().check(dir.path()).is_ok());
    }

    #[test]
    fn smtp_ports_follow_the_tls_mode() {
        let dir = tempfile::tempdir().unwrap();
        let port = |tls: &str| {
            checked(
                &format!(
                    "transport = \"smtp\"\nfrom = \"a@example.org\"\nsmtp_host = \"mx\"\nsmtp_tls = \"{tls}\""
                ),
                dir.path(),
            )
            .unwrap()
            .smtp
            .unwrap()
        };
        for (tls, expected_port, mode) in [
            ("opportunistic", 587, SmtpTls::Opportunistic),
            ("starttls", 587, SmtpTls::StartTls),
            ("tls", 465, SmtpTls::Tls),
            ("none", 587, SmtpTls::None),
        ] {
            let smtp = port(tls);
            assert_eq!((smtp.port, smtp.tls), (expected_port, mode), "{tls}");
            assert_eq!(smtp.timeout, DEFAULT_TIMEOUT);
            assert!(smtp.login.is_none());
        }
        let explicit = checked(
            "transport = \"smtp\"\nfrom = \"a@example.org\"\nsmtp_host = \"mx\"\n\
             smtp_tls = \"tls\"\nsmtp_port = 2465\nsmtp_timeout_secs = 5",
            dir.path(),
        )
        .unwrap()
        .smtp
        .unwrap();
        assert_eq!(
            (explicit.port, explicit.timeout),
            (2465, Duration::from_secs(5))
        );
    }

    #[test]
    fn unknown_keys_and_values_are_refused() {
        for text in [
            "from = \"a@example.org\"\nsmtp_hots = \"mx\"",
            // A password is never written in the config, only a file naming it.
            "from = \"a@example.org\"\nsmtp_password = \"hunter2\"",
            "from = \"a@example.org\"\ntransport = \"sendmail\"",
            "from = \"a@example.org\"\nsmtp_tls = \"ssl\"",
            "transport = \"log\"",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        let err = parse("from = \"a@example.org\"\nsmtp_password = \"hunter2\"").unwrap_err();
        assert!(err.to_string().contains("smtp_password"), "{err}");
    }

    #[test]
    fn smtp_without_host_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "transport = \"smtp\"\nfrom = \"a@example.org\"",
            "transport = \"smtp\"\nfrom = \"a@example.org\"\nsmtp_host = \" \"",
        ] {
            let err = checked(text, dir.path()).err().unwrap();
            assert!(
                matches!(&err, MailError::Config(m) if m.contains("smtp_host")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn smtp_settings_with_the_log_transport_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = checked("from = \"a@example.org\"\nsmtp_host = \"mx\"", dir.path())
            .err()
            .unwrap();
        assert!(
            matches!(&err, MailError::Config(m) if m.contains("smtp_host") && m.contains("transport")),
            "{err:?}"
        );
    }

    #[test]
    fn a_bad_from_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for from in [
            "",
            "noreply",
            "aws-sso-certd <noreply>",
            "a@b@c",
            "<a@example.org",
        ] {
            let err = checked(&format!("from = \"{from}\""), dir.path())
                .err()
                .unwrap();
            assert!(
                matches!(err, MailError::BadAddress { field: "from" }),
                "{from:?}: {err:?}"
            );
        }
    }

    #[test]
    fn login_needs_both_halves_and_a_readable_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let base = "transport = \"smtp\"\nfrom = \"a@example.org\"\nsmtp_host = \"mx\"\n\
                    smtp_tls = \"starttls\"\n";
        for extra in ["smtp_username = \"u\"", "smtp_password_file = \"pw\""] {
            let err = checked(&format!("{base}{extra}"), dir.path())
                .err()
                .unwrap();
            assert!(matches!(err, MailError::Config(_)), "{extra}: {err:?}");
        }
        let missing = checked(
            &format!("{base}smtp_username = \"u\"\nsmtp_password_file = \"absent\""),
            dir.path(),
        )
        .err()
        .unwrap();
        assert!(
            matches!(&missing, MailError::PasswordFile { path, .. } if *path == dir.path().join("absent")),
            "relative to base_dir: {missing:?}"
        );

        secret_file(dir.path(), "empty", "\n");
        let empty = checked(
            &format!("{base}smtp_username = \"u\"\nsmtp_password_file = \"empty\""),
            dir.path(),
        )
        .err()
        .unwrap();
        assert!(matches!(empty, MailError::Config(_)), "{empty:?}");

        secret_file(dir.path(), "pw", "s3cret-Pa55word\n");
        let ok = checked(
            &format!("{base}smtp_username = \"u\"\nsmtp_password_file = \"pw\""),
            dir.path(),
        )
        .unwrap()
        .smtp
        .unwrap();
        let (user, password) = ok.login.unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            (user.as_str(), password.expose_secret()),
            ("u", "s3cret-Pa55word")
        );
    }

    #[test]
    fn a_login_is_sent_only_over_tls_or_to_a_local_relay() {
        let dir = tempfile::tempdir().unwrap();
        secret_file(dir.path(), "pw", "s3cret-Pa55word\n");
        let with = |host: &str, tls: &str| {
            checked(
                &format!(
                    "transport = \"smtp\"\nfrom = \"a@example.org\"\nsmtp_host = \"{host}\"\n\
                     smtp_tls = \"{tls}\"\nsmtp_username = \"u\"\nsmtp_password_file = \"pw\""
                ),
                dir.path(),
            )
        };
        for (host, tls) in [("mx", "starttls"), ("mx", "tls"), ("localhost", "none")] {
            assert!(with(host, tls).is_ok(), "{host} {tls}");
        }
        for host in ["127.0.0.1", "::1", "[::1]"] {
            assert!(with(host, "none").is_ok(), "{host}");
        }
        for host in ["mx", "127.0.0.1"] {
            let err = with(host, "opportunistic").err().unwrap();
            assert!(
                matches!(&err, MailError::Config(m) if m.contains("clear text") && m.contains("starttls")),
                "{err:?}"
            );
        }
        for host in ["mx", "10.0.0.25", "localhost.example.org"] {
            let err = with(host, "none").err().unwrap();
            assert!(
                matches!(&err, MailError::Config(m) if m.contains("clear text") && m.contains(host)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn debug_of_the_config_names_the_file_not_the_password() {
        let dir = tempfile::tempdir().unwrap();
        secret_file(dir.path(), "pw", "s3cret-Pa55word");
        let text = format!(
            "transport = \"smtp\"\nfrom = \"a@example.org\"\nsmtp_host = \"mx\"\n\
             smtp_username = \"u\"\nsmtp_password_file = \"{}\"",
            dir.path().join("pw").display()
        );
        let config = parse(&text).unwrap();
        let shown = format!("{config:?}");
        assert!(shown.contains("pw"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
