//! The `tessera` binary: parses the command line and calls into the library.

use std::process::ExitCode;

use clap::Parser;
use tessera::cli::{Cli, Command};
use tessera::config::Config;
use tessera::logging;

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
    // Warnings about the configuration itself are written before its log format is known.
    let loaded =
        tracing::subscriber::with_default(logging::early(), || Config::load(cli.config.as_deref()));
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera: invalid configuration: {e}");
            return ExitCode::from(1);
        }
    };
    logging::init(config.log_format);
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
        tracing::info!("Tessera stopped.");
        Ok(())
    })
}
