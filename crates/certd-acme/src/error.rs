//! `AcmeError`: every way an ACME operation fails, with the CA's problem documents
//! (RFC 8555 §6.7) mapped to variants a caller can act on (a rate limit becomes "wait
//! this long", a failed validation carries what the CA saw). It owns the mapping from
//! instant-acme's errors; it does not decide HTTP statuses (that is certd's API layer).

use std::time::Duration;

use instant_acme::Problem;

use crate::http::{TransportError, take_retry_after};

/// An error from a collaborator the caller supplies (challenge sink, observer, account store).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

const PREFIX: &str = "urn:ietf:params:acme:error:";

/// Why an ACME operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// The configuration is unusable (bad contact, bad root PEM, bad EAB key).
    #[error("invalid ACME configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The name is not a plain DNS host name (empty label, wildcard, IP literal, too long).
    #[error("{fqdn:?} is not a host name a certificate can be ordered for")]
    InvalidFqdn {
        /// The name as given.
        fqdn: String,
    },
    /// The CSR does not parse, does not name exactly the FQDN, or the CA refused it
    /// (`badCSR`).
    #[error("bad CSR: {reason}")]
    BadCsr {
        /// What is wrong (ours or the CA's detail).
        reason: String,
    },
    /// The CA's rate limit was hit (`rateLimited`): wait `retry_after` before trying again.
    #[error("rate limited by the CA: {detail}{}", fmt_retry(*.retry_after))]
    RateLimited {
        /// The CA's explanation: which limit was hit.
        detail: String,
        /// The CA's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The CA could not validate the DNS-01 challenge for the name.
    #[error("the CA could not validate _acme-challenge.{fqdn}: {detail}")]
    ValidationFailed {
        /// The name of the order.
        fqdn: String,
        /// The problem type, without the `urn:ietf:params:acme:error:` prefix (`unauthorized`,
        /// `dns`, `incorrectResponse`...).
        problem: Option<String>,
        /// The CA's detail (e.g. the TXT values it found).
        detail: String,
    },
    /// The CA will not issue for this name (`rejectedIdentifier`, `caa`).
    #[error("the CA refuses to issue for this name: {detail}")]
    RejectedIdentifier {
        /// The CA's detail.
        detail: String,
    },
    /// The account is not allowed to do this (`unauthorized` outside a challenge,
    /// `accountDoesNotExist`, `userActionRequired`).
    #[error("the CA refused the account: {detail}")]
    Unauthorized {
        /// The CA's detail.
        detail: String,
    },
    /// The CA requires External Account Binding and none (or a wrong one) was configured.
    #[error("the CA requires an External Account Binding (kid and HMAC key): {detail}")]
    ExternalAccountRequired {
        /// The CA's detail.
        detail: String,
    },
    /// The CA rejected our nonce even after instant-acme's retries.
    #[error("the CA kept rejecting nonces: {detail}")]
    BadNonce {
        /// The CA's detail.
        detail: String,
    },
    /// The certificate is already revoked.
    #[error("the certificate is already revoked: {detail}")]
    AlreadyRevoked {
        /// The CA's detail.
        detail: String,
    },
    /// Any other problem document from the CA.
    #[error("the CA refused the request: {detail} ({})", problem.as_deref().unwrap_or("no problem type"))]
    Ca {
        /// The problem type, without the ACME prefix when it has it.
        problem: Option<String>,
        /// The HTTP status the CA gave.
        status: Option<u16>,
        /// The CA's detail.
        detail: String,
    },
    /// The CA could not be reached (DNS, TCP, TLS or HTTP failure).
    #[error("cannot reach the ACME CA: {reason}")]
    Connection {
        /// What failed.
        reason: String,
    },
    /// Waiting ran out: the CA did not answer in time, or an order did not progress within
    /// the retry policy.
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What we were waiting for.
        waiting_for: &'static str,
    },
    /// The order to resume is unknown to the CA, expired, or invalid.
    #[error("ACME order {order_url} cannot be completed: {detail}")]
    OrderFailed {
        /// The order.
        order_url: String,
        /// Why.
        detail: String,
    },
    /// The issued chain is not what was asked for (other names, other key, unparsable).
    #[error("the CA returned an unexpected certificate: {reason}")]
    ChainMismatch {
        /// What differs.
        reason: String,
    },
    /// The CA does not offer this feature (e.g. ARI renewal info).
    #[error("the ACME CA does not support {feature}")]
    Unsupported {
        /// The feature.
        feature: &'static str,
    },
    /// Publishing the challenge TXT failed (e.g. the name is not registered in the zone).
    #[error("cannot publish the TXT record for {fqdn}: {source}")]
    ChallengePublish {
        /// The name of the order.
        fqdn: String,
        /// The sink's error.
        source: BoxError,
    },
    /// The caller's observer could not record a step; the order was stopped.
    #[error("cannot record order step {step}: {source}")]
    Observer {
        /// The step being recorded.
        step: &'static str,
        /// The observer's error.
        source: BoxError,
    },
    /// The account store could not be read or written, or holds something unusable.
    #[error("ACME account store {store}: {reason}")]
    AccountStore {
        /// Which store (`describe()`).
        store: String,
        /// What failed.
        reason: String,
    },
    /// The stored account belongs to another ACME directory than the configured one.
    #[error(
        "the stored ACME account belongs to {stored}, not the configured {configured}; \
         move the account file away to create a new account"
    )]
    AccountDirectoryMismatch {
        /// Directory of the stored account.
        stored: String,
        /// Directory configured now.
        configured: String,
    },
    /// The CA's answer was not understood.
    #[error("unexpected ACME protocol failure: {reason}")]
    Protocol {
        /// What went wrong.
        reason: String,
    },
}

fn fmt_retry(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(" (retry after {} s)", d.as_secs()))
}

impl AcmeError {
    /// How long the CA asked to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AcmeError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Maps a CA problem document; `retry_after` is the response's `Retry-After`.
    pub fn from_problem(problem: &Problem, retry_after: Option<Duration>) -> AcmeError {
        let detail = problem_detail(problem);
        let kind = problem
            .r#type
            .as_deref()
            .map(|t| t.strip_prefix(PREFIX).unwrap_or(t));
        match kind {
            Some("rateLimited") => AcmeError::RateLimited {
                detail,
                retry_after,
            },
            Some("badCSR") => AcmeError::BadCsr { reason: detail },
            Some("rejectedIdentifier" | "caa") => AcmeError::RejectedIdentifier { detail },
            Some("unauthorized" | "accountDoesNotExist" | "userActionRequired") => {
                AcmeError::Unauthorized { detail }
            }
            Some("externalAccountRequired") => AcmeError::ExternalAccountRequired { detail },
            Some("badNonce") => AcmeError::BadNonce { detail },
            Some("alreadyRevoked") => AcmeError::AlreadyRevoked { detail },
            _ => AcmeError::Ca {
                problem: kind.map(str::to_owned),
                status: problem.status,
                detail,
            },
        }
    }

    /// Maps an instant-acme error met while waiting for `waiting_for`.
    pub(crate) fn from_acme(err: instant_acme::Error, waiting_for: &'static str) -> AcmeError {
        use instant_acme::Error as E;
        match err {
            E::Api(problem) => AcmeError::from_problem(&problem, take_retry_after()),
            E::Timeout(_) => AcmeError::Timeout { waiting_for },
            E::Unsupported(feature) => AcmeError::Unsupported { feature },
            E::Hyper(e) => AcmeError::Connection {
                reason: e.to_string(),
            },
            E::Other(e) => match e.downcast::<TransportError>() {
                Ok(t) => match *t {
                    TransportError::Timeout(_) => AcmeError::Timeout {
                        waiting_for: "the CA to answer",
                    },
                    other => AcmeError::Connection {
                        reason: error_chain(&other),
                    },
                },
                Err(e) => AcmeError::Protocol {
                    reason: error_chain(e.as_ref()),
                },
            },
            other => AcmeError::Protocol {
                reason: other.to_string(),
            },
        }
    }

    /// A short name of the variant, for logs and the `Failed` step.
    pub fn kind(&self) -> &'static str {
        match self {
            AcmeError::Config { .. } => "config",
            AcmeError::InvalidFqdn { .. } => "invalid_fqdn",
            AcmeError::BadCsr { .. } => "bad_csr",
            AcmeError::RateLimited { .. } => "rate_limited",
            AcmeError::ValidationFailed { .. } => "validation_failed",
            AcmeError::RejectedIdentifier { .. } => "rejected_identifier",
            AcmeError::Unauthorized { .. } => "unauthorized",
            AcmeError::ExternalAccountRequired { .. } => "external_account_required",
            AcmeError::BadNonce { .. } => "bad_nonce",
            AcmeError::AlreadyRevoked { .. } => "already_revoked",
            AcmeError::Ca { .. } => "ca",
            AcmeError::Connection { .. } => "connection",
            AcmeError::Timeout { .. } => "timeout",
            AcmeError::OrderFailed { .. } => "order_failed",
            AcmeError::ChainMismatch { .. } => "chain_mismatch",
            AcmeError::Unsupported { .. } => "unsupported",
            AcmeError::ChallengePublish { .. } => "challenge_publish",
            AcmeError::Observer { .. } => "observer",
            AcmeError::AccountStore { .. } => "account_store",
            AcmeError::AccountDirectoryMismatch { .. } => "account_directory_mismatch",
            AcmeError::Protocol { .. } => "protocol",
        }
    }
}

/// The problem's detail, followed by its subproblems' details (LE puts the per-name
/// reason there).
pub(crate) fn problem_detail(problem: &Problem) -> String {
    let mut detail = problem
        .detail
        .clone()
        .unwrap_or_else(|| "no detail given".to_owned());
    for sub in &problem.subproblems {
        if let Some(d) = &sub.detail {
            detail.push_str("; ");
            detail.push_str(d);
        }
    }
    detail
}

/// The problem type without the ACME prefix.
pub(crate) fn problem_kind(problem: &Problem) -> Option<String> {
    problem
        .r#type
        .as_deref()
        .map(|t| t.strip_prefix(PREFIX).unwrap_or(t).to_owned())
}

/// `err: source: source...` on one line.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn problem(json: &str) -> Problem {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn problem_types_map_to_specific_variants() {
        let p = problem(
            r#"{"type":"urn:ietf:params:acme:error:badCSR","detail":"CSR names differ","status":400}"#,
        );
        assert!(
            matches!(AcmeError::from_problem(&p, None), AcmeError::BadCsr { reason } if reason == "CSR names differ")
        );
        let p = problem(
            r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"blocked","subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"dev.example is blocked","identifier":{"type":"dns","value":"dev.example"}}]}"#,
        );
        match AcmeError::from_problem(&p, None) {
            AcmeError::RejectedIdentifier { detail } => {
                assert_eq!(detail, "blocked; dev.example is blocked");
            }
            other => panic!("{other:?}"),
        }
        let p = problem(r#"{"type":"urn:ietf:params:acme:error:serverInternal","status":500}"#);
        match AcmeError::from_problem(&p, None) {
            AcmeError::Ca {
                problem,
                status,
                detail,
            } => {
                assert_eq!(problem.as_deref(), Some("serverInternal"));
                assert_eq!(status, Some(500));
                assert_eq!(detail, "no detail given");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rate_limit_display_says_what_and_when() {
        let p = problem(
            r#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates (50) already issued for \"certs.test\" in the last 168h0m0s","status":429}"#,
        );
        let err = AcmeError::from_problem(&p, Some(Duration::from_secs(3600)));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(
            err.to_string(),
            "rate limited by the CA: too many certificates (50) already issued for \"certs.test\" \
             in the last 168h0m0s (retry after 3600 s)"
        );
    }
}
