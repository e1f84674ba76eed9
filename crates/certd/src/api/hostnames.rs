//! Hostnames: register `<label>.<zone>` (A 127.0.0.1 from the moment it is stored), list,
//! delete (held back from re-registration, then gone from DNS).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{audited, json};
use crate::auth::{ClientAddr, LoggedIn};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewHostname {
    name: String,
}

pub(crate) async fn create_hostname(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: NewHostname = match json(body) {
        Ok(r) => r,
        Err(e) => {
            return audited(&state, Some(account), addr, "hostname.create", None, Err(e)).await;
        }
    };
    let h = crate::service::register_hostname(&state, addr, account, &req.name).await?;
    let fqdn = state.fqdn(&h.label);
    let body = serde_json::json!({
        "name": h.label, "fqdn": fqdn, "created": wire::ecs::rfc3339_z(h.created_at),
        "setup": format!("aws-sso setup ecs cert fqdn {fqdn}"),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn list_hostnames(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
) -> Result<Response, ApiError> {
    let rows: Vec<_> = state
        .store()
        .list_hostnames(account)
        .await?
        .into_iter()
        .map(|h| serde_json::json!({"name": h.label, "fqdn": state.fqdn(&h.label), "created": wire::ecs::rfc3339_z(h.created_at)}))
        .collect();
    Ok(Json(rows).into_response())
}

pub(crate) async fn delete_hostname(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    Path(label): Path<String>,
) -> Result<Response, ApiError> {
    crate::service::delete_hostname(&state, addr, account, &label).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
