//! Running `aws-sso` in a throwaway home: commands, a server process, and SDK environments.

use std::process::{Command, Output};
use std::time::Duration;

use testkit::home::TempHome;
use testkit::process::ChildGuard;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_aws-sso")
}

/// A user's home with aws-sso configured to use an encrypted file store.
pub struct User {
    pub home: TempHome,
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl User {
    pub fn new() -> Self {
        User {
            home: TempHome::new(),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        self.home.apply(&mut cmd);
        cmd.args(args);
        cmd
    }

    /// Runs `aws-sso <args>` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.ok, "aws-sso {args:?} failed: {}", r.stderr);
        r
    }

    /// Runs and asserts failure.
    pub fn fails(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(
            !r.ok,
            "aws-sso {args:?} should have failed; stdout: {}",
            r.stdout
        );
        r
    }

    /// Generates and stores a bearer token, returning it.
    pub fn generate_token(&self) -> String {
        let r = self.ok(&["setup", "ecs", "auth", "--generate"]);
        let token = r.stdout.trim().to_owned();
        assert_eq!(token.len(), 64, "a 256-bit token in hex");
        token
    }

    /// Starts `aws-sso ecs server` on a free port with debug logging, waits until it listens.
    pub fn server(&self, extra: &[&str]) -> Server {
        let port = testkit::ports::free_port();
        let port_s = port.to_string();
        let mut args = vec!["ecs", "server", "--port", &port_s];
        args.extend_from_slice(extra);
        let mut cmd = self.command(&args);
        cmd.env("AWS_SSO_LOG", "debug");
        let mut child = ChildGuard::spawn(&mut cmd, "ecs-server").unwrap();
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        if !child.wait_for_port(addr, Duration::from_secs(15)) {
            let status = child.try_status();
            panic!("ECS server did not listen ({status:?}): {}", child.stderr());
        }
        Server { child, port }
    }

    /// Writes a static-key profile and returns (akid, secret, token).
    pub fn profile(&self, name: &str) -> (String, String, String) {
        let (akid, secret, token) = testkit::home::random_creds();
        self.home
            .write_credentials(name, &akid, &secret, Some(&token));
        (akid, secret, token)
    }

    /// Runs `aws-sso ecs env` and returns the exported variables.
    pub fn ecs_env(&self, args: &[&str]) -> Vec<(String, String)> {
        let mut all = vec!["ecs", "env"];
        all.extend_from_slice(args);
        let r = self.ok(&all);
        r.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
            .collect()
    }
}

pub struct Server {
    pub child: ChildGuard,
    pub port: u16,
}

impl Server {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server and returns everything it logged.
    pub fn stop(mut self) -> String {
        let status = self.child.terminate_and_wait();
        assert!(
            status.success(),
            "the server exits cleanly on SIGTERM: {status:?}"
        );
        self.child.stderr() + &self.child.stdout()
    }
}

pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Answers one HTTP request on a loopback port with `status` (e.g. `200 OK`),
/// `content_type` and `body` (a stand-in for an AWS endpoint, which tests cannot reach),
/// and returns the request's head and body. Fails the test if no request comes in 60 s.
pub fn one_shot_endpoint(
    status: &'static str,
    content_type: &'static str,
    body: String,
) -> (u16, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("no request arrived: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut request_body = vec![0u8; length];
        reader.read_exact(&mut request_body).unwrap();
        head.push_str(&String::from_utf8_lossy(&request_body));
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        head
    });
    (port, handle)
}

/// A private `/etc/hosts` naming `names` as 127.0.0.1 (and `localhost`), seen only by
/// processes started through [`PrivateHosts::wrapper`]: `unshare -m` and a bind mount, so
/// the machine's own file is never touched.
pub struct PrivateHosts {
    _dir: tempfile::TempDir,
    path: String,
}

impl PrivateHosts {
    pub fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        let mut text = "127.0.0.1 localhost\n".to_owned();
        for name in names {
            text.push_str(&format!("127.0.0.1 {name}\n"));
        }
        std::fs::write(&path, text).unwrap();
        PrivateHosts {
            path: path.to_str().unwrap().to_owned(),
            _dir: dir,
        }
    }

    /// The command prefix: `unshare -m sh -c 'mount --bind HOSTS /etc/hosts && exec "$@"' HOSTS`
    /// (for testkit's `*_in` SDK runners and [`User::command_in`]).
    pub fn wrapper(&self) -> [&str; 6] {
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
            &self.path,
        ]
    }
}

impl User {
    /// `aws-sso <args>` run through `wrapper` (e.g. [`PrivateHosts::wrapper`]), with this
    /// home's environment.
    pub fn command_in(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut cmd = Command::new(wrapper[0]);
        self.home.apply(&mut cmd);
        cmd.args(&wrapper[1..]).arg(bin()).args(args);
        cmd
    }

    /// An item of this user's SecureStore (the encrypted file store aws-sso uses here).
    pub fn stored(&self, name: &str) -> Option<String> {
        use securestore::{ExposeSecret, SecureStore};
        let store = securestore::FileStore::new(
            self.home.config_dir().join("aws-sso"),
            securestore::PasswordSource::Given(self.home.file_password().to_owned().into()),
            Some(10),
        )
        .unwrap();
        store
            .get(name)
            .unwrap()
            .map(|v| v.expose_secret().to_owned())
    }
}

/// `target/<profile>/aws-sso-certd`, built by `scripts/test` (or `cargo build -p certd
/// --bins`) before the tests run.
pub fn certd_bin() -> std::path::PathBuf {
    let path = testkit::paths::target_profile_dir().join("aws-sso-certd");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p certd --bins` first",
        path.display()
    );
    path
}
