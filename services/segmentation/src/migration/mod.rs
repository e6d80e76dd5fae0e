//! The segmentation service's schema: the shared registry tables, then the
//! stored memberships of AssignAll runs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(patron_common::registry::RegistryTables), Box::new(MembershipTables)]
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
        manager
            .create_table(
                Table::create()
                    .table("segment_memberships")
                    .if_not_exists()
                    .col(string_len("run_id", 64))
                    .col(string_len("customer_id", 128))
                    .col(string_len("segment_id", 64))
                    .col(double("distance"))
                    .col(small_integer("rfm_recency"))
                    .col(small_integer("rfm_frequency"))
                    .col(small_integer("rfm_monetary"))
                    .col(string_len("rfm_segment_id", 64))
                    .primary_key(Index::create().col("run_id").col("customer_id"))
                    .to_owned(),
            )
            .await?;
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["segment_memberships", "membership_runs"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
