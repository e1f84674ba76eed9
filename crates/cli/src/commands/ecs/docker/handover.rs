//! The hand-over of secrets to the container: read from the SecureStore, written to a
//! private directory that only the container's user can read and delete from.

use super::*;

/// The secrets `start` hands over, read from the SecureStore as `ecs server` would.
pub(super) struct HostSecrets {
    pub(super) token: Option<SecretString>,
    pub(super) cert_pem: Option<SecretString>,
    pub(super) key_pem: Option<SecretString>,
    /// The certificate the healthcheck trusts.
    pub(super) leaf: Option<CertificateDer<'static>>,
}

impl HostSecrets {
    pub(super) fn read(listen: &ListenArgs) -> anyhow::Result<Self> {
        let config = Config::load()?;
        let store = config.open_store()?;
        let token = if listen.disable_auth {
            None
        } else {
            // Checked first, the raw token is what the container gets.
            items::bearer_token(store.as_ref())?.context(
                "no bearer token is stored: run `aws-sso setup ecs auth --generate` (or start with --disable-auth)",
            )?;
            store.get(items::ECS_BEARER_TOKEN)?
        };
        let (mut cert_pem, mut key_pem, mut leaf) = (None, None, None);
        if !listen.disable_ssl {
            if let Some(key) = items::serving_key(store.as_ref())? {
                check_validity(&key, time::OffsetDateTime::now_utc())?;
                leaf = Some(key.leaf().clone());
                cert_pem = store.get(items::ECS_SSL_CERT)?;
                key_pem = store.get(items::ECS_SSL_KEY)?;
            } else {
                out::note(
                    "warning: no certificate is stored (aws-sso setup ecs ssl): the container serves plain HTTP",
                );
            }
        }
        Ok(HostSecrets {
            token,
            cert_pem,
            key_pem,
            leaf,
        })
    }

    pub(super) fn url(&self, listen: &ListenArgs) -> String {
        let scheme = if self.leaf.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/", host_port(listen))
    }

    /// `text` with the token and every line of the key replaced, for logs shown to people.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if let Some(token) = &self.token {
            text = text.replace(token.expose_secret(), "[redacted]");
        }
        if let Some(key) = &self.key_pem {
            for line in key.expose_secret().lines().map(str::trim) {
                if line.len() >= 8 && !line.starts_with("-----") {
                    text = text.replace(line, "[redacted]");
                }
            }
        }
        text
    }
}

/// The hand-over directory: `<parent>/aws-sso-ecs-<random>/` (0700, so no other host user
/// reaches inside) holding `run/` (0703, mounted in the container) and in it the secrets
/// file (0604), so the container's user, "other" to both, can read and delete it.
/// Everything is removed on drop.
pub(super) struct Handover {
    pub(super) dir: PrivateDir,
}

impl Handover {
    pub(super) fn create(parent: &Path, secrets: &HostSecrets) -> anyhow::Result<Self> {
        let dir = PrivateDir::create(parent, "aws-sso-ecs-")?;
        let handover = Handover { dir };
        let run = handover.run_dir();
        DirBuilder::new()
            .mode(0o700)
            .create(&run)
            .with_context(|| format!("cannot create {}", run.display()))?;
        let bytes = SecretsFile::encode(
            secrets.token.as_ref(),
            secrets.cert_pem.as_ref(),
            secrets.key_pem.as_ref(),
        )?;
        let file = run.join(SECRETS_FILE_NAME);
        securestore::write_private_file(&file, &bytes)?;
        // Widened only once written, and only behind the 0700 directory above.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o604))
            .with_context(|| format!("cannot chmod {}", file.display()))?;
        fs::set_permissions(&run, fs::Permissions::from_mode(0o703))
            .with_context(|| format!("cannot chmod {}", run.display()))?;
        tracing::debug!(dir = %handover.dir.path.display(), "secrets written for the container");
        Ok(handover)
    }

    pub(super) fn run_dir(&self) -> PathBuf {
        self.dir.path.join("run")
    }

    /// The `-v` source, refused when `:` or `,` would break the flag.
    pub(super) fn mount_source(&self) -> anyhow::Result<String> {
        let run = self.run_dir();
        match run.to_str() {
            Some(s) if !s.contains([':', ',']) => Ok(s.to_owned()),
            _ => bail!(
                "the hand-over directory {} cannot be mounted: its path must be UTF-8 without ':' or ','",
                run.display()
            ),
        }
    }

    /// Whether the container has deleted the secrets file.
    pub(super) fn secrets_taken(&self) -> anyhow::Result<bool> {
        let file = self.run_dir().join(SECRETS_FILE_NAME);
        match fs::symlink_metadata(&file) {
            Ok(_) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e).with_context(|| format!("cannot check {}", file.display())),
        }
    }

    /// Removes the directory now, reporting a failure.
    pub(super) fn remove(self) -> anyhow::Result<()> {
        self.dir.remove()
    }
}

/// A fresh directory, 0700, removed with its contents on drop.
pub(super) struct PrivateDir {
    pub(super) path: PathBuf,
}

impl PrivateDir {
    pub(super) fn create(parent: &Path, prefix: &str) -> anyhow::Result<Self> {
        for _ in 0..8 {
            let path = parent.join(format!("{prefix}{}", random_hex(8)?));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
        bail!("cannot create a fresh directory in {}", parent.display())
    }

    pub(super) fn remove(mut self) -> anyhow::Result<()> {
        let path = std::mem::take(&mut self.path);
        fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

pub(super) fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_handover_is_private_on_the_host_and_open_to_the_container_user() {
        let parent =
            std::env::temp_dir().join(format!("aws-sso-ho-test-{}", random_hex(6).unwrap()));
        fs::create_dir(&parent).unwrap();
        let secrets = HostSecrets {
            token: Some(SecretString::from("tok".to_owned())),
            cert_pem: None,
            key_pem: None,
            leaf: None,
        };
        let handover = Handover::create(&parent, &secrets).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&handover.dir.path), 0o700);
        assert_eq!(mode(&handover.run_dir()), 0o703);
        let file = handover.run_dir().join(SECRETS_FILE_NAME);
        assert_eq!(mode(&file), 0o604);
        assert_eq!(fs::read_to_string(&file).unwrap(), r#"{"token":"tok"}"#);
        assert!(!handover.secrets_taken().unwrap());
        fs::remove_file(&file).unwrap();
        assert!(handover.secrets_taken().unwrap());
        drop(handover);
        assert_eq!(
            fs::read_dir(&parent).unwrap().count(),
            0,
            "dropped, nothing is left"
        );
        fs::remove_dir(&parent).unwrap();
    }
}
