//! The page handlers (`view_<page>_<method>`): parse the form, check its anti-forgery
//! token, call [`crate::service`], and render a page or redirect. Every refusal is shown
//! on the page it came from with a specific message.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Layout, Visitor, error_view, render, see_other};
use crate::auth::{ClientAddr, session_clear_cookie, session_set_cookie};
use crate::error::ApiError;
use crate::service;
use crate::state::AppState;

fn day(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn bad_form(e: &FormRejection) -> ApiError {
    // The rejection text can quote the body (a password): only its status is logged.
    tracing::info!(http.status = e.status().as_u16(), "form refused");
    ApiError::BadForm
}

// ---- templates ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    username: String,
    email: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    layout: Layout,
    token: String,
    verified: bool,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    layout: Layout,
    token: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    layout: Layout,
    heading: String,
    next_href: &'static str,
    next_label: &'static str,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "new_key.html")]
struct NewKeyPage {
    layout: Layout,
    fqdn: String,
    key: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    username: String,
    email: String,
    verified: bool,
}

struct HostnameRow {
    label: String,
    fqdn: String,
    created: String,
}

struct KeyRow {
    id: i64,
    prefix: String,
    hostname: String,
    created: String,
    last_used: String,
    status: &'static str,
}

struct DeviceRow {
    id: i64,
    key_hint: String,
    hostname: String,
    created: String,
    status: &'static str,
}

struct CertRow {
    serial: String,
    fqdn: String,
    not_before: String,
    not_after: String,
    status: &'static str,
}

struct AuditRow {
    at: String,
    action: String,
    target: String,
    client: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    verified: bool,
    email: String,
    max_hostnames: u32,
    hostnames: Vec<HostnameRow>,
    keys: Vec<KeyRow>,
    devices: Vec<DeviceRow>,
    certificates: Vec<CertRow>,
    budget: u64,
    budget_used: u64,
    budget_left: u64,
    audit: Vec<AuditRow>,
}

// ---- forms --------------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct SignupForm {
    #[serde(default)]
    csrf: String,
    username: String,
    email: String,
    password: SecretString,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    username: String,
    password: SecretString,
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    #[serde(default)]
    csrf: String,
    token: String,
}

#[derive(Deserialize)]
pub(crate) struct ForgotForm {
    #[serde(default)]
    csrf: String,
    username: String,
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    csrf: String,
    token: String,
    new_password: SecretString,
}

#[derive(Deserialize)]
pub(crate) struct HostnameForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

#[derive(Deserialize)]
pub(crate) struct ApiKeyForm {
    #[serde(default)]
    csrf: String,
    hostname: String,
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current_password: SecretString,
    new_password: SecretString,
}

#[derive(Deserialize)]
pub(crate) struct EmailForm {
    #[serde(default)]
    csrf: String,
    current_password: SecretString,
    email: String,
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    current_password: SecretString,
    confirm_username: String,
}

/// Tokens in links are short ASCII; anything else is not ours (and is not echoed).
fn clean_token(token: &str) -> String {
    if token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        token.to_owned()
    } else {
        String::new()
    }
}

fn message(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    heading: &str,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let (next_href, next_label) = if v.account.is_some() {
        ("/dashboard", "Go to the dashboard")
    } else {
        ("/login", "Log in")
    };
    render(
        state,
        v,
        status,
        &MessagePage {
            layout: v.layout(error, notice),
            heading: heading.to_owned(),
            next_href,
            next_label,
        },
    )
}

/// A refused form post shown as a page of its own.
fn refused(state: &AppState, v: &Visitor, e: &ApiError) -> Response {
    let (status, msg) = error_view(e);
    message(state, v, status, "That did not work", Some(msg), None)
}

// ---- anonymous pages ----------------------------------------------------------------------

pub(crate) async fn view_landing_get(State(state): State<AppState>, v: Visitor) -> Response {
    render(
        &state,
        &v,
        StatusCode::OK,
        &LandingPage {
            layout: v.layout(None, None),
        },
    )
}

pub(crate) async fn view_api_docs_get(State(state): State<AppState>, v: Visitor) -> Response {
    render(
        &state,
        &v,
        StatusCode::OK,
        &ApiDocsPage {
            layout: v.layout(None, None),
        },
    )
}

fn signup_page(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    error: Option<String>,
    username: &str,
    email: &str,
) -> Response {
    render(
        state,
        v,
        status,
        &SignupPage {
            layout: v.layout(error, None),
            username: username.to_owned(),
            email: email.to_owned(),
        },
    )
}

pub(crate) async fn view_signup_get(State(state): State<AppState>, v: Visitor) -> Response {
    if v.account.is_some() {
        return see_other("/dashboard");
    }
    signup_page(&state, &v, StatusCode::OK, None, "", "")
}

pub(crate) async fn view_signup_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<SignupForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => {
            let (status, msg) = error_view(&bad_form(&e));
            return signup_page(&state, &v, status, Some(msg), "", "");
        }
    };
    let result = async {
        v.check_form(&state, &headers, &f.csrf)?;
        let account = service::sign_up(&state, addr, &f.username, &f.email, &f.password).await?;
        service::new_session(&state, account.id).await
    }
    .await;
    match result {
        Ok(token) => logged_in_redirect(&state, &v, &token),
        Err(e) => {
            let (status, msg) = error_view(&e);
            signup_page(&state, &v, status, Some(msg), &f.username, &f.email)
        }
    }
}

/// 303 to the dashboard with the new session cookie; the visitor's previous session (if
/// any) ends, and the pre-session cookie is dropped.
fn logged_in_redirect(state: &AppState, v: &Visitor, token: &SecretString) -> Response {
    let mut resp = see_other("/dashboard");
    match session_set_cookie(state, token) {
        Ok(c) => {
            resp.headers_mut().append(SET_COOKIE, c);
        }
        Err(e) => return refused(state, v, &e),
    }
    resp.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_static("certd_pre=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

fn login_page(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    username: &str,
) -> Response {
    render(
        state,
        v,
        status,
        &LoginPage {
            layout: v.layout(error, notice),
            username: username.to_owned(),
        },
    )
}

pub(crate) async fn view_login_get(State(state): State<AppState>, v: Visitor) -> Response {
    if v.account.is_some() {
        return see_other("/dashboard");
    }
    login_page(&state, &v, StatusCode::OK, None, None, "")
}

pub(crate) async fn view_login_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => {
            let (status, msg) = error_view(&bad_form(&e));
            return login_page(&state, &v, status, Some(msg), None, "");
        }
    };
    let result = async {
        v.check_form(&state, &headers, &f.csrf)?;
        service::log_in(&state, addr, &f.username, &f.password).await
    }
    .await;
    match result {
        Ok((token, account)) => {
            // Rotation: the session the visitor had (if any) ends with this login.
            if let Some(old) = v.session_token() {
                let _ = service::log_out(&state, addr, account.id, old).await;
            }
            logged_in_redirect(&state, &v, &token)
        }
        Err(e) => {
            let (status, msg) = error_view(&e);
            login_page(&state, &v, status, Some(msg), None, &f.username)
        }
    }
}

pub(crate) async fn view_logout_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let checked = form
        .map_err(|e| bad_form(&e))
        .and_then(|Form(f)| v.check_form(&state, &headers, &f.csrf));
    if let Err(e) = checked {
        return refused(&state, &v, &e);
    }
    if let (Some(account), Some(token)) = (&v.account, v.session_token()) {
        let _ = service::log_out(&state, addr, account.id, token).await;
    }
    let mut resp = see_other("/");
    resp.headers_mut()
        .append(SET_COOKIE, session_clear_cookie());
    resp
}

pub(crate) async fn view_verify_get(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<TokenQuery>,
) -> Response {
    // The link only shows a button: mail scanners that fetch links spend nothing.
    let token = clean_token(&q.token);
    let error = token
        .is_empty()
        .then(|| "This link is incomplete: open the whole link from the mail.".to_owned());
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        &state,
        &v,
        status,
        &VerifyPage {
            layout: v.layout(error, None),
            token,
            verified: false,
        },
    )
}

pub(crate) async fn view_verify_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::verify_email(&state, addr, &f.token).await
    }
    .await;
    match result {
        Ok(_) => render(
            &state,
            &v,
            StatusCode::OK,
            &VerifyPage {
                layout: v.layout(None, None),
                token: String::new(),
                verified: true,
            },
        ),
        Err(e) => {
            let (status, msg) = error_view(&e);
            render(
                &state,
                &v,
                status,
                &VerifyPage {
                    layout: v.layout(Some(msg), None),
                    token: String::new(),
                    verified: false,
                },
            )
        }
    }
}

pub(crate) async fn view_forgot_get(State(state): State<AppState>, v: Visitor) -> Response {
    render(
        &state,
        &v,
        StatusCode::OK,
        &ForgotPage {
            layout: v.layout(None, None),
        },
    )
}

pub(crate) async fn view_forgot_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::request_password_reset(&state, addr, &f.username).await
    }
    .await;
    let (status, error, notice) = match result {
        Ok(()) => (
            StatusCode::OK,
            None,
            Some(
                "If an account has that username, a link to reset its password is on its way to the account's email address."
                    .to_owned(),
            ),
        ),
        Err(e) => {
            let (status, msg) = error_view(&e);
            (status, Some(msg), None)
        }
    };
    render(
        &state,
        &v,
        status,
        &ForgotPage {
            layout: v.layout(error, notice),
        },
    )
}

pub(crate) async fn view_reset_get(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = clean_token(&q.token);
    let error = token
        .is_empty()
        .then(|| "This link is incomplete: open the whole link from the mail.".to_owned());
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        &state,
        &v,
        status,
        &ResetPage {
            layout: v.layout(error, None),
            token,
        },
    )
}

pub(crate) async fn view_reset_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let mut token = String::new();
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        token = clean_token(&f.token);
        v.check_form(&state, &headers, &f.csrf)?;
        service::reset_password(&state, addr, &f.token, &f.new_password).await
    }
    .await;
    match result {
        Ok(_) => {
            let mut resp = login_page(
                &state,
                &v,
                StatusCode::OK,
                None,
                Some("Your password is changed and every session of the account has ended. Log in with the new password.".to_owned()),
                "",
            );
            resp.headers_mut()
                .append(SET_COOKIE, session_clear_cookie());
            resp
        }
        Err(e) => {
            let (status, msg) = error_view(&e);
            // A spent or unknown link cannot be retried; a weak password can.
            if matches!(e, ApiError::BadLink) {
                token.clear();
            }
            render(
                &state,
                &v,
                status,
                &ResetPage {
                    layout: v.layout(Some(msg), None),
                    token,
                },
            )
        }
    }
}

// ---- logged-in pages ----------------------------------------------------------------------

async fn dashboard(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let Some(account) = &v.account else {
        return see_other("/login");
    };
    match dashboard_page(state, v, account, error, notice).await {
        Ok(page) => render(state, v, status, &page),
        Err(e) => refused(state, v, &e),
    }
}

async fn dashboard_page(
    state: &AppState,
    v: &Visitor,
    account: &certd_store::Account,
    error: Option<String>,
    notice: Option<String>,
) -> Result<DashboardPage, ApiError> {
    let store = state.store();
    let now = state.now();
    let when = |t: Option<time::OffsetDateTime>| t.map_or_else(|| "never".to_owned(), day);
    let hostnames = store
        .list_hostnames(account.id)
        .await?
        .into_iter()
        .map(|h| HostnameRow {
            fqdn: state.fqdn(&h.label),
            created: day(h.created_at),
            label: h.label,
        })
        .collect();
    let keys = store
        .list_api_keys(account.id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.0,
            status: if k.revoked_at.is_some() {
                "revoked"
            } else if k.consumed_at.is_some() {
                "used"
            } else {
                "active"
            },
            prefix: k.prefix,
            hostname: state.fqdn(&k.hostname),
            created: day(k.created_at),
            last_used: when(k.last_used_at),
        })
        .collect();
    let devices = store
        .list_devices(account.id)
        .await?
        .into_iter()
        .map(|d| DeviceRow {
            id: d.id.0,
            key_hint: {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(d.public_key);
                format!("ed25519 {}…", &b64[..12])
            },
            hostname: state.fqdn(&d.hostname),
            created: day(d.created_at),
            status: if d.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            },
        })
        .collect();
    let certificates = store
        .list_certificates(account.id)
        .await?
        .into_iter()
        .map(|c| CertRow {
            status: if c.revoked_at.is_some() {
                "revoked"
            } else if c.not_after <= now {
                "expired"
            } else {
                "valid"
            },
            fqdn: state.fqdn(&c.hostname),
            not_before: day(c.not_before),
            not_after: day(c.not_after),
            serial: c.serial,
        })
        .collect();
    let budget = crate::api::WEEKLY_BUDGET;
    let budget_used = store
        .count_certificates_issued_since(now - time::Duration::days(7))
        .await?;
    let audit = store
        .list_audit(account.id, 50)
        .await?
        .into_iter()
        .map(|e| {
            let outcome = match e.outcome {
                certd_store::Outcome::Ok => "ok".to_owned(),
                certd_store::Outcome::Denied { reason } => format!("denied: {reason}"),
                certd_store::Outcome::Error { reason } => format!("error: {reason}"),
            };
            AuditRow {
                at: day(e.at),
                action: e.action,
                target: e.target.unwrap_or_default(),
                client: e.client_addr.map(|a| a.to_string()).unwrap_or_default(),
                outcome,
            }
        })
        .collect();
    Ok(DashboardPage {
        layout: v.layout(error, notice),
        verified: account.email_verified_at.is_some(),
        email: account.email.clone(),
        max_hostnames: state.0.settings.hostnames_per_account,
        hostnames,
        keys,
        devices,
        certificates,
        budget,
        budget_used,
        budget_left: budget.saturating_sub(budget_used),
        audit,
    })
}

pub(crate) async fn view_dashboard_get(State(state): State<AppState>, v: Visitor) -> Response {
    dashboard(&state, &v, StatusCode::OK, None, None).await
}

/// Runs a logged-in dashboard action: checks the form, calls `action`, then 303s back to
/// the dashboard, or shows it with the refusal.
async fn dashboard_action<F, Fut>(
    state: &AppState,
    v: &Visitor,
    headers: &HeaderMap,
    csrf: Result<String, ApiError>,
    action: F,
) -> Response
where
    F: FnOnce(AppState, certd_store::AccountId) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let Some(account) = &v.account else {
        return see_other("/login");
    };
    let result = async {
        v.check_form(state, headers, &csrf?)?;
        action(state.clone(), account.id).await
    }
    .await;
    match result {
        Ok(()) => see_other("/dashboard"),
        Err(e) => {
            let (status, msg) = error_view(&e);
            dashboard(state, v, status, Some(msg), None).await
        }
    }
}

pub(crate) async fn view_resend_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let Some(account) = &v.account else {
        return see_other("/login");
    };
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::resend_verification(&state, addr, account.id).await
    }
    .await;
    match result {
        Ok(()) => {
            let notice = format!("A new link is on its way to {}.", account.email);
            dashboard(&state, &v, StatusCode::OK, None, Some(notice)).await
        }
        Err(e) => {
            let (status, msg) = error_view(&e);
            dashboard(&state, &v, status, Some(msg), None).await
        }
    }
}

pub(crate) async fn view_hostname_create_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<HostnameForm>, FormRejection>,
) -> Response {
    let (csrf, name) = match form {
        Ok(Form(f)) => (Ok(f.csrf), f.name),
        Err(e) => (Err(bad_form(&e)), String::new()),
    };
    dashboard_action(&state, &v, &headers, csrf, |state, account| async move {
        service::register_hostname(&state, addr, account, &name)
            .await
            .map(|_| ())
    })
    .await
}

pub(crate) async fn view_hostname_delete_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    Path(label): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).map_err(|e| bad_form(&e));
    dashboard_action(&state, &v, &headers, csrf, |state, account| async move {
        service::delete_hostname(&state, addr, account, &label).await
    })
    .await
}

pub(crate) async fn view_api_key_create_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<ApiKeyForm>, FormRejection>,
) -> Response {
    let Some(account) = &v.account else {
        return see_other("/login");
    };
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::create_api_key(&state, addr, account.id, &f.hostname).await
    }
    .await;
    match result {
        Ok((row, key)) => render(
            &state,
            &v,
            StatusCode::OK,
            &NewKeyPage {
                layout: v.layout(None, None),
                fqdn: state.fqdn(&row.hostname),
                key: key.expose_secret().to_owned(),
            },
        ),
        Err(e) => {
            let (status, msg) = error_view(&e);
            dashboard(&state, &v, status, Some(msg), None).await
        }
    }
}

pub(crate) async fn view_api_key_revoke_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    Path(id): Path<i64>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).map_err(|e| bad_form(&e));
    dashboard_action(&state, &v, &headers, csrf, |state, account| async move {
        service::revoke_api_key(&state, addr, account, id).await
    })
    .await
}

pub(crate) async fn view_device_revoke_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    Path(id): Path<i64>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).map_err(|e| bad_form(&e));
    dashboard_action(&state, &v, &headers, csrf, |state, account| async move {
        service::revoke_device(&state, addr, account, id).await
    })
    .await
}

pub(crate) async fn view_certificate_revoke_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    Path(serial): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).map_err(|e| bad_form(&e));
    dashboard_action(&state, &v, &headers, csrf, |state, account| async move {
        service::revoke_certificate(&state, addr, account, &serial).await
    })
    .await
}

fn account_page(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    account: &certd_store::Account,
) -> Response {
    render(
        state,
        v,
        status,
        &AccountPage {
            layout: v.layout(error, notice),
            username: account.username.clone(),
            email: account.email.clone(),
            verified: account.email_verified_at.is_some(),
        },
    )
}

pub(crate) async fn view_account_get(State(state): State<AppState>, v: Visitor) -> Response {
    match &v.account {
        Some(a) => account_page(&state, &v, StatusCode::OK, None, None, a),
        None => see_other("/login"),
    }
}

/// The account page after a change: the fresh account with a notice, or the refusal.
async fn account_result(
    state: &AppState,
    v: &Visitor,
    account: &certd_store::Account,
    result: Result<(), ApiError>,
    notice: &str,
) -> Response {
    match result {
        Ok(()) => {
            let fresh = state.store().get_account(account.id).await;
            let fresh = fresh.as_ref().unwrap_or(account);
            account_page(
                state,
                v,
                StatusCode::OK,
                None,
                Some(notice.to_owned()),
                fresh,
            )
        }
        Err(e) => {
            let (status, msg) = error_view(&e);
            account_page(state, v, status, Some(msg), None, account)
        }
    }
}

pub(crate) async fn view_password_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (Some(account), Some(session)) = (&v.account, v.session_token()) else {
        return see_other("/login");
    };
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::change_password(
            &state,
            addr,
            account.id,
            session,
            &f.current_password,
            &f.new_password,
        )
        .await
    }
    .await;
    account_result(
        &state,
        &v,
        account,
        result,
        "Password changed; your other sessions are logged out.",
    )
    .await
}

pub(crate) async fn view_email_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    let Some(account) = &v.account else {
        return see_other("/login");
    };
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::change_email(&state, addr, account.id, &f.current_password, &f.email).await
    }
    .await;
    account_result(
        &state,
        &v,
        account,
        result,
        "Email changed: follow the link we mailed to the new address to confirm it.",
    )
    .await
}

pub(crate) async fn view_account_delete_post(
    State(state): State<AppState>,
    v: Visitor,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let Some(account) = &v.account else {
        return see_other("/login");
    };
    let result = async {
        let Form(f) = form.map_err(|e| bad_form(&e))?;
        v.check_form(&state, &headers, &f.csrf)?;
        service::delete_account(
            &state,
            addr,
            account.id,
            &f.current_password,
            &f.confirm_username,
        )
        .await
    }
    .await;
    match result {
        Ok(()) => {
            let mut resp = message(
                &state,
                &v,
                StatusCode::OK,
                "Your account is deleted",
                None,
                Some("Certificates revoked, keys and devices revoked, hostnames held back for 90 days.".to_owned()),
            );
            resp.headers_mut()
                .append(SET_COOKIE, session_clear_cookie());
            resp
        }
        Err(e) => {
            let (status, msg) = error_view(&e);
            account_page(&state, &v, status, Some(msg), None, account)
        }
    }
}
