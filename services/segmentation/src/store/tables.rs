//! sea-orm entities of the membership tables (see the migration).

pub mod membership_run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "membership_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub model_id: String,
        pub run_id: String,
        pub features_as_of_us: i64,
        pub assign_time_us: i64,
        pub customers: i64,
        pub segment_counts_json: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod segment_membership {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "segment_memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        pub segment_id: String,
        pub distance: f64,
        pub rfm_recency: i16,
        pub rfm_frequency: i16,
        pub rfm_monetary: i16,
        pub rfm_segment_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
