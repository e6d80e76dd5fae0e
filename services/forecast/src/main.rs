//! `patron-forecast`: runs the forecast service.

use clap::Parser;
use patron_common::cli::DatabaseServiceArgs;
use patron_common::service::migrate_only;
use patron_forecast::migration::Migrator;

fn main() -> anyhow::Result<()> {
    let args = DatabaseServiceArgs::parse();
    let config = patron_forecast::config::load(args.config.as_deref())?;
    patron_common::runtime::build(config.server.worker_threads)?.block_on(async move {
        let _telemetry = patron_common::telemetry::init("forecast", &config.telemetry)?;
        if args.migrate_only {
            return migrate_only::<Migrator>("forecast", &config.database).await;
        }
        let application = patron_forecast::Application::build(config).await?;
        application.run_until_stopped(patron_common::shutdown_signal()).await
    })
}
