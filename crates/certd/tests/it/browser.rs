//! certd's HTML interface in real headless Chromium (testkit's WebDriver client), with its
//! mails delivered to a real SMTP server (aiosmtpd): the flows a person goes through
//! (`scenarios`) and what an attacker's page or a hand-made request tries (`attacks`).
//! The harness here starts certd in-process on a loopback port; it owns no assertions
//! about pages beyond the helpers' own steps.

mod attacks;
mod scenarios;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::browser::{Browser, Element, screenshots_dir};
use testkit::smtp::{Mail, SmtpServer};

use crate::harness::{ZONE, zone_config};

/// How long a mail may take to reach the SMTP server.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
/// A password every validator accepts (long, uncommon, not containing the username).
const PASSWORD: &str = "violet tractor quietly hums 42";

/// certd serving HTTP on a loopback port with its mail going to a real SMTP server.
pub struct Site {
    /// `http://127.0.0.1:<port>`, also certd's `public_url`.
    pub url: String,
    pub addr: SocketAddr,
    pub smtp: SmtpServer,
    pub store: Arc<dyn certd_store::Store>,
    // Dropped in this order: the runtime (and certd with it) before its database.
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Site {
    pub fn start() -> Site {
        let smtp = SmtpServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mail_config: certd_mail::MailConfig = toml::from_str(&format!(
            r#"
            transport = "smtp"
            from = "aws-sso-certd <noreply@certs.test>"
            smtp_host = "127.0.0.1"
            smtp_port = {}
            smtp_tls = "opportunistic"
            "#,
            smtp.port()
        ))
        .unwrap();
        let mailer = certd_mail::Mailer::new(&mail_config, dir.path()).unwrap();
        let (addr, store) = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let dsn = certd_store::Dsn::parse(&format!(
                "sqlite://{}",
                dir.path().join("certd.sqlite").display()
            ))
            .unwrap();
            let store = certd_store::open(&dsn).await.unwrap();
            let zone = Arc::new(certd_dns::ZoneState::new(zone_config()).unwrap());
            let mut settings = certd::Settings::new(ZONE);
            settings.secure_cookies = false;
            settings.public_url = format!("http://{addr}");
            let state = certd::AppState::new(
                Arc::clone(&store),
                zone,
                settings,
                Arc::new(time::OffsetDateTime::now_utc),
                None,
            )
            .unwrap()
            .with_mailer(mailer)
            .unwrap();
            let app = certd::router(state);
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
                .unwrap();
            });
            (addr, store)
        });
        Site {
            url: format!("http://{addr}"),
            addr,
            smtp,
            store,
            rt,
            _dir: dir,
        }
    }

    /// `<url><path>`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Runs `f` on certd's runtime (store queries, say).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Waits for a mail to `to` whose subject contains `subject`; panics listing what came.
    pub fn mail(&self, to: &str, subject: &str) -> Mail {
        let deadline = Instant::now() + MAIL_TIMEOUT;
        loop {
            let mails = self.smtp.mails();
            if let Some(mail) = mails
                .iter()
                .find(|m| m.to.contains(to) && m.subject.contains(subject))
            {
                return mail.clone();
            }
            if Instant::now() >= deadline {
                let seen: Vec<(&str, &str)> = mails
                    .iter()
                    .map(|m| (m.to.as_str(), m.subject.as_str()))
                    .collect();
                panic!(
                    "no mail to {to} about {subject:?} within {MAIL_TIMEOUT:?}; \
                     came (to, subject): {seen:?}\naiosmtpd: {}",
                    self.smtp.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The link in `mail` that starts `<url><path>?token=`, whole.
    pub fn link_in(&self, mail: &Mail, path: &str) -> String {
        let start = format!("{}{path}?token=", self.url);
        mail.body
            .split_whitespace()
            .find(|w| w.starts_with(&start))
            .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
            .unwrap_or_else(|| panic!("no {start}… link in the mail:\n{}", mail.body))
    }

    /// One HTTP/1.1 request straight to certd (no browser): `form` is sent URL-encoded,
    /// `cookie` as the Cookie header, with a same-origin `Origin` as a browser would.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&[(&str, &str)]>,
    ) -> HttpReply {
        let body = form.map(form_urlencode).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(cookie) = cookie.filter(|c| !c.is_empty()) {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if form.is_some() {
            request.push_str(&format!(
                "Origin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\n",
                self.url,
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        HttpReply::parse(&raw)
    }
}

/// A response as certd sent it.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    /// Header names lowercase, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    fn parse(raw: &[u8]) -> HttpReply {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        HttpReply {
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

/// `application/x-www-form-urlencoded`, every byte but the unreserved ones escaped.
pub fn form_urlencode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A unique-enough suffix for usernames and labels (tests share nothing, but names read
/// better in screenshots when they differ).
pub fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:05}", nanos % 100_000)
}

/// The page's path (after the origin), for comparing where the browser ended up.
pub fn path_of(browser: &Browser, site: &Site) -> String {
    let url = browser.current_url();
    url.strip_prefix(&site.url)
        .unwrap_or_else(|| panic!("the browser left certd: {url}"))
        .to_owned()
}

/// Fills `fields` (input or select names) of `form` and submits it with its button.
pub fn fill_and_submit(form: &Element, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let input = form.find(&format!("[name={name}]"));
        if input.tag_name() == "select" {
            input.find(&format!("option[value=\"{value}\"]")).click();
        } else {
            input.clear();
            input.send_keys(value);
        }
    }
    form.submit_via_button();
}

/// The value of the hidden `csrf` field of the form matching `css` on the current page.
pub fn csrf_of(browser: &Browser, css: &str) -> String {
    browser
        .find(css)
        .find("input[type=hidden][name=csrf]")
        .attr("value")
        .unwrap_or_else(|| panic!("{css} has a csrf field without a value"))
}

/// The browser's cookies for the current page as a `Cookie` header value.
pub fn cookie_header(browser: &Browser) -> String {
    browser
        .cookies()
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["name"].as_str().unwrap(),
                c["value"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Somebody signing up through the forms, logged in afterwards.
pub struct User {
    pub username: String,
    pub email: String,
}

impl User {
    pub fn new(name: &str) -> User {
        let username = format!("{name}-{}", suffix());
        User {
            email: format!("{username}@example.org"),
            username,
        }
    }

    /// Signs up from the landing page; ends on the dashboard.
    pub fn sign_up(&self, browser: &Browser, site: &Site) {
        browser.goto(&site.at("/signup"));
        fill_and_submit(
            &browser.find("form#signup"),
            &[
                ("username", &self.username),
                ("email", &self.email),
                ("password", PASSWORD),
            ],
        );
        assert_eq!(
            path_of(browser, site),
            "/dashboard",
            "signing up {} failed: {}",
            self.username,
            browser
                .try_find("#error")
                .map(|e| e.text())
                .unwrap_or_default()
        );
    }

    /// Logs in through the login form with `password`.
    pub fn log_in_with(&self, browser: &Browser, site: &Site, password: &str) {
        browser.goto(&site.at("/login"));
        fill_and_submit(
            &browser.find("form#login"),
            &[("username", &self.username), ("password", password)],
        );
    }

    pub fn log_in(&self, browser: &Browser, site: &Site) {
        self.log_in_with(browser, site, PASSWORD);
        assert_eq!(path_of(browser, site), "/dashboard");
    }
}

/// Logs out with the form every logged-in page has; ends on the landing page.
pub fn log_out(browser: &Browser, site: &Site) {
    browser.find("form#logout").submit_via_button();
    assert_eq!(path_of(browser, site), "/");
}

/// Registers `label` through the dashboard form.
pub fn register_hostname(browser: &Browser, site: &Site, label: &str) {
    browser.goto(&site.at("/dashboard"));
    fill_and_submit(&browser.find("form#register-hostname"), &[("name", label)]);
}

/// Saves a screenshot of the whole page named `name` (e.g. `certd-01-landing.png`) and
/// checks it landed.
pub fn screenshot(browser: &Browser, name: &str) -> std::path::PathBuf {
    let path = screenshots_dir().join(name);
    let _ = std::fs::remove_file(&path);
    browser.screenshot_full_page(&path);
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(len > 0, "{} is missing or empty", path.display());
    path
}
