//! [`Mailer`]: sends one plain-text [`Message`] through the configured transport: SMTP
//! (lettre over rustls with aws-lc-rs, one connection per mail) or the log transport,
//! which writes the whole mail to stderr for local use.
//!
//! Bodies carry single-use links, so they never reach `tracing`, error values or `Debug`
//! output; the log transport writes to stderr directly, which is its whole point.

use std::io::Write;
use std::sync::Arc;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::MailError;
use crate::config::{MailConfig, SmtpSettings, SmtpTls};

/// One mail: plain UTF-8 text to one recipient.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    /// The recipient, `user@example.org` or `Name <user@example.org>`.
    pub to: &'a str,
    /// The subject line (no line breaks).
    pub subject: &'a str,
    /// The body, plain text; may hold secret links.
    pub text: &'a str,
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &"[redacted]")
            .finish()
    }
}

/// Sends certd's mails. Cheap to clone (the SMTP transport is shared).
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Log,
    Smtp(Arc<Smtp>),
}

struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
    tls: SmtpTls,
    authenticated: bool,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Mailer");
        out.field("transport", &self.transport_name())
            .field("from", &self.from.to_string());
        if let Kind::Smtp(smtp) = &self.kind {
            out.field("host", &smtp.host)
                .field("port", &smtp.port)
                .field("tls", &smtp.tls)
                .field("authenticated", &smtp.authenticated);
        }
        out.finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks `config` and sets up its transport: `from` must be a mailbox, `smtp` needs
    /// `smtp_host`, and the password file (relative paths taken from `base_dir`) must be
    /// readable. Opens no connection: a wrong host or port shows at the first send.
    pub fn new(config: &MailConfig, base_dir: &std::path::Path) -> Result<Mailer, MailError> {
        let checked = config.check(base_dir)?;
        let kind = match checked.smtp {
            None => Kind::Log,
            Some(settings) => Kind::Smtp(Arc::new(Smtp::new(settings)?)),
        };
        Ok(Mailer {
            from: checked.from,
            kind,
        })
    }

    /// `"log"` or `"smtp"`.
    pub fn transport_name(&self) -> &'static str {
        match self.kind {
            Kind::Log => "log",
            Kind::Smtp(_) => "smtp",
        }
    }

    /// Sends `message`; returns once the server accepted it (or stderr took it).
    pub async fn send(&self, message: &Message<'_>) -> Result<(), MailError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|_| MailError::BadAddress { field: "to" })?;
        if message.subject.chars().any(char::is_control) {
            return Err(MailError::BadSubject);
        }
        match &self.kind {
            Kind::Log => write_log(&log_text(&self.from, &to, message)),
            Kind::Smtp(smtp) => smtp.send(self.from.clone(), to, message).await,
        }
    }
}

impl Smtp {
    fn new(settings: SmtpSettings) -> Result<Smtp, MailError> {
        let SmtpSettings {
            host,
            port,
            tls,
            login,
            timeout,
        } = settings;
        let params = || {
            TlsParameters::new(host.clone()).map_err(|e| MailError::TlsSetup {
                host: host.clone(),
                reason: e.to_string(),
            })
        };
        let tls_mode = match tls {
            SmtpTls::Opportunistic => Tls::Opportunistic(params()?),
            SmtpTls::StartTls => Tls::Required(params()?),
            SmtpTls::Tls => Tls::Wrapper(params()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls_mode)
            .timeout(Some(timeout));
        let authenticated = login.is_some();
        if let Some((user, password)) = login {
            builder =
                builder.credentials(Credentials::new(user, password.expose_secret().to_owned()));
        }
        Ok(Smtp {
            transport: builder.build(),
            host,
            port,
            tls,
            authenticated,
        })
    }

    async fn send(
        &self,
        from: Mailbox,
        to: Mailbox,
        message: &Message<'_>,
    ) -> Result<(), MailError> {
        let mail = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(message.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.to_owned())
            .map_err(|e| MailError::Build {
                reason: e.to_string(),
            })?;
        self.transport
            .send(mail)
            .await
            .map(drop)
            .map_err(|e| self.classify(&e))
    }

    /// Maps lettre's error to ours, keeping the cause but never the server's reply text.
    fn classify(&self, err: &lettre::transport::smtp::Error) -> MailError {
        let (host, port) = (self.host.clone(), self.port);
        if let Some(code) = err.status() {
            return MailError::Rejected {
                host,
                port,
                code: u16::from(code),
            };
        }
        if err.is_timeout() {
            return MailError::Timeout { host, port };
        }
        if err.is_tls() {
            return MailError::Tls { host, port };
        }
        let reason = causes(err);
        if err.is_client() {
            // lettre's own words for a step it refused to take; this one is a setting.
            if reason.contains("STARTTLS") {
                return MailError::StartTlsUnavailable { host, port };
            }
            return MailError::Protocol { host, port, reason };
        }
        if err.is_response() {
            // The unparsable reply itself could quote anything: leave it out.
            return MailError::Protocol {
                host,
                port,
                reason: "the server's reply could not be parsed".to_owned(),
            };
        }
        // lettre has no public `is_connection()`: its Display names the kind.
        if err.to_string().starts_with("Connection error") {
            MailError::Connect { host, port, reason }
        } else {
            MailError::Network { host, port, reason }
        }
    }
}

/// The causes below lettre's error (I/O, rustls, lettre's own messages), joined by ": ".
fn causes(err: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push(cause.to_string());
        next = cause.source();
    }
    if out.is_empty() {
        "unknown".to_owned()
    } else {
        out.join(": ")
    }
}

/// The log transport's rendering of a mail: a banner saying what this is, the headers a
/// reader needs, and the body as given.
fn log_text(from: &Mailbox, to: &Mailbox, message: &Message<'_>) -> String {
    let mut text = format!(
        "----- aws-sso-certd mail, log transport: NOT SENT (for local use; set [mail] \
         transport = \"smtp\" to send) -----\n\
         From: {from}\nTo: {to}\nSubject: {}\n\n{}",
        message.subject, message.text
    );
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("----- end of mail -----\n");
    text
}

/// Writes to stderr, not `tracing`: the body's links must not reach log collectors.
fn write_log(text: &str) -> Result<(), MailError> {
    let mut err = std::io::stderr().lock();
    err.write_all(text.as_bytes())
        .and_then(|()| err.flush())
        .map_err(MailError::Log)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn config(toml_text: &str) -> MailConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn log_text_has_banner_headers_and_the_whole_body() {
        let from: Mailbox = "aws-sso-certd <noreply@example.org>".parse().unwrap();
        let to: Mailbox = "alice@example.org".parse().unwrap();
        let text = log_text(
            &from,
            &to,
            &Message {
                to: "alice@example.org",
                subject: "Verify your address",
                text: "Open https://certd.example/verify?token=abc\nThanks",
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("log transport") && lines[0].contains("NOT SENT"));
        assert_eq!(lines[1], "From: aws-sso-certd <noreply@example.org>");
        assert_eq!(lines[2], "To: alice@example.org");
        assert_eq!(lines[3], "Subject: Verify your address");
        assert_eq!(lines[5], "Open https://certd.example/verify?token=abc");
        assert_eq!(lines.last(), Some(&"----- end of mail -----"));
    }

    #[tokio::test]
    async fn the_log_transport_checks_addresses_and_subjects() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&config("from = \"noreply@example.org\""), dir.path()).unwrap();
        assert_eq!(mailer.transport_name(), "log");
        let ok = Message {
            to: "alice@example.org",
            subject: "Hello",
            text: "body",
        };
        mailer.send(&ok).await.unwrap();
        let bad_to = Message {
            to: "not an address",
            ..ok
        };
        assert!(matches!(
            mailer.send(&bad_to).await,
            Err(MailError::BadAddress { field: "to" })
        ));
        let injected = Message {
            subject: "Hello\r\nBcc: mallory@example.org",
            ..ok
        };
        assert!(matches!(
            mailer.send(&injected).await,
            Err(MailError::BadSubject)
        ));
    }

    #[test]
    fn debug_never_shows_the_password_or_a_body() {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.path().join("smtp.pw"))
            .unwrap();
        f.write_all(b"s3cret-Pa55word\n").unwrap();
        let mailer = Mailer::new(
            &config(
                "transport = \"smtp\"\nfrom = \"noreply@example.org\"\nsmtp_host = \"mx.example.org\"\n\
                 smtp_tls = \"tls\"\nsmtp_username = \"certd\"\nsmtp_password_file = \"smtp.pw\"",
            ),
            dir.path(),
        )
        .unwrap();
        assert_eq!(mailer.transport_name(), "smtp");
        let shown = format!("{mailer:?}");
        assert!(
            shown.contains("mx.example.org") && shown.contains("465"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");

        let message = Message {
            to: "alice@example.org",
            subject: "Reset",
            text: "https://certd.example/reset?token=SECRET-LINK",
        };
        let shown = format!("{message:?}");
        assert!(!shown.contains("SECRET-LINK"), "{shown}");
    }
}
