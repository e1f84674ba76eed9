//! Certificates: a CSR signed by an enrolled device goes in (policy-checked, counted
//! against the zone's weekly budget, ordered from the ACME CA through DNS-01 with every
//! step stored), the chain comes out; listing and revocation for the account.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use certd_store::{Device, NewCertificate, NewOrder};
use serde::Deserialize;

use super::audited;
use crate::acme::StoreObserver;
use crate::auth::{ClientAddr, LoggedIn, signed_device};
use crate::error::ApiError;
use crate::state::AppState;

/// Let's Encrypt's limit: new certificates per registered domain per 7 days.
pub const WEEKLY_BUDGET: u64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateRequest {
    csr: String,
}

pub(crate) async fn create_certificate(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::body(body)?;
    let device = match signed_device(
        &state,
        addr,
        "POST",
        "/api/v1/certificates",
        &headers,
        &body,
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            let refused: Result<(), ApiError> = Err(ApiError::BadSignature(e.to_string()));
            let _ = audited(&state, None, addr, "certificate.request", None, refused).await;
            return Err(e);
        }
    };
    let fqdn = state.fqdn(&device.hostname);
    let result = issue(&state, &device, &fqdn, &body).await;
    let issued = audited(
        &state,
        Some(device.account_id),
        addr,
        "certificate.request",
        Some(&fqdn),
        result,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

async fn issue(
    state: &AppState,
    device: &Device,
    fqdn: &str,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let now = state.now();
    state
        .0
        .limits
        .signing_per_account
        .hit(&device.account_id.to_string(), now)?;
    let req: CertificateRequest =
        serde_json::from_slice(body).map_err(|e| ApiError::BadJson(e.to_string()))?;
    let der = pki::csr::csr_from_pem(&req.csr)?;
    pki::csr::check_csr(&der, fqdn)?;
    let week_ago = now - time::Duration::days(7);
    let issued = state
        .store()
        .count_certificates_issued_since(week_ago)
        .await?;
    if issued >= WEEKLY_BUDGET {
        return Err(ApiError::ZoneBudget {
            issued,
            budget: WEEKLY_BUDGET,
            retry_after: 6 * 3600,
        });
    }
    let acme = state.acme().await?;
    let _ordering = state.begin_order(&device.hostname, fqdn)?;
    let order = state
        .store()
        .create_order(
            NewOrder {
                account_id: device.account_id,
                device_id: Some(device.id),
                hostname: &device.hostname,
                csr_der: &der,
            },
            now,
        )
        .await?;
    tracing::info!(order.id = %order.id, fqdn, "ordering a certificate");
    let observer = StoreObserver::new(state, order.id, device.account_id);
    let issued = acme
        .issue(&der, fqdn, state.0.zone.as_ref(), &observer)
        .await?;
    store_certificate(
        state,
        device.account_id,
        &device.hostname,
        Some(order.id),
        &issued,
    )
    .await?;
    // Revoking the device, deleting its name or the account while the CA worked must not
    // leave a live certificate behind (deleting the account revoked those it could see).
    let device_now = state.store().get_device(device.id).await?;
    if device_now.revoked_at.is_some() {
        let serial = &issued.leaf.serial_hex;
        if let Err(e) =
            crate::service::revoke_certificate_unaudited(state, device.account_id, serial).await
        {
            tracing::error!(serial = %serial, error = %e, "cannot revoke a certificate issued to a device revoked during its order");
        }
        return Err(ApiError::RevokedDuringOrder(fqdn.to_owned()));
    }
    let leaf = &issued.leaf;
    Ok(serde_json::json!({
        "serial": leaf.serial_hex, "fqdn": fqdn,
        "not_before": wire::ecs::rfc3339_z(leaf.not_before), "not_after": wire::ecs::rfc3339_z(leaf.not_after),
        "chain_pem": issued.chain_pem,
    }))
}

/// Stores an issued certificate for `account` and `hostname`.
pub(crate) async fn store_certificate(
    state: &AppState,
    account: certd_store::AccountId,
    hostname: &str,
    order: Option<certd_store::OrderId>,
    issued: &certd_acme::Issued,
) -> Result<(), ApiError> {
    let leaf = &issued.leaf;
    state
        .store()
        .insert_certificate(
            NewCertificate {
                serial: &leaf.serial_hex,
                account_id: account,
                hostname,
                order_id: order,
                replaces: None,
                not_before: leaf.not_before,
                not_after: leaf.not_after,
                chain_pem: &issued.chain_pem,
            },
            state.now(),
        )
        .await?;
    tracing::info!(serial = %leaf.serial_hex, hostname, "issued a certificate");
    Ok(())
}

pub(crate) async fn list_certificates(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
) -> Result<Response, ApiError> {
    let rows: Vec<_> = state
        .store()
        .list_certificates(account)
        .await?
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "serial": c.serial, "fqdn": state.fqdn(&c.hostname),
                "not_before": wire::ecs::rfc3339_z(c.not_before), "not_after": wire::ecs::rfc3339_z(c.not_after),
                "revoked": c.revoked_at.map(wire::ecs::rfc3339_z),
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}

pub(crate) async fn revoke_certificate(
    State(state): State<AppState>,
    LoggedIn(account): LoggedIn,
    addr: ClientAddr,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    crate::service::revoke_certificate(&state, addr, account, &serial).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
