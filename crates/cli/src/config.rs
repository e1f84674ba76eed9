//! aws-sso's configuration: where it lives (`$XDG_CONFIG_HOME/aws-sso` or
//! `~/.config/aws-sso`), the file `config.yaml`, environment overrides, and opening the
//! SecureStore it selects.
//!
//! File config is not runtime config: [`FileConfig`] is what the YAML says (unknown keys
//! refused), [`Config`] is what the program uses after overrides and checks.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use securestore::{PasswordSource, SecureStore, StoreConfig, StoreKind};
use serde::Deserialize;

/// Name of the config file inside the config directory.
pub const CONFIG_FILE: &str = "config.yaml";

/// What `config.yaml` may say.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `file`, `keyring` or `json` (insecure, explicit opt-in).
    #[serde(rename = "SecureStore", default)]
    pub secure_store: Option<String>,
    /// scrypt work factor of the encrypted file store (default: age's).
    #[serde(rename = "FileScryptWorkFactor", default)]
    pub file_scrypt_work_factor: Option<u8>,
}

/// The configuration in force.
#[derive(Debug)]
pub struct Config {
    /// The config directory.
    pub dir: PathBuf,
    /// The chosen SecureStore backend (`None`: keyring when reachable, else file).
    pub store_kind: Option<StoreKind>,
    /// scrypt work factor for the file store.
    pub scrypt_work_factor: Option<u8>,
}

/// The config directory: `$XDG_CONFIG_HOME/aws-sso`, else `$HOME/.config/aws-sso`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("aws-sso"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".config").join("aws-sso")),
        None => bail!("cannot find the config directory: neither XDG_CONFIG_HOME nor HOME is set"),
    }
}

fn parse_kind(s: &str, origin: &str) -> anyhow::Result<StoreKind> {
    match s.to_ascii_lowercase().as_str() {
        "file" => Ok(StoreKind::File),
        "keyring" => Ok(StoreKind::Keyring),
        "json" => Ok(StoreKind::Json),
        "memory" => Ok(StoreKind::Memory),
        _ => bail!("{origin}: unknown SecureStore {s:?}; expected file, keyring or json"),
    }
}

impl Config {
    /// Reads `config.yaml` in the config directory (absent: defaults) and applies the
    /// environment overrides `AWS_SSO_SECURE_STORE` and `AWS_SSO_FILE_SCRYPT_WORK_FACTOR`.
    pub fn load() -> anyhow::Result<Self> {
        let dir = config_dir()?;
        let file = read_file_config(&dir.join(CONFIG_FILE))?;
        let path = dir.join(CONFIG_FILE);
        let mut store_kind = match &file.secure_store {
            Some(s) => Some(parse_kind(s, &path.display().to_string())?),
            None => None,
        };
        if let Some(s) = std::env::var("AWS_SSO_SECURE_STORE")
            .ok()
            .filter(|s| !s.is_empty())
        {
            store_kind = Some(parse_kind(&s, "AWS_SSO_SECURE_STORE")?);
        }
        Ok(Config {
            dir,
            store_kind,
            scrypt_work_factor: file.file_scrypt_work_factor,
        })
    }

    /// Opens the SecureStore this configuration selects.
    pub fn open_store(&self) -> anyhow::Result<Box<dyn SecureStore>> {
        let password = if std::env::var_os("AWS_SSO_FILE_PASSWORD").is_some() {
            PasswordSource::Env
        } else {
            PasswordSource::Prompt
        };
        let cfg = StoreConfig {
            kind: self.store_kind,
            dir: self.dir.clone(),
            password,
            scrypt_work_factor: self.scrypt_work_factor,
        };
        securestore::open(cfg).context("cannot open the SecureStore")
    }
}

/// Parses `path` if it exists; an absent file is the default configuration.
pub fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    parse_file_config(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// Parses the text of `config.yaml` (blank: the defaults): the parsing entry point of
/// [`read_file_config`], also driven by the fuzz targets in `fuzz/`.
pub fn parse_file_config(text: &str) -> Result<FileConfig, serde_yaml_ng::Error> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_yaml_ng::from_str(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../docs/config.example.yaml");
        let cfg: FileConfig = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(cfg.secure_store.as_deref(), Some("file"));
    }

    #[test]
    fn unknown_keys_and_stores_are_refused() {
        let err = serde_yaml_ng::from_str::<FileConfig>("SecureStor: file").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `SecureStor`"),
            "{err}"
        );
        let err = parse_kind("vault", "config.yaml").unwrap_err();
        assert!(
            err.to_string().contains("unknown SecureStore \"vault\""),
            "{err}"
        );
        assert_eq!(parse_kind("KeyRing", "x").unwrap(), StoreKind::Keyring);
    }
}
