//! The WebDriver client against real headless Chromium: a tiny form served from a std
//! `TcpListener` is loaded, filled in, submitted and echoed back; the source, cookies,
//! scripts and a PNG screenshot come out as expected. The server here is a stand-in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use serde_json::json;
use testkit::browser::{Browser, StaticPages, screenshots_dir};

const FORM_PAGE: &str = r#"<!doctype html>
<html><head><title>Probe form</title></head>
<body>
  <h1 id="heading">Hello, <em>probe</em></h1>
  <ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
  <form id="echo" method="post" action="/echo">
    <input name="q" id="q" value="prefilled">
    <button type="submit">Send</button>
  </form>
</body></html>"#;

/// Serves [`FORM_PAGE`] at `/` (with a cookie) and echoes the form field `q` at `POST /echo`.
fn serve_form() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let (extra, html) = if request_line.starts_with("POST /echo ") {
        let form = String::from_utf8(body).unwrap();
        let q = form
            .split('&')
            .find_map(|pair| pair.strip_prefix("q="))
            .map(url_decode)
            .unwrap_or_default();
        (
            "",
            format!(
                "<!doctype html><title>Echo</title><p id=\"echoed\">{}</p>",
                html_escape(&q)
            ),
        )
    } else if request_line.starts_with("GET /deny ") {
        (
            "X-Frame-Options: DENY\r\nContent-Security-Policy: frame-ancestors 'none'\r\n",
            "<!doctype html><title>deny</title><form id=f><button>x</button></form>".to_owned(),
        )
    } else if request_line.starts_with("GET /allow ") {
        (
            "",
            "<!doctype html><title>allow</title><form id=f><button>x</button></form>".to_owned(),
        )
    } else if request_line.starts_with("GET / ") {
        (
            "Set-Cookie: probe=yes; Path=/; HttpOnly; SameSite=Strict\r\n",
            FORM_PAGE.to_owned(),
        )
    } else {
        ("", "<!doctype html><title>404</title>".to_owned())
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[test]
fn browser_fills_in_and_submits_a_form_and_takes_a_screenshot() {
    let port = serve_form();
    let browser = Browser::start();
    let home = format!("http://127.0.0.1:{port}/");
    browser.goto(&home);
    assert_eq!(browser.current_url(), home);
    assert_eq!(browser.title(), "Probe form");
    assert_eq!(browser.find("#heading").text(), "Hello, probe");
    assert!(browser.source().contains("<em>probe</em>"));
    let items: Vec<String> = browser
        .find_all("li.item")
        .iter()
        .map(|e| e.text())
        .collect();
    assert_eq!(items, ["one", "two", "three"]);
    assert!(browser.try_find("#no-such-thing").is_none());
    assert!(browser.find_all("#no-such-thing").is_empty());

    let form = browser.find("form#echo");
    assert_eq!(form.attr("method").as_deref(), Some("post"));
    assert_eq!(form.attr("data-missing"), None);
    let input = form.find("input[name=q]");
    assert_eq!(input.attr("value").as_deref(), Some("prefilled"));
    input.clear();
    input.send_keys("a <b> & \"c\"");
    assert_eq!(input.property("value"), Some(json!("a <b> & \"c\"")));

    // The cookie the page set, with its flags as the browser holds them.
    let cookies = browser.cookies();
    let probe = cookies
        .iter()
        .find(|c| c["name"] == "probe")
        .unwrap_or_else(|| panic!("no probe cookie in {cookies:?}"));
    assert_eq!(probe["value"], "yes");
    assert_eq!(probe["httpOnly"], true);
    assert_eq!(probe["sameSite"], "Strict");

    // A script sees the DOM and gets elements as arguments.
    let tag = browser.execute(
        "return arguments[0].tagName + ':' + arguments[1];",
        vec![form.as_arg(), json!(7)],
    );
    assert_eq!(tag, json!("FORM:7"));

    let shot = screenshots_dir().join("testkit-browser-form.png");
    let _ = std::fs::remove_file(&shot);
    browser.screenshot(&shot);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 1000, "a suspiciously small screenshot");

    let full = screenshots_dir().join("testkit-browser-form-full.png");
    let _ = std::fs::remove_file(&full);
    browser.execute("document.body.style.height = '3000px';", vec![]);
    browser.screenshot_full_page(&full);
    let png = std::fs::read(&full).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // The PNG's height (IHDR, big-endian at byte 20) is the page's, not the viewport's.
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(height >= 3000, "height {height}");

    form.submit_via_button();
    assert_eq!(
        browser.current_url(),
        format!("http://127.0.0.1:{port}/echo")
    );
    assert_eq!(browser.find("#echoed").text(), "a <b> & \"c\"");
    assert!(
        browser.source().contains("a &lt;b&gt; &amp; \"c\""),
        "{}",
        browser.source()
    );

    // `back` returns to the form; a fresh load has the server's value again.
    browser.back();
    assert_eq!(browser.title(), "Probe form");
    browser.goto(&home);
    browser.find("button[type=submit]").click_and_wait();
    assert_eq!(browser.find("#echoed").text(), "prefilled");
}

#[test]
fn static_pages_serve_their_paths_and_404_the_rest() {
    let frame_host = StaticPages::serve(&[(
        "/inner",
        "<!doctype html><title>inner</title><p id=inner>framed text</p>",
    )]);
    let outer = format!(
        "<!doctype html><title>outer</title><iframe id=f src=\"{}\"></iframe>\
         <button id=b onclick=\"alert('hi ' + 1)\">alert</button>",
        frame_host.url("/inner")
    );
    let pages = StaticPages::serve(&[
        ("/a", "<!doctype html><title>A</title><p id=a>page a</p>"),
        ("/outer", &outer),
    ]);
    let browser = Browser::start();
    browser.goto(&pages.url("/a?x=1"));
    assert_eq!(browser.find("#a").text(), "page a");
    browser.goto(&pages.url("/b"));
    assert_eq!(browser.title(), "404");
    assert!(browser.try_find("#a").is_none());

    // A cross-origin frame: closed to the page's scripts, open to WebDriver.
    browser.goto(&pages.url("/outer"));
    let frame = browser.find("iframe#f");
    let from_script = browser.execute(
        "try { return arguments[0].contentDocument === null ? 'null' : 'open'; } \
         catch (e) { return 'threw'; }",
        vec![frame.as_arg()],
    );
    assert_eq!(from_script, json!("null"));
    let inner = browser.in_frame(&frame, |b| b.find("#inner").text());
    assert_eq!(inner, "framed text");
    assert!(
        browser.try_find("#inner").is_none(),
        "back at the top level"
    );

    assert_eq!(browser.alert_text(), None);
    browser.find("#b").click();
    assert_eq!(browser.alert_text().as_deref(), Some("hi 1"));
    browser.dismiss_alert();
    assert_eq!(browser.alert_text(), None);
    assert_eq!(browser.title(), "outer");
}

#[test]
#[should_panic(expected = "no element matches `#absent`")]
fn find_panics_naming_the_selector() {
    let pages = StaticPages::serve(&[("/", "<!doctype html><title>empty</title><p>nothing</p>")]);
    let browser = Browser::start();
    browser.goto(&pages.url("/"));
    browser.find("#absent");
}

/// What certd's framing test relies on: a frame whose page forbids framing shows WebDriver
/// an empty error document, while the same page without the headers renders.
#[test]
fn a_frame_refused_by_its_headers_shows_nothing() {
    let port = serve_form();
    let outer = format!(
        "<!doctype html><title>outer</title>\
         <iframe id=deny src=\"http://127.0.0.1:{port}/deny\"></iframe>\
         <iframe id=allow src=\"http://127.0.0.1:{port}/allow\"></iframe>"
    );
    let pages = StaticPages::serve(&[("/", &outer)]);
    let browser = Browser::start();
    browser.goto(&pages.url("/"));
    let forms = |id: &str| {
        let frame = browser.find(&format!("iframe#{id}"));
        browser.in_frame(&frame, |b| b.find_all("form#f").len())
    };
    assert_eq!(forms("allow"), 1);
    assert_eq!(forms("deny"), 0);
}
