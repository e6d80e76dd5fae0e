//! `patron`: the command-line entry to the suite.

mod credentials;
mod demo;
mod import;
mod train;
mod up;

use std::process::ExitCode;

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
    /// Write a realistic, reproducible retail data set as CSV files.
    DemoData(demo::DemoArgs),
    /// Stream a CSV file of customers, orders, contacts or feedback into the profile service.
    Import(import::ImportArgs),
    /// Train a new model version through the gateway; optionally activate it if it beats the active one.
    Train(train::TrainArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up(args) => up::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::DemoData(args) => demo::run(args).map(|()| ExitCode::SUCCESS),
        Command::Import(args) => import::run(args).await,
        Command::Train(args) => train::run(args).await,
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("patron: {error:#}");
        ExitCode::FAILURE
    })
}
