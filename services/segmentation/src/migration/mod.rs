//! The segmentation service's schema. Its tables (model versions, segments,
//! memberships) arrive with the segmentation models; until then the service
//! owns an empty database that health already watches.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }
}
