//! Obtaining the file store's password from a [`PasswordSource`]: the environment
//! variable, a terminal prompt (asked twice when creating a store), or the caller.
//! Owns no caching; the file store keeps the password once obtained.

use std::io::IsTerminal;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::{PASSWORD_ENV, PasswordSource, StoreError};

/// Whether the password unlocks an existing store or protects a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Decrypt an existing file: ask once.
    Unlock,
    /// Create a new file: a prompt asks twice and compares.
    Create,
}

/// Get a non-empty password for the store at `path`.
pub(crate) fn obtain(
    source: &PasswordSource,
    path: &Path,
    purpose: Purpose,
) -> Result<SecretString, StoreError> {
    match source {
        PasswordSource::Given(pw) => check(path, "the caller", pw.clone()),
        PasswordSource::Env => match std::env::var(PASSWORD_ENV) {
            Ok(pw) => check(path, PASSWORD_ENV, SecretString::from(pw)),
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::InvalidPassword {
                path: path.to_path_buf(),
                origin: PASSWORD_ENV,
                reason: "not valid UTF-8",
            }),
            Err(std::env::VarError::NotPresent) => prompt(path, purpose),
        },
        PasswordSource::Prompt => prompt(path, purpose),
    }
}

fn check(path: &Path, origin: &'static str, pw: SecretString) -> Result<SecretString, StoreError> {
    if pw.expose_secret().is_empty() {
        return Err(StoreError::InvalidPassword {
            path: path.to_path_buf(),
            origin,
            reason: "empty",
        });
    }
    Ok(pw)
}

fn prompt(path: &Path, purpose: Purpose) -> Result<SecretString, StoreError> {
    if !std::io::stdin().is_terminal() {
        return Err(StoreError::PasswordUnavailable {
            path: path.to_path_buf(),
        });
    }
    let ask = |text: String| {
        rpassword::prompt_password(text)
            .map(SecretString::from)
            .map_err(|source| StoreError::PasswordPrompt {
                path: path.to_path_buf(),
                source,
            })
    };
    match purpose {
        Purpose::Unlock => check(
            path,
            "the prompt",
            ask(format!("Password for {}: ", path.display()))?,
        ),
        Purpose::Create => {
            let first = ask(format!("New password for {}: ", path.display()))?;
            let first = check(path, "the prompt", first)?;
            let second = ask("Repeat the password: ".to_owned())?;
            if first.expose_secret() != second.expose_secret() {
                return Err(StoreError::PasswordMismatch {
                    path: path.to_path_buf(),
                });
            }
            Ok(first)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn given_password_is_used_and_empty_refused() {
        let path = Path::new("/s");
        let pw = obtain(&PasswordSource::Given("pw".into()), path, Purpose::Create).unwrap();
        assert_eq!(pw.expose_secret(), "pw");
        let err = obtain(&PasswordSource::Given("".into()), path, Purpose::Unlock).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidPassword {
                    reason: "empty",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn prompt_without_terminal_says_to_set_env_var() {
        // Under `cargo test` stdin is not a terminal unless run interactively.
        if std::io::stdin().is_terminal() {
            return;
        }
        let err = obtain(&PasswordSource::Prompt, Path::new("/s"), Purpose::Unlock).unwrap_err();
        assert!(
            matches!(err, StoreError::PasswordUnavailable { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(PASSWORD_ENV), "{err}");
    }
}
