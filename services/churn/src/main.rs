//! `patron-churn`: runs the churn service.

use clap::Parser;
use patron_churn::migration::Migrator;
use patron_common::cli::DatabaseServiceArgs;
use patron_common::service::migrate_only;

fn main() -> anyhow::Result<()> {
    let args = DatabaseServiceArgs::parse();
    let config = patron_churn::config::load(args.config.as_deref())?;
    patron_common::runtime::build(config.server.worker_threads)?.block_on(async move {
        let _telemetry = patron_common::telemetry::init("churn", &config.telemetry)?;
        if args.migrate_only {
            return migrate_only::<Migrator>("churn", &config.database).await;
        }
        let application = patron_churn::Application::build(config).await?;
        application.run_until_stopped(patron_common::shutdown_signal()).await
    })
}
