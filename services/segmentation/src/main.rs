//! `patron-segmentation`: runs the segmentation service.

use clap::Parser;
use patron_common::cli::ServiceArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = ServiceArgs::parse();
    let config = patron_segmentation::config::load(args.config.as_deref())?;
    let _telemetry = patron_common::telemetry::init("segmentation", &config.telemetry)?;
    let application = patron_segmentation::Application::build(config).await?;
    application.run_until_stopped(patron_common::shutdown_signal()).await
}
