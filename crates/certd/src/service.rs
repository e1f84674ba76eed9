//! What an account can do, once, for both front ends: the JSON API (`api`) and the HTML
//! interface (`web`) parse their input and render the result; the rules, limits, store
//! writes, DNS updates, mails and the audit log live here. Signed device requests and
//! certificate orders stay in `api` (only the CLI makes them).

use secrecy::{ExposeSecret, SecretString};

use certd_store::{
    Account, AccountId, ApiKey, ApiKeyId, DeviceId, EmailPurpose, Hostname, HostnameRules,
    NewAuditEvent, Outcome, TokenHash,
};

use crate::auth::ClientAddr;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::validate;

/// How long an emailed verification link works.
pub const VERIFY_LINK_TTL: time::Duration = time::Duration::hours(24);
/// How long an emailed password-reset link works.
pub const RESET_LINK_TTL: time::Duration = time::Duration::hours(1);
/// Verification mails one account may ask for per hour (the first included).
pub const VERIFY_MAILS_PER_HOUR: u64 = 3;
/// Reset mails one account may get per hour.
pub const RESET_MAILS_PER_HOUR: u64 = 3;
/// Prefix of emailed link tokens.
const LINK_PREFIX: &str = "eml_";

/// Writes an audit event for `action` on `target` with the outcome of `result`, and passes
/// the result through. An audit write that fails is logged: the action has happened.
pub(crate) async fn audited<T>(
    state: &AppState,
    actor: Option<AccountId>,
    addr: ClientAddr,
    action: &str,
    target: Option<&str>,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = match &result {
        Ok(_) => Outcome::Ok,
        Err(e @ ApiError::Internal(_)) => Outcome::Error {
            reason: e.audit_reason(),
        },
        Err(e) => Outcome::Denied {
            reason: e.audit_reason(),
        },
    };
    let event = NewAuditEvent {
        at: state.now(),
        actor,
        subject: actor,
        client_addr: addr.0,
        action,
        target,
        outcome,
    };
    if let Err(e) = state.store().append_audit(&event).await {
        tracing::error!(action, error = %e, "cannot write the audit log");
    }
    result
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Creates an account and mails the verification link. The mail failing does not undo
/// the account (the user can ask for another link); it is logged.
pub(crate) async fn sign_up(
    state: &AppState,
    addr: ClientAddr,
    username: &str,
    email: &str,
    password: &SecretString,
) -> Result<Account, ApiError> {
    let result = async {
        let username = validate::username(username)?;
        validate::password(password, &username)?;
        let email = validate::email(email)?;
        // Counted once the input is valid: the limit is on accounts made, and a typo
        // should not lock a person out.
        state
            .0
            .limits
            .signup_per_addr
            .hit(&addr.key(), state.now())?;
        let hash = secrets::hash_password(password).map_err(internal)?;
        let account = state
            .store()
            .create_account(&username, &email, &hash, state.now())
            .await?;
        Ok(account)
    }
    .await;
    let actor = result.as_ref().ok().map(|a| a.id);
    let account = audited(state, actor, addr, "account.create", None, result).await?;
    if let Err(e) = send_verification(state, &account).await {
        tracing::warn!(account.id = account.id.0, error = %e, "cannot send the verification mail");
    }
    Ok(account)
}

/// Checks a login; on success stores a new session and returns its token. Unknown users
/// cost the same Argon2 work and get the same error as a wrong password.
pub(crate) async fn log_in(
    state: &AppState,
    addr: ClientAddr,
    username: &str,
    password: &SecretString,
) -> Result<(SecretString, Account), ApiError> {
    let now = state.now();
    let username = username.trim().to_ascii_lowercase();
    // No account has a longer name: a longer one is not kept as a limiter key (it costs
    // the same Argon2 work and gets the same answer as any unknown user).
    let username = if username.len() > crate::validate::MAX_USERNAME {
        String::from("(too long)")
    } else {
        username
    };
    let limits = &state.0.limits;
    // Per address (any account), per account from this address, and per account from
    // anywhere with a higher ceiling: a flood from one place cannot lock the owner out
    // from another, and a spread-out guess is still bounded. Each attempt takes its
    // failure slots before the password is checked (given back when it was right), so
    // concurrent guesses cannot all pass a check made before any of them was counted.
    let per_pair = format!("{username}|{}", addr.key());
    let checked = limits
        .login_per_addr
        .hit(&addr.key(), now)
        .and_then(|()| limits.login_failures_per_account_addr.hit(&per_pair, now))
        .and_then(|()| {
            limits
                .login_failures_per_account
                .hit(&username, now)
                .inspect_err(|_| limits.login_failures_per_account_addr.refund(&per_pair))
        });
    if let Err(e) = checked {
        return audited(state, None, addr, "session.create", Some(&username), Err(e)).await;
    }
    let account = state
        .store()
        .get_account_by_username(&username)
        .await
        .ok()
        .filter(|a| a.disabled_at.is_none());
    let hash = account
        .as_ref()
        .map_or(&state.0.dummy_hash, |a| &a.password_hash);
    let ok = secrets::verify_password(password, hash) && account.is_some();
    let actor = account.as_ref().map(|a| a.id);
    let result = match (ok, account) {
        (true, Some(account)) => {
            limits.login_failures_per_account_addr.reset(&per_pair);
            limits.login_failures_per_account.refund(&username);
            let token = new_session(state, account.id).await?;
            Ok((token, account))
        }
        // Counted as a failure up front.
        _ => Err(ApiError::BadLogin),
    };
    audited(
        state,
        actor,
        addr,
        "session.create",
        Some(&username),
        result,
    )
    .await
}

/// Stores a new session for the account and returns its token (the cookie value).
pub(crate) async fn new_session(
    state: &AppState,
    account: AccountId,
) -> Result<SecretString, ApiError> {
    let now = state.now();
    let (token, hash) = secrets::new_token(secrets::SESSION_PREFIX).map_err(internal)?;
    let expires = now + state.0.settings.session_ttl;
    state
        .store()
        .create_session(&hash, account, now, expires)
        .await?;
    Ok(token)
}

/// Ends the session with this token.
pub(crate) async fn log_out(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    token: &str,
) -> Result<(), ApiError> {
    let result = state
        .store()
        .delete_session(&secrets::hash_token(token))
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    audited(state, Some(account), addr, "session.delete", None, result).await
}

/// Registers `<name>.<zone>` for the account; it resolves to 127.0.0.1 at once.
pub(crate) async fn register_hostname(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    name: &str,
) -> Result<Hostname, ApiError> {
    let result = async {
        let label = validate::hostname(name)?;
        if state.0.zone.is_service_label(&label) {
            return Err(ApiError::HostnameUnavailable(format!(
                "{label:?} is a name of the service itself"
            )));
        }
        let rules = HostnameRules {
            hold: state.0.settings.hostname_hold,
            max_per_account: state.0.settings.hostnames_per_account,
        };
        let h = state
            .store()
            .register_hostname(account, &label, rules, state.now())
            .await?;
        state.0.zone.register(&h.label).map_err(internal)?;
        Ok(h)
    }
    .await;
    audited(
        state,
        Some(account),
        addr,
        "hostname.create",
        Some(name),
        result,
    )
    .await
}

/// Deletes one of the account's hostnames (held back from others for the hold period).
pub(crate) async fn delete_hostname(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    label: &str,
) -> Result<(), ApiError> {
    let result = async {
        let label = validate::hostname(label).map_err(|_| ApiError::NotFound("hostname"))?;
        state
            .store()
            .delete_hostname(account, &label, state.now())
            .await?;
        state.0.zone.unregister(&label).map_err(internal)?;
        Ok(())
    }
    .await;
    audited(
        state,
        Some(account),
        addr,
        "hostname.delete",
        Some(label),
        result,
    )
    .await
}

/// Creates an API key for one of the account's hostnames: the key, shown once, and its
/// stored row. Needs a verified email address.
pub(crate) async fn create_api_key(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    hostname: &str,
) -> Result<(ApiKey, SecretString), ApiError> {
    let result = async {
        let owner = state.store().get_account(account).await?;
        if owner.email_verified_at.is_none() {
            return Err(ApiError::EmailNotVerified);
        }
        let label = validate::hostname(hostname)
            .map_err(|_| ApiError::NotYourHostname(hostname.to_owned()))?;
        let owned = state.store().list_hostnames(account).await?;
        if !owned.iter().any(|h| h.label == label) {
            return Err(ApiError::NotYourHostname(label));
        }
        let (key, hash) = secrets::new_token(secrets::API_KEY_PREFIX).map_err(internal)?;
        let prefix = secrets::display_prefix(&key);
        let row = state
            .store()
            .create_api_key(account, &label, &prefix, &hash, state.now())
            .await?;
        Ok((row, key))
    }
    .await;
    audited(
        state,
        Some(account),
        addr,
        "api_key.create",
        Some(hostname),
        result,
    )
    .await
}

/// Revokes one of the account's API keys.
pub(crate) async fn revoke_api_key(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    id: i64,
) -> Result<(), ApiError> {
    let result = state
        .store()
        .revoke_api_key(account, ApiKeyId(id), state.now())
        .await
        .map_err(ApiError::from);
    let target = id.to_string();
    audited(
        state,
        Some(account),
        addr,
        "api_key.revoke",
        Some(&target),
        result,
    )
    .await
}

/// Revokes one of the account's enrolled devices.
pub(crate) async fn revoke_device(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    id: i64,
) -> Result<(), ApiError> {
    let result = state
        .store()
        .revoke_device(account, DeviceId(id), state.now())
        .await
        .map_err(ApiError::from);
    let target = id.to_string();
    audited(
        state,
        Some(account),
        addr,
        "device.revoke",
        Some(&target),
        result,
    )
    .await
}

/// Revokes one of the account's certificates at the CA, then records it.
pub(crate) async fn revoke_certificate(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    serial: &str,
) -> Result<(), ApiError> {
    let result = revoke_certificate_unaudited(state, account, serial).await;
    audited(
        state,
        Some(account),
        addr,
        "certificate.revoke",
        Some(serial),
        result,
    )
    .await
}

pub(crate) async fn revoke_certificate_unaudited(
    state: &AppState,
    account: AccountId,
    serial: &str,
) -> Result<(), ApiError> {
    let cert = state.store().get_certificate(serial).await?;
    if cert.account_id != account {
        return Err(ApiError::NotFound("certificate"));
    }
    if cert.revoked_at.is_some() {
        return Ok(());
    }
    let chain = pki::parse_cert_chain(&cert.chain_pem).map_err(internal)?;
    let leaf = chain
        .first()
        .ok_or_else(|| ApiError::Internal("empty chain".into()))?;
    let acme = state.acme().await?;
    acme.revoke(leaf.as_ref(), certd_acme::RevocationReason::Superseded)
        .await?;
    state
        .store()
        .revoke_certificate(serial, state.now())
        .await?;
    Ok(())
}

// ---- email ------------------------------------------------------------------------------

/// A new link token for `purpose`, stored hashed; returns the token for the mail.
async fn new_link(
    state: &AppState,
    account: &Account,
    purpose: EmailPurpose,
    ttl: time::Duration,
) -> Result<SecretString, ApiError> {
    let (token, hash) = secrets::new_token(LINK_PREFIX).map_err(internal)?;
    let now = state.now();
    state
        .store()
        .create_email_token(account.id, purpose, &account.email, &hash, now, now + ttl)
        .await?;
    Ok(token)
}

fn link(state: &AppState, path: &str, token: &SecretString) -> String {
    format!(
        "{}/{path}?token={}",
        state.0.settings.public_url.trim_end_matches('/'),
        token.expose_secret()
    )
}

async fn send(state: &AppState, to: &str, subject: &str, text: &str) -> Result<(), ApiError> {
    let message = certd_mail::Message { to, subject, text };
    state
        .0
        .mailer
        .send(&message)
        .await
        .map_err(|e| ApiError::MailFailed(e.to_string()))
}

/// Mails a verification link to the account's address, within the hourly allowance.
pub(crate) async fn send_verification(state: &AppState, account: &Account) -> Result<(), ApiError> {
    if account.email_verified_at.is_some() {
        return Err(ApiError::AlreadyVerified);
    }
    let since = state.now() - time::Duration::hours(1);
    let sent = state
        .store()
        .count_email_tokens_since(account.id, EmailPurpose::Verify, since)
        .await?;
    if sent >= VERIFY_MAILS_PER_HOUR {
        return Err(ApiError::RateLimited { retry_after: 3600 });
    }
    let token = new_link(state, account, EmailPurpose::Verify, VERIFY_LINK_TTL).await?;
    let text = format!(
        "Hello {user},\n\nconfirm that {email} is your address for aws-sso-certd by opening this link \
         (it works once, for 24 hours):\n\n{url}\n\nUntil then you can log in and register hostnames, \
         but not create API keys.\nIf you did not sign up, ignore this mail.\n",
        user = account.username,
        email = account.email,
        url = link(state, "verify", &token),
    );
    send(
        state,
        &account.email,
        "Verify your email address for aws-sso-certd",
        &text,
    )
    .await
}

/// Asks for another verification mail (logged in).
pub(crate) async fn resend_verification(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
) -> Result<(), ApiError> {
    let result = async {
        let account = state.store().get_account(account).await?;
        send_verification(state, &account).await
    }
    .await;
    audited(
        state,
        Some(account),
        addr,
        "email.verification_sent",
        None,
        result,
    )
    .await
}

/// Spends a verification link: the address it was sent to is verified, if it is still
/// the account's.
pub(crate) async fn verify_email(
    state: &AppState,
    addr: ClientAddr,
    token: &str,
) -> Result<Account, ApiError> {
    let hash: TokenHash = secrets::hash_token(token);
    let result = async {
        let spent = state
            .store()
            .consume_email_token(&hash, EmailPurpose::Verify, state.now())
            .await
            .map_err(|_| ApiError::BadLink)?;
        let account = state.store().get_account(spent.account_id).await?;
        // Only the address the link was sent to, checked in the same statement that marks
        // it (an address changed meanwhile stays unverified).
        state
            .store()
            .mark_email_verified(account.id, &spent.email, state.now())
            .await
            .map_err(|_| ApiError::BadLink)?;
        Ok(account)
    }
    .await;
    let actor = result.as_ref().ok().map(|a| a.id);
    audited(state, actor, addr, "email.verify", None, result).await
}

/// Mails a password-reset link to the account named `username`, if there is one. The
/// caller answers the same either way; only the audit log tells.
pub(crate) async fn request_password_reset(
    state: &AppState,
    addr: ClientAddr,
    username: &str,
) -> Result<(), ApiError> {
    state
        .0
        .limits
        .reset_per_addr
        .hit(&addr.key(), state.now())?;
    let username = username.trim().to_ascii_lowercase();
    let Ok(account) = state.store().get_account_by_username(&username).await else {
        return Ok(());
    };
    let result = async {
        let since = state.now() - time::Duration::hours(1);
        let sent = state
            .store()
            .count_email_tokens_since(account.id, EmailPurpose::ResetPassword, since)
            .await?;
        if sent >= RESET_MAILS_PER_HOUR {
            return Err(ApiError::RateLimited { retry_after: 3600 });
        }
        let token = new_link(state, &account, EmailPurpose::ResetPassword, RESET_LINK_TTL).await?;
        let text = format!(
            "Hello {user},\n\nsomeone (hopefully you) asked to reset the password of the aws-sso-certd \
             account {user}. Open this link to choose a new one (it works once, for one hour):\n\n{url}\n\n\
             If it was not you, ignore this mail: your password stays as it is.\n",
            user = account.username,
            url = link(state, "reset", &token),
        );
        send(state, &account.email, "Reset your password for aws-sso-certd", &text).await
    }
    .await;
    // The caller shows one answer whatever happened; the refusal is in the audit log.
    let _ = audited(
        state,
        Some(account.id),
        addr,
        "password.reset_requested",
        None,
        result,
    )
    .await;
    Ok(())
}

/// Spends a reset link: sets the new password and ends every session of the account.
pub(crate) async fn reset_password(
    state: &AppState,
    addr: ClientAddr,
    token: &str,
    new_password: &SecretString,
) -> Result<Account, ApiError> {
    let hash = secrets::hash_token(token);
    let result = async {
        // The rules that need no username are checked before the link is spent, so a
        // short or common password can be retried with the same link.
        validate::password(new_password, "")?;
        let peek = state
            .store()
            .consume_email_token(&hash, EmailPurpose::ResetPassword, state.now())
            .await
            .map_err(|_| ApiError::BadLink)?;
        let account = state.store().get_account(peek.account_id).await?;
        // (Changing the address spends reset links; this is the second lock.)
        if !account.email.eq_ignore_ascii_case(&peek.email) {
            return Err(ApiError::BadLink);
        }
        validate::password(new_password, &account.username)?;
        let new_hash = secrets::hash_password(new_password).map_err(internal)?;
        state
            .store()
            .update_password_hash(account.id, &new_hash)
            .await?;
        state
            .store()
            .delete_sessions_of_account(account.id, None)
            .await?;
        Ok(account)
    }
    .await;
    let actor = result.as_ref().ok().map(|a| a.id);
    audited(state, actor, addr, "password.reset", None, result).await
}

/// Checks the current password of a logged-in account (for changes that need it).
async fn check_current_password(
    state: &AppState,
    account: AccountId,
    password: &SecretString,
) -> Result<Account, ApiError> {
    let acc = state.store().get_account(account).await?;
    // Counted with the account's login failures, and like a login the slot is taken before
    // the password is checked (given back when it was right): concurrent guesses from a
    // stolen session cannot all pass a check made before any of them was counted.
    let failures = &state.0.limits.login_failures_per_account;
    let key = acc.username.to_ascii_lowercase();
    failures.hit(&key, state.now())?;
    if !secrets::verify_password(password, &acc.password_hash) {
        return Err(ApiError::WrongPassword);
    }
    failures.refund(&key);
    Ok(acc)
}

/// Changes the password; every other session of the account ends.
pub(crate) async fn change_password(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    session: &str,
    current: &SecretString,
    new_password: &SecretString,
) -> Result<(), ApiError> {
    let result = async {
        let acc = check_current_password(state, account, current).await?;
        validate::password(new_password, &acc.username)?;
        let hash = secrets::hash_password(new_password).map_err(internal)?;
        state.store().update_password_hash(account, &hash).await?;
        let keep = secrets::hash_token(session);
        state
            .store()
            .delete_sessions_of_account(account, Some(&keep))
            .await?;
        Ok(())
    }
    .await;
    audited(state, Some(account), addr, "password.change", None, result).await
}

/// Changes the email address (unverified until the new link is followed) and mails it.
pub(crate) async fn change_email(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    current: &SecretString,
    email: &str,
) -> Result<(), ApiError> {
    let result = async {
        check_current_password(state, account, current).await?;
        let email = validate::email(email)?;
        state.store().update_email(account, &email).await?;
        Ok(state.store().get_account(account).await?)
    }
    .await;
    let acc = audited(state, Some(account), addr, "email.change", None, result).await?;
    if let Err(e) = send_verification(state, &acc).await {
        tracing::warn!(account.id = account.0, error = %e, "cannot send the verification mail");
    }
    Ok(())
}

/// Deletes the account: its live certificates are revoked at the CA, its keys and devices
/// revoked, its names held back for the hold period, its sessions ended. The username
/// stays taken.
pub(crate) async fn delete_account(
    state: &AppState,
    addr: ClientAddr,
    account: AccountId,
    current: &SecretString,
    confirm_username: &str,
) -> Result<(), ApiError> {
    let result = async {
        let acc = check_current_password(state, account, current).await?;
        if !acc.username.eq_ignore_ascii_case(confirm_username.trim()) {
            return Err(ApiError::ConfirmationMismatch);
        }
        let now = state.now();
        for cert in state.store().list_certificates(account).await? {
            if cert.revoked_at.is_none() && cert.not_after > now {
                revoke_certificate_unaudited(state, account, &cert.serial).await?;
            }
        }
        let labels: Vec<String> = state
            .store()
            .list_hostnames(account)
            .await?
            .into_iter()
            .map(|h| h.label)
            .collect();
        state.store().delete_account(account, now).await?;
        for label in labels {
            state.0.zone.unregister(&label).map_err(internal)?;
        }
        Ok(())
    }
    .await;
    audited(state, Some(account), addr, "account.delete", None, result).await
}
