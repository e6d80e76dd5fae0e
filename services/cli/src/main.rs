//! `patron`: the command-line entry to the suite.

mod batch;
mod connection;
mod credentials;
mod demo;
mod evaluate;
mod export;
mod failure;
mod import;
mod models;
mod output;
mod plot;
mod registry;
mod report;
mod time;
mod train;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "patron",
    version,
    about = "Patron: retail customer intelligence over gRPC",
    after_help = failure::EXIT_CODES_HELP
)]
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
    /// Store fresh results for exports and reports: segments, churn scores or forecasts of every customer/series.
    Batch(batch::BatchArgs),
    /// Stream customer features, segments, churn scores or forecasts into a CSV or Parquet file.
    Export(export::ExportArgs),
    /// Train a new model version through the gateway; optionally activate it if it beats the active one.
    Train(train::TrainArgs),
    /// List, show, compare, activate or roll back model versions of segmentation, churn or forecast.
    Models(models::ModelsArgs),
    /// A model version's holdout (churn, segmentation) or backtest (forecast) report.
    Evaluate(evaluate::EvaluateArgs),
    /// KPIs, revenue concentration, segments, win-back candidates or a forecast, as tables.
    Report(report::ReportArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up(args) => up::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::DemoData(args) => demo::run(args).map(|()| ExitCode::SUCCESS),
        Command::Import(args) => import::run(args).await,
        Command::Batch(args) => batch::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Export(args) => export::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Train(args) => train::run(args).await,
        Command::Models(args) => models::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Evaluate(args) => evaluate::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Report(args) => report::run(args).await.map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|error| failure::report(&error))
}
