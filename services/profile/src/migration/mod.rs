//! The profile service's schema. The same migrations serve SQLite and
//! PostgreSQL; times are stored as integer microseconds since the Unix epoch
//! (UTC) so both stores compare and bucket them identically.

use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;
mod m20261124_000002_report_changes;
mod m20261124_000003_set_based_foreign_keys;
mod m20261124_000004_report_change_orders;
mod m20261125_000005_drop_sku_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_report_changes::Migration),
            Box::new(m20261124_000003_set_based_foreign_keys::Migration),
            Box::new(m20261124_000004_report_change_orders::Migration),
            Box::new(m20261125_000005_drop_sku_index::Migration),
        ]
    }
}
