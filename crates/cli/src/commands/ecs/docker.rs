//! `aws-sso ecs docker start|stop`: the ECS server in a container.

use std::process::ExitCode;

use crate::args::DockerCommand;

/// Runs the command.
pub fn run(_what: DockerCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("aws-sso ecs docker is not available in this build")
}
