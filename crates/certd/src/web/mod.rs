//! The HTML interface: server-rendered pages (askama templates, escaped by default) that
//! work without JavaScript, over the same [`crate::service`] operations as the JSON API.
//! Owns the visitor (session or pre-session), the forms' anti-forgery tokens and the page
//! rendering; the security headers of every response are in [`security_headers`]. UI
//! handlers are named `view_<page>_<method>` (in `pages`).

mod pages;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certd_store::Account;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::session_cookie;
use crate::error::ApiError;
use crate::state::AppState;

/// Name of the pre-session cookie that anonymous forms (sign up, log in) are bound to.
pub const PRE_SESSION_COOKIE: &str = "certd_pre";

/// The pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::view_landing_get))
        .route(
            "/signup",
            get(pages::view_signup_get).post(pages::view_signup_post),
        )
        .route(
            "/login",
            get(pages::view_login_get).post(pages::view_login_post),
        )
        .route("/logout", post(pages::view_logout_post))
        .route(
            "/verify",
            get(pages::view_verify_get).post(pages::view_verify_post),
        )
        .route("/verify/resend", post(pages::view_resend_post))
        .route(
            "/forgot",
            get(pages::view_forgot_get).post(pages::view_forgot_post),
        )
        .route(
            "/reset",
            get(pages::view_reset_get).post(pages::view_reset_post),
        )
        .route("/dashboard", get(pages::view_dashboard_get))
        .route("/hostnames", post(pages::view_hostname_create_post))
        .route(
            "/hostnames/{label}/delete",
            post(pages::view_hostname_delete_post),
        )
        .route("/api-keys", post(pages::view_api_key_create_post))
        .route(
            "/api-keys/{id}/revoke",
            post(pages::view_api_key_revoke_post),
        )
        .route("/devices/{id}/revoke", post(pages::view_device_revoke_post))
        .route(
            "/certificates/{serial}/revoke",
            post(pages::view_certificate_revoke_post),
        )
        .route("/account", get(pages::view_account_get))
        .route("/account/password", post(pages::view_password_post))
        .route("/account/email", post(pages::view_email_post))
        .route("/account/delete", post(pages::view_account_delete_post))
        .route("/docs/api", get(pages::view_api_docs_get))
        .route("/static/style.css", get(view_style_get))
        // Forms hold a few short fields; axum's default would take 2 MB.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
}

/// Largest form body the pages accept.
pub const MAX_FORM: usize = 16 * 1024;

async fn view_style_get() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

/// Content-Security-Policy of every response: nothing but our own stylesheet, no script at
/// all, forms only to us, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response (pages, API, errors).
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if state.0.settings.https {
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// What every template shows around its content.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) username: Option<String>,
    pub(crate) csrf: String,
    pub(crate) zone: String,
    pub(crate) error: Option<String>,
    pub(crate) notice: Option<String>,
}

/// Who is asking: a logged-in account (a valid session cookie) or an anonymous visitor
/// (bound to a pre-session cookie, made here when missing).
pub(crate) struct Visitor {
    pub(crate) account: Option<Account>,
    session: Option<SecretString>,
    pre: SecretString,
    new_pre: bool,
    csrf: String,
    zone: String,
}

impl std::fmt::Debug for Visitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Visitor")
            .field("account", &self.account.as_ref().map(|a| a.id))
            .finish_non_exhaustive()
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
        })
}

/// The anti-forgery token of forms bound to `binding` (the session or pre-session token):
/// HMAC-SHA256 under a key that never leaves the process.
fn csrf_token(state: &AppState, binding: &str) -> String {
    let tag = aws_lc_rs::hmac::sign(&state.0.csrf_key, binding.as_bytes());
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut account = None;
        let mut session = None;
        if let Some(token) = session_cookie(&parts.headers) {
            let hash = crate::secrets::hash_token(token);
            if let Ok(s) = state.store().get_session(&hash, state.now()).await
                && let Ok(a) = state.store().get_account(s.account_id).await
            {
                account = Some(a);
                session = Some(SecretString::from(token.to_owned()));
            }
        }
        let existing_pre = cookie(&parts.headers, PRE_SESSION_COOKIE).filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        let (pre, new_pre) = match existing_pre {
            Some(v) => (SecretString::from(v.to_owned()), false),
            None => {
                let mut bytes = [0u8; 32];
                // A failing system RNG leaves an all-zero value that no form will match.
                let _ = aws_lc_rs::rand::fill(&mut bytes);
                (SecretString::from(URL_SAFE_NO_PAD.encode(bytes)), true)
            }
        };
        let binding = match &session {
            Some(s) => format!("session:{}", s.expose_secret()),
            None => format!("pre:{}", pre.expose_secret()),
        };
        let csrf = csrf_token(state, &binding);
        Ok(Visitor {
            account,
            session,
            pre,
            new_pre,
            csrf,
            zone: state.0.settings.zone.clone(),
        })
    }
}

impl Visitor {
    /// The layout for a page with an optional error or notice.
    pub(crate) fn layout(&self, error: Option<String>, notice: Option<String>) -> Layout {
        Layout {
            username: self.account.as_ref().map(|a| a.username.clone()),
            csrf: self.csrf.clone(),
            zone: self.zone.clone(),
            error,
            notice,
        }
    }

    /// The session token (logged in only).
    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.expose_secret())
    }

    /// Refuses a form post that is not from one of our pages: a wrong or missing token, or
    /// a browser that says the request is cross-site.
    pub(crate) fn check_form(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<(), ApiError> {
        let cross_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site");
        // A browser's Origin must be this service: the Host it asked for, or the public
        // URL (behind a proxy that rewrites Host).
        let public = state
            .0
            .settings
            .public_url
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let host = headers.get("host").and_then(|h| h.to_str().ok());
        // Our own pages send `Referrer-Policy: no-referrer`, under which browsers send
        // `Origin: null` with their form posts: only a real origin can be checked.
        let origin_ok = match headers.get("origin") {
            None => true,
            Some(o) if o.as_bytes() == b"null" => true,
            Some(o) => o
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .is_some_and(|(_, o)| {
                    host.is_some_and(|h| h.eq_ignore_ascii_case(o))
                        || public.is_some_and(|p| p.eq_ignore_ascii_case(o))
                }),
        };
        let token_ok = constant_time_eq(token.as_bytes(), self.csrf.as_bytes());
        if cross_site || !origin_ok || !token_ok {
            return Err(ApiError::BadCsrf);
        }
        Ok(())
    }

    /// Adds the pre-session cookie when this visitor got a new one.
    fn set_cookies(&self, state: &AppState, resp: &mut Response) {
        if self.new_pre && self.session.is_none() {
            let secure = if state.0.settings.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let v = format!(
                "{PRE_SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}",
                self.pre.expose_secret()
            );
            if let Ok(mut v) = HeaderValue::from_str(&v) {
                v.set_sensitive(true);
                resp.headers_mut().append(SET_COOKIE, v);
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Renders `page` with `status` for `visitor`. Pages are never cached (they carry forms
/// bound to the session, and the new-key page a secret).
pub(crate) fn render(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    page: &impl Template,
) -> Response {
    let mut resp = match page.render() {
        Ok(html) => (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    };
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    visitor.set_cookies(state, &mut resp);
    resp
}

/// A 303 to `to` (after a successful form post).
pub(crate) fn see_other(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// The status a refusal is shown with, and its message. Internal errors are logged here
/// and shown without detail.
pub(crate) fn error_view(e: &ApiError) -> (StatusCode, String) {
    let (code, status) = e.code_status();
    match e {
        ApiError::Internal(cause) => {
            tracing::error!(error.code = code, cause = %cause, "page failed");
        }
        ApiError::MailFailed(cause) => {
            tracing::error!(error.code = code, cause = %cause, "cannot send mail");
        }
        _ => tracing::info!(error.code = code, http.status = status.as_u16(), "{e}"),
    }
    let message = match e {
        ApiError::BadLogin => "Wrong username or password.".to_owned(),
        ApiError::RateLimited { retry_after } => format!(
            "Too many attempts: try again in {} minute(s).",
            retry_after.div_ceil(60)
        ),
        other => {
            let mut m = other.to_string();
            if let Some(first) = m.get(..1) {
                m = first.to_uppercase() + &m[1..];
            }
            if !m.ends_with('.') {
                m.push('.');
            }
            m
        }
    };
    (status, message)
}
