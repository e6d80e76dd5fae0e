//! The churn service's schema. Its tables (model versions, scores,
//! win-back lists) arrive with the churn models; until then the service
//! owns an empty database that health already watches.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }
}
