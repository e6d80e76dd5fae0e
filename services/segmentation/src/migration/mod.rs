//! The segmentation service's schema: the shared registry tables, then the
//! stored memberships of AssignAll runs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(patron_common::registry::RegistryTables),
            Box::new(MembershipTables),
            Box::new(MembershipsWithoutRowid),
        ]
    }
}

/// `membership_runs`: the completed AssignAll run of each version (the one
/// readers see); `segment_memberships`: every run's rows, keyed by run, so a
/// new run is written beside the old one and swapped in at the end.
struct MembershipTables;

impl MigrationName for MembershipTables {
    fn name(&self) -> &str {
        "m20261124_000100_memberships"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for MembershipTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("membership_runs")
                    .if_not_exists()
                    .col(string_len("model_id", 64).primary_key())
                    .col(string_len("run_id", 64))
                    .col(big_integer("features_as_of_us"))
                    .col(big_integer("assign_time_us"))
                    .col(big_integer("customers"))
                    .col(text("segment_counts_json"))
                    .to_owned(),
            )
            .await?;
        manager.create_table(memberships_table("segment_memberships").if_not_exists().to_owned()).await?;
        create_member_indexes(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["segment_memberships", "membership_runs"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

/// The columns and key of `segment_memberships`, under `name`.
fn memberships_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(string_len("run_id", 64))
        .col(string_len("customer_id", 128))
        .col(string_len("segment_id", 64))
        .col(double("distance"))
        .col(small_integer("rfm_recency"))
        .col(small_integer("rfm_frequency"))
        .col(small_integer("rfm_monetary"))
        .col(string_len("rfm_segment_id", 64))
        .primary_key(Index::create().col("run_id").col("customer_id"))
        .to_owned()
}

/// Members by segment, for ListSegmentMembers and the segment counts.
async fn create_member_indexes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (name, column) in
        [("ix_segment_memberships_segment", "segment_id"), ("ix_segment_memberships_rfm", "rfm_segment_id")]
    {
        manager
            .create_index(
                Index::create()
                    .name(name)
                    .table("segment_memberships")
                    .col("run_id")
                    .col(column)
                    .col("customer_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// On SQLite, `segment_memberships` becomes a WITHOUT ROWID table: its rows
/// live in the primary-key B-tree itself, so an AssignAll run writes each
/// membership into three B-trees instead of four (the rowid table and a
/// separate key index). PostgreSQL has no such layout; nothing changes there.
struct MembershipsWithoutRowid;

impl MigrationName for MembershipsWithoutRowid {
    fn name(&self) -> &str {
        "m20261124_000101_memberships_without_rowid"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for MembershipsWithoutRowid {
    /// One transaction on one connection, the migration's record included:
    /// a failure (or a crash) part-way leaves the old table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return Ok(());
        }
        let rebuilt = "segment_memberships_rebuilt";
        manager.create_table(memberships_table(rebuilt).extra("WITHOUT ROWID").to_owned()).await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!("INSERT INTO {rebuilt} SELECT * FROM segment_memberships")).await?;
        manager.drop_table(Table::drop().table("segment_memberships").to_owned()).await?;
        manager.rename_table(Table::rename().table(rebuilt, "segment_memberships").to_owned()).await?;
        create_member_indexes(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The rowid layout holds the same rows; there is nothing to undo.
        Ok(())
    }
}
