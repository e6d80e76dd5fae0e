//! The registry's tables, created by one migration that every model service
//! lists first, and their sea-orm entities. Times are integer microseconds
//! since the Unix epoch (UTC), as in every Patron store.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `model_versions`, `model_activations`, `model_tags`, `jobs` and
/// `request_log`.
pub struct RegistryTables;

impl MigrationName for RegistryTables {
    fn name(&self) -> &str {
        "m20261124_000000_registry"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for RegistryTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("model_versions")
                    .if_not_exists()
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("kind", 64))
                    .col(text("parameters_json"))
                    .col(text("features_json"))
                    .col(big_integer_null("data_cutoff_us"))
                    .col(big_integer("training_rows"))
                    .col(string_len("code_version", 64))
                    .col(big_integer("training_duration_us"))
                    .col(text("metrics_json"))
                    .col(string_len("trained_by", 256))
                    .col(integer("status"))
                    .col(big_integer("create_time_us"))
                    .col(big_integer_null("activate_time_us"))
                    .col(blob("payload"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_model_versions_create_time_us_id")
                    .table("model_versions")
                    .col("create_time_us")
                    .col("id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("model_activations")
                    .if_not_exists()
                    .col(big_pk_auto("seq"))
                    .col(string_len("model_id", 64))
                    .col(big_integer("activate_time_us"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("model_tags")
                    .if_not_exists()
                    .col(string_len("tag", 64).primary_key())
                    .col(string_len("model_id", 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("jobs")
                    .if_not_exists()
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("kind", 64))
                    .col(integer("state"))
                    .col(double("progress"))
                    .col(text("message"))
                    .col(string_len("model_version_id", 64))
                    .col(text("metrics_json"))
                    .col(text("error"))
                    .col(big_integer("create_time_us"))
                    .col(big_integer("update_time_us"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("request_log")
                    .if_not_exists()
                    .col(string_len("request_id", 64).primary_key())
                    .col(string_len("method", 128))
                    .col(blob("request"))
                    .col(blob("response"))
                    .col(big_integer("create_time_us"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["request_log", "jobs", "model_tags", "model_activations", "model_versions"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

pub mod model_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "model_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub parameters_json: String,
        pub features_json: String,
        pub data_cutoff_us: Option<i64>,
        pub training_rows: i64,
        pub code_version: String,
        pub training_duration_us: i64,
        pub metrics_json: String,
        pub trained_by: String,
        pub status: i32,
        pub create_time_us: i64,
        pub activate_time_us: Option<i64>,
        pub payload: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod model_activation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "model_activations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub model_id: String,
        pub activate_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod model_tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "model_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag: String,
        pub model_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod job {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub state: i32,
        pub progress: f64,
        pub message: String,
        pub model_version_id: String,
        pub metrics_json: String,
        pub error: String,
        pub create_time_us: i64,
        pub update_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request_log {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub method: String,
        pub request: Vec<u8>,
        pub response: Vec<u8>,
        pub create_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
