//! The forecast service's schema: the shared registry tables, then the
//! stored results of BatchForecast.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(patron_common::registry::RegistryTables), Box::new(ForecastTables)]
    }
}

struct ForecastTables;

impl MigrationName for ForecastTables {
    fn name(&self) -> &str {
        "m20261124_000200_stored_forecasts"
    }
}

#[derive(DeriveIden)]
enum StoredForecasts {
    Table,
    Id,
    JobId,
    ModelId,
    Level,
    SeriesKey,
    CreateTimeUs,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for ForecastTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StoredForecasts::Table)
                    .col(string(StoredForecasts::Id).primary_key())
                    .col(string(StoredForecasts::JobId))
                    .col(string(StoredForecasts::ModelId))
                    .col(integer(StoredForecasts::Level))
                    .col(string(StoredForecasts::SeriesKey))
                    .col(big_integer(StoredForecasts::CreateTimeUs))
                    .col(blob(StoredForecasts::Body))
                    .to_owned(),
            )
            .await?;
        // The listing walks newest first, usually within one job.
        manager
            .create_index(
                Index::create()
                    .name("stored_forecasts_by_time")
                    .table(StoredForecasts::Table)
                    .col(StoredForecasts::CreateTimeUs)
                    .col(StoredForecasts::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("stored_forecasts_by_job")
                    .table(StoredForecasts::Table)
                    .col(StoredForecasts::JobId)
                    .col(StoredForecasts::CreateTimeUs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(StoredForecasts::Table).to_owned()).await
    }
}
