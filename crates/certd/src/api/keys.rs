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
use crate::secrets;
use crate::state::AppState;
use crate::validate;

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
    let req: Result<NewApiKey, _> = json(body);
    let target = req.as_ref().map(|r| r.hostname.clone()).unwrap_or_default();
    let result = async {
        let label = validate::hostname(&req?.hostname)
            .map_err(|_| ApiError::NotYourHostname(target.clone()))?;
        let owned = state.store().list_hostnames(account).await?;
        if !owned.iter().any(|h| h.label == label) {
            return Err(ApiError::NotYourHostname(label));
        }
        let (key, hash) = secrets::new_token(secrets::API_KEY_PREFIX)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let prefix = secrets::display_prefix(&key);
        let row = state
            .store()
            .create_api_key(account, &label, &prefix, &hash, state.now())
            .await?;
        Ok((row, key))
    }
    .await;
    let (row, key) = audited(
        &state,
        Some(account),
        addr,
        "api_key.create",
        Some(&target),
        result,
    )
    .await?;
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
    let result = state
        .store()
        .revoke_api_key(account, certd_store::ApiKeyId(id), state.now())
        .await
        .map_err(ApiError::from);
    audited(
        &state,
        Some(account),
        addr,
        "api_key.revoke",
        Some(&id.to_string()),
        result,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
