//! The container engine's command line (docker or podman): choosing one, running its
//! commands, and reporting failures without secrets.

use super::*;

/// Whether a container exists and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContainerState {
    Absent,
    Running,
    Stopped,
}

/// A container engine's command line.
#[derive(Debug)]
pub(super) struct EngineCli {
    pub(super) program: &'static str,
}

impl Engine {
    pub(super) fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
}

impl EngineCli {
    /// `choice`, or the first of docker and podman that is on PATH and answers `info`
    /// (a docker client without a reachable daemon does not).
    pub(super) fn select(choice: Option<Engine>) -> anyhow::Result<Self> {
        let candidates = match choice {
            Some(engine) => vec![engine],
            None => vec![Engine::Docker, Engine::Podman],
        };
        let mut refused = Vec::new();
        for engine in candidates {
            let cli = EngineCli {
                program: engine.program(),
            };
            if find_on_path(cli.program).is_none() {
                tracing::debug!(engine = cli.program, "not found on PATH");
                refused.push(format!("{} is not on PATH", cli.program));
                continue;
            }
            match cli.run(&["info"]) {
                Ok(_) => {
                    tracing::debug!(engine = cli.program, "using this container engine");
                    return Ok(cli);
                }
                Err(e) => {
                    tracing::debug!(engine = cli.program, error = %format!("{e:#}"), "the engine does not answer; trying the next one");
                    refused.push(format!("{e:#}"));
                }
            }
        }
        bail!(
            "no usable container engine (docker or podman): {}",
            refused.join("; ")
        )
    }

    pub(super) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.program);
        cmd.args(args)
            .env_remove(FILE_PASSWORD_ENV)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `args`, returning its output whatever its exit status.
    pub(super) fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        tracing::debug!(command = %self.display(args), "running");
        self.command(args)
            .output()
            .with_context(|| format!("cannot run `{}`", self.display(args)))
    }

    /// Runs `args` and returns its stdout; a failure names the command and its stderr.
    pub(super) fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                self.display(args),
                out.status,
                failure_text(&out)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The command line as people read it (it never holds a secret).
    pub(super) fn display(&self, args: &[&str]) -> String {
        let mut line = self.program.to_owned();
        for arg in args {
            line.push(' ');
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                line.push_str(&format!("'{arg}'"));
            } else {
                line.push_str(arg);
            }
        }
        line
    }

    pub(super) fn container_state(&self, name: &str) -> anyhow::Result<ContainerState> {
        let args = [
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            name,
        ];
        let out = self.output(&args)?;
        if out.status.success() {
            return Ok(match String::from_utf8_lossy(&out.stdout).trim() {
                "true" => ContainerState::Running,
                _ => ContainerState::Stopped,
            });
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
        if stderr.contains("no such") {
            return Ok(ContainerState::Absent);
        }
        bail!(
            "`{}` failed ({}): {}",
            self.display(&args),
            out.status,
            failure_text(&out)
        )
    }

    /// Builds `image` from the Containerfile and `binary` unless it exists; true if built.
    pub(super) fn ensure_image(&self, image: &str, binary: &Path) -> anyhow::Result<bool> {
        if self.output(&["image", "inspect", image])?.status.success() {
            tracing::debug!(image, "the image exists");
            return Ok(false);
        }
        out::note(&format!("Building image {image} with {}...", self.program));
        // The build context holds the Containerfile and the binary, nothing else.
        let context = PrivateDir::create(&std::env::temp_dir(), "aws-sso-build-")?;
        let containerfile = context.path.join("Containerfile");
        fs::write(&containerfile, CONTAINERFILE)
            .with_context(|| format!("cannot write {}", containerfile.display()))?;
        let copy = context.path.join("aws-sso");
        fs::copy(binary, &copy)
            .with_context(|| format!("cannot copy {} into the build context", binary.display()))?;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755))?;
        let utf8 = |p: &Path| {
            p.to_str()
                .map(str::to_owned)
                .with_context(|| format!("{} is not UTF-8", p.display()))
        };
        self.run(&[
            "build",
            "--tag",
            image,
            "--file",
            &utf8(&containerfile)?,
            &utf8(&context.path)?,
        ])?;
        context.remove()?;
        Ok(true)
    }

    /// The container's output, or why it cannot be had.
    pub(super) fn logs(&self, name: &str) -> String {
        match self.output(&["logs", name]) {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => format!("(no logs: {e:#})"),
        }
    }
}

/// stderr, or stdout when stderr is empty, trimmed.
pub(super) fn failure_text(out: &Output) -> String {
    let text = if out.stderr.iter().all(u8::is_ascii_whitespace) {
        &out.stdout
    } else {
        &out.stderr
    };
    String::from_utf8_lossy(text).trim().to_owned()
}

pub(super) fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn logs_are_redacted_and_commands_displayed() {
        let secrets = HostSecrets {
            token: Some(SecretString::from("t0k3n-value".to_owned())),
            cert_pem: None,
            key_pem: Some(SecretString::from(
                "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"
                    .to_owned(),
            )),
            leaf: None,
        };
        let text = "a t0k3n-value b\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----";
        assert_eq!(
            secrets.redact(text),
            "a [redacted] b\n[redacted]\n-----END PRIVATE KEY-----"
        );
        let engine = EngineCli { program: "podman" };
        let args = [
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            "a b",
        ];
        assert_eq!(
            engine.display(&args),
            "podman container inspect --format {{.State.Running}} 'a b'"
        );
    }
}
