//! CLI: flags, project configuration and the subcommands that string the
//! stages together. Only this module knows all of them.

mod args;
mod commands;
mod config;
mod docs;
mod import;
mod init;
mod state;
mod test;

pub use args::Cli;
pub use config::{Project, Resolved};

use clap::Parser;

/// Run payrun with the process arguments; returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    init_logging();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

/// Dependencies log what goes over the wire below `info`: the AWS SDK
/// prints request and response bodies (`SecretString` of CreateSecret and
/// PutSecretValue) at debug and trace. So every target but payrun's own is
/// capped at `info` whatever `PAYRUN_LOG` says, and the Kubernetes client,
/// which logs whole response bodies at `warn` when it cannot parse them, at
/// `error`. `PAYRUN_LOG_WIRE=1` lifts the caps, with a warning; every
/// line is still scrubbed of the secret values read in this run.
fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;

    let filter = tracing_subscriber::EnvFilter::try_from_env("PAYRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let wire = std::env::var_os("PAYRUN_LOG_WIRE").is_some_and(|v| v == "1");
    let caps = (!wire).then(|| {
        Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("payrun", LevelFilter::TRACE)
            .with_target("kube_client", LevelFilter::ERROR)
    });
    if wire {
        eprintln!(
            "warning: PAYRUN_LOG_WIRE=1: logs show the AWS SDK's and the Kubernetes client's traffic, request and response bodies included; payrun scrubs the secret values it reads, but the logs may still contain credentials and other data: keep them out of CI logs, tickets and chat"
        );
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(caps)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(|| crate::redact::Stderr)
                .with_ansi(false),
        )
        .try_init();
}
