//! Accounts and sessions: sign up, log in (a session cookie, stored hashed), log out, and
//! the account's own audit trail.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::{audited, json};
use crate::auth::{ClientAddr, LoggedIn, session_cookie};
use crate::error::ApiError;
use crate::state::AppState;

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
    let req: NewAccount = match json(body) {
        Ok(r) => r,
        Err(e) => return audited(&state, None, addr, "account.create", None, Err(e)).await,
    };
    let account =
        crate::service::sign_up(&state, addr, &req.username, &req.email, &req.password).await?;
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
    let req: Login = json(body)?;
    let (token, account) =
        crate::service::log_in(&state, addr, &req.username, &req.password).await?;
    let username = account.username;
    let mut resp = (
        StatusCode::OK,
        Json(serde_json::json!({"username": username})),
    )
        .into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, crate::auth::session_set_cookie(&state, &token)?);
    Ok(resp)
}

pub(crate) async fn delete_session(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = session_cookie(&headers).ok_or(ApiError::NotLoggedIn)?;
    crate::service::log_out(&state, addr, account, token).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, crate::auth::session_clear_cookie());
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyEmail {
    token: String,
}

pub(crate) async fn verify_email(
    State(state): State<AppState>,
    addr: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: VerifyEmail = json(body)?;
    let account = crate::service::verify_email(&state, addr, &req.token).await?;
    let body =
        serde_json::json!({"username": account.username, "email": account.email, "verified": true});
    Ok(Json(body).into_response())
}

pub(crate) async fn resend_verification(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
) -> Result<Response, ApiError> {
    crate::service::resend_verification(&state, addr, account).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
