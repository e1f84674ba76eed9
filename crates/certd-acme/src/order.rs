//! DNS-01 orders: [`Acme::issue`] runs one from the user's CSR to a checked chain,
//! [`Acme::resume`] continues one from its URL after a restart. Each step goes to the
//! caller's [`OrderObserver`] before the next one starts, so certd can store it; the TXT
//! value is withdrawn as soon as the CA has validated, and in every other case when the
//! order ends (error, cancellation: a drop guard).
//!
//! Restarts: certd stores each [`OrderStep`] with the CSR. After a restart it calls
//! [`Acme::resume`] with the `Created` step's URL, whatever the last stored step was; the
//! CA's view of the order decides what happens: `pending` (crashed before or after
//! `ChallengePublished`) publishes the TXT value again (same token and account key, same
//! value) and asks for validation unless it is already running; `ready` finalizes with the
//! CSR; `processing`/`valid` fetches the chain; `invalid`, expired or unknown orders end
//! with a `Failed` step and an error. A resume that cannot reach the CA records nothing, so
//! it can be tried again. Every other error ends the order with `Failed`.

use std::future::Future;

use instant_acme::{
    AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus,
    Problem,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::Acme;
use crate::error::{AcmeError, BoxError, error_chain, problem_detail, problem_kind};
use crate::http::with_retry_after_slot;
use crate::names::{LeafFacts, check_chain, check_csr, check_fqdn};
use crate::sink::ChallengeSink;

/// instant-acme sends a request up to three times while the CA answers `badNonce`, each
/// time with the nonce of the refusal. A request still refused that way is sent again whole
/// (a refused request did nothing at the CA), up to this many more times: Pebble refuses 5 %
/// of good nonces on purpose, and one order makes about ten requests.
pub(crate) const BAD_NONCE_ROUNDS: u32 = 4;

/// Whether `e` is the CA's `badNonce` problem.
pub(crate) fn is_bad_nonce(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce"))
}

/// Evaluates `$call` (an instant-acme request) again while it fails with `badNonce`, at
/// most [`BAD_NONCE_ROUNDS`] more times.
macro_rules! nonce_retried {
    ($call:expr) => {{
        let mut rounds = 0;
        loop {
            match $call {
                Err(e)
                    if rounds < $crate::order::BAD_NONCE_ROUNDS
                        && $crate::order::is_bad_nonce(&e) =>
                {
                    rounds += 1;
                    tracing::debug!(
                        rounds,
                        "the CA kept refusing nonces; sending the request again"
                    );
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use nonce_retried;

/// One step of an order, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum OrderStep {
    /// The CA created the order: keep `order_url` to [`Acme::resume`] it.
    Created {
        /// The order's URL at the CA.
        order_url: String,
    },
    /// The TXT value is published; the CA is told to validate next.
    ChallengePublished {
        /// The order's name.
        fqdn: String,
        /// The value at `_acme-challenge.<fqdn>` (public: it is in DNS).
        txt: String,
    },
    /// The CA validated the name; the TXT value is withdrawn.
    Ready,
    /// The CSR was submitted; the CA is issuing.
    Finalized,
    /// The certificate is issued and checked.
    Valid {
        /// Its serial number, lowercase hex.
        serial_hex: String,
        /// Its expiry.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
    },
    /// The order failed and will not be resumed.
    Failed {
        /// [`AcmeError::kind`].
        kind: String,
        /// The error, as shown to users.
        reason: String,
    },
}

impl OrderStep {
    /// The step's name (`created`, `challenge_published`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            OrderStep::Created { .. } => "created",
            OrderStep::ChallengePublished { .. } => "challenge_published",
            OrderStep::Ready => "ready",
            OrderStep::Finalized => "finalized",
            OrderStep::Valid { .. } => "valid",
            OrderStep::Failed { .. } => "failed",
        }
    }
}

/// Records the steps of an order (certd writes them to its store). An error stops the
/// order: a step that cannot be recorded could not be resumed.
pub trait OrderObserver: Sync {
    /// Records `step`; called once per step, in order.
    fn record(&self, step: &OrderStep) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// Records nothing.
impl OrderObserver for () {
    async fn record(&self, _step: &OrderStep) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A certificate obtained through an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The order's URL.
    pub order_url: String,
    /// The chain as the CA sent it: leaf first, then intermediates (PEM).
    pub chain_pem: String,
    /// What the leaf says.
    pub leaf: LeafFacts,
}

/// The TXT value an order published; withdrawn on [`PublishedTxt::withdraw`] or drop.
struct PublishedTxt<'a, S: ChallengeSink + ?Sized> {
    sink: &'a S,
    fqdn: &'a str,
    value: Option<String>,
}

impl<S: ChallengeSink + ?Sized> PublishedTxt<'_, S> {
    fn publish(&mut self, value: &str) -> Result<(), AcmeError> {
        if self.value.as_deref() != Some(value) {
            self.withdraw();
        }
        self.sink
            .publish(self.fqdn, value)
            .map_err(|source| AcmeError::ChallengePublish {
                fqdn: self.fqdn.to_owned(),
                source,
            })?;
        self.value = Some(value.to_owned());
        Ok(())
    }

    fn withdraw(&mut self) {
        if let Some(value) = self.value.take() {
            match self.sink.clear(self.fqdn, &value) {
                Ok(()) => tracing::debug!(fqdn = %self.fqdn, "challenge TXT withdrawn"),
                Err(e) => tracing::warn!(
                    fqdn = %self.fqdn,
                    error = %error_chain(e.as_ref()),
                    "cannot withdraw the challenge TXT"
                ),
            }
        }
    }
}

impl<S: ChallengeSink + ?Sized> Drop for PublishedTxt<'_, S> {
    fn drop(&mut self) {
        self.withdraw();
    }
}

async fn record<O: OrderObserver>(observer: &O, step: OrderStep) -> Result<(), AcmeError> {
    observer
        .record(&step)
        .await
        .map_err(|source| AcmeError::Observer {
            step: step.name(),
            source,
        })
}

/// What an order is for: the name, the CSR and the CSR's key.
struct Request<'a> {
    fqdn: &'a str,
    csr_der: &'a [u8],
    spki: &'a [u8],
}

impl Acme {
    /// Orders a certificate for `fqdn` with the user's CSR (DER) through DNS-01: publishes
    /// the TXT value through `sink`, has the CA validate it, finalizes with the CSR, and
    /// returns the chain once its leaf is checked to name exactly `fqdn` for the CSR's key.
    /// Every step goes to `observer` first. The TXT value is withdrawn whatever happens.
    pub async fn issue<S, O>(
        &self,
        csr_der: &[u8],
        fqdn: &str,
        sink: &S,
        observer: &O,
    ) -> Result<Issued, AcmeError>
    where
        S: ChallengeSink + ?Sized,
        O: OrderObserver,
    {
        with_retry_after_slot(async {
            let fqdn = check_fqdn(fqdn)?;
            let spki = check_csr(csr_der, &fqdn)?;
            let identifiers = [Identifier::Dns(fqdn.clone())];
            let order = nonce_retried!(self.account.new_order(&NewOrder::new(&identifiers)).await)
                .map_err(|e| AcmeError::from_acme(e, "the CA to create the order"))?;
            tracing::info!(acme.order = %order.url(), fqdn = %fqdn, "ACME order created");
            let request = Request {
                fqdn: &fqdn,
                csr_der,
                spki: &spki,
            };
            self.complete(order, &request, sink, observer, true).await
        })
        .await
    }

    /// Continues the order at `order_url` (from a `Created` step stored before a restart)
    /// with the same CSR and name: republishes the TXT value if the CA has not validated
    /// yet, finalizes if needed, and fetches the chain. An order the CA has invalidated,
    /// expired or forgotten fails with a `Failed` step; the TXT is withdrawn either way.
    pub async fn resume<S, O>(
        &self,
        order_url: &str,
        csr_der: &[u8],
        fqdn: &str,
        sink: &S,
        observer: &O,
    ) -> Result<Issued, AcmeError>
    where
        S: ChallengeSink + ?Sized,
        O: OrderObserver,
    {
        with_retry_after_slot(async {
            let outcome = async {
                let fqdn = check_fqdn(fqdn)?;
                let spki = check_csr(csr_der, &fqdn)?;
                let order = nonce_retried!(self.account.order(order_url.to_owned()).await)
                    .map_err(
                        |e| match AcmeError::from_acme(e, "the CA to find the order") {
                            // A problem document, or (Pebble) a 404 with an empty body.
                            AcmeError::Ca { detail, .. }
                            | AcmeError::Unauthorized { detail }
                            | AcmeError::Protocol { reason: detail } => AcmeError::OrderFailed {
                                order_url: order_url.to_owned(),
                                detail: format!("the CA does not return the order: {detail}"),
                            },
                            other => other,
                        },
                    )?;
                Ok((order, fqdn, spki))
            }
            .await;
            let (order, fqdn, spki) = match outcome {
                Ok(found) => found,
                Err(err) => {
                    // Nothing was published by this process; record the end of the order.
                    if !matches!(
                        err,
                        AcmeError::Connection { .. } | AcmeError::Timeout { .. }
                    ) {
                        fail(observer, &err).await;
                    }
                    return Err(err);
                }
            };
            tracing::info!(acme.order = %order_url, fqdn = %fqdn, "resuming ACME order");
            let request = Request {
                fqdn: &fqdn,
                csr_der,
                spki: &spki,
            };
            self.complete(order, &request, sink, observer, false).await
        })
        .await
    }

    /// Runs the order to its end; on failure withdraws the TXT, deactivates authorizations
    /// still pending and records `Failed`.
    async fn complete<S, O>(
        &self,
        mut order: Order,
        request: &Request<'_>,
        sink: &S,
        observer: &O,
        new: bool,
    ) -> Result<Issued, AcmeError>
    where
        S: ChallengeSink + ?Sized,
        O: OrderObserver,
    {
        let mut txt = PublishedTxt {
            sink,
            fqdn: request.fqdn,
            value: None,
        };
        let mut result = Ok(());
        if new {
            result = record(
                observer,
                OrderStep::Created {
                    order_url: order.url().to_owned(),
                },
            )
            .await;
        }
        let result = match result {
            Ok(()) => self.advance(&mut order, request, &mut txt, observer).await,
            Err(e) => Err(e),
        };
        txt.withdraw();
        match result {
            Ok(issued) => {
                tracing::info!(
                    acme.order = %issued.order_url,
                    fqdn = %request.fqdn,
                    serial = %issued.leaf.serial_hex,
                    "certificate issued"
                );
                deactivate_valid(&mut order).await;
                Ok(issued)
            }
            Err(err) => {
                tracing::warn!(
                    acme.order = %order.url(),
                    fqdn = %request.fqdn,
                    error = %err,
                    "ACME order failed"
                );
                deactivate_pending(&mut order).await;
                fail(observer, &err).await;
                Err(err)
            }
        }
    }

    async fn advance<S, O>(
        &self,
        order: &mut Order,
        request: &Request<'_>,
        txt: &mut PublishedTxt<'_, S>,
        observer: &O,
    ) -> Result<Issued, AcmeError>
    where
        S: ChallengeSink + ?Sized,
        O: OrderObserver,
    {
        let fqdn = request.fqdn;
        if order.state().status == OrderStatus::Pending {
            answer_challenges(order, fqdn, txt, observer).await?;
            let status = match nonce_retried!(order.poll_ready(&self.poll).await) {
                Ok(status) => status,
                Err(instant_acme::Error::Api(problem)) => {
                    return Err(validation_error(order, fqdn, Some(problem)).await);
                }
                Err(e) => {
                    return Err(AcmeError::from_acme(e, "the CA to validate the challenge"));
                }
            };
            txt.withdraw();
            if status != OrderStatus::Ready {
                return Err(validation_error(order, fqdn, None).await);
            }
            record(observer, OrderStep::Ready).await?;
        }
        match order.state().status {
            OrderStatus::Ready => {
                nonce_retried!(order.finalize_csr(request.csr_der).await)
                    .map_err(|e| AcmeError::from_acme(e, "the CA to accept the CSR"))?;
                record(observer, OrderStep::Finalized).await?;
            }
            OrderStatus::Processing | OrderStatus::Valid => {}
            OrderStatus::Invalid => return Err(validation_error(order, fqdn, None).await),
            OrderStatus::Pending => {
                return Err(AcmeError::Protocol {
                    reason: "the order is still pending after validation".to_owned(),
                });
            }
        }
        let chain_pem = nonce_retried!(order.poll_certificate(&self.poll).await)
            .map_err(|e| AcmeError::from_acme(e, "the CA to issue the certificate"))?;
        let leaf = check_chain(&chain_pem, fqdn, request.spki)?;
        record(
            observer,
            OrderStep::Valid {
                serial_hex: leaf.serial_hex.clone(),
                not_after: leaf.not_after,
            },
        )
        .await?;
        Ok(Issued {
            order_url: order.url().to_owned(),
            chain_pem,
            leaf,
        })
    }
}

/// Publishes the DNS-01 value of each pending authorization and tells the CA to validate
/// (unless it already is: a resumed order whose challenge is processing).
async fn answer_challenges<S, O>(
    order: &mut Order,
    fqdn: &str,
    txt: &mut PublishedTxt<'_, S>,
    observer: &O,
) -> Result<(), AcmeError>
where
    S: ChallengeSink + ?Sized,
    O: OrderObserver,
{
    let order_url = order.url().to_owned();
    let mut rounds = 0;
    // A listing the CA refuses with `badNonce` starts over (see `nonce_retried!`).
    'listing: loop {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = match authz {
                Ok(authz) => authz,
                Err(e) if rounds < BAD_NONCE_ROUNDS && is_bad_nonce(&e) => {
                    rounds += 1;
                    continue 'listing;
                }
                Err(e) => return Err(AcmeError::from_acme(e, "the CA to list authorizations")),
            };
            let identifier = authz.identifier().to_string();
            if !identifier.eq_ignore_ascii_case(fqdn) {
                return Err(AcmeError::Protocol {
                    reason: format!("the order has an authorization for {identifier}, not {fqdn}"),
                });
            }
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(AcmeError::OrderFailed {
                        order_url,
                        detail: format!("the authorization for {fqdn} is {other:?}"),
                    });
                }
            }
            let mut challenge =
                authz
                    .challenge(ChallengeType::Dns01)
                    .ok_or_else(|| AcmeError::Protocol {
                        reason: format!("the CA offers no dns-01 challenge for {fqdn}"),
                    })?;
            let value = challenge.key_authorization().dns_value();
            // Published (and recorded) once, also when the listing started over.
            if txt.value.as_deref() != Some(value.as_str()) {
                txt.publish(&value)?;
                record(
                    observer,
                    OrderStep::ChallengePublished {
                        fqdn: fqdn.to_owned(),
                        txt: value,
                    },
                )
                .await?;
            }
            if challenge.status == ChallengeStatus::Pending {
                nonce_retried!(challenge.set_ready().await)
                    .map_err(|e| AcmeError::from_acme(e, "the CA to start validation"))?;
            }
            tracing::debug!(acme.order = %order_url, fqdn = %fqdn, "challenge published and ready");
        }
        return Ok(());
    }
}

/// Why an order became invalid: the challenge's error (what the CA saw) when there is one,
/// else the order's.
async fn validation_error(order: &mut Order, fqdn: &str, problem: Option<Problem>) -> AcmeError {
    let order_url = order.url().to_owned();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        if let Some(p) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
            return AcmeError::ValidationFailed {
                fqdn: fqdn.to_owned(),
                problem: problem_kind(p),
                detail: problem_detail(p),
            };
        }
    }
    let problem = problem.or_else(|| order.state().error.clone());
    match problem {
        Some(p) => AcmeError::OrderFailed {
            order_url,
            detail: problem_detail(&p),
        },
        None => AcmeError::OrderFailed {
            order_url,
            detail: "the CA marked the order invalid without giving a reason".to_owned(),
        },
    }
}

/// Deactivates authorizations left pending (they count against the CA's limits); best
/// effort.
async fn deactivate_pending(order: &mut Order) {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        if authz.status == AuthorizationStatus::Pending
            && let Err(e) = nonce_retried!(authz.deactivate().await)
        {
            tracing::debug!(error = %e, "cannot deactivate a pending authorization");
        }
    }
}

/// Deactivates the order's valid authorizations once its certificate is in hand. The CA
/// would reuse them for new orders of this ACME account for weeks (Let's Encrypt: 30
/// days) without asking for DNS-01 again; deactivated, anyone holding a copy of the
/// account key still has to answer a challenge in this service's DNS. Best effort: the
/// certificate is issued either way.
async fn deactivate_valid(order: &mut Order) {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = match authz {
            Ok(authz) => authz,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the order's authorizations to deactivate them");
                return;
            }
        };
        if authz.status == AuthorizationStatus::Valid
            && let Err(e) = nonce_retried!(authz.deactivate().await)
        {
            tracing::warn!(error = %e, "cannot deactivate a valid authorization");
        }
    }
}

async fn fail<O: OrderObserver>(observer: &O, err: &AcmeError) {
    let step = OrderStep::Failed {
        kind: err.kind().to_owned(),
        reason: err.to_string(),
    };
    if let Err(e) = observer.record(&step).await {
        tracing::warn!(error = %error_chain(e.as_ref()), "cannot record the failed order step");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[test]
    #[allow(clippy::unwrap_used)]
    fn steps_store_as_tagged_json() {
        let step = OrderStep::Valid {
            serial_hex: "0a1b".into(),
            not_after: time::macros::datetime!(2026-03-01 12:00 UTC),
        };
        let json = serde_json::to_string(&step).unwrap();
        assert_eq!(
            json,
            r#"{"step":"valid","serial_hex":"0a1b","not_after":"2026-03-01T12:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<OrderStep>(&json).unwrap(), step);
        let json = serde_json::to_string(&OrderStep::Ready).unwrap();
        assert_eq!(json, r#"{"step":"ready"}"#);
    }

    /// certd spawns orders on tokio: the futures must be `Send` with its zone sink.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn order_futures_are_send(acme: &Acme, zone: &certd_dns::ZoneState) {
        let issue = acme.issue(&[], "a.test", zone, &());
        is_send(&issue);
        let resume = acme.resume("u", &[], "a.test", zone, &());
        is_send(&resume);
        is_send(acme);
    }
}
