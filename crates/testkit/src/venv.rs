//! The Python venv holding the real AWS SDKs (botocore, awscli v1) that `scripts/test`
//! builds: where it is, and making botocore trust a test CA. It never installs anything.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::paths::workspace_root;

/// `$AWS_SSO_SDK_VENV`, else `<workspace>/.venv`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("AWS_SSO_SDK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
}

/// The venv's Python interpreter.
pub fn python() -> PathBuf {
    venv_dir().join("bin/python")
}

/// The venv's `aws` (awscli v1) entry point.
pub fn aws_bin() -> PathBuf {
    venv_dir().join("bin/aws")
}

/// Fails the test unless the venv with botocore and awscli exists.
pub fn require_venv() {
    let (py, aws) = (python(), aws_bin());
    assert!(
        py.exists() && aws.exists(),
        "the AWS SDK venv is missing at {} (no {} or {}): run scripts/test (it builds the SDK venv)",
        venv_dir().display(),
        py.display(),
        aws.display()
    );
}

/// Prints where the venv's SDKs find their CA bundles (shared with `scripts/test`).
const CA_BUNDLES_PY: &str = include_str!("../../../scripts/ca-bundles.py");

/// The CA bundles the SDKs in the venv verify HTTPS against: certifi's `cacert.pem` when
/// certifi is installed, else botocore's own, plus awscli's vendored botocore's; asked from
/// the packages themselves so every layout is right.
pub fn botocore_ca_bundles() -> Vec<PathBuf> {
    static BUNDLES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    BUNDLES
        .get_or_init(|| {
            require_venv();
            let out = Command::new(python())
                .args(["-c", CA_BUNDLES_PY])
                .env_clear()
                .output()
                .expect("run the venv python");
            assert!(
                out.status.success(),
                "cannot locate botocore's CA bundle: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(PathBuf::from)
                .collect();
            paths.dedup();
            paths
        })
        .clone()
}

/// Appends `pem` to every CA bundle of the venv's SDKs unless it is already there. Safe
/// across parallel test processes (a lock file next to each bundle). `scripts/test`
/// restores the pristine bundles at the start of each run, so they do not grow unbounded.
pub fn trust_ca_for_botocore(pem: &str) {
    for bundle in botocore_ca_bundles() {
        append_once(&bundle, pem.trim());
    }
}

fn append_once(bundle: &Path, pem: &str) {
    let _lock = LockFile::acquire(&bundle.with_extension("pem.testkit-lock"));
    let current = std::fs::read_to_string(bundle)
        .unwrap_or_else(|e| panic!("read {}: {e}", bundle.display()));
    if current.contains(pem) {
        return;
    }
    let mut file = OpenOptions::new()
        .append(true)
        .open(bundle)
        .unwrap_or_else(|e| panic!("open {}: {e}", bundle.display()));
    let sep = if current.ends_with('\n') { "" } else { "\n" };
    write!(file, "{sep}\n# added by testkit\n{pem}\n")
        .unwrap_or_else(|e| panic!("append to {}: {e}", bundle.display()));
}

/// An exclusive lock held by the existence of a file created with `create_new`.
struct LockFile(PathBuf);

impl LockFile {
    /// A lock older than this is from a crashed process and is broken.
    const STALE: Duration = Duration::from_secs(30);

    fn acquire(path: &Path) -> Self {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => return Self(path.to_path_buf()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > Self::STALE) {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "lock {} held too long",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => panic!("create lock {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let lock = LockFile::acquire(&path);
        assert!(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .is_err()
        );
        drop(lock);
        assert!(!path.exists());
        let _again = LockFile::acquire(&path);
    }
}
