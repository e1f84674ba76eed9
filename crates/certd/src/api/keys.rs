//! API keys: created by a logged-in user for one of their hostnames, shown once, stored
//! as a hash, listed by prefix, revocable, consumed by the enrollment they authorise.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{audited, json};
use crate::auth::{ClientAddr, LoggedIn};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApiKey {
    hostname: String,
}

pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: NewApiKey = match json(body) {
        Ok(r) => r,
        Err(e) => {
            return audited(&state, Some(account), addr, "api_key.create", None, Err(e)).await;
        }
    };
    let (row, key) = crate::service::create_api_key(&state, addr, account, &req.hostname).await?;
    let body = serde_json::json!({
        "id": row.id.0, "prefix": row.prefix, "hostname": row.hostname,
        "key": key.expose_secret(),
        "setup": format!("aws-sso setup ecs cert api-key {}", key.expose_secret()),
        "note": "the key is shown once: it is stored only as a hash",
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
) -> Result<Response, ApiError> {
    let t = |t: Option<time::OffsetDateTime>| t.map(wire::ecs::rfc3339_z);
    let rows: Vec<_> = state
        .store()
        .list_api_keys(account)
        .await?
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "id": k.id.0, "prefix": k.prefix, "hostname": k.hostname,
                "created": wire::ecs::rfc3339_z(k.created_at), "last_used": t(k.last_used_at),
                "revoked": t(k.revoked_at), "consumed": t(k.consumed_at),
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}

pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    crate::service::revoke_api_key(&state, addr, account, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
