//! Stored scores of ScoreAll runs. A run's rows are written while it runs
//! and become visible together when the run is marked completed; readers
//! always pick a completed run, so they see one whole run or the previous.

use crate::time::now_micros;
use patron_common::ServiceError;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::entities::{customer_score, score_run};

/// Completed runs kept: the latest, and the one before it for readers still
/// paging through it.
const KEPT_RUNS: usize = 2;

/// One customer's score as stored.
#[derive(Debug, Clone)]
pub struct StoredScore {
    pub customer_id: String,
    pub risk_band: i32,
    pub value_at_risk_minor: i64,
    pub region: String,
    pub score: Vec<u8>,
}

pub type Run = score_run::Model;

pub async fn start_run(
    db: &DatabaseConnection,
    id: &str,
    job_id: &str,
    model_id: &str,
    total: i64,
) -> Result<(), ServiceError> {
    score_run::Entity::insert(score_run::ActiveModel {
        id: Set(id.to_owned()),
        job_id: Set(job_id.to_owned()),
        model_id: Set(model_id.to_owned()),
        total_count: Set(total),
        scored_count: Set(0),
        skipped_count: Set(0),
        completed: Set(false),
        create_time_us: Set(now_micros()),
        complete_time_us: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn insert(db: &DatabaseConnection, run_id: &str, rows: Vec<StoredScore>) -> Result<(), ServiceError> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.into_iter().map(|row| customer_score::ActiveModel {
        run_id: Set(run_id.to_owned()),
        customer_id: Set(row.customer_id),
        risk_band: Set(row.risk_band),
        value_at_risk_minor: Set(row.value_at_risk_minor),
        region: Set(row.region),
        score: Set(row.score),
    });
    customer_score::Entity::insert_many(models).exec_without_returning(db).await?;
    Ok(())
}

/// Makes the run visible and removes runs no reader needs any more.
/// Customers in `forgotten` (erased while the run was written) are left out.
pub async fn complete_run(
    db: &DatabaseConnection,
    id: &str,
    scored: i64,
    skipped: i64,
    forgotten: &[String],
) -> Result<(), ServiceError> {
    let txn = db.begin().await?;
    let mut scored = scored;
    if !forgotten.is_empty() {
        for chunk in forgotten.chunks(FORGOTTEN_PER_DELETE) {
            customer_score::Entity::delete_many()
                .filter(customer_score::Column::RunId.eq(id))
                .filter(customer_score::Column::CustomerId.is_in(chunk.iter().map(String::as_str)))
                .exec(&txn)
                .await?;
        }
        // Some may have gone already (forgotten after being written): count what stays.
        scored = customer_score::Entity::find().filter(customer_score::Column::RunId.eq(id)).count(&txn).await? as i64;
    }
    score_run::Entity::update_many()
        .col_expr(score_run::Column::Completed, Expr::value(true))
        .col_expr(score_run::Column::CompleteTimeUs, Expr::value(now_micros()))
        .col_expr(score_run::Column::ScoredCount, Expr::value(scored))
        .col_expr(score_run::Column::SkippedCount, Expr::value(skipped))
        .filter(score_run::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let completed = score_run::Entity::find()
        .filter(score_run::Column::Completed.eq(true))
        .order_by_desc(score_run::Column::CompleteTimeUs)
        .order_by_desc(score_run::Column::Id)
        .all(&txn)
        .await?;
    let stale: Vec<String> = completed.into_iter().skip(KEPT_RUNS).map(|run| run.id).collect();
    if !stale.is_empty() {
        customer_score::Entity::delete_many()
            .filter(customer_score::Column::RunId.is_in(stale.clone()))
            .exec(&txn)
            .await?;
        score_run::Entity::delete_many().filter(score_run::Column::Id.is_in(stale)).exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Ids per DELETE, well under both stores' parameter limits.
const FORGOTTEN_PER_DELETE: usize = 1_000;

/// Deletes every stored score of `customer_id`, in every run (completed,
/// kept for readers, or in progress), in one transaction. Returns the rows deleted.
pub async fn forget(db: &DatabaseConnection, customer_id: &str) -> Result<u64, ServiceError> {
    let txn = patron_common::storage::begin_write(db).await?;
    // Every run has its score_runs row before its first score is written,
    // so looking up by (run_id, customer_id), the primary key, finds them all.
    let runs: Vec<String> =
        score_run::Entity::find().select_only().column(score_run::Column::Id).into_tuple().all(&txn).await?;
    let removed = customer_score::Entity::delete_many()
        .filter(customer_score::Column::RunId.is_in(runs))
        .filter(customer_score::Column::CustomerId.eq(customer_id))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(removed)
}

/// A run that failed: its rows are removed, the run forgotten.
pub async fn abandon_run(db: &DatabaseConnection, id: &str) -> Result<(), ServiceError> {
    let txn = db.begin().await?;
    customer_score::Entity::delete_many().filter(customer_score::Column::RunId.eq(id)).exec(&txn).await?;
    score_run::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn run(db: &DatabaseConnection, id: &str) -> Result<Option<Run>, ServiceError> {
    Ok(score_run::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn run_of_job(db: &DatabaseConnection, job_id: &str) -> Result<Option<Run>, ServiceError> {
    Ok(score_run::Entity::find().filter(score_run::Column::JobId.eq(job_id)).one(db).await?)
}

/// The newest completed run; FAILED_PRECONDITION when there is none.
pub async fn latest_run(db: &DatabaseConnection) -> Result<Run, ServiceError> {
    score_run::Entity::find()
        .filter(score_run::Column::Completed.eq(true))
        .order_by_desc(score_run::Column::CompleteTimeUs)
        .order_by_desc(score_run::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::FailedPrecondition("no ScoreAll run has completed yet; call ScoreAll".to_owned()))
}

/// The run a page token pinned; gone runs are INVALID_ARGUMENT.
pub async fn pinned_run(db: &DatabaseConnection, id: &str) -> Result<Run, ServiceError> {
    match run(db, id).await? {
        Some(run) if run.completed => Ok(run),
        _ => Err(ServiceError::invalid("page_token", "the score run of this token is gone; start from the first page")),
    }
}

pub async fn get(db: &DatabaseConnection, run_id: &str, customer_id: &str) -> Result<Option<Vec<u8>>, ServiceError> {
    let row = customer_score::Entity::find_by_id((run_id.to_owned(), customer_id.to_owned())).one(db).await?;
    Ok(row.map(|r| r.score))
}

/// Scores in customer_id order after `after`, optionally of one band.
pub async fn list(
    db: &DatabaseConnection,
    run_id: &str,
    after: &str,
    risk_band: Option<i32>,
    limit: u64,
) -> Result<Vec<customer_score::Model>, ServiceError> {
    let mut select = customer_score::Entity::find()
        .filter(customer_score::Column::RunId.eq(run_id))
        .filter(customer_score::Column::CustomerId.gt(after));
    if let Some(band) = risk_band {
        select = select.filter(customer_score::Column::RiskBand.eq(band));
    }
    Ok(select.order_by_asc(customer_score::Column::CustomerId).limit(limit).all(db).await?)
}

/// The win-back ranking: value at risk descending, ties by customer_id,
/// after the position (value, customer_id) of the previous chunk.
pub async fn ranked(
    db: &DatabaseConnection,
    run_id: &str,
    after: Option<(i64, &str)>,
    region: &str,
    min_value_at_risk: Option<i64>,
    limit: u64,
) -> Result<Vec<customer_score::Model>, ServiceError> {
    let mut select = customer_score::Entity::find().filter(customer_score::Column::RunId.eq(run_id));
    if let Some((value, customer_id)) = after {
        select = select.filter(
            Condition::any().add(customer_score::Column::ValueAtRiskMinor.lt(value)).add(
                Condition::all()
                    .add(customer_score::Column::ValueAtRiskMinor.eq(value))
                    .add(customer_score::Column::CustomerId.gt(customer_id)),
            ),
        );
    }
    if !region.is_empty() {
        select = select.filter(customer_score::Column::Region.eq(region));
    }
    if let Some(min) = min_value_at_risk {
        select = select.filter(customer_score::Column::ValueAtRiskMinor.gte(min));
    }
    Ok(select
        .order_by_desc(customer_score::Column::ValueAtRiskMinor)
        .order_by_asc(customer_score::Column::CustomerId)
        .limit(limit)
        .all(db)
        .await?)
}
