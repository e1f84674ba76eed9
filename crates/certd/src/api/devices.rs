//! Devices: enrollment (an API key, consumed, binds an Ed25519 public key to the account
//! and hostname), listing, revocation, and `GET /api/v1/device`, the signed "who am I".

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{audited, json};
use crate::auth::{ClientAddr, LoggedIn, signed_device};
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Enroll {
    api_key: SecretString,
    public_key: String,
}

pub(crate) async fn enroll_device(
    State(state): State<AppState>,
    addr: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = async {
        state
            .0
            .limits
            .enroll_per_addr
            .hit(&addr.key(), state.now())?;
        let req: Enroll = json(body)?;
        let public_key: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(req.public_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(ApiError::BadPublicKey)?;
        let hash = secrets::hash_token(req.api_key.expose_secret());
        let device = state
            .store()
            .enroll_device(&hash, &public_key, state.now())
            .await?;
        Ok(device)
    }
    .await;
    let actor = result.as_ref().ok().map(|d| d.account_id);
    let target = result.as_ref().ok().map(|d| d.hostname.clone());
    let device = audited(
        &state,
        actor,
        addr,
        "device.enroll",
        target.as_deref(),
        result,
    )
    .await?;
    let body = serde_json::json!({
        "device_id": device.id.0, "hostname": device.hostname, "fqdn": state.fqdn(&device.hostname),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn list_devices(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
) -> Result<Response, ApiError> {
    let rows: Vec<_> = state
        .store()
        .list_devices(account)
        .await?
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id.0, "hostname": d.hostname, "created": wire::ecs::rfc3339_z(d.created_at),
                "revoked": d.revoked_at.map(wire::ecs::rfc3339_z),
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}

pub(crate) async fn revoke_device(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    crate::service::revoke_device(&state, addr, account, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn get_device(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::body(body)?;
    let result = signed_device(&state, addr, "GET", "/api/v1/device", &headers, &body).await;
    if let Err(e) = &result {
        // Refused signatures are security events: audit them without an actor.
        let refused: Result<(), ApiError> = Err(ApiError::BadSignature(e.to_string()));
        let _ = audited(&state, None, addr, "device.signed_request", None, refused).await;
    }
    let device = result?;
    let body = serde_json::json!({
        "device_id": device.id.0, "hostname": device.hostname, "fqdn": state.fqdn(&device.hostname),
    });
    Ok(Json(body).into_response())
}
