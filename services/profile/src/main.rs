//! `patron-profile`: runs the profile service.

use clap::Parser;
use patron_common::cli::ServiceArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = ServiceArgs::parse();
    let config = patron_profile::Config::load(args.config.as_deref())?;
    let _telemetry = patron_common::telemetry::init("profile", &config.telemetry)?;
    let application = patron_profile::Application::build(config).await?;
    application.run_until_stopped(patron_common::shutdown_signal()).await
}
