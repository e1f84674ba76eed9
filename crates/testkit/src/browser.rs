//! `Browser`: headless Chromium driven by chromedriver over the W3C WebDriver protocol,
//! spoken as plain HTTP/1.1 with JSON bodies on a loopback `TcpStream` (no HTTP or TLS
//! client crate). Enough for server-rendered pages: navigate, find, type, click, read the
//! source, screenshots, cookies and the odd script. chromedriver is killed and the
//! Chromium profile removed on drop. It knows nothing of the pages it is pointed at.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::paths::target_profile_dir;
use crate::ports::{free_port, wait_for_port};
use crate::process::ChildGuard;

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM_BIN: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` package puts chromedriver.
pub const CHROMEDRIVER_BIN: &str = "/usr/bin/chromedriver";

/// The JSON key of an element reference (W3C WebDriver, "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long [`Browser::find`] polls for an element that is not there yet.
const FIND_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a page load may take before the command fails.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest one HTTP exchange with chromedriver may take (session start, page load).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long chromedriver gets to listen on its port.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How much page source a failed [`Browser::find`] shows.
const SOURCE_EXCERPT: usize = 3000;

/// `$AWS_SSO_SCREENSHOTS_DIR`, else `<cargo target dir>/screenshots`; created on first use.
pub fn screenshots_dir() -> PathBuf {
    let dir = match std::env::var_os("AWS_SSO_SCREENSHOTS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let profile = target_profile_dir();
            profile
                .parent()
                .map_or_else(|| profile.clone(), Path::to_path_buf)
                .join("screenshots")
        }
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A running headless Chromium with one WebDriver session.
#[derive(Debug)]
pub struct Browser {
    session: Arc<Session>,
    // Fields drop in order: chromedriver stops before its Chromium profile is removed.
    driver: ChildGuard,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session with a fresh
    /// profile. Panics with a clear message if Chromium or chromedriver is missing or
    /// Chromium does not start.
    pub fn start() -> Browser {
        for bin in [CHROMIUM_BIN, CHROMEDRIVER_BIN] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: run scripts/test, or apt-get install -y chromium chromium-driver"
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("testkit-chromium-")
            .tempdir()
            .expect("temp dir for the Chromium profile");
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let driver = ChildGuard::spawn(
            Command::new(CHROMEDRIVER_BIN).arg(format!("--port={port}")),
            "chromedriver",
        )
        .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER_BIN}: {e}"));
        assert!(
            wait_for_port(addr, DRIVER_START_TIMEOUT),
            "chromedriver did not listen on {addr}: {}{}",
            driver.stdout(),
            driver.stderr()
        );
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    // An alert stays open for [`Browser::alert_text`] to see; commands
                    // meanwhile fail with "unexpected alert open".
                    "unhandledPromptBehavior": "ignore",
                    "timeouts": {
                        "implicit": 0,
                        "pageLoad": PAGE_LOAD_TIMEOUT.as_millis(),
                        "script": 10_000,
                    },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM_BIN,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            format!("--user-data-dir={}", profile.path().display()),
                            "--window-size=1280,1000",
                        ],
                    },
                },
            },
        });
        let value = webdriver(addr, "POST", "/session", Some(&capabilities)).unwrap_or_else(|e| {
            panic!(
                "chromedriver could not start Chromium: {e}\nchromedriver log ({}): {}",
                driver.stdout_path().display(),
                driver.stdout()
            )
        });
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in chromedriver's answer: {value}"))
            .to_owned();
        Browser {
            session: Arc::new(Session { addr, id }),
            driver,
            _profile: profile,
        }
    }

    /// Loads `url` and waits for the page load to complete.
    pub fn goto(&self, url: &str) {
        self.session
            .call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Reloads the current page.
    pub fn refresh(&self) {
        self.session.call("POST", "/refresh", Some(&json!({})));
    }

    /// Goes one step back in the history.
    pub fn back(&self) {
        self.session.call("POST", "/back", Some(&json!({})));
    }

    /// The URL of the current top-level page.
    pub fn current_url(&self) -> String {
        string(self.session.call("GET", "/url", None))
    }

    /// The current page's `<title>`.
    pub fn title(&self) -> String {
        string(self.session.call("GET", "/title", None))
    }

    /// The current page's DOM serialized as HTML (not the bytes the server sent).
    pub fn source(&self) -> String {
        string(self.session.call("GET", "/source", None))
    }

    /// The first element matching `css`, polled for up to 5 s; panics with the selector,
    /// the URL and an excerpt of the page source when there is none.
    pub fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            if let Some(element) = self.try_find(css) {
                return element;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no element matches `{css}` on {}; page source begins:\n{}",
                    self.current_url(),
                    excerpt(&self.source(), SOURCE_EXCERPT)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first element matching `css` right now, without waiting.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        find_in(&self.session, "", css)
    }

    /// Every element matching `css` right now (possibly none).
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        find_all_in(&self.session, "", css)
    }

    /// Saves a PNG of the viewport at `path`, creating its parent directories.
    pub fn screenshot(&self, path: &Path) {
        let png = base64_value(self.session.call("GET", "/screenshot", None));
        write_file(path, &png);
    }

    /// Saves a PNG of the whole page, beyond the viewport (Chromium's DevTools
    /// `Page.captureScreenshot` through chromedriver), creating parent directories.
    pub fn screenshot_full_page(&self, path: &Path) {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let (width, height) = (size["width"].as_f64(), size["height"].as_f64());
        let (Some(width), Some(height)) = (width, height) else {
            panic!("no page size in {metrics}");
        };
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
        );
        write_file(path, &base64_value(shot["data"].clone()));
    }

    /// Runs the Chrome DevTools Protocol command `cmd` (chromedriver's `goog/cdp/execute`).
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.session.call(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({ "cmd": cmd, "params": params })),
        )
    }

    /// Every cookie the current page can see, as WebDriver reports them: objects with
    /// `name`, `value`, `path`, `domain`, `httpOnly`, `secure`, `sameSite` and maybe `expiry`.
    pub fn cookies(&self) -> Vec<Value> {
        match self.session.call("GET", "/cookie", None) {
            Value::Array(cookies) => cookies,
            other => panic!("cookies are not a list: {other}"),
        }
    }

    /// Deletes every cookie of the current page's domain (logs a session out, say).
    pub fn delete_cookies(&self) {
        self.session.call("DELETE", "/cookie", None);
    }

    /// Runs `script` (a function body: `return ...;`) in the page with `args` (pass
    /// elements as [`Element::as_arg`]) and returns its result.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.session.call(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// Runs `f` with the iframe `frame` as the browsing context (finds, source and scripts
    /// then act inside it, whatever its origin), then returns to the top-level page.
    pub fn in_frame<T>(&self, frame: &Element, f: impl FnOnce(&Browser) -> T) -> T {
        self.session
            .call("POST", "/frame", Some(&json!({ "id": frame.as_arg() })));
        let result = f(self);
        self.session
            .call("POST", "/frame", Some(&json!({ "id": null })));
        result
    }

    /// The text of the open alert, confirm or prompt dialog, if one is open.
    pub fn alert_text(&self) -> Option<String> {
        match self.session.command("GET", "/alert/text", None) {
            Ok(value) => Some(string(value)),
            Err(e) if e.error == "no such alert" => None,
            Err(e) => panic!("reading the alert failed: {e}"),
        }
    }

    /// Dismisses the open dialog.
    pub fn dismiss_alert(&self) {
        self.session
            .call("POST", "/alert/dismiss", Some(&json!({})));
    }

    /// chromedriver's log so far (its stdout), for failure messages.
    pub fn driver_log(&self) -> String {
        self.driver.stdout()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failing test leaves a picture of where it stood.
            let name = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            let path = screenshots_dir().join(format!("failed-{name}.png"));
            if let Ok(value) = self.session.command("GET", "/screenshot", None)
                && let Some(png) = value
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                && std::fs::write(&path, png).is_ok()
            {
                eprintln!("browser: screenshot of the failure at {}", path.display());
            }
        }
        // Ends the session, which quits Chromium; chromedriver itself is the guard's.
        let _ = webdriver(
            self.session.addr,
            "DELETE",
            &format!("/session/{}", self.session.id),
            None,
        );
    }
}

/// An element of the page it was found on (stale once that page is gone).
#[derive(Debug, Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
}

impl Element {
    /// Clicks the element (scrolling it into view). A navigation it starts may still be
    /// under way on return: see [`Element::click_and_wait`].
    pub fn click(&self) {
        self.call("POST", "/click", Some(&json!({})));
    }

    /// Clicks the element and waits until a new document has replaced the current one and
    /// finished loading (a link, a form's button); panics if none has after 30 s.
    pub fn click_and_wait(&self) {
        // The old document carries a mark; the new one, whatever its URL, does not.
        self.session.call(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": "document.__testkitOld = true;", "args": [] })),
        );
        self.click();
        let deadline = Instant::now() + PAGE_LOAD_TIMEOUT;
        let loaded = json!({
            "script": "return document.__testkitOld !== true && document.readyState === 'complete';",
            "args": [],
        });
        loop {
            match self.session.command("POST", "/execute/sync", Some(&loaded)) {
                Ok(Value::Bool(true)) => return,
                // The new page opened a dialog: it has loaded; the caller looks at it.
                Err(e) if e.error == "unexpected alert open" => return,
                // Not yet, or between documents (no execution context for a moment).
                Ok(_) | Err(_) => {}
            }
            assert!(
                Instant::now() < deadline,
                "the click started no page load within {PAGE_LOAD_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` into the element (appended to what is there; see [`Element::clear`]).
    pub fn send_keys(&self, text: &str) {
        self.call("POST", "/value", Some(&json!({ "text": text })));
    }

    /// Empties an input or textarea.
    pub fn clear(&self) {
        self.call("POST", "/clear", Some(&json!({})));
    }

    /// The element's rendered text (what a user sees, whitespace collapsed).
    pub fn text(&self) -> String {
        string(self.call("GET", "/text", None))
    }

    /// The element's tag name, lowercase.
    pub fn tag_name(&self) -> String {
        string(self.call("GET", "/name", None)).to_ascii_lowercase()
    }

    /// The attribute `name` as written in the HTML, or None when absent.
    pub fn attr(&self, name: &str) -> Option<String> {
        match self.call("GET", &format!("/attribute/{name}"), None) {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// The DOM property `name` (e.g. `value` as typed, `href` resolved), or None.
    pub fn property(&self, name: &str) -> Option<Value> {
        match self.call("GET", &format!("/property/{name}"), None) {
            Value::Null => None,
            other => Some(other),
        }
    }

    /// Whether a user would see the element.
    pub fn is_displayed(&self) -> bool {
        self.call("GET", "/displayed", None).as_bool() == Some(true)
    }

    /// The first descendant matching `css`, polled for up to 5 s; panics when absent.
    pub fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            if let Some(element) = self.try_find(css) {
                return element;
            }
            assert!(
                Instant::now() < deadline,
                "no element matches `{css}` inside the element; its text: {}",
                excerpt(&self.text(), SOURCE_EXCERPT)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first descendant matching `css` right now, without waiting.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        find_in(&self.session, &format!("/element/{}", self.id), css)
    }

    /// Every descendant matching `css` right now.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        find_all_in(&self.session, &format!("/element/{}", self.id), css)
    }

    /// Clicks this form's submit button (`button[type=submit]`, else `input[type=submit]`),
    /// as a user would, so the form's own method, action and fields are what get sent;
    /// returns once the answer has loaded (see [`Element::click_and_wait`]).
    pub fn submit_via_button(&self) {
        let button = self
            .try_find("button[type=submit]")
            .or_else(|| self.try_find("input[type=submit]"))
            .unwrap_or_else(|| {
                panic!(
                    "no button[type=submit] or input[type=submit] in this <{}>",
                    self.tag_name()
                )
            });
        button.click_and_wait();
    }

    /// The element as a script argument for [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// Saves a PNG of just this element at `path`, creating its parent directories.
    pub fn screenshot(&self, path: &Path) {
        let png = base64_value(self.call("GET", "/screenshot", None));
        write_file(path, &png);
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.session
            .call(method, &format!("/element/{}{path}", self.id), body)
    }
}

/// Fixed HTML pages served on a loopback port of their own (so on an origin of their own)
/// by a background thread: a stand-in attacker site, a page that frames another. Other
/// paths answer 404. Stopped on drop.
#[derive(Debug)]
pub struct StaticPages {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl StaticPages {
    /// Serves each `(path, html)` as `text/html` at `path` (query strings ignored).
    pub fn serve(pages: &[(&str, &str)]) -> StaticPages {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("local_addr of a bound listener");
        let pages: Arc<Vec<(String, String)>> = Arc::new(
            pages
                .iter()
                .map(|(p, h)| ((*p).to_owned(), (*h).to_owned()))
                .collect(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let pages = Arc::clone(&pages);
                // One thread per connection: a browser's idle preconnects must not stall.
                std::thread::spawn(move || answer_static(stream, &pages));
            }
        });
        StaticPages { addr, stop }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The loopback port the pages are served on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for StaticPages {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn answer_static(stream: TcpStream, pages: &[(String, String)]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    let _ = reader.read_exact(&mut body);
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let (status, html) = match pages.iter().find(|(p, _)| p == path) {
        Some((_, html)) => ("200 OK", html.as_str()),
        None => (
            "404 Not Found",
            "<!doctype html><title>404</title><h1>Not found</h1>",
        ),
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
}

/// Where chromedriver listens and which session is ours.
#[derive(Debug)]
struct Session {
    addr: SocketAddr,
    id: String,
}

impl Session {
    /// Runs a session command (`path` relative to `/session/<id>`).
    fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, WebDriverError> {
        webdriver(
            self.addr,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
    }

    /// Like [`Session::command`], panicking with chromedriver's message on failure.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.command(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path} failed: {e}"))
    }
}

fn find_in(session: &Arc<Session>, scope: &str, css: &str) -> Option<Element> {
    let query = json!({ "using": "css selector", "value": css });
    match session.command("POST", &format!("{scope}/element"), Some(&query)) {
        Ok(value) => Some(element(session, &value)),
        Err(e) if e.error == "no such element" => None,
        Err(e) => panic!("finding `{css}` failed: {e}"),
    }
}

fn find_all_in(session: &Arc<Session>, scope: &str, css: &str) -> Vec<Element> {
    let query = json!({ "using": "css selector", "value": css });
    match session.call("POST", &format!("{scope}/elements"), Some(&query)) {
        Value::Array(found) => found.iter().map(|v| element(session, v)).collect(),
        other => panic!("finding all `{css}` gave no list: {other}"),
    }
}

fn element(session: &Arc<Session>, value: &Value) -> Element {
    let id = value[ELEMENT_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("not an element reference: {value}"))
        .to_owned();
    Element {
        session: Arc::clone(session),
        id,
    }
}

fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("expected a string from WebDriver, got {other}"),
    }
}

fn base64_value(value: Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(string(value))
        .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn excerpt(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A failed WebDriver command: the HTTP status and the protocol's error code and message.
#[derive(Debug)]
struct WebDriverError {
    status: u16,
    error: String,
    message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

/// One WebDriver command: sends `body` as JSON and returns the answer's `value`.
fn webdriver(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, WebDriverError> {
    let transport = |e: std::io::Error| WebDriverError {
        status: 0,
        error: "transport".into(),
        message: format!("{method} http://{addr}{path}: {e}"),
    };
    let body = body.map(Value::to_string);
    let (status, bytes) = http(addr, method, path, body.as_deref()).map_err(transport)?;
    let mut answer: Value = serde_json::from_slice(&bytes).map_err(|e| WebDriverError {
        status,
        error: "unreadable answer".into(),
        message: format!("{e}: {}", String::from_utf8_lossy(&bytes)),
    })?;
    let value = answer["value"].take();
    if (200..300).contains(&status) {
        return Ok(value);
    }
    Err(WebDriverError {
        status,
        error: value["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_owned(),
        message: value["message"].as_str().unwrap_or_default().to_owned(),
    })
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`); returns the status
/// and the body (by Content-Length, chunked, or to the end of the stream).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    use std::io::{Error, ErrorKind};
    let bad = |what: String| Error::new(ErrorKind::InvalidData, what);

    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    let body = body.unwrap_or("");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        request.push_str("Content-Type: application/json; charset=utf-8\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;

    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|e| bad(format!("Content-Length {value:?}: {e}")))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16)
                .map_err(|e| bad(format!("chunk size {size:?}: {e}")))?;
            if size == 0 {
                break;
            }
            let start = out.len();
            out.resize(start + size, 0);
            reader.read_exact(&mut out[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(length) = length {
        out.resize(length, 0);
        reader.read_exact(&mut out)?;
    } else {
        reader.read_to_end(&mut out)?;
    }
    Ok((status, out))
}
