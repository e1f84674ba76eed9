//! `SmtpServer`: a real SMTP server on loopback for tests, aiosmtpd (Debian's
//! `python3-aiosmtpd`) storing what it receives in a Maildir, and reading those mails back
//! decoded (quoted-printable, base64, RFC 2047 subjects) by Python's `email` package.
//! It offers no TLS and no authentication; it is killed and its Maildir deleted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::ports::{free_port, wait_for_port};
use crate::process::ChildGuard;

/// Environment variable naming the Python interpreter that has `aiosmtpd`.
pub const PYTHON_ENV: &str = "TESTKIT_SMTP_PYTHON";

/// Debian's interpreter, where `python3-aiosmtpd` installs (a `python3` earlier on `PATH`,
/// pyenv's say, may lack it).
const DEFAULT_PYTHON: &str = "/usr/bin/python3";
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Prints every mail in a Maildir (`new/` and `cur/`) as JSON: headers decoded, the
/// text/plain body decoded from its transfer encoding and charset.
const READ_MAILDIR: &str = r#"
import email, email.policy, json, os, sys
out = []
for sub in ("new", "cur"):
    d = os.path.join(sys.argv[1], sub)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            m = email.message_from_binary_file(f, policy=email.policy.default)
        part = m.get_body(preferencelist=("plain",))
        out.append({
            "from": str(m.get("From", "")),
            "to": str(m.get("To", "")),
            "subject": str(m.get("Subject", "")),
            "content_transfer_encoding": str(m.get("Content-Transfer-Encoding", "")),
            "body": part.get_content() if part is not None else "",
        })
json.dump(out, sys.stdout)
"#;

/// A running aiosmtpd on 127.0.0.1; stopped and its Maildir removed on drop.
#[derive(Debug)]
pub struct SmtpServer {
    // Dropped first: the server stops before its directory goes.
    guard: ChildGuard,
    dir: TempDir,
    port: u16,
    python: PathBuf,
}

/// One received mail, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The `From` header.
    pub from: String,
    /// The `To` header.
    pub to: String,
    /// The `Subject` header, decoded.
    pub subject: String,
    /// The text/plain body, transfer encoding and charset decoded, line ends `\n`.
    pub body: String,
    /// The `Content-Transfer-Encoding` the sender chose (empty if none).
    pub content_transfer_encoding: String,
}

impl SmtpServer {
    /// Starts a server, panicking with a how-to-fix message if that fails.
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(e) => panic!(
                "cannot start a test SMTP server: {e:#}\n\
                 (Debian/Ubuntu: apt-get install python3-aiosmtpd; or set {PYTHON_ENV} to a \
                 Python that has aiosmtpd)"
            ),
        }
    }

    /// Starts aiosmtpd on a free port and waits until it accepts connections (trying
    /// another port if the first was taken meanwhile).
    pub fn try_start() -> Result<Self> {
        let python = python()?;
        let dir = tempfile::Builder::new().prefix("testkit-smtp-").tempdir()?;
        let maildir = dir.path().join("maildir");
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut guard = ChildGuard::spawn(
                Command::new(&python)
                    .args(["-m", "aiosmtpd", "-n", "-l"])
                    .arg(format!("127.0.0.1:{port}"))
                    .args(["-c", "aiosmtpd.handlers.Mailbox"])
                    .arg(&maildir),
                "aiosmtpd",
            )
            .with_context(|| format!("spawn {} -m aiosmtpd", python.display()))?;
            if wait_for_port(([127, 0, 0, 1], port).into(), START_TIMEOUT) {
                return Ok(Self {
                    guard,
                    dir,
                    port,
                    python,
                });
            }
            guard.terminate_and_wait();
            last_err = format!(
                "aiosmtpd did not listen on 127.0.0.1:{port}; its stderr:\n{}",
                guard.stderr()
            );
        }
        bail!("{last_err}")
    }

    /// The port it listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The Maildir receiving the mails.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// The server's stderr so far (aiosmtpd logs each session there).
    pub fn log(&self) -> String {
        self.guard.stderr()
    }

    /// Every mail received so far, oldest file name first.
    pub fn mails(&self) -> Vec<Mail> {
        read_maildir(&self.python, &self.maildir()).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Waits up to `timeout` for a mail whose `To` contains `to`; panics (listing what did
    /// arrive, without bodies) if none does.
    pub fn wait_for_mail(&self, to: &str, timeout: Duration) -> Mail {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if let Some(mail) = mails.iter().find(|m| m.to.contains(to)) {
                return mail.clone();
            }
            if Instant::now() >= deadline {
                let seen: Vec<(&str, &str)> = mails
                    .iter()
                    .map(|m| (m.to.as_str(), m.subject.as_str()))
                    .collect();
                panic!(
                    "no mail to {to} within {timeout:?}; received (to, subject): {seen:?}\n\
                     aiosmtpd stderr:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `$TESTKIT_SMTP_PYTHON`, else Debian's `/usr/bin/python3`; checked to import aiosmtpd.
fn python() -> Result<PathBuf> {
    let python = std::env::var_os(PYTHON_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PYTHON));
    let out = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .with_context(|| format!("run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot import aiosmtpd: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(python)
}

fn read_maildir(python: &Path, maildir: &Path) -> Result<Vec<Mail>> {
    let out = Command::new(python)
        .args(["-c", READ_MAILDIR])
        .arg(maildir)
        .output()
        .context("run the Maildir reader")?;
    if !out.status.success() {
        bail!(
            "reading {} failed: {}",
            maildir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).context("parse the Maildir reader's JSON")?;
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Ok(list
        .iter()
        .map(|v| Mail {
            from: field(v, "from"),
            to: field(v, "to"),
            subject: field(v, "subject"),
            body: field(v, "body").replace("\r\n", "\n"),
            content_transfer_encoding: field(v, "content_transfer_encoding"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;

    /// A hand-written SMTP session (no client library): what arrives is read back decoded.
    #[test]
    fn receives_and_decodes_a_quoted_printable_mail() {
        let server = SmtpServer::start();
        let stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut expect = |code: &str| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        };
        expect("220");
        let mut say = |text: &str| writer.write_all(text.as_bytes()).unwrap();
        say("EHLO test\r\n");
        expect("250");
        say("MAIL FROM:<a@example.org>\r\n");
        expect("250");
        say("RCPT TO:<b@example.org>\r\n");
        expect("250");
        say("DATA\r\n");
        expect("354");
        say(
            "From: a@example.org\r\nTo: b@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n\
             https://x.example/a?token=3D0123456789012345678901234567890123456789012345678=\r\n\
             9abc\r\nsecond line\r\n.\r\n",
        );
        expect("250");
        say("QUIT\r\n");
        let mail = server.wait_for_mail("b@example.org", Duration::from_secs(10));
        assert_eq!(mail.subject, "café");
        assert_eq!(
            mail.body,
            "https://x.example/a?token=01234567890123456789012345678901234567890123456789abc\n\
             second line\n"
        );
        assert_eq!(mail.content_transfer_encoding, "quoted-printable");
        assert_eq!(server.mails().len(), 1);
    }
}
