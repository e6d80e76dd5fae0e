//! `patron-forecast`: runs the forecast service.

use clap::Parser;
use patron_common::cli::ServiceArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = ServiceArgs::parse();
    let config = patron_forecast::config::load(args.config.as_deref())?;
    let _telemetry = patron_common::telemetry::init("forecast", &config.telemetry)?;
    let application = patron_forecast::Application::build(config).await?;
    application.run_until_stopped(patron_common::shutdown_signal()).await
}
