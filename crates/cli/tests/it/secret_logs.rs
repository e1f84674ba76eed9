//! Attack: someone who reads logs (a log collector, a support bundle, a shared terminal
//! scroll-back) harvests secrets from them. The whole flow runs with debug logging in both
//! programs: aws-sso-certd as a process (SQLite, its own DNS, Pebble as the CA, the log
//! mail transport) and every `aws-sso` command (enrollment, CSR signing, the ECS server over
//! HTTPS, loading credentials), with a real SDK fetching, a wrong token and a wrong
//! password tried. Every line either program wrote is then searched for every secret in
//! every encoding it could plausibly be logged in. The one deliberate exception is the body
//! of a mail printed by the log mail transport (it exists to show the mailed link on a
//! local install, and writes to stderr without `tracing`): exactly those lines are left out.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use testkit::pebble::{Pebble, PebbleOptions};
use testkit::process::ChildGuard;
use testkit::sdk::{python_sdk_fetch_in, rust_sdk_fetch_in};

use crate::harness::{PrivateHosts, Run, User, certd_bin};

const ZONE: &str = "logs.test";
const MAIL_START: &str = "----- aws-sso-certd mail, log transport: NOT SENT";
const MAIL_END: &str = "----- end of mail -----";

/// Distinctive random lowercase hex.
fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    hex::encode(buf)
}

/// A secret and the forms it is looked for in.
struct Needle {
    what: String,
    text: String,
}

#[derive(Default)]
struct Needles(Vec<Needle>);

impl Needles {
    fn add(&mut self, what: &str, text: &str) {
        assert!(
            text.len() >= 16,
            "{what}: a needle this short would be noise"
        );
        self.0.push(Needle {
            what: what.to_owned(),
            text: text.to_owned(),
        });
    }

    /// A private key given as PKCS#8 DER: the DER in hex (both cases), base64 (standard
    /// and URL-safe), each line of its PEM body, and the private scalar or seed alone in
    /// hex, base64 and Rust's `Debug` of a byte slice.
    fn add_private_key(&mut self, what: &str, der: &[u8]) {
        let hex_der = hex::encode(der);
        self.add(&format!("{what} (DER hex)"), &hex_der);
        self.add(&format!("{what} (DER HEX)"), &hex_der.to_ascii_uppercase());
        let b64 = STANDARD.encode(der);
        self.add(&format!("{what} (DER base64)"), &b64);
        self.add(
            &format!("{what} (DER base64url)"),
            &URL_SAFE_NO_PAD.encode(der),
        );
        for (i, line) in b64.as_bytes().chunks(64).enumerate() {
            let line = std::str::from_utf8(line).unwrap();
            if line.len() >= 16 {
                self.add(&format!("{what} (PEM body line {i})"), line);
            }
        }
        let scalar = private_scalar(der).unwrap_or_else(|| panic!("{what}: no private scalar"));
        self.add(&format!("{what} (scalar hex)"), &hex::encode(scalar));
        self.add(&format!("{what} (scalar base64)"), &STANDARD.encode(scalar));
        self.add(
            &format!("{what} (scalar base64url)"),
            &URL_SAFE_NO_PAD.encode(scalar),
        );
        self.add(&format!("{what} (scalar Debug)"), &format!("{scalar:?}"));
    }

    /// What each needle found in a line of `log` is (one entry per hit), ANSI colour codes
    /// removed and lines of mails printed by the log transport left out.
    fn find_in(&self, log: &str) -> Vec<&str> {
        self.search(log, true)
    }

    /// [`Needles::find_in`], mails included when `skip_mails` is false.
    fn search(&self, log: &str, skip_mails: bool) -> Vec<&str> {
        let plain = strip_ansi(log);
        let lines = if skip_mails {
            lines_outside_mails(&plain)
        } else {
            plain.lines().collect()
        };
        let mut found = vec![];
        for line in lines {
            for n in &self.0 {
                if line.contains(&n.text) {
                    found.push(n.what.as_str());
                }
            }
        }
        found
    }
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The 32-byte private part of a PKCS#8 key: the `OCTET STRING` of 32 bytes that follows
/// `version 1` in an ECPrivateKey (`02 01 01 04 20`) or wraps an Ed25519 seed
/// (`04 22 04 20`).
fn private_scalar(der: &[u8]) -> Option<&[u8]> {
    for prefix in [
        &[0x02, 0x01, 0x01, 0x04, 0x20][..],
        &[0x04, 0x22, 0x04, 0x20][..],
    ] {
        if let Some(at) = der.windows(prefix.len()).position(|w| w == prefix) {
            return der.get(at + prefix.len()..at + prefix.len() + 32);
        }
    }
    None
}

/// The lines of `log` outside the mails the log transport prints (banner to end marker).
fn lines_outside_mails(log: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut in_mail = false;
    for line in log.lines() {
        if line.starts_with(MAIL_START) {
            in_mail = true;
        } else if in_mail && line == MAIL_END {
            in_mail = false;
        } else if !in_mail {
            out.push(line);
        }
    }
    out
}

/// The mails the log transport printed, each as its lines.
fn mails(log: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current: Option<String> = None;
    for line in log.lines() {
        if line.starts_with(MAIL_START) {
            current = Some(String::new());
        } else if line == MAIL_END {
            out.extend(current.take());
        } else if let Some(m) = current.as_mut() {
            m.push_str(line);
            m.push('\n');
        }
    }
    out
}

/// certd serving HTTP and DNS on loopback with debug logging.
fn start_certd(dir: &Path, http: u16, dns: u16, pebble: &Pebble) -> ChildGuard {
    let root = dir.join("pebble-https-root.pem");
    std::fs::write(&root, pebble.https_root_pem()).unwrap();
    let cfg = dir.join("certd.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[service]
zone = "{ZONE}"
data_dir = "data"
[http]
listen = "127.0.0.1:{http}"
secure_cookies = false
[dns]
listen = "127.0.0.1:{dns}"
nameservers = ["ns1.{ZONE}"]
hostmaster = "hostmaster.{ZONE}"
[acme]
directory = "{dir_url}"
contact = "ops@{ZONE}"
caa_issuer = "pebble.letsencrypt.org"
extra_root = "{root}"
"#,
            dir_url = pebble.directory_url(),
            root = root.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(certd_bin());
    cmd.args(["serve", "--config", cfg.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CERTD_LOG", "debug")
        .env("NO_COLOR", "1");
    let mut child = ChildGuard::spawn(&mut cmd, "certd-secret-logs").unwrap();
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    if !child.wait_for_port(addr, Duration::from_secs(30)) {
        panic!(
            "certd did not listen: {:?} {}",
            child.try_status(),
            child.stderr()
        );
    }
    child
}

/// POSTs JSON to certd with curl and a cookie jar; returns (status, body).
fn post(port: u16, path: &str, body: &str, jar: &Path) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", "content-type: application/json", "--data", body])
        .arg("-c")
        .arg(jar)
        .arg("-b")
        .arg(jar)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

/// The value of cookie `name` in a curl cookie jar.
fn cookie(jar: &Path, name: &str) -> String {
    std::fs::read_to_string(jar)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7 && f[5] == name).then(|| f[6].to_owned())
        })
        .next_back()
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// Every `aws-sso` run's output, by command.
#[derive(Default)]
struct Logs(Vec<(String, String)>);

impl Logs {
    fn keep(&mut self, args: &[&str], r: &Run) {
        let name = format!("aws-sso {}", args.join(" "));
        self.0.push((name, format!("{}{}", r.stdout, r.stderr)));
    }
}

/// Runs `aws-sso <args>` with debug logging (through `wrapper` if any), keeps its output,
/// and asserts it succeeded.
fn aws_sso(user: &User, logs: &mut Logs, wrapper: &[&str], args: &[&str]) -> Run {
    let mut cmd = if wrapper.is_empty() {
        user.command(args)
    } else {
        user.command_in(wrapper, args)
    };
    let r: Run = cmd.env("AWS_SSO_LOG", "debug").output().unwrap().into();
    logs.keep(args, &r);
    assert!(r.ok, "aws-sso {args:?} failed: {}", r.stderr);
    r
}

#[test]
fn no_secret_reaches_any_log_at_debug_level() {
    let dir = tempfile::tempdir().unwrap();
    let (http, dns) = (testkit::ports::free_port(), testkit::ports::free_port());
    let pebble = Pebble::start(
        format!("127.0.0.1:{dns}").parse().unwrap(),
        PebbleOptions::default(),
    );
    let mut certd = start_certd(dir.path(), http, dns, &pebble);
    let service = format!("http://127.0.0.1:{http}");
    let mut needles = Needles::default();

    // --- certd: sign up, confirm the address, log in, a name, an API key, a bad login ---
    let jar = dir.path().join("cookies");
    let username = format!("u{}", random_hex(4));
    let password = format!("pw-{}", random_hex(16));
    let (code, body) = post(
        http,
        "/api/v1/accounts",
        &format!(
            r#"{{"username":"{username}","password":"{password}","email":"{username}@example.org"}}"#
        ),
        &jar,
    );
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let verify_token = loop {
        let log = certd.stderr();
        if let Some(mail) = mails(&log).first() {
            let at = mail.find("/verify?token=").expect("a verification link") + 14;
            let rest = &mail[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            break rest[..end].to_owned();
        }
        assert!(Instant::now() < deadline, "no mail printed: {log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (code, body) = post(
        http,
        "/api/v1/email/verify",
        &format!(r#"{{"token":"{verify_token}"}}"#),
        &jar,
    );
    assert_eq!(code, 200, "{body}");
    let wrong_password = format!("wrong-{}", random_hex(16));
    let (code, _) = post(
        http,
        "/api/v1/session",
        &format!(r#"{{"username":"{username}","password":"{wrong_password}"}}"#),
        &jar,
    );
    assert_eq!(code, 401, "a bad login is refused");
    let (code, body) = post(
        http,
        "/api/v1/session",
        &format!(r#"{{"username":"{username}","password":"{password}"}}"#),
        &jar,
    );
    assert_eq!(code, 200, "{body}");
    let session = cookie(&jar, "certd_session");
    let label = format!("logs-{}", random_hex(4));
    let fqdn = format!("{label}.{ZONE}");
    let (code, body) = post(
        http,
        "/api/v1/hostnames",
        &format!(r#"{{"name":"{label}"}}"#),
        &jar,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = post(
        http,
        "/api/v1/api-keys",
        &format!(r#"{{"hostname":"{label}"}}"#),
        &jar,
    );
    assert_eq!(code, 201, "{body}");
    let api_key = serde_json::from_str::<Value>(&body).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    needles.add("password", &password);
    needles.add("wrong password", &wrong_password);
    needles.add("session cookie", &session);
    needles.add("email verification token", &verify_token);
    needles.add("API key", &api_key);

    // --- aws-sso: name, enrollment, certificate, token, server, credentials ---
    let user = User::new();
    let mut logs = Logs::default();
    let hosts = PrivateHosts::new(&[&fqdn]);
    let wrapper = hosts.wrapper();
    aws_sso(
        &user,
        &mut logs,
        &wrapper,
        &["setup", "ecs", "cert", "fqdn", &fqdn, "--service", &service],
    );
    aws_sso(
        &user,
        &mut logs,
        &[],
        &["setup", "ecs", "cert", "api-key", &api_key],
    );
    let r = aws_sso(&user, &mut logs, &[], &["setup", "ecs", "cert", "sign-csr"]);
    assert!(r.stderr.contains("Stored the certificate"), "{}", r.stderr);
    aws_sso(
        &user,
        &mut logs,
        &wrapper,
        &["setup", "ecs", "cert", "status"],
    );
    aws_sso(&user, &mut logs, &[], &["setup", "ecs", "ssl", "--print"]);
    let bearer = format!("tok{}", random_hex(24));
    aws_sso(
        &user,
        &mut logs,
        &[],
        &["setup", "ecs", "auth", "--bearer-token", &bearer],
    );
    let (_, secret, session_token) = user.profile("dev");
    let server = user.server(&[]);
    let addr = server.addr();
    aws_sso(
        &user,
        &mut logs,
        &[],
        &["ecs", "load", "--profile", "dev", "--server", &addr],
    );
    aws_sso(&user, &mut logs, &[], &["ecs", "list", "--server", &addr]);
    aws_sso(&user, &mut logs, &[], &["ecs", "env", "--server", &addr]);

    // A real SDK fetches over HTTPS from the name, trusting Pebble's issuing root (the
    // stand-in for a public CA); then a wrong token.
    testkit::venv::trust_ca_for_botocore(pebble.issuer_root_pem());
    let uri = format!("https://{fqdn}:{}/", server.port);
    let header = format!("Bearer {bearer}");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", header.as_str()),
    ];
    let got = python_sdk_fetch_in(&wrapper, &env).unwrap();
    assert_eq!(got["SecretAccessKey"], secret.as_str());
    let issuer = dir.path().join("pebble-issuer.pem");
    std::fs::write(&issuer, pebble.issuer_root_pem()).unwrap();
    let mut rust_env = env.to_vec();
    rust_env.push(("SSL_CERT_FILE", issuer.to_str().unwrap()));
    let got = rust_sdk_fetch_in(&wrapper, &rust_env).unwrap();
    assert_eq!(got["SessionToken"], session_token.as_str());
    let wrong_bearer = format!("Bearer bad{}", random_hex(24));
    let wrong = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", wrong_bearer.as_str()),
    ];
    assert!(python_sdk_fetch_in(&wrapper, &wrong).is_err());
    aws_sso(&user, &mut logs, &[], &["ecs", "unload", "--server", &addr]);
    let server_log = server.stop();

    needles.add("bearer token", &bearer);
    needles.add("wrong bearer token", &wrong_bearer["Bearer ".len()..]);
    needles.add("secret access key", &secret);
    needles.add("session token", &session_token);
    needles.add("file store password", user.home.file_password());
    let device_hex = user.stored(cli::items::CERTD_DEVICE_KEY).unwrap();
    needles.add_private_key("device key", &hex::decode(&device_hex).unwrap());
    let tls_pem = user.stored(cli::items::ECS_SSL_KEY).unwrap();
    let tls_der = pem_body(&tls_pem);
    needles.add_private_key("TLS key", &tls_der);

    let status = certd.terminate_and_wait();
    assert!(status.success(), "certd stops cleanly: {status:?}");
    let certd_log = certd.stderr() + &certd.stdout();

    // The logs are real: debug lines from both programs, the flow's milestones.
    let debug_lines = |log: &str| log.lines().filter(|l| l.contains("DEBUG")).count();
    assert!(debug_lines(&certd_log) >= 20, "certd logged at debug level");
    assert!(
        debug_lines(&server_log) >= 5,
        "the ECS server logged at debug level"
    );
    let cli_debug: usize = logs.0.iter().map(|(_, l)| debug_lines(l)).sum();
    assert!(cli_debug >= 5, "the aws-sso commands logged at debug level");
    assert!(
        server_log.contains("loaded default credentials"),
        "{server_log}"
    );
    assert!(
        logs.0.len() >= 10 && logs.0.iter().all(|(_, l)| !l.is_empty()),
        "every command printed something"
    );

    // The log transport printed exactly one mail, the verification link, and it is the
    // only place its token appears: the exclusion removes no more than that mail.
    let printed = mails(&certd_log);
    assert_eq!(printed.len(), 1, "one verification mail");
    assert!(printed[0].contains(&verify_token));
    assert!(
        lines_outside_mails(&certd_log).len() + printed[0].lines().count() + 2
            == certd_log.lines().count()
    );

    // A real positive: certd's own output does hold a secret, the link in the mail, and
    // the same search finds it there when mails are not left out.
    assert_eq!(
        needles.search(&certd_log, false),
        ["email verification token"],
        "the printed mail holds the verification token and nothing else secret"
    );

    // The search finds each needle, planted in a synthetic log line in the middle of a
    // log, and ignores it inside a printed mail.
    for n in &needles.0 {
        let planted = format!(
            "x DEBUG a\n2026-01-01T00:00:00Z \x1b[34mDEBUG\x1b[0m \x1b[3mvalue\x1b[0m\x1b[2m=\x1b[0m{} end\ny",
            n.text
        );
        assert!(
            needles.find_in(&planted).contains(&n.what.as_str()),
            "{} not found when planted",
            n.what
        );
        let in_mail = format!("{MAIL_START} x -----\n{}\n{MAIL_END}\n", n.text);
        assert!(needles.find_in(&in_mail).is_empty());
    }

    let mut all = vec![
        ("aws-sso-certd".to_owned(), certd_log),
        ("aws-sso ecs server".to_owned(), server_log),
    ];
    all.extend(logs.0);
    let mut leaks = vec![];
    for (program, log) in &all {
        // The line itself is not printed: it holds the secret.
        for what in needles.find_in(log) {
            leaks.push(format!("{what} in the output of {program}"));
        }
    }
    assert!(leaks.is_empty(), "secrets in logs: {leaks:#?}");
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).unwrap()
}
