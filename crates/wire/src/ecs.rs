//! The ECS credential API: what SDKs read, what `aws-sso ecs load` pushes, and the
//! message envelope of every other answer.
//!
//! Compatible with aws-sso-cli's ECS server (`ECSClientRequest`, `ListProfilesResponse`,
//! `{"code","message"}`), without its bugs: `Expiration` is always RFC 3339 UTC with a `Z`.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Credentials held by the server are not served when they expire within this window.
pub const EXPIRY_MARGIN: time::Duration = time::Duration::minutes(1);

/// How long credentials without an expiry (long-term keys) are declared valid when served:
/// SDKs re-fetch after this, and get the same keys again.
pub const STATIC_CREDENTIALS_TTL: time::Duration = time::Duration::hours(1);

/// Longest profile (slot) name accepted.
pub const MAX_PROFILE_NAME: usize = 256;

/// One set of AWS credentials, as the server keeps them.
pub struct Credentials {
    /// The access key id (not secret, but identifying).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretString,
    /// The session token, absent for long-term keys.
    pub session_token: Option<SecretString>,
    /// When they stop working; `None` for long-term keys.
    pub expiration: Option<OffsetDateTime>,
    /// The role they belong to, when known.
    pub role_arn: Option<String>,
    /// AWS account id, when known.
    pub account_id: Option<u64>,
    /// Role name, when known.
    pub role_name: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expiration", &self.expiration)
            .field("role_arn", &self.role_arn)
            .finish()
    }
}

impl Credentials {
    /// Whether these credentials may still be served at `now`.
    pub fn is_servable(&self, now: OffsetDateTime) -> bool {
        self.expiration.is_none_or(|exp| exp - EXPIRY_MARGIN > now)
    }

    /// The JSON body an SDK receives, for a request made at `now`.
    pub fn to_served(&self, now: OffsetDateTime) -> ServedCredentials<'_> {
        let expiration = self.expiration.unwrap_or(now + STATIC_CREDENTIALS_TTL);
        ServedCredentials {
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose_secret(),
            token: self
                .session_token
                .as_ref()
                .map_or("", |t| t.expose_secret()),
            expiration: rfc3339_z(expiration),
            role_arn: self.role_arn.as_deref(),
        }
    }

    /// The role ARN if known, or one derived from account id and role name.
    pub fn role_arn(&self) -> Option<String> {
        if let Some(arn) = &self.role_arn {
            return Some(arn.clone());
        }
        match (self.account_id, &self.role_name) {
            (Some(acct), Some(role)) if !role.is_empty() => {
                Some(format!("arn:aws:iam::{acct:012}:role/{role}"))
            }
            _ => None,
        }
    }
}

/// Formats a timestamp as RFC 3339 in UTC with a `Z` suffix and whole seconds, the only
/// form every SDK accepts (the Rust SDK rejects `+00:00`).
pub fn rfc3339_z(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let utc = utc.replace_nanosecond(0).unwrap_or(utc);
    utc.format(&Rfc3339)
        .unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

/// The credentials JSON served to SDKs (`GET /`, `GET /slot/<profile>`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServedCredentials<'a> {
    /// `AccessKeyId`.
    pub access_key_id: &'a str,
    /// `SecretAccessKey`.
    pub secret_access_key: &'a str,
    /// `Token` (empty for long-term keys: botocore requires the field).
    pub token: &'a str,
    /// `Expiration`, RFC 3339 UTC ending in `Z`.
    pub expiration: String,
    /// `RoleArn`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<&'a str>,
}

impl std::fmt::Debug for ServedCredentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// The body of `PUT /` and `PUT /slot/<profile>` (aws-sso-cli's `ECSClientRequest`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRequest {
    /// The profile name these credentials belong to.
    #[serde(rename = "ProfileName", default)]
    pub profile_name: String,
    /// The credentials.
    #[serde(rename = "Creds")]
    pub creds: Option<RoleCredentials>,
}

impl std::fmt::Debug for LoadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadRequest")
            .field("profile_name", &self.profile_name)
            .finish_non_exhaustive()
    }
}

/// aws-sso-cli's `storage.RoleCredentials`, plus an optional `roleArn`.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleCredentials {
    /// Role name, may be empty.
    #[serde(default)]
    pub role_name: String,
    /// Account id, 0 when unknown.
    #[serde(default)]
    pub account_id: u64,
    /// Access key id.
    #[serde(default)]
    pub access_key_id: String,
    /// Secret access key.
    #[serde(default, serialize_with = "ser_secret")]
    pub secret_access_key: SecretString,
    /// Session token, empty for long-term keys.
    #[serde(default, serialize_with = "ser_secret")]
    pub session_token: SecretString,
    /// Expiry in milliseconds since the epoch; 0 for none.
    #[serde(default)]
    pub expiration: i64,
    /// The role's ARN, when known (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("role_name", &self.role_name)
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

fn ser_secret<S: Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose_secret())
}

/// Why a [`LoadRequest`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    /// The `ProfileName` field is missing or empty.
    #[error("missing ProfileName")]
    MissingProfileName,
    /// The profile name is too long or has control characters.
    #[error("invalid ProfileName: {0}")]
    InvalidProfileName(&'static str),
    /// The `Creds` block is missing.
    #[error("missing Creds block")]
    MissingCreds,
    /// A required credential field is empty.
    #[error("missing Creds.{0}")]
    MissingField(&'static str),
    /// A credential field has characters no AWS credential has.
    #[error("invalid Creds.{0}")]
    InvalidField(&'static str),
    /// The expiration is not a representable time.
    #[error("invalid Creds.expiration: {0} is not a time in milliseconds since 1970")]
    InvalidExpiration(i64),
    /// The credentials have expired (or expire within a minute).
    #[error("credentials expired at {0}")]
    Expired(String),
    /// The profile in the path and in the body differ.
    #[error("profile in the path ({path}) differs from ProfileName ({body})")]
    ProfileMismatch {
        /// The slot named in the URL path.
        path: String,
        /// The `ProfileName` in the body.
        body: String,
    },
}

/// Checks a profile (slot) name: non-empty, bounded, no control characters.
pub fn validate_profile_name(name: &str) -> Result<(), LoadError> {
    if name.is_empty() {
        return Err(LoadError::MissingProfileName);
    }
    if name.len() > MAX_PROFILE_NAME {
        return Err(LoadError::InvalidProfileName("longer than 256 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(LoadError::InvalidProfileName("contains control characters"));
    }
    Ok(())
}

fn printable_field(value: &str, name: &'static str) -> Result<(), LoadError> {
    if value.is_empty() {
        return Err(LoadError::MissingField(name));
    }
    if value.len() > 8192 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(LoadError::InvalidField(name));
    }
    Ok(())
}

impl LoadRequest {
    /// Validates the request at `now` and turns it into the profile name and credentials.
    pub fn validate(self, now: OffsetDateTime) -> Result<(String, Credentials), LoadError> {
        validate_profile_name(&self.profile_name)?;
        let c = self.creds.ok_or(LoadError::MissingCreds)?;
        printable_field(&c.access_key_id, "accessKeyId")?;
        printable_field(c.secret_access_key.expose_secret(), "secretAccessKey")?;
        let token = c.session_token.expose_secret();
        if !token.is_empty() {
            printable_field(token, "sessionToken")?;
        }
        let expiration = match c.expiration {
            0 => None,
            ms if ms < 0 => return Err(LoadError::InvalidExpiration(ms)),
            ms => Some(
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .map_err(|_| LoadError::InvalidExpiration(ms))?,
            ),
        };
        let session_token = (!token.is_empty()).then(|| c.session_token.clone());
        let creds = Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token,
            expiration,
            role_arn: c.role_arn.filter(|a| !a.is_empty()),
            account_id: (c.account_id != 0).then_some(c.account_id),
            role_name: (!c.role_name.is_empty()).then_some(c.role_name),
        };
        if !creds.is_servable(now) {
            let when = creds.expiration.map(rfc3339_z).unwrap_or_default();
            return Err(LoadError::Expired(when));
        }
        Ok((self.profile_name, creds))
    }
}

/// aws-sso-cli's `ListProfilesResponse`: one loaded profile, without secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProfileSummary {
    /// The profile name.
    #[serde(rename = "ProfileName")]
    pub profile_name: String,
    /// The account id, zero-padded to 12 digits, or empty.
    #[serde(rename = "AccountId")]
    pub account_id: String,
    /// The role name, or empty.
    #[serde(rename = "RoleName")]
    pub role_name: String,
    /// Expiry in seconds since the epoch, 0 for none.
    #[serde(rename = "Expiration")]
    pub expiration: i64,
    /// Time left, for people ("59m", "1h2m", "never").
    #[serde(rename = "Expires")]
    pub expires: String,
}

impl ProfileSummary {
    /// Summarises `creds` loaded as `profile`, at `now`.
    pub fn new(profile: &str, creds: &Credentials, now: OffsetDateTime) -> Self {
        ProfileSummary {
            profile_name: profile.to_owned(),
            account_id: creds
                .account_id
                .map(|a| format!("{a:012}"))
                .unwrap_or_default(),
            role_name: creds.role_name.clone().unwrap_or_default(),
            expiration: creds.expiration.map_or(0, |e| e.unix_timestamp()),
            expires: creds
                .expiration
                .map_or_else(|| "never".to_owned(), |e| remaining(e - now)),
        }
    }
}

fn remaining(d: time::Duration) -> String {
    let mins = d.whole_minutes().max(0);
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The envelope of every answer that is not credentials (aws-sso-cli's `Message`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// The HTTP status code, as a string.
    pub code: String,
    /// What happened, for people.
    pub message: String,
}

impl Message {
    /// A message with `status` and text.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Message {
            code: status.to_string(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests;
