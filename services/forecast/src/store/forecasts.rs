//! Stored results of BatchForecast: one row per series forecast, the
//! rendered `SeriesForecast` kept as its protobuf encoding beside the columns
//! the listing filters and orders on.

use patron_common::ServiceError;
use sea_orm::entity::prelude::*;
use sea_orm::{Condition, QueryOrder, QuerySelect, Set};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_forecasts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub job_id: String,
    pub model_id: String,
    pub level: i32,
    pub series_key: String,
    pub create_time_us: i64,
    pub body: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub struct NewForecast {
    pub id: String,
    pub job_id: String,
    pub model_id: String,
    pub level: i32,
    pub series_key: String,
    pub create_time_us: i64,
    pub body: Vec<u8>,
}

/// Writes a batch of forecasts in one statement.
pub async fn insert_many(db: &DatabaseConnection, rows: Vec<NewForecast>) -> Result<(), ServiceError> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.into_iter().map(|row| ActiveModel {
        id: Set(row.id),
        job_id: Set(row.job_id),
        model_id: Set(row.model_id),
        level: Set(row.level),
        series_key: Set(row.series_key),
        create_time_us: Set(row.create_time_us),
        body: Set(row.body),
    });
    Entity::insert_many(models).exec(db).await?;
    Ok(())
}

pub async fn get(db: &DatabaseConnection, id: &str) -> Result<Vec<u8>, ServiceError> {
    Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(|row| row.body)
        .ok_or_else(|| ServiceError::not_found("forecast", id))
}

#[derive(Debug, Default)]
pub struct ListFilter {
    pub level: Option<i32>,
    pub key: Option<String>,
    pub model_id: Option<String>,
    pub job_id: Option<String>,
}

/// A page of stored forecasts, newest first, after the position `after`
/// (create time, id) of the previous page's last row.
pub async fn list(
    db: &DatabaseConnection,
    filter: &ListFilter,
    after: Option<(i64, String)>,
    limit: u64,
) -> Result<Vec<Model>, ServiceError> {
    let mut select = Entity::find();
    if let Some(level) = filter.level {
        select = select.filter(Column::Level.eq(level));
    }
    if let Some(key) = &filter.key {
        select = select.filter(Column::SeriesKey.eq(key.clone()));
    }
    if let Some(model_id) = &filter.model_id {
        select = select.filter(Column::ModelId.eq(model_id.clone()));
    }
    if let Some(job_id) = &filter.job_id {
        select = select.filter(Column::JobId.eq(job_id.clone()));
    }
    if let Some((time, id)) = after {
        select = select.filter(
            Condition::any()
                .add(Column::CreateTimeUs.lt(time))
                .add(Condition::all().add(Column::CreateTimeUs.eq(time)).add(Column::Id.lt(id))),
        );
    }
    Ok(select.order_by_desc(Column::CreateTimeUs).order_by_desc(Column::Id).limit(limit).all(db).await?)
}
