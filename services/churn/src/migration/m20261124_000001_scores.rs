//! `score_runs` (one row per ScoreAll run) and `customer_scores` (the scores
//! of each run). Readers use the newest completed run, so a run in progress
//! is invisible until it completes; older runs are deleted afterwards.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000001_scores"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("score_runs")
                    .if_not_exists()
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("job_id", 64))
                    .col(string_len("model_id", 64))
                    .col(big_integer("total_count"))
                    .col(big_integer("scored_count"))
                    .col(big_integer("skipped_count"))
                    .col(boolean("completed"))
                    .col(big_integer("create_time_us"))
                    .col(big_integer_null("complete_time_us"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_scores")
                    .if_not_exists()
                    .col(string_len("run_id", 64))
                    .col(string_len("customer_id", 128))
                    .col(integer("risk_band"))
                    .col(big_integer("value_at_risk_minor"))
                    .col(string_len("region", 256))
                    .col(blob("score"))
                    .primary_key(Index::create().col("run_id").col("customer_id"))
                    .to_owned(),
            )
            .await?;
        // The win-back ranking: value at risk, highest first, ties by customer_id.
        manager
            .create_index(
                Index::create()
                    .name("ix_customer_scores_run_value")
                    .table("customer_scores")
                    .col("run_id")
                    .col("value_at_risk_minor")
                    .col("customer_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["customer_scores", "score_runs"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
