//! Background work: at start, every unfinished ACME order is resumed from its stored URL or
//! failed cleanly (its TXT values withdrawn); while running, spent nonces and expired
//! sessions are pruned every minute.

use std::time::Duration;

use certd_store::{Order, OrderState, OrderUpdate};

use crate::acme::StoreObserver;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a nonce is kept: longer than a signature is accepted, so a replay within the
/// acceptance window always finds it.
pub const NONCE_KEEP: time::Duration = time::Duration::minutes(10);

/// What [`recover_orders`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Orders completed and their certificates stored.
    pub completed: usize,
    /// Orders marked failed.
    pub failed: usize,
}

/// Resumes or fails every unfinished order. Called once at start, before serving.
pub async fn recover_orders(state: &AppState) -> Result<Recovery, ApiError> {
    let mut recovery = Recovery::default();
    for order in state.store().list_unfinished_orders().await? {
        match resume_one(state, &order).await {
            Ok(()) => recovery.completed += 1,
            Err(e) => {
                tracing::warn!(order.id = %order.id, error = %e, "an interrupted order could not be completed");
                fail(state, &order, &e.to_string()).await;
                recovery.failed += 1;
            }
        }
    }
    Ok(recovery)
}

async fn resume_one(state: &AppState, order: &Order) -> Result<(), ApiError> {
    let url = order
        .acme_order_url
        .clone()
        .ok_or_else(|| ApiError::CaRefused("interrupted before the CA created the order".into()))?;
    let acme = state.acme().await?;
    let fqdn = state.fqdn(&order.hostname);
    let observer = StoreObserver::resuming(state, order);
    tracing::info!(order.id = %order.id, fqdn, "resuming an interrupted order");
    let issued = acme
        .resume(
            &url,
            &order.csr_der,
            &fqdn,
            state.0.zone.as_ref(),
            &observer,
        )
        .await?;
    crate::api::store_certificate(
        state,
        order.account_id,
        &order.hostname,
        Some(order.id),
        &issued,
    )
    .await?;
    Ok(())
}

/// Marks `order` failed (if it is not already) and withdraws its TXT value.
async fn fail(state: &AppState, order: &Order, reason: &str) {
    if let Some(txt) = &order.challenge_txt {
        let _ = state.0.zone.remove_challenge(&order.hostname, txt);
    }
    let Ok(current) = state.store().get_order(order.id).await else {
        return;
    };
    if current.state.is_finished() {
        return;
    }
    let update = OrderUpdate {
        state: OrderState::Failed {
            reason: reason.to_owned(),
        },
        acme_order_url: current.acme_order_url.clone(),
        challenge_txt: current.challenge_txt.clone(),
        error: Some(reason.to_owned()),
    };
    if let Err(e) = state
        .store()
        .update_order(order.id, &current.state, &update, state.now())
        .await
    {
        tracing::error!(order.id = %order.id, error = %e, "cannot mark the order failed");
    }
}

/// Prunes spent nonces, expired sessions and expired emailed links; returns how many
/// nonces, and how many sessions and links together.
pub async fn housekeeping(state: &AppState) -> Result<(u64, u64), ApiError> {
    let now = state.now();
    let nonces = state.store().prune_nonces(now - NONCE_KEEP).await?;
    let sessions = state.store().delete_expired_sessions(now).await?;
    // Kept an hour past expiry: the hourly mail allowances count them.
    let links = state
        .store()
        .prune_email_tokens(now - time::Duration::hours(1))
        .await?;
    Ok((nonces, sessions + links))
}

/// Runs [`housekeeping`] every minute until the process ends.
pub fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match housekeeping(&state).await {
                Ok((n, s)) if n + s > 0 => tracing::debug!(nonces = n, sessions = s, "pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
        }
    })
}
