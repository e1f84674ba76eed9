//! What a person does in certd's pages, in a browser: signing up and confirming the email
//! from the mail, logging in and out, hostnames, API keys shown once, the audit trail,
//! the refusals an unverified account meets, and a password reset by mail. Screenshots of
//! the main pages land in `testkit::browser::screenshots_dir()`.

use testkit::browser::Browser;

use super::{
    PASSWORD, Site, User, cookie_header, csrf_of, fill_and_submit, log_out, path_of,
    register_hostname, screenshot, suffix,
};
use crate::harness::ZONE;

const WRONG_LOGIN: &str = "Wrong username or password.";

/// `href` of the link `css`, relative to certd whether written relative or absolute.
fn href(browser: &Browser, site: &Site, css: &str) -> String {
    let href = browser
        .find(css)
        .attr("href")
        .unwrap_or_else(|| panic!("{css} has no href"));
    href.strip_prefix(&site.url).unwrap_or(&href).to_owned()
}

#[test]
fn seed_scenarios_in_a_browser() {
    let site = Site::start();
    let browser = Browser::start();
    let user = User::new("alice");
    let label = format!("laptop-{}", suffix());
    let mut shots = Vec::new();

    // The landing page leads to signing up, logging in and the API documentation.
    browser.goto(&site.at("/"));
    assert_eq!(href(&browser, &site, "a#signup"), "/signup");
    assert_eq!(href(&browser, &site, "a#login"), "/login");
    assert_eq!(href(&browser, &site, "a#api-docs"), "/docs/api");
    shots.push(screenshot(&browser, "certd-01-landing.png"));

    // Sign up: straight onto the dashboard, logged in, the email not yet confirmed.
    browser.find("a#signup").click_and_wait();
    assert_eq!(path_of(&browser, &site), "/signup");
    let form = browser.find("form#signup");
    for (name, value) in [
        ("username", user.username.as_str()),
        ("email", &user.email),
        ("password", PASSWORD),
    ] {
        form.find(&format!("input[name={name}]")).send_keys(value);
    }
    shots.push(screenshot(&browser, "certd-02-signup.png"));
    form.submit_via_button();
    assert_eq!(
        path_of(&browser, &site),
        "/dashboard",
        "{}",
        browser.source()
    );
    browser.find("#unverified form#resend");
    browser.find("form#logout");
    let cookies = browser.cookies();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "certd_session")
        .unwrap_or_else(|| panic!("no certd_session cookie: {cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Strict", "{session}");

    // The verification mail reached the SMTP server; its link confirms the address.
    let mail = site.mail(&user.email, "Verify your email");
    let link = site.link_in(&mail, "/verify");
    let token = link.split_once("?token=").unwrap().1.to_owned();
    assert!(token.len() >= 16, "a short token: {link}");
    browser.goto(&link);
    let form = browser.find("form#verify");
    assert_eq!(
        form.find("input[type=hidden][name=token]").attr("value"),
        Some(token)
    );
    shots.push(screenshot(&browser, "certd-03-verify.png"));
    form.submit_via_button();
    browser.find("#verified");

    // The link works once.
    browser.goto(&link);
    if let Some(form) = browser.try_find("form#verify") {
        form.submit_via_button();
    }
    browser.find("#error");
    assert!(
        browser.try_find("#verified").is_none(),
        "a used link verified again"
    );

    // Log out; the dashboard then sends to the login page.
    browser.goto(&site.at("/dashboard"));
    log_out(&browser, &site);
    browser.goto(&site.at("/dashboard"));
    assert_eq!(path_of(&browser, &site), "/login");

    // A wrong password and an unknown user read the same; the right password logs in.
    user.log_in_with(&browser, &site, "not the password at all");
    assert_eq!(browser.find("#error").text(), WRONG_LOGIN);
    browser.goto(&site.at("/login"));
    fill_and_submit(
        &browser.find("form#login"),
        &[("username", "nobody-here"), ("password", PASSWORD)],
    );
    assert_eq!(browser.find("#error").text(), WRONG_LOGIN);
    user.log_in(&browser, &site);
    assert!(
        browser.try_find("#unverified").is_none(),
        "still unverified after confirming"
    );

    // A hostname, with the exact command to set it up.
    register_hostname(&browser, &site, &label);
    assert_eq!(path_of(&browser, &site), "/dashboard");
    let row = browser.find(&format!("section#hostnames tr[data-hostname=\"{label}\"]"));
    assert_eq!(
        row.find("code.fqdn-command").text(),
        format!("aws-sso setup ecs cert fqdn {label}.{ZONE}")
    );
    row.find("form.delete-hostname");
    shots.push(screenshot(&browser, "certd-04-dashboard-hostname.png"));

    // An API key for it, shown once with the command that uses it.
    fill_and_submit(
        &browser.find("section#api-keys form#create-api-key"),
        &[("hostname", &label)],
    );
    let key = browser.find("code#new-api-key").text();
    assert!(key.starts_with("ask_") && key.len() > 20, "key {key:?}");
    assert_eq!(
        browser.find("code#api-key-command").text(),
        format!("aws-sso setup ecs cert api-key {key}")
    );
    shots.push(screenshot(&browser, "certd-05-new-api-key.png"));

    // Back on the dashboard only its prefix shows.
    browser.goto(&site.at("/dashboard"));
    assert!(
        !browser.source().contains(&key),
        "the full API key is still in the dashboard"
    );
    let rows = browser.find_all("section#api-keys tr[data-api-key-id]");
    assert_eq!(rows.len(), 1);
    let id = rows[0].attr("data-api-key-id").unwrap();
    let prefix = rows[0].find("td.prefix").text();
    let prefix = prefix.trim().trim_end_matches(['…', '.']).trim();
    assert!(
        prefix.len() >= 6 && prefix.len() < key.len() && key.starts_with(prefix),
        "prefix {prefix:?} of {key:?}"
    );
    assert_eq!(rows[0].find("td.status").text(), "active");

    // Revoked, it says so.
    rows[0].find("form.revoke-api-key").submit_via_button();
    assert_eq!(path_of(&browser, &site), "/dashboard");
    let row = browser.find(&format!("tr[data-api-key-id=\"{id}\"]"));
    assert_eq!(row.find("td.status").text(), "revoked");
    assert!(row.try_find("form.revoke-api-key").is_none());

    // The audit trail has all of it.
    let actions: Vec<String> = browser
        .find_all("table#audit-trail td.action")
        .iter()
        .map(|td| td.text())
        .collect();
    for action in [
        "account.create",
        "hostname.create",
        "api_key.create",
        "api_key.revoke",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "no {action} in {actions:?}"
        );
    }
    browser.find("#budget");
    browser.find("section#devices");
    browser.find("section#certificates");

    // The account page and the API documentation.
    browser.goto(&site.at("/account"));
    let change_password = browser.find("form#change-password");
    change_password.find("input[name=current_password]");
    change_password.find("input[name=new_password]");
    let change_email = browser.find("form#change-email");
    change_email.find("input[name=current_password]");
    change_email.find("input[name=email]");
    let delete = browser.find("form#delete-account");
    delete.find("input[name=current_password]");
    delete.find("input[name=confirm_username]");
    shots.push(screenshot(&browser, "certd-06-account.png"));

    browser.goto(&site.at("/docs/api"));
    let h1 = browser.find("h1").text();
    assert!(h1.contains("API"), "h1 {h1:?}");
    shots.push(screenshot(&browser, "certd-07-api-docs.png"));

    assert_eq!(shots.len(), 7);
    for shot in &shots {
        let png = std::fs::read(shot).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{} is no PNG", shot.display());
    }
}

#[test]
fn unverified_account_cannot_create_api_key() {
    let site = Site::start();
    let browser = Browser::start();
    let user = User::new("bob");
    let label = format!("desk-{}", suffix());
    user.sign_up(&browser, &site);
    browser.find("#unverified");
    register_hostname(&browser, &site, &label);
    browser.find(&format!("tr[data-hostname=\"{label}\"]"));

    // Through the form: refused with a page saying to verify.
    fill_and_submit(
        &browser.find("form#create-api-key"),
        &[("hostname", &label)],
    );
    let error = browser.find("#error").text();
    assert!(error.to_lowercase().contains("verify"), "error {error:?}");
    assert!(browser.try_find("code#new-api-key").is_none());

    // By hand, with a valid session and form token: 403.
    browser.goto(&site.at("/dashboard"));
    let csrf = csrf_of(&browser, "form#create-api-key");
    let reply = site.http(
        "POST",
        "/api-keys",
        Some(&cookie_header(&browser)),
        Some(&[("csrf", csrf.as_str()), ("hostname", label.as_str())]),
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("id=\"error\""), "{}", reply.body);
    assert!(!reply.body.contains("ask_"), "{}", reply.body);
    browser.refresh();
    assert!(browser.find_all("tr[data-api-key-id]").is_empty());

    // The banner's button sends the link again; once confirmed, the same form works.
    browser.find("#unverified form#resend").submit_via_button();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mails = loop {
        let mails: Vec<_> = site
            .smtp
            .mails()
            .into_iter()
            .filter(|m| m.to.contains(&user.email) && m.subject.contains("Verify your email"))
            .collect();
        if mails.len() >= 2 || std::time::Instant::now() > deadline {
            break mails;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(mails.len(), 2, "the resend button sent no second mail");
    browser.goto(&site.link_in(&mails[1], "/verify"));
    browser.find("form#verify").submit_via_button();
    browser.find("#verified");
    browser.goto(&site.at("/dashboard"));
    assert!(browser.try_find("#unverified").is_none());
    fill_and_submit(
        &browser.find("form#create-api-key"),
        &[("hostname", &label)],
    );
    assert!(browser.find("code#new-api-key").text().starts_with("ask_"));
}

#[test]
fn password_reset_by_mail_in_a_browser() {
    let site = Site::start();
    let browser = Browser::start();
    let user = User::new("carol");
    let new_password = "another long phrase for carol 7";
    user.sign_up(&browser, &site);
    log_out(&browser, &site);

    // Asking for a reset reads the same whether the account exists or not.
    browser.goto(&site.at("/forgot"));
    fill_and_submit(
        &browser.find("form#forgot"),
        &[("username", &user.username)],
    );
    let notice = browser.find("#notice").text();
    browser.goto(&site.at("/forgot"));
    fill_and_submit(
        &browser.find("form#forgot"),
        &[("username", "nobody-at-all")],
    );
    assert_eq!(browser.find("#notice").text(), notice);

    let mail = site.mail(&user.email, "Reset your password");
    let link = site.link_in(&mail, "/reset");
    browser.goto(&link);
    let form = browser.find("form#reset");
    form.find("input[type=hidden][name=token]");
    fill_and_submit(&form, &[("new_password", new_password)]);
    browser.find("#notice");

    // The old password no longer works, the new one does.
    user.log_in_with(&browser, &site, PASSWORD);
    assert_eq!(browser.find("#error").text(), WRONG_LOGIN);
    user.log_in_with(&browser, &site, new_password);
    assert_eq!(path_of(&browser, &site), "/dashboard");
}

#[test]
fn repeated_wrong_passwords_are_slowed_down() {
    let site = Site::start();
    let browser = Browser::start();
    let user = User::new("dave");
    user.sign_up(&browser, &site);
    log_out(&browser, &site);
    let mut errors = Vec::new();
    for _ in 0..31 {
        user.log_in_with(&browser, &site, "a wrong password, again");
        let error = browser.find("#error").text();
        let limited = error.contains("Too many");
        errors.push(error);
        if limited {
            break;
        }
    }
    let last = errors.last().unwrap();
    assert!(last.contains("Too many"), "never limited: {errors:?}");
    assert!(
        errors[..errors.len() - 1].iter().all(|e| e == WRONG_LOGIN),
        "{errors:?}"
    );
    assert!(errors.len() > 3, "limited too soon: {errors:?}");
}

/// Follows the newest verification link mailed to `to` and confirms it.
fn confirm_email(browser: &Browser, site: &Site, to: &str, expected_mails: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mails = loop {
        let mails: Vec<_> = site
            .smtp
            .mails()
            .into_iter()
            .filter(|m| m.to.contains(to) && m.subject.contains("Verify your email"))
            .collect();
        if mails.len() >= expected_mails || std::time::Instant::now() > deadline {
            break mails;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(mails.len(), expected_mails, "verification mails to {to}");
    browser.goto(&site.link_in(mails.last().unwrap(), "/verify"));
    browser.find("form#verify").submit_via_button();
    browser.find("#verified");
}

#[test]
fn account_changes_in_a_browser() {
    let site = Site::start();
    let browser = Browser::start();
    let other_session = Browser::start();
    let user = User::new("erin");
    let label = format!("erin-{}", suffix());
    let new_password = "a different long phrase for erin 9";
    let new_email = format!("new-{}", user.email);
    user.sign_up(&browser, &site);
    confirm_email(&browser, &site, &user.email, 1);
    register_hostname(&browser, &site, &label);
    browser.find(&format!("tr[data-hostname=\"{label}\"]"));
    user.log_in(&other_session, &site);

    // Change password: a wrong current password changes nothing; the right one logs the
    // other session out and keeps this one.
    browser.goto(&site.at("/account"));
    fill_and_submit(
        &browser.find("form#change-password"),
        &[
            ("current_password", "not the password at all"),
            ("new_password", new_password),
        ],
    );
    let error = browser.find("#error").text();
    assert!(error.to_lowercase().contains("password"), "error {error:?}");
    other_session.goto(&site.at("/dashboard"));
    assert_eq!(path_of(&other_session, &site), "/dashboard");
    fill_and_submit(
        &browser.find("form#change-password"),
        &[
            ("current_password", PASSWORD),
            ("new_password", new_password),
        ],
    );
    let notice = browser.find("#notice").text();
    assert!(notice.contains("Password changed"), "notice {notice:?}");
    other_session.goto(&site.at("/dashboard"));
    assert_eq!(
        path_of(&other_session, &site),
        "/login",
        "the other session survived the password change"
    );
    browser.goto(&site.at("/dashboard"));
    assert_eq!(path_of(&browser, &site), "/dashboard");
    user.log_in_with(&other_session, &site, PASSWORD);
    assert_eq!(other_session.find("#error").text(), WRONG_LOGIN);
    user.log_in_with(&other_session, &site, new_password);
    assert_eq!(path_of(&other_session, &site), "/dashboard");

    // Change email: the new address is unconfirmed (no API keys) until its link is followed.
    browser.goto(&site.at("/account"));
    fill_and_submit(
        &browser.find("form#change-email"),
        &[("current_password", new_password), ("email", &new_email)],
    );
    let notice = browser.find("#notice").text();
    assert!(notice.contains("Email changed"), "notice {notice:?}");
    let page = browser.source();
    assert!(
        page.contains(&new_email),
        "the account page shows the old address"
    );
    assert!(page.contains("not confirmed yet"), "{page}");
    browser.goto(&site.at("/dashboard"));
    browser.find("#unverified");
    fill_and_submit(
        &browser.find("form#create-api-key"),
        &[("hostname", &label)],
    );
    assert!(
        browser
            .find("#error")
            .text()
            .to_lowercase()
            .contains("verify")
    );
    assert!(browser.try_find("code#new-api-key").is_none());
    confirm_email(&browser, &site, &new_email, 1);
    browser.goto(&site.at("/dashboard"));
    assert!(browser.try_find("#unverified").is_none());

    // Delete: the wrong confirmation changes nothing.
    browser.goto(&site.at("/account"));
    fill_and_submit(
        &browser.find("form#delete-account"),
        &[
            ("current_password", new_password),
            ("confirm_username", "somebody-else"),
        ],
    );
    browser.find("#error");
    browser.goto(&site.at("/dashboard"));
    browser.find(&format!("tr[data-hostname=\"{label}\"]"));
    shots_account_deleted(&browser, &site, &user, new_password);

    // Gone: sessions end, the password no longer logs in, and the name is held back from
    // everyone else.
    other_session.goto(&site.at("/dashboard"));
    assert_eq!(path_of(&other_session, &site), "/login");
    browser.goto(&site.at("/dashboard"));
    assert_eq!(path_of(&browser, &site), "/login");
    user.log_in_with(&browser, &site, new_password);
    assert_eq!(browser.find("#error").text(), WRONG_LOGIN);
    let mallory = User::new("mallory");
    mallory.sign_up(&other_session, &site);
    register_hostname(&other_session, &site, &label);
    let error = other_session.find("#error").text();
    assert!(error.contains("held back"), "error {error:?}");
    other_session.goto(&site.at("/dashboard"));
    assert!(
        other_session
            .try_find(&format!("tr[data-hostname=\"{label}\"]"))
            .is_none()
    );
}

/// Deletes the account through its form and checks the goodbye page.
fn shots_account_deleted(browser: &Browser, site: &Site, user: &User, password: &str) {
    browser.goto(&site.at("/account"));
    fill_and_submit(
        &browser.find("form#delete-account"),
        &[
            ("current_password", password),
            ("confirm_username", &user.username),
        ],
    );
    let page = browser.source();
    assert!(page.contains("Your account is deleted"), "{page}");
    assert!(
        browser
            .cookies()
            .iter()
            .all(|c| c["name"] != "certd_session" || c["value"].as_str().is_none_or(str::is_empty)),
        "the session cookie was not cleared: {:?}",
        browser.cookies()
    );
    screenshot(browser, "certd-08-account-deleted.png");
}
