//! Hostnames: register `<label>.<zone>` (A 127.0.0.1 from the moment it is stored), list,
//! delete (held back from re-registration, then gone from DNS).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use certd_store::HostnameRules;
use serde::Deserialize;

use super::{audited, json};
use crate::auth::{ClientAddr, LoggedIn};
use crate::error::ApiError;
use crate::state::AppState;
use crate::validate;

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
    let req: Result<NewHostname, _> = json(body);
    let target = req.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    let result = async {
        let label = validate::hostname(&req?.name)?;
        let rules = HostnameRules {
            hold: state.0.settings.hostname_hold,
            max_per_account: state.0.settings.hostnames_per_account,
        };
        let h = state
            .store()
            .register_hostname(account, &label, rules, state.now())
            .await?;
        state
            .0
            .zone
            .register(&h.label)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(h)
    }
    .await;
    let h = audited(
        &state,
        Some(account),
        addr,
        "hostname.create",
        Some(&target),
        result,
    )
    .await?;
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
    let result = async {
        let label = validate::hostname(&label).map_err(|_| ApiError::NotFound("hostname"))?;
        state
            .store()
            .delete_hostname(account, &label, state.now())
            .await?;
        state
            .0
            .zone
            .unregister(&label)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(())
    }
    .await;
    audited(
        &state,
        Some(account),
        addr,
        "hostname.delete",
        Some(&label),
        result,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
