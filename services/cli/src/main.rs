//! `patron`: the command-line entry to the suite.

mod up;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "patron", version, about = "Patron: retail customer intelligence over gRPC")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the gateway and the four services locally, each on its own SQLite database.
    Up(up::UpArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up(args) => up::run(args).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("patron: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
