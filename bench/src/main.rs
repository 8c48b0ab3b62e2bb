//! `tessera-bench`: the measuring instrument behind `bench/run.sh`.
//!
//! Subcommands print one JSON object per measurement on standard output, which `run.sh`
//! collects into a results file; `report` turns that file into the markdown table.

mod limits;
mod login;
mod prepare;
mod report;
mod seed;
mod startup;
mod stats;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "tessera-bench", about = "Tessera's benchmark instrument")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signatures/s (RS256, ES256, Ed25519), RS256 verifications/s and argon2id hashes/s with
    /// the server's parameters, one thread per core.
    Limits(limits::Args),
    /// Drives full browser logins (authorize, login form, consent, code, token) as flows/s.
    Login(login::Args),
    /// Stores fresh refresh tokens for a user and client through the library and writes the
    /// raw tokens, one a line.
    RefreshTokens(prepare::Args),
    /// Bulk-inserts users, clients and refresh tokens for the scale run.
    Seed(seed::Args),
    /// Starts the server several times on an existing database and times the first answer.
    Startup(startup::Args),
    /// Prints the markdown table from a results file.
    Report {
        /// The JSON-lines file the run wrote.
        results: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Limits(args) => limits::run(&args),
        Command::Login(args) => login::run(&args),
        Command::RefreshTokens(args) => prepare::run(&args),
        Command::Seed(args) => seed::run(&args),
        Command::Startup(args) => startup::run(&args),
        Command::Report { results } => report::run(&results),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
