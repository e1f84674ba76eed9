//! `ChildGuard`: a spawned child process whose stdout/stderr go to files under
//! `test-artifacts/` and which is terminated (SIGTERM, then SIGKILL after 3 s) on drop.
//! It does not restart or supervise anything.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::paths::artifacts_dir;

/// How long a child gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// A child process that is stopped when the guard is dropped.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `cmd` with stdin from /dev/null and stdout/stderr to
    /// `test-artifacts/<name>-<pid>.{out,err}`.
    pub fn spawn(cmd: &mut Command, name: &str) -> std::io::Result<Self> {
        Self::spawn_with_stdin(cmd, name, Stdio::null())
    }

    /// Like [`ChildGuard::spawn`] with the given stdin (e.g. `Stdio::piped()`; then write
    /// through [`ChildGuard::child_mut`]).
    pub fn spawn_with_stdin(cmd: &mut Command, name: &str, stdin: Stdio) -> std::io::Result<Self> {
        let dir = artifacts_dir();
        // The pid is known only after spawning: open under a unique name, rename after.
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{name}-spawning-"))
            .tempfile_in(&dir)?;
        let tmp_out = tmp.path().with_extension("out");
        let tmp_err = tmp.path().with_extension("err");
        let out = File::create(&tmp_out)?;
        let err = File::create(&tmp_err)?;
        let child = cmd.stdin(stdin).stdout(out).stderr(err).spawn()?;
        let pid = child.id();
        let stdout_path = dir.join(format!("{name}-{pid}.out"));
        let stderr_path = dir.join(format!("{name}-{pid}.err"));
        std::fs::rename(&tmp_out, &stdout_path)?;
        std::fs::rename(&tmp_err, &stderr_path)?;
        Ok(Self {
            name: name.to_owned(),
            child,
            stdout_path,
            stderr_path,
            status: None,
        })
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The underlying child (for its piped stdin, say).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The file receiving the child's stdout.
    pub fn stdout_path(&self) -> &Path {
        &self.stdout_path
    }

    /// The file receiving the child's stderr.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// Everything the child wrote to stdout so far (lossy UTF-8).
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout_path)
    }

    /// Everything the child wrote to stderr so far (lossy UTF-8).
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr_path)
    }

    /// Polls stdout and stderr until either contains `needle`; false after `timeout`
    /// or as soon as the child has exited without printing it.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let exited = self.try_status().is_some();
            if self.stdout().contains(needle) || self.stderr().contains(needle) {
                return true;
            }
            if exited || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exit status if the child has exited, without blocking.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for `addr` to accept TCP connections; gives up at once if the
    /// child exits first (a server that refused its config). True once it listens.
    pub fn wait_for_port(&mut self, addr: std::net::SocketAddr, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            if self.try_status().is_some() || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for the child to exit by itself; None if it is still running.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM, waits up to 3 s, then SIGKILLs; returns the exit status.
    pub fn terminate_and_wait(&mut self) -> ExitStatus {
        if let Some(status) = self.try_status() {
            return status;
        }
        // `kill` from procps: no unsafe libc call needed for SIGTERM.
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.try_status() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for a killed child");
        self.status = Some(status);
        status
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.terminate_and_wait();
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn drop_kills_a_sleeping_child_with_sigterm() {
        let guard = ChildGuard::spawn(Command::new("sleep").arg("60"), "sleep").unwrap();
        let pid = guard.pid();
        assert!(alive(pid));
        let started = Instant::now();
        drop(guard);
        assert!(!alive(pid), "the child is reaped after drop");
        assert!(
            started.elapsed() < GRACE,
            "sleep obeys SIGTERM, no SIGKILL wait"
        );
    }

    #[test]
    fn sigkill_follows_when_sigterm_is_ignored() {
        let mut guard = ChildGuard::spawn(
            Command::new("sh").args(["-c", "trap '' TERM; echo ready; exec sleep 60"]),
            "stubborn",
        )
        .unwrap();
        assert!(guard.wait_for_output("ready", Duration::from_secs(5)));
        let status = guard.terminate_and_wait();
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }

    #[test]
    fn output_goes_to_named_files() {
        let mut guard = ChildGuard::spawn(
            Command::new("sh").args(["-c", "echo to-out; echo to-err >&2"]),
            "echoer",
        )
        .unwrap();
        let pid = guard.pid();
        let status = guard.wait_for_exit(Duration::from_secs(5)).unwrap();
        assert!(status.success());
        assert_eq!(guard.stdout(), "to-out\n");
        assert_eq!(guard.stderr(), "to-err\n");
        let out_name = guard.stdout_path().file_name().unwrap().to_string_lossy();
        assert_eq!(out_name, format!("echoer-{pid}.out"));
    }
}
