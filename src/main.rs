//! The `tessera` binary: parses the command line and calls into the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tessera::cli::{Cli, Command};
use tessera::config::Config;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera: invalid configuration: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = match cli.command {
        Command::Serve => serve(config),
        other => tessera::cli::run_command(other, &config),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        tessera::startup::Application::build(config, None)?
            .run_until_stopped()
            .await?;
        Ok(())
    })
}
