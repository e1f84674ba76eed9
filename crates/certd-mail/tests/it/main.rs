//! Integration tests for `certd-mail`: one binary. The [`Mailer`] sends through a real
//! SMTP server (aiosmtpd, started by `testkit::smtp`) and the mail is read back from its
//! Maildir; failures are provoked against that server, a closed port, and a peer that
//! refuses recipients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use certd_mail::{MailConfig, MailError, Mailer, Message, SmtpTls, Transport};
use testkit::smtp::SmtpServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(10);
/// What every test mails: a link whose token must never appear in an error.
const TOKEN: &str = "tok_Zr8Qm2Lx7Wv4Kp9Nc3Bd6Hf1Js5Gt0Ya";

fn smtp_config(port: u16, tls: SmtpTls) -> MailConfig {
    MailConfig {
        transport: Transport::Smtp,
        from: "aws-sso-certd <noreply@certd.test>".to_owned(),
        smtp_host: Some("127.0.0.1".to_owned()),
        smtp_port: Some(port),
        smtp_tls: tls,
        smtp_timeout_secs: Some(5),
        ..MailConfig::default()
    }
}

fn mailer(config: &MailConfig) -> Mailer {
    Mailer::new(config, Path::new("/nonexistent")).unwrap()
}

/// A 120-character link carrying the token (long enough to need wrapping on the wire).
fn long_link() -> String {
    let head = format!("https://certd.example.org/account/verify?token={TOKEN}&x=");
    let link = format!("{head}{}", "a".repeat(120 - head.len()));
    assert_eq!(link.len(), 120);
    link
}

fn assert_no_secret(err: &MailError) {
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(TOKEN), "the body leaked into {shown}");
    }
}

#[tokio::test]
async fn a_mail_arrives_whole_through_a_real_smtp_server() {
    let server = SmtpServer::start();
    let mailer = mailer(&smtp_config(server.port(), SmtpTls::Opportunistic));
    assert_eq!(mailer.transport_name(), "smtp");
    let link = long_link();
    let text = format!(
        "Hello alice,\n\nconfirm your address for aws-sso-certd:\n\n{link}\n\n\
         Grüße, the certd team\n"
    );
    mailer
        .send(&Message {
            to: "Alice <alice@example.org>",
            subject: "Confirm your address — aws-sso-certd",
            text: &text,
        })
        .await
        .unwrap();

    let mail = server.wait_for_mail("alice@example.org", WAIT);
    assert_eq!(mail.to, "Alice <alice@example.org>");
    assert_eq!(mail.from, "aws-sso-certd <noreply@certd.test>");
    assert_eq!(mail.subject, "Confirm your address — aws-sso-certd");
    // SMTP's end-of-data framing may add a final line break; nothing else may change.
    assert_eq!(
        mail.body.trim_end_matches('\n'),
        text.trim_end_matches('\n'),
        "body intact (sent as {})",
        mail.content_transfer_encoding
    );
    assert!(
        mail.body.lines().any(|line| line == link),
        "the 120-character link is one unbroken line"
    );
}

#[tokio::test]
async fn required_starttls_fails_against_a_server_without_it() {
    let server = SmtpServer::start();
    let mailer = mailer(&smtp_config(server.port(), SmtpTls::StartTls));
    let text = long_link();
    let err = mailer
        .send(&Message {
            to: "bob@example.org",
            subject: "Reset your password",
            text: &text,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MailError::StartTlsUnavailable { host, port } if host == "127.0.0.1" && *port == server.port()),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not offer STARTTLS"), "{err}");
    assert!(!err.is_transient());
    assert_no_secret(&err);
    assert!(server.mails().is_empty(), "nothing was sent in clear");
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_fails_promptly() {
    let server = SmtpServer::start();
    let mailer = mailer(&smtp_config(server.port(), SmtpTls::Tls));
    let started = Instant::now();
    let text = long_link();
    let err = mailer
        .send(&Message {
            to: "bob@example.org",
            subject: "x",
            text: &text,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Connect { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert_no_secret(&err);
    assert!(server.mails().is_empty());
}

#[tokio::test]
async fn a_closed_port_is_a_prompt_connect_error() {
    let port = testkit::free_port();
    let mailer = mailer(&smtp_config(port, SmtpTls::Opportunistic));
    let started = Instant::now();
    let text = long_link();
    let err = mailer
        .send(&Message {
            to: "carol@example.org",
            subject: "x",
            text: &text,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MailError::Connect { port: p, reason, .. } if *p == port && reason.contains("refused")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(err.is_transient());
    assert_no_secret(&err);
}

#[tokio::test]
async fn credentials_are_not_offered_to_a_server_without_auth() {
    let server = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp.pw"), "s3cret-Pa55word\n").unwrap();
    let config = MailConfig {
        smtp_username: Some("certd".to_owned()),
        smtp_password_file: Some("smtp.pw".into()),
        // Clear text to a relay on this host: the one case a login goes without TLS.
        ..smtp_config(server.port(), SmtpTls::None)
    };
    let mailer = Mailer::new(&config, dir.path()).unwrap();
    let text = long_link();
    let err = mailer
        .send(&Message {
            to: "dave@example.org",
            subject: "x",
            text: &text,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Protocol { .. }), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}"), format!("{mailer:?}")] {
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    assert_no_secret(&err);
    assert!(server.mails().is_empty());
}

/// A peer that accepts the envelope's sender and refuses every recipient with 550, quoting
/// something in its reply text (which must not reach our error).
async fn refusing_peer() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write
            .write_all(b"220 refusing.test ESMTP\r\n")
            .await
            .unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 refusing.test\r\n",
                "MAIL" => b"250 2.1.0 ok\r\n",
                "RCPT" => b"550 5.1.1 no such user; you said QUOTED-BY-SERVER\r\n",
                "QUIT" => b"221 bye\r\n",
                _ => b"250 ok\r\n",
            };
            if write.write_all(reply).await.is_err() || verb == "QUIT" {
                break;
            }
        }
    });
    port
}

#[tokio::test]
async fn a_refused_recipient_is_a_permanent_rejection_with_its_code() {
    let port = refusing_peer().await;
    let mailer = mailer(&smtp_config(port, SmtpTls::Opportunistic));
    let text = long_link();
    let err = mailer
        .send(&Message {
            to: "nobody@example.org",
            subject: "x",
            text: &text,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, MailError::Rejected { code: 550, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("QUOTED-BY-SERVER"), "{shown}");
    assert_no_secret(&err);
}
