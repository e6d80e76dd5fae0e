//! The forecast service's schema. Its tables (model versions, stored
//! forecasts) arrive with the forecast models; until then the service
//! owns an empty database that health already watches.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }
}
