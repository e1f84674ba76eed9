//! `PgServer`: a throwaway PostgreSQL server for tests, run from the distribution's own
//! binaries (Debian: `apt-get install postgresql`, binaries in
//! `/usr/lib/postgresql/<major>/bin`). It listens on 127.0.0.1:<free port> and on a Unix
//! socket inside its temporary directory, trusts every local connection, skips fsync, and
//! is shut down (fast mode) and deleted on drop. It does not manage roles, TLS or backups.
//!
//! `initdb` runs once per machine and major version into a template under the temp dir;
//! each server starts from a copy of it (milliseconds instead of seconds).
//! PostgreSQL refuses to run as root: as root, `initdb` and `postgres` run as the `postgres`
//! system user (or `nobody`) through `setpriv`, which execs in place, so the guarded pid is
//! the postmaster itself.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::ports::free_port;
use crate::process::ChildGuard;

/// Superuser created by `initdb`.
pub const SUPERUSER: &str = "postgres";
/// Environment variable naming the directory with `initdb`, `postgres` and `psql`.
pub const PG_BIN_ENV: &str = "TESTKIT_PG_BIN";

const READY: &str = "database system is ready to accept connections";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running PostgreSQL server; stopped and its files removed on drop.
#[derive(Debug)]
pub struct PgServer {
    guard: Option<ChildGuard>,
    dir: TempDir,
    port: u16,
    bin: PathBuf,
}

/// Who runs the server: the current user, or (as root) an unprivileged one.
#[derive(Debug, Clone)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl PgServer {
    /// Starts a server, panicking with a how-to-fix message if that fails.
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(e) => panic!(
                "cannot start a test PostgreSQL server: {e:#}\n\
                 (Debian/Ubuntu: apt-get install postgresql; or set {PG_BIN_ENV} to the \
                 directory holding initdb, postgres and psql)"
            ),
        }
    }

    /// Starts a server: copies the template cluster, picks a free port, waits until it
    /// accepts connections (retrying on another port if the first was taken meanwhile).
    pub fn try_start() -> Result<Self> {
        let bin = bin_dir()?;
        let run_as = run_as()?;
        let template = template(&bin, run_as.as_ref())?;
        let dir = tempfile::Builder::new().prefix("testkit-pg-").tempdir()?;
        let data = dir.path().join("data");
        let socket = dir.path().join("socket");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()
            .context("copy the template cluster")?;
        if !status.success() {
            bail!("cp -a {} {} failed", template.display(), data.display());
        }
        std::fs::create_dir(&socket)?;
        if let Some(user) = &run_as {
            std::os::unix::fs::chown(dir.path(), Some(user.uid), Some(user.gid))?;
            std::os::unix::fs::chown(&socket, Some(user.uid), Some(user.gid))?;
        }
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = command(&bin, "postgres", run_as.as_ref());
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .arg("-k")
                .arg(&socket)
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"])
                .args(["-c", "max_connections=100"]);
            let mut guard = ChildGuard::spawn(&mut cmd, "postgres")?;
            if guard.wait_for_output(READY, START_TIMEOUT) {
                return Ok(Self {
                    guard: Some(guard),
                    dir,
                    port,
                    bin,
                });
            }
            last_error = guard.stderr();
            stop(guard);
        }
        bail!("postgres did not become ready; its log ends with:\n{last_error}")
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (to inspect what PostgreSQL wrote to disk).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the Unix socket (`.s.PGSQL.<port>`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// A URL for the superuser and the `postgres` database over TCP (no password: trust).
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// A URL for the superuser and database `db` over TCP.
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` with psql in database `db`; returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-c", sql])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .output()
            .context("run psql")?;
        if !out.status.success() {
            bail!(
                "psql -c {sql:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url_for(name))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            stop(guard);
        }
    }
}

/// Fast shutdown (SIGINT: disconnect clients, checkpoint, exit), then the guard's
/// SIGTERM/SIGKILL if that takes too long. SIGKILL alone would orphan the backends.
fn stop(mut guard: ChildGuard) {
    if guard.try_status().is_none() {
        let _ = Command::new("kill")
            .args(["-INT", &guard.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        guard.wait_for_exit(Duration::from_secs(10));
    }
}

/// The directory with PostgreSQL's server binaries: `$TESTKIT_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<major>/bin`, else wherever `initdb` on PATH really lives.
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let initdb = dir.join("initdb");
        if initdb.exists() {
            let real = std::fs::canonicalize(&initdb)?;
            if let Some(parent) = real.parent() {
                return Ok(parent.to_owned());
            }
        }
    }
    bail!("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql or on PATH")
}

/// None when not root; as root, the `postgres` user (else `nobody`) to drop to.
fn run_as() -> Result<Option<RunAs>> {
    if std::fs::metadata("/proc/self")?.uid() != 0 {
        return Ok(None);
    }
    for user in ["postgres", "nobody"] {
        if let (Some(uid), Some(gid)) = (id(user, "-u"), id(user, "-g")) {
            return Ok(Some(RunAs { uid, gid }));
        }
    }
    bail!("running as root and neither a postgres nor a nobody user exists")
}

fn id(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// `bin/<program>`, wrapped in `setpriv` to drop root when needed.
fn command(bin: &Path, program: &str, run_as: Option<&RunAs>) -> Command {
    match run_as {
        None => Command::new(bin.join(program)),
        Some(user) => {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--clear-groups")
                .arg("--")
                .arg(bin.join(program));
            cmd
        }
    }
}

/// The initdb'd template cluster for this major version and user, created on first use.
fn template(bin: &Path, run_as: Option<&RunAs>) -> Result<PathBuf> {
    let version = Command::new(bin.join("initdb"))
        .arg("--version")
        .output()
        .context("run initdb --version")?;
    let version = String::from_utf8_lossy(&version.stdout);
    // "initdb (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": the first numeric word.
    let version = version
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .context("parse initdb --version")?;
    let owner = run_as.map_or_else(
        || {
            std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(0)
        },
        |u| u.uid,
    );
    let template = std::env::temp_dir().join(format!("testkit-pg-template-{version}-{owner}"));
    if template.join("PG_VERSION").exists() {
        return Ok(template);
    }
    // Build next to it and rename, so concurrent tests never see half a cluster.
    let building = tempfile::Builder::new()
        .prefix("testkit-pg-initdb-")
        .tempdir()?;
    if let Some(user) = run_as {
        std::os::unix::fs::chown(building.path(), Some(user.uid), Some(user.gid))?;
    }
    let data = building.path().join("data");
    let out = command(bin, "initdb", run_as)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ])
        .args(["--no-sync", "--wal-segsize=1"])
        .stdin(Stdio::null())
        .output()
        .context("run initdb")?;
    if !out.status.success() {
        bail!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    match std::fs::rename(&data, &template) {
        Ok(()) => Ok(template),
        // Another test won the race; its template is as good as ours.
        Err(_) if template.join("PG_VERSION").exists() => Ok(template),
        Err(e) => Err(e).context("move the template cluster into place"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_cleans_up() {
        let server = PgServer::start();
        let data = server.data_dir();
        assert!(data.join("PG_VERSION").exists());
        assert_eq!(server.psql("postgres", "SELECT 1 + 1").unwrap().trim(), "2");
        let url = server.create_database("scratch").unwrap();
        assert!(url.ends_with("/scratch"), "{url}");
        assert_eq!(
            server
                .psql("scratch", "SELECT current_database()")
                .unwrap()
                .trim(),
            "scratch"
        );
        let socket = server
            .socket_dir()
            .join(format!(".s.PGSQL.{}", server.port()));
        assert!(socket.exists(), "{}", socket.display());
        drop(server);
        assert!(!data.exists(), "the data directory is removed on drop");
    }
}
