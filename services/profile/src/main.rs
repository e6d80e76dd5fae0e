//! `patron-profile`: runs the profile service.

use clap::Parser;
use patron_common::cli::DatabaseServiceArgs;
use patron_common::service::migrate_only;
use patron_profile::migration::Migrator;

fn main() -> anyhow::Result<()> {
    let args = DatabaseServiceArgs::parse();
    let config = patron_profile::Config::load(args.config.as_deref())?;
    patron_common::runtime::build(config.server.worker_threads)?.block_on(async move {
        let _telemetry = patron_common::telemetry::init("profile", &config.telemetry)?;
        if args.migrate_only {
            return migrate_only::<Migrator>("profile", &config.database).await;
        }
        let application = patron_profile::Application::build(config).await?;
        application.run_until_stopped(patron_common::shutdown_signal()).await
    })
}
