//! `patron-gateway`: runs the gateway.

use clap::Parser;
use patron_common::cli::ServiceArgs;

fn main() -> anyhow::Result<()> {
    let args = ServiceArgs::parse();
    let config = patron_gateway::Config::load(args.config.as_deref())?;
    patron_common::runtime::build(config.server.worker_threads)?.block_on(async move {
        let _telemetry = patron_common::telemetry::init("gateway", &config.telemetry)?;
        let application = patron_gateway::Application::build(config).await?;
        application.run_until_stopped(patron_common::shutdown_signal()).await
    })
}
