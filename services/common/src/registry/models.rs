//! Stored model versions, the activation stack and tags.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use patron_proto::common::v1::{ModelStatus, ModelVersion};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::ids::{micros_of, new_id, now_micros, timestamp};
use super::page;
use super::tables::{model_activation, model_tag, model_version};
use crate::ServiceError;

/// What a finished training run hands to the registry.
#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    pub kind: String,
    pub parameters: BTreeMap<String, String>,
    pub features: Vec<String>,
    pub data_cutoff: Option<prost_types::Timestamp>,
    pub training_rows: i64,
    pub training_duration: Duration,
    pub metrics: BTreeMap<String, f64>,
    pub trained_by: String,
    /// Stored as FAILED (kept for audit, never activatable) instead of CANDIDATE.
    pub failed: bool,
    /// The service's own encoding of what the model learnt.
    pub payload: Vec<u8>,
}

/// The fields of a ListModels request.
#[derive(Debug, Clone, Default)]
pub struct ListModelsQuery {
    pub page_size: i32,
    pub page_token: String,
    pub status: i32,
    pub tag: String,
}

/// The outcome of ActivateModel or RollbackModel.
#[derive(Debug, Clone)]
pub struct Activation {
    pub model: ModelVersion,
    /// The version that was active before (now RETIRED); empty if none, or
    /// if the requested version was already active.
    pub previous_model_id: String,
}

const LIST_DEFAULT: u64 = 50;
const LIST_MAX: u64 = 1_000;

#[derive(Clone)]
pub struct ModelRegistry {
    db: DatabaseConnection,
    id_prefix: &'static str,
}

/// A version row without its payload, which may be large.
#[derive(Debug, FromQueryResult)]
struct VersionRow {
    id: String,
    kind: String,
    parameters_json: String,
    features_json: String,
    data_cutoff_us: Option<i64>,
    training_rows: i64,
    code_version: String,
    training_duration_us: i64,
    metrics_json: String,
    trained_by: String,
    status: i32,
    create_time_us: i64,
    activate_time_us: Option<i64>,
}

impl ModelRegistry {
    /// `id_prefix` starts every version id, e.g. "seg".
    pub fn new(db: DatabaseConnection, id_prefix: &'static str) -> Self {
        Self { db, id_prefix }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn create(&self, draft: NewModelVersion) -> Result<ModelVersion, ServiceError> {
        let id = new_id(self.id_prefix);
        let status = if draft.failed { ModelStatus::Failed } else { ModelStatus::Candidate };
        let row = model_version::ActiveModel {
            id: Set(id.clone()),
            kind: Set(draft.kind),
            parameters_json: Set(to_json(&draft.parameters)?),
            features_json: Set(to_json(&draft.features)?),
            data_cutoff_us: Set(draft.data_cutoff.as_ref().map(micros_of)),
            training_rows: Set(draft.training_rows),
            code_version: Set(super::CODE_VERSION.to_owned()),
            training_duration_us: Set(i64::try_from(draft.training_duration.as_micros()).unwrap_or(i64::MAX)),
            metrics_json: Set(to_json(&finite_metrics(draft.metrics))?),
            trained_by: Set(draft.trained_by),
            status: Set(status as i32),
            create_time_us: Set(now_micros()),
            activate_time_us: Set(None),
            payload: Set(draft.payload),
        };
        model_version::Entity::insert(row).exec_without_returning(&self.db).await?;
        self.get(&id).await
    }

    pub async fn get(&self, id: &str) -> Result<ModelVersion, ServiceError> {
        super::ids::check_lookup_id("model_id", id)?;
        let row =
            version_rows().filter(model_version::Column::Id.eq(id)).into_model::<VersionRow>().one(&self.db).await?;
        let row = row.ok_or_else(|| ServiceError::not_found("model version", id))?;
        let mut versions = self.with_tags(vec![row]).await?;
        versions.pop().ok_or_else(|| ServiceError::internal("model version vanished"))
    }

    /// The service-specific encoding stored with the version.
    pub async fn payload(&self, id: &str) -> Result<Vec<u8>, ServiceError> {
        let row = model_version::Entity::find_by_id(id.to_owned()).one(&self.db).await?;
        Ok(row.ok_or_else(|| ServiceError::not_found("model version", id))?.payload)
    }

    /// The id on top of the activation stack.
    pub async fn active_id(&self) -> Result<Option<String>, ServiceError> {
        Ok(stack_top(&self.db, 1).await?.into_iter().next().map(|row| row.model_id))
    }

    pub async fn active(&self) -> Result<Option<ModelVersion>, ServiceError> {
        match self.active_id().await? {
            Some(id) => Ok(Some(self.get(&id).await?)),
            None => Ok(None),
        }
    }

    /// `model_id` as given, or the active version when it is empty.
    pub async fn resolve(&self, model_id: &str) -> Result<ModelVersion, ServiceError> {
        if !model_id.is_empty() {
            return self.get(model_id).await;
        }
        self.active().await?.ok_or_else(no_active_version)
    }

    /// Versions newest first, filtered by status and tag.
    pub async fn list(&self, query: &ListModelsQuery) -> Result<(Vec<ModelVersion>, String), ServiceError> {
        let size = page::size(query.page_size, LIST_DEFAULT, LIST_MAX)?;
        let mut select = version_rows();
        if query.status != 0 {
            let status = ModelStatus::try_from(query.status)
                .map_err(|_| ServiceError::invalid("status", format!("unknown status {}", query.status)))?;
            select = select.filter(model_version::Column::Status.eq(status as i32));
        }
        if !query.tag.is_empty() {
            // Only a tag that could be stored can match; anything else (e.g. a
            // NUL, which PostgreSQL refuses as a parameter) is the caller's mistake.
            if !valid_tag(&query.tag) {
                return Err(ServiceError::invalid("tag", "must match [a-z0-9][a-z0-9_-]{0,62}"));
            }
            select = select.filter(
                model_version::Column::Id.in_subquery(
                    Query::select()
                        .column(model_tag::Column::ModelId)
                        .from(model_tag::Entity)
                        .and_where(model_tag::Column::Tag.eq(query.tag.as_str()))
                        .to_owned(),
                ),
            );
        }
        if !query.page_token.is_empty() {
            let (time, id) = page::decode(&query.page_token)?;
            select = select.filter(
                Condition::any().add(model_version::Column::CreateTimeUs.lt(time)).add(
                    Condition::all()
                        .add(model_version::Column::CreateTimeUs.eq(time))
                        .add(model_version::Column::Id.lt(id)),
                ),
            );
        }
        let mut rows = select
            .order_by_desc(model_version::Column::CreateTimeUs)
            .order_by_desc(model_version::Column::Id)
            .limit(size + 1)
            .into_model::<VersionRow>()
            .all(&self.db)
            .await?;
        let more = rows.len() as u64 > size;
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        let next = match (more, rows.last()) {
            (true, Some(last)) => page::encode(last.create_time_us, &last.id),
            _ => String::new(),
        };
        Ok((self.with_tags(rows).await?, next))
    }

    /// Pushes `id` on the activation stack: it becomes ACTIVE, the previous
    /// top RETIRED. Activating the active version changes nothing.
    pub async fn activate(&self, id: &str) -> Result<Activation, ServiceError> {
        let target = self.get(id).await?;
        if target.status == ModelStatus::Failed as i32 {
            return Err(ServiceError::FailedPrecondition(format!(
                "model version {id} failed training and cannot be activated"
            )));
        }
        let txn = self.db.begin().await?;
        lock_activations(&txn).await?;
        let previous = stack_top(&txn, 1).await?.into_iter().next().map(|row| row.model_id);
        if previous.as_deref() == Some(id) {
            txn.commit().await?;
            return Ok(Activation { model: target, previous_model_id: String::new() });
        }
        let now = now_micros();
        model_activation::Entity::insert(model_activation::ActiveModel {
            model_id: Set(id.to_owned()),
            activate_time_us: Set(now),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
        if let Some(previous) = &previous {
            set_status(&txn, previous, ModelStatus::Retired, None).await?;
        }
        set_status(&txn, id, ModelStatus::Active, Some(now)).await?;
        txn.commit().await?;
        Ok(Activation { model: self.get(id).await?, previous_model_id: previous.unwrap_or_default() })
    }

    /// Pops the activation stack: the version below the top becomes ACTIVE
    /// again and the top RETIRED.
    pub async fn rollback(&self) -> Result<Activation, ServiceError> {
        let txn = self.db.begin().await?;
        lock_activations(&txn).await?;
        let stack = stack_top(&txn, 2).await?;
        let (current, earlier) = match stack.as_slice() {
            [] => return Err(no_active_version()),
            [_] => {
                return Err(ServiceError::FailedPrecondition(
                    "there is no earlier active version to roll back to".to_owned(),
                ));
            }
            [current, earlier, ..] => (current, earlier),
        };
        model_activation::Entity::delete_by_id(current.seq).exec(&txn).await?;
        set_status(&txn, &current.model_id, ModelStatus::Retired, None).await?;
        set_status(&txn, &earlier.model_id, ModelStatus::Active, Some(now_micros())).await?;
        txn.commit().await?;
        Ok(Activation { model: self.get(&earlier.model_id).await?, previous_model_id: current.model_id.clone() })
    }

    /// Adds and removes tags; a tag held by another version moves here.
    pub async fn tag(&self, id: &str, add: &[String], remove: &[String]) -> Result<ModelVersion, ServiceError> {
        let mut violations = crate::Validator::default();
        for (list, tags) in [("add_tags", add), ("remove_tags", remove)] {
            for (index, tag) in tags.iter().enumerate() {
                if !valid_tag(tag) {
                    violations.violation(format!("{list}[{index}]"), "must match [a-z0-9][a-z0-9_-]{0,62}");
                } else if list == "add_tags" && remove.contains(tag) {
                    violations.violation(format!("{list}[{index}]"), format!("tag {tag:?} is also in remove_tags"));
                }
            }
        }
        violations.finish()?;
        self.get(id).await?;
        let txn = self.db.begin().await?;
        if !remove.is_empty() {
            model_tag::Entity::delete_many()
                .filter(model_tag::Column::ModelId.eq(id))
                .filter(model_tag::Column::Tag.is_in(remove.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        if !add.is_empty() {
            model_tag::Entity::delete_many()
                .filter(model_tag::Column::Tag.is_in(add.iter().cloned()))
                .exec(&txn)
                .await?;
            let rows =
                add.iter().map(|tag| model_tag::ActiveModel { tag: Set(tag.clone()), model_id: Set(id.to_owned()) });
            model_tag::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        self.get(id).await
    }

    async fn with_tags(&self, rows: Vec<VersionRow>) -> Result<Vec<ModelVersion>, ServiceError> {
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        if !ids.is_empty() {
            let found = model_tag::Entity::find()
                .filter(model_tag::Column::ModelId.is_in(ids))
                .order_by_asc(model_tag::Column::Tag)
                .all(&self.db)
                .await?;
            for row in found {
                tags.entry(row.model_id).or_default().push(row.tag);
            }
        }
        rows.into_iter()
            .map(|row| {
                let row_tags = tags.remove(&row.id).unwrap_or_default();
                to_proto(row, row_tags)
            })
            .collect()
    }
}

fn no_active_version() -> ServiceError {
    ServiceError::FailedPrecondition("no model version is active; train one and activate it".to_owned())
}

fn valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let first_ok = bytes.next().is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    first_ok
        && tag.len() <= 63
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-')
}

fn version_rows() -> sea_orm::Select<model_version::Entity> {
    use model_version::Column;
    model_version::Entity::find().select_only().columns([
        Column::Id,
        Column::Kind,
        Column::ParametersJson,
        Column::FeaturesJson,
        Column::DataCutoffUs,
        Column::TrainingRows,
        Column::CodeVersion,
        Column::TrainingDurationUs,
        Column::MetricsJson,
        Column::TrainedBy,
        Column::Status,
        Column::CreateTimeUs,
        Column::ActivateTimeUs,
    ])
}

async fn stack_top(db: &impl ConnectionTrait, count: u64) -> Result<Vec<model_activation::Model>, ServiceError> {
    Ok(model_activation::Entity::find().order_by_desc(model_activation::Column::Seq).limit(count).all(db).await?)
}

/// Serialises concurrent activations on PostgreSQL (SQLite has one writer).
async fn lock_activations(txn: &impl ConnectionTrait) -> Result<(), ServiceError> {
    match txn.get_database_backend() {
        DbBackend::Postgres => {
            txn.execute_unprepared("LOCK TABLE model_activations IN SHARE ROW EXCLUSIVE MODE").await?;
        }
        // Take SQLite's write lock before the first read: a deferred
        // transaction that reads and then writes fails at once with
        // "database is locked" (SQLITE_BUSY_SNAPSHOT) when another connection
        // committed in between (e.g. a job's state), instead of waiting.
        DbBackend::Sqlite => {
            txn.execute_unprepared("UPDATE model_activations SET seq = seq WHERE 1 = 0").await?;
        }
        _ => {}
    }
    Ok(())
}

async fn set_status(
    db: &impl ConnectionTrait,
    id: &str,
    status: ModelStatus,
    activate_time_us: Option<i64>,
) -> Result<(), ServiceError> {
    let mut update = model_version::Entity::update_many()
        .col_expr(model_version::Column::Status, Expr::value(status as i32))
        .filter(model_version::Column::Id.eq(id));
    if let Some(time) = activate_time_us {
        update = update.col_expr(model_version::Column::ActivateTimeUs, Expr::value(time));
    }
    update.exec(db).await?;
    Ok(())
}

/// JSON cannot hold NaN or infinity; a metric that is not finite is left out.
fn finite_metrics(metrics: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    metrics.into_iter().filter(|(_, value)| value.is_finite()).collect()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(ServiceError::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T, ServiceError> {
    serde_json::from_str(text).map_err(|error| ServiceError::internal(format!("model_versions.{column}: {error}")))
}

fn to_proto(row: VersionRow, tags: Vec<String>) -> Result<ModelVersion, ServiceError> {
    let parameters: BTreeMap<String, String> = from_json(&row.parameters_json, "parameters_json")?;
    let metrics: BTreeMap<String, f64> = from_json(&row.metrics_json, "metrics_json")?;
    let duration = Duration::from_micros(u64::try_from(row.training_duration_us).unwrap_or(0));
    Ok(ModelVersion {
        id: row.id,
        kind: row.kind,
        parameters: parameters.into_iter().collect(),
        features: from_json(&row.features_json, "features_json")?,
        data_cutoff: row.data_cutoff_us.map(timestamp),
        training_rows: row.training_rows,
        code_version: row.code_version,
        training_duration: Some(prost_types::Duration {
            seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
        }),
        metrics: metrics.into_iter().collect(),
        trained_by: row.trained_by,
        status: row.status,
        tags,
        create_time: Some(timestamp(row.create_time_us)),
        activate_time: row.activate_time_us.map(timestamp),
    })
}
