//! Where things are on disk: the workspace root, the cargo target profile directory
//! and the `test-artifacts/` folder. It does not build anything.

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `<workspace>/test-artifacts`, created on first use. Child process logs land here.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The cargo output directory of the running build profile, e.g. `target/debug`.
///
/// Derived from the running test binary (`target/<profile>/deps/<test>`), so it follows
/// `CARGO_TARGET_DIR` and `--profile`; falls back to `<workspace>/target/debug`.
pub fn target_profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|n| n == "deps")
        && let Some(profile) = deps.parent()
    {
        return profile.to_path_buf();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("debug")
}
