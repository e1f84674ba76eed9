//! Accounts and sessions: sign up, log in (a session cookie, stored hashed), log out, and
//! the account's own audit trail.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{audited, json};
use crate::auth::{ClientAddr, LoggedIn, SESSION_COOKIE, session_cookie};
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::validate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    username: String,
    password: SecretString,
    email: String,
}

pub(crate) async fn create_account(
    State(state): State<AppState>,
    addr: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = async {
        let req: NewAccount = json(body)?;
        let username = validate::username(&req.username)?;
        validate::password(&req.password, &username)?;
        let email = validate::email(&req.email)?;
        // Counted once the input is valid: the limit is on accounts made, and a typo
        // should not lock a person out.
        state
            .0
            .limits
            .signup_per_addr
            .hit(&addr.key(), state.now())?;
        let hash =
            secrets::hash_password(&req.password).map_err(|e| ApiError::Internal(e.to_string()))?;
        let account = state
            .store()
            .create_account(&username, &email, &hash, state.now())
            .await?;
        Ok(account)
    }
    .await;
    let actor = result.as_ref().ok().map(|a| a.id);
    let account = audited(&state, actor, addr, "account.create", None, result).await?;
    let body = serde_json::json!({"username": account.username, "email": account.email});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    username: String,
    password: SecretString,
}

pub(crate) async fn create_session(
    State(state): State<AppState>,
    addr: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let now = state.now();
    state.0.limits.login_per_addr.hit(&addr.key(), now)?;
    let req: Login = json(body)?;
    let username = req.username.trim().to_ascii_lowercase();
    state
        .0
        .limits
        .login_failures_per_account
        .hit(&username, now)?;
    let account = state
        .store()
        .get_account_by_username(&username)
        .await
        .ok()
        .filter(|a| a.disabled_at.is_none());
    // Verify against a dummy hash for unknown users: same work, same answer.
    let hash = account
        .as_ref()
        .map_or(&state.0.dummy_hash, |a| &a.password_hash);
    let ok = secrets::verify_password(&req.password, hash) && account.is_some();
    let actor = account.as_ref().map(|a| a.id);
    let result = match (ok, account) {
        (true, Some(account)) => {
            let (token, hash) = secrets::new_token(secrets::SESSION_PREFIX)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let expires = now + state.0.settings.session_ttl;
            state
                .store()
                .create_session(&hash, account.id, now, expires)
                .await?;
            state.0.limits.login_failures_per_account.reset(&username);
            Ok(token)
        }
        _ => Err(ApiError::BadLogin),
    };
    let token = audited(
        &state,
        actor,
        addr,
        "session.create",
        Some(&username),
        result,
    )
    .await?;
    let secure = if state.0.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let ttl = state.0.settings.session_ttl.whole_seconds();
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl}{secure}",
        token.expose_secret()
    );
    let mut resp = (
        StatusCode::OK,
        Json(serde_json::json!({"username": username})),
    )
        .into_response();
    let mut value =
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.to_string()))?;
    value.set_sensitive(true);
    resp.headers_mut().insert(SET_COOKIE, value);
    Ok(resp)
}

pub(crate) async fn delete_session(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = session_cookie(&headers).ok_or(ApiError::NotLoggedIn)?;
    let result = state
        .store()
        .delete_session(&secrets::hash_token(token))
        .await
        .map_err(ApiError::from);
    audited(&state, Some(account), addr, "session.delete", None, result).await?;
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&expired) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}

pub(crate) async fn list_audit(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
) -> Result<Response, ApiError> {
    let events = state.store().list_audit(account, 200).await?;
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            let (outcome, reason) = match &e.outcome {
                certd_store::Outcome::Ok => ("ok", None),
                certd_store::Outcome::Denied { reason } => ("denied", Some(reason.as_str())),
                certd_store::Outcome::Error { reason } => ("error", Some(reason.as_str())),
            };
            serde_json::json!({
                "at": wire::ecs::rfc3339_z(e.at), "action": e.action, "target": e.target,
                "client": e.client_addr.map(|a| a.to_string()), "outcome": outcome, "reason": reason,
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}
