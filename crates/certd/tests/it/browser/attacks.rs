//! What an attacker's page or hand-made request tries against certd's pages, in a real
//! browser where a browser decides: framing (clickjacking), forms posted from another
//! origin or site (CSRF), and markup smuggled through form fields (XSS). Each test also
//! shows its check can fail: a control that the same check does let through.

use testkit::browser::{Browser, StaticPages};

use super::{
    PASSWORD, Site, User, cookie_header, csrf_of, fill_and_submit, path_of, register_hostname,
    suffix,
};

/// What a framed document shows WebDriver: how many forms it has, and its text.
fn inside_frame(browser: &Browser, id: &str) -> (usize, String) {
    let frame = browser.find(&format!("iframe#{id}"));
    browser.in_frame(&frame, |b| {
        let forms = b.find_all("form").len();
        let text = b
            .try_find("body")
            .map(|body| body.text())
            .unwrap_or_default();
        (forms, text)
    })
}

#[test]
fn pages_cannot_be_framed() {
    let site = Site::start();

    // The headers, as sent.
    for path in ["/", "/login", "/signup", "/docs/api"] {
        let r = site.http("GET", path, None, None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'"),
            "GET {path}: CSP {csp:?}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "GET {path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "GET {path}"
        );
        assert_eq!(
            r.header("referrer-policy"),
            Some("no-referrer"),
            "GET {path}"
        );
    }

    // The control: certd's own login page, byte for byte, served without those headers
    // from a third origin. Framed, it renders; so the same check seeing nothing in
    // certd's frames means Chromium refused to render them.
    let login_copy = site.http("GET", "/login", None, None).body;
    assert!(login_copy.contains("id=\"login\""), "{login_copy}");
    let control_host = StaticPages::serve(&[("/login", &login_copy)]);
    let attack = format!(
        "<!doctype html><title>Win a prize</title>\
         <iframe id=victim-login src=\"{}\" width=600 height=400></iframe>\
         <iframe id=victim-landing src=\"{}\" width=600 height=400></iframe>\
         <iframe id=control src=\"{}\" width=600 height=400></iframe>",
        site.at("/login"),
        site.at("/"),
        control_host.url("/login"),
    );
    let attacker = StaticPages::serve(&[("/", &attack)]);
    let browser = Browser::start();
    browser.goto(&attacker.url("/"));

    let (forms, text) = inside_frame(&browser, "control");
    assert!(forms >= 1, "the control frame did not render: {text:?}");
    let frame = browser.find("iframe#control");
    assert!(
        browser.in_frame(&frame, |b| b.try_find("form#login").is_some()),
        "no form#login in the frameable copy"
    );

    for id in ["victim-login", "victim-landing"] {
        let (forms, text) = inside_frame(&browser, id);
        assert_eq!(
            forms, 0,
            "{id} rendered inside the attacker's page: {text:?}"
        );
        assert!(
            !text.contains("aws-sso-certd"),
            "{id} shows certd's page: {text:?}"
        );
    }
}

#[test]
fn cross_site_form_post_is_refused() {
    let site = Site::start();
    let browser = Browser::start();

    // Mallory has an account of her own, so a form token that is valid for her.
    let mallory = User::new("mallory");
    mallory.sign_up(&browser, &site);
    let mallory_csrf = csrf_of(&browser, "form#register-hostname");
    browser.find("form#logout").submit_via_button();

    let victim = User::new("victim");
    victim.sign_up(&browser, &site);
    let victim_csrf = csrf_of(&browser, "form#register-hostname");

    // The attacker's page: forms posting to certd, one per way to fill the token.
    let tag = suffix();
    let cases: Vec<(String, Option<String>)> = vec![
        (format!("nocsrf-{tag}"), None),
        (format!("forged-{tag}"), Some("forged".to_owned())),
        (format!("mallory-{tag}"), Some(mallory_csrf.clone())),
        // The victim's real token: only the missing cookie (SameSite) or the Origin
        // check can stop this one; it is posted from the cross-site origin only.
        (format!("victimtok-{tag}"), Some(victim_csrf.clone())),
    ];
    let forms: String = cases
        .iter()
        .map(|(label, csrf)| {
            let token = csrf
                .as_ref()
                .map(|t| format!("<input type=hidden name=csrf value=\"{t}\">"))
                .unwrap_or_default();
            format!(
                "<form id=\"f-{label}\" method=post action=\"{}\">\
                 <input type=hidden name=name value=\"{label}\">{token}\
                 <button type=submit>Claim your prize</button></form>",
                site.at("/hostnames")
            )
        })
        .collect();
    let attacker =
        StaticPages::serve(&[("/", &format!("<!doctype html><title>Prizes</title>{forms}"))]);
    // 127.0.0.1 on another port is another origin but the same site: the session
    // cookie goes along, so only the form token stands in the way.
    let same_site = attacker.url("/");
    // localhost is another site: SameSite=Strict keeps the cookie home.
    let cross_site = format!("http://localhost:{}/", attacker.port());
    let mut tried = Vec::new();
    for (label, _) in &cases[..3] {
        tried.push((&same_site, label));
    }
    for (label, _) in &cases {
        tried.push((&cross_site, label));
    }
    for (page, label) in tried {
        browser.goto(page);
        browser.find(&format!("form#f-{label}")).submit_via_button();
        // certd answered with a refusal: its error page, or (no cookie came along) the
        // login page.
        let refused_visibly =
            browser.try_find("#error").is_some() || path_of(&browser, &site) == "/login";
        assert!(
            refused_visibly,
            "the form on {page} with {label} got {}: {}",
            browser.current_url(),
            browser.source()
        );
        if page == &same_site {
            // The cookie went along: the token check is what refused.
            browser.find("#error");
        }
        browser.goto(&site.at("/dashboard"));
        assert_eq!(
            path_of(&browser, &site),
            "/dashboard",
            "the victim was logged out"
        );
        assert!(
            browser
                .try_find(&format!("tr[data-hostname=\"{label}\"]"))
                .is_none(),
            "the form on {page} registered {label}"
        );
    }

    // By hand with the victim's session cookie: no token, a wrong one, Mallory's: 403.
    let cookie = cookie_header(&browser);
    let refused = |label: &str, csrf: Option<&str>| {
        let mut form = vec![("name", label)];
        if let Some(csrf) = csrf {
            form.push(("csrf", csrf));
        }
        let r = site.http("POST", "/hostnames", Some(&cookie), Some(&form));
        assert_eq!(r.status, 403, "{label}: {}", r.body);
        assert!(r.body.contains("id=\"error\""), "{label}: {}", r.body);
    };
    refused(&format!("http-none-{tag}"), None);
    refused(&format!("http-empty-{tag}"), Some(""));
    refused(&format!("http-wrong-{tag}"), Some("wrong"));
    refused(&format!("http-mallory-{tag}"), Some(&mallory_csrf));
    let labels = site.block_on(site.store.list_all_labels()).unwrap();
    assert!(labels.is_empty(), "stored after refusals: {labels:?}");

    // The control: the same request with the victim's token goes through.
    let control = format!("http-good-{tag}");
    let r = site.http(
        "POST",
        "/hostnames",
        Some(&cookie),
        Some(&[("name", control.as_str()), ("csrf", victim_csrf.as_str())]),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/dashboard"));
    browser.goto(&site.at("/dashboard"));
    browser.find(&format!("tr[data-hostname=\"{control}\"]"));
    let labels = site.block_on(site.store.list_all_labels()).unwrap();
    assert_eq!(labels, vec![control]);
}

/// Markup that runs if it reaches the page unescaped: breaks out of an attribute, then
/// opens a script.
const USERNAME_XSS: &str = "\"><img src=x onerror=alert(1)><script>alert(2)</script>";
const EMAIL_XSS: &str = "x\"><script>alert(3)</script>@example.org";
const HOSTNAME_XSS: &str = "<script>alert(4)</script>";

/// Nothing the input smuggled in became part of the page: no dialog, no script, no
/// element with an event handler.
fn assert_inert(browser: &Browser, what: &str) {
    assert_eq!(browser.alert_text(), None, "{what}: a script ran");
    let live = browser.execute(
        "return document.querySelectorAll('script, [onerror]').length;",
        vec![],
    );
    assert_eq!(live, serde_json::json!(0), "{what}: {}", browser.source());
}

/// The raw page has the input only escaped.
fn assert_escaped(body: &str, what: &str) {
    for raw in ["<script", "<img"] {
        assert!(
            !body.contains(raw),
            "{what}: {raw:?} came back raw:\n{body}"
        );
    }
}

#[test]
fn script_injection_comes_back_escaped() {
    let site = Site::start();
    let browser = Browser::start();

    // Sign-up fields, the browser's own checks switched off as an attacker would.
    browser.goto(&site.at("/signup"));
    let form = browser.find("form#signup");
    browser.execute("arguments[0].noValidate = true;", vec![form.as_arg()]);
    fill_and_submit(
        &form,
        &[
            ("username", USERNAME_XSS),
            ("email", EMAIL_XSS),
            ("password", PASSWORD),
        ],
    );
    browser.find("#error");
    assert_inert(&browser, "signup");
    let form = browser.find("form#signup");
    assert_eq!(
        form.find("input[name=username]").property("value"),
        Some(serde_json::json!(USERNAME_XSS)),
        "the username did not come back as typed"
    );
    assert_eq!(
        form.find("input[name=email]").property("value"),
        Some(serde_json::json!(EMAIL_XSS)),
        "the email did not come back as typed"
    );

    // The bytes of the same refusal.
    let csrf = csrf_of(&browser, "form#signup");
    let r = site.http(
        "POST",
        "/signup",
        Some(&cookie_header(&browser)),
        Some(&[
            ("csrf", csrf.as_str()),
            ("username", USERNAME_XSS),
            ("email", EMAIL_XSS),
            ("password", PASSWORD),
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error\""), "{}", r.body);
    // askama writes `<` as `&#60;` (numeric), others as `&lt;`: either is escaped.
    let escaped = |s: &str| {
        r.body.contains(&format!("&lt;script&gt;{s}"))
            || r.body.contains(&format!("&#60;script&#62;{s}"))
    };
    assert!(escaped("alert(2)"), "{}", r.body);
    assert!(escaped("alert(3)"), "{}", r.body);
    assert_escaped(&r.body, "signup");

    // The hostname field of a logged-in account.
    let user = User::new("erin");
    user.sign_up(&browser, &site);
    let form = browser.find("form#register-hostname");
    browser.execute("arguments[0].noValidate = true;", vec![form.as_arg()]);
    fill_and_submit(&form, &[("name", HOSTNAME_XSS)]);
    browser.find("#error");
    assert_inert(&browser, "hostname");
    // The control: the same form takes a valid name.
    let control = format!("safe-{}", suffix());
    register_hostname(&browser, &site, &control);
    browser.find(&format!("tr[data-hostname=\"{control}\"]"));
    let csrf = csrf_of(&browser, "form#register-hostname");
    let r = site.http(
        "POST",
        "/hostnames",
        Some(&cookie_header(&browser)),
        Some(&[("csrf", csrf.as_str()), ("name", HOSTNAME_XSS)]),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error\""), "{}", r.body);
    assert_escaped(&r.body, "hostname");
    let labels = site.block_on(site.store.list_all_labels()).unwrap();
    assert_eq!(labels, vec![control]);
}
