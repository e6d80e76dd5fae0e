//! The churn service's schema: the shared model registry, then the stored
//! scores of ScoreAll runs.

use sea_orm_migration::prelude::*;

mod m20261124_000001_scores;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(patron_common::registry::RegistryTables), Box::new(m20261124_000001_scores::Migration)]
    }
}
