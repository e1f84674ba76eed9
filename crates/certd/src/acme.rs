//! certd's ACME side: the CA client opened on first use (so the service starts even when
//! the CA is briefly unreachable), and the observer that writes every order step to the
//! store so a restart can resume or fail it.

use std::sync::{Arc, Mutex};

use certd_acme::{
    Acme, AcmeConfig, AcmeError, BoxError, FileAccountStore, OrderObserver, OrderStep,
};
use certd_store::{NewAuditEvent, OrderId, OrderState, OrderUpdate, Outcome, Store};
use tokio::sync::OnceCell;

use crate::error::ApiError;

/// The ACME client, opened once on first use.
pub struct AcmeHandle {
    config: AcmeConfig,
    account: FileAccountStore,
    client: OnceCell<Acme>,
}

impl std::fmt::Debug for AcmeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeHandle")
            .field("account", &self.account.describe())
            .finish_non_exhaustive()
    }
}

impl AcmeHandle {
    /// A handle for `config`, keeping the ACME account in `account`.
    pub fn new(config: AcmeConfig, account: FileAccountStore) -> Self {
        AcmeHandle {
            config,
            account,
            client: OnceCell::new(),
        }
    }

    /// The client, opening (and on first ever use, creating) the ACME account.
    pub async fn get(&self) -> Result<&Acme, ApiError> {
        self.client
            .get_or_try_init(|| async {
                let acme = Acme::open(&self.config, &self.account).await?;
                tracing::info!(
                    acme.account = %acme.account_url(),
                    "ACME account ready; set acme.caa_account_uri to it to pin the CAA record"
                );
                Ok::<_, AcmeError>(acme)
            })
            .await
            .map_err(ApiError::from)
    }
}

use certd_acme::AccountStore as _;

/// Writes each step of one order to the store (the previous state is the expected one, so
/// two writers can never interleave unnoticed).
pub struct StoreObserver {
    store: Arc<dyn Store>,
    order: OrderId,
    account: certd_store::AccountId,
    current: Mutex<OrderUpdate>,
    clock: crate::Clock,
}

impl std::fmt::Debug for StoreObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreObserver")
            .field("order", &self.order)
            .finish_non_exhaustive()
    }
}

impl StoreObserver {
    /// An observer of a new order (state `pending`) placed for `account`.
    pub fn new(state: &crate::AppState, order: OrderId, account: certd_store::AccountId) -> Self {
        let current = OrderUpdate {
            state: OrderState::Pending,
            acme_order_url: None,
            challenge_txt: None,
            error: None,
        };
        Self::with(state, order, account, current)
    }

    /// An observer continuing `order` from what the store says of it.
    pub fn resuming(state: &crate::AppState, order: &certd_store::Order) -> Self {
        let current = OrderUpdate {
            state: order.state.clone(),
            acme_order_url: order.acme_order_url.clone(),
            challenge_txt: order.challenge_txt.clone(),
            error: None,
        };
        Self::with(state, order.id, order.account_id, current)
    }

    fn with(
        state: &crate::AppState,
        order: OrderId,
        account: certd_store::AccountId,
        current: OrderUpdate,
    ) -> Self {
        StoreObserver {
            store: state.0.store.clone(),
            order,
            account,
            current: Mutex::new(current),
            clock: state.0.clock.clone(),
        }
    }

    fn next(&self, step: &OrderStep) -> (OrderState, OrderUpdate) {
        let cur = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = OrderUpdate {
            state: cur.state.clone(),
            acme_order_url: cur.acme_order_url.clone(),
            challenge_txt: cur.challenge_txt.clone(),
            error: None,
        };
        match step {
            OrderStep::Created { order_url } => next.acme_order_url = Some(order_url.clone()),
            OrderStep::ChallengePublished { txt, .. } => {
                next.state = OrderState::ChallengePublished;
                next.challenge_txt = Some(txt.clone());
            }
            OrderStep::Ready | OrderStep::Finalized => next.state = OrderState::Ready,
            OrderStep::Valid { .. } => next.state = OrderState::Valid,
            OrderStep::Failed { reason, .. } => {
                next.state = OrderState::Failed {
                    reason: reason.clone(),
                };
                next.error = Some(reason.clone());
            }
        }
        (cur.state.clone(), next)
    }
}

impl OrderObserver for StoreObserver {
    async fn record(&self, step: &OrderStep) -> Result<(), BoxError> {
        let (expected, next) = self.next(step);
        self.store
            .update_order(self.order, &expected, &next, (self.clock)())
            .await?;
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
        // Each step also goes to the account's audit trail.
        let (action, outcome) = match step {
            OrderStep::Created { .. } => ("order.created", Outcome::Ok),
            OrderStep::ChallengePublished { .. } => ("order.challenge_published", Outcome::Ok),
            OrderStep::Ready => ("order.validated", Outcome::Ok),
            OrderStep::Finalized => ("order.finalized", Outcome::Ok),
            OrderStep::Valid { .. } => ("order.valid", Outcome::Ok),
            OrderStep::Failed { reason, .. } => (
                "order.failed",
                Outcome::Error {
                    reason: reason.clone(),
                },
            ),
        };
        let order = self.order.to_string();
        let event = NewAuditEvent {
            at: (self.clock)(),
            actor: Some(self.account),
            subject: Some(self.account),
            client_addr: None,
            action,
            target: Some(&order),
            outcome,
        };
        self.store.append_audit(&event).await?;
        Ok(())
    }
}

impl From<AcmeError> for ApiError {
    fn from(e: AcmeError) -> Self {
        match e {
            AcmeError::RateLimited {
                detail,
                retry_after,
            } => ApiError::CaRateLimited {
                detail,
                retry_after: retry_after.map_or(3600, |d| d.as_secs().max(1)),
            },
            e @ AcmeError::ValidationFailed { .. } => ApiError::CaValidation(e.to_string()),
            e @ AcmeError::BadCsr { .. } => ApiError::CaRefused(e.to_string()),
            e @ (AcmeError::Connection { .. } | AcmeError::Timeout { .. }) => {
                ApiError::CaUnavailable(e.to_string())
            }
            other => ApiError::CaRefused(other.to_string()),
        }
    }
}
