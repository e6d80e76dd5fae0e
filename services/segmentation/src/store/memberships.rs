//! Stored memberships. An AssignAll run writes its rows under a fresh run id
//! (invisible to readers), then one transaction points the version at the new
//! run and deletes the old run's rows, so readers switch atomically.

use std::collections::BTreeMap;

use patron_common::ServiceError;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};

use super::tables::{membership_run, segment_membership};

/// One customer's stored membership.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub customer_id: String,
    pub segment_id: String,
    pub distance: f64,
    pub rfm: [i16; 3],
    pub rfm_segment_id: String,
}

/// The completed run a version's readers see.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedRun {
    pub run_id: String,
    pub features_as_of_us: i64,
    pub assign_time_us: i64,
    pub customers: i64,
    /// Members per segment id (k-means and RFM).
    pub segment_counts: BTreeMap<String, i64>,
}

/// Rows per SQLite INSERT: 8 bound values each, well under its limit of 32,766.
const SQLITE_ROWS_PER_INSERT: usize = 1_000;
/// Keys per DELETE of forgotten customers.
const KEYS_PER_DELETE: usize = 1_000;

/// Writes rows of an unfinished run, in one transaction (one commit, one
/// sync of the log). The statements are written by hand: sea-orm's
/// `insert_many` builds and copies every value through its query builder,
/// which perf showed at ~18% of AssignAll's time.
pub async fn insert(db: &DatabaseConnection, run_id: &str, rows: &[Membership]) -> Result<(), ServiceError> {
    let transaction = db.begin().await?;
    for statement in insert_statements(db.get_database_backend(), run_id, rows) {
        transaction.execute_raw(statement).await?;
    }
    transaction.commit().await?;
    Ok(())
}

const INSERT_INTO: &str = "INSERT INTO segment_memberships (run_id, customer_id, segment_id, distance, \
     rfm_recency, rfm_frequency, rfm_monetary, rfm_segment_id)";

/// SQLite: multi-row VALUES lists with plain `?` placeholders (numbered ones
/// are looked up by name when the statement is prepared, which made a
/// thousand-row statement many times slower); every full chunk has the same
/// text, so it is prepared once per connection. PostgreSQL: the whole batch
/// as one array per column, unnested.
fn insert_statements(backend: DbBackend, run_id: &str, rows: &[Membership]) -> Vec<Statement> {
    if rows.is_empty() {
        return Vec::new();
    }
    if backend == DbBackend::Postgres {
        let sql = format!(
            "{INSERT_INTO} SELECT $1, * FROM unnest($2::text[], $3::text[], $4::float8[], $5::int2[], $6::int2[], \
             $7::int2[], $8::text[])"
        );
        let text = |pick: fn(&Membership) -> &String| Value::from(rows.iter().map(pick).cloned().collect::<Vec<_>>());
        let rfm = |index: usize| Value::from(rows.iter().map(|row| row.rfm[index]).collect::<Vec<i16>>());
        let values = vec![
            Value::from(run_id),
            text(|row| &row.customer_id),
            text(|row| &row.segment_id),
            Value::from(rows.iter().map(|row| row.distance).collect::<Vec<f64>>()),
            rfm(0),
            rfm(1),
            rfm(2),
            text(|row| &row.rfm_segment_id),
        ];
        return vec![Statement::from_sql_and_values(backend, sql, values)];
    }
    rows.chunks(SQLITE_ROWS_PER_INSERT)
        .map(|chunk| {
            let tuples = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let mut values = Vec::with_capacity(chunk.len() * 8);
            for row in chunk {
                values.extend([
                    Value::from(run_id),
                    Value::from(row.customer_id.as_str()),
                    Value::from(row.segment_id.as_str()),
                    Value::from(row.distance),
                    Value::from(row.rfm[0]),
                    Value::from(row.rfm[1]),
                    Value::from(row.rfm[2]),
                    Value::from(row.rfm_segment_id.as_str()),
                ]);
            }
            Statement::from_sql_and_values(backend, format!("{INSERT_INTO} VALUES {tuples}"), values)
        })
        .collect()
}

/// Makes `run` the version's visible run and removes the one it replaces.
/// Customers in `forgotten` (erased while the run was written) are left out
/// of it, and its counts are then taken from what is stored. Returns the run
/// as stored.
pub async fn complete(
    db: &DatabaseConnection,
    model_id: &str,
    run: &CompletedRun,
    forgotten: &[String],
) -> Result<CompletedRun, ServiceError> {
    let transaction = db.begin().await?;
    let mut run = run.clone();
    if !forgotten.is_empty() {
        for chunk in forgotten.chunks(KEYS_PER_DELETE) {
            segment_membership::Entity::delete_many()
                .filter(segment_membership::Column::RunId.eq(run.run_id.as_str()))
                .filter(segment_membership::Column::CustomerId.is_in(chunk.iter().map(String::as_str)))
                .exec(&transaction)
                .await?;
        }
        (run.customers, run.segment_counts) = stored_counts(&transaction, &run.run_id).await?;
    }
    let counts = serde_json::to_string(&run.segment_counts).map_err(ServiceError::internal)?;
    let previous = membership_run::Entity::find_by_id(model_id.to_owned()).one(&transaction).await?;
    membership_run::Entity::insert(membership_run::ActiveModel {
        model_id: Set(model_id.to_owned()),
        run_id: Set(run.run_id.clone()),
        features_as_of_us: Set(run.features_as_of_us),
        assign_time_us: Set(run.assign_time_us),
        customers: Set(run.customers),
        segment_counts_json: Set(counts),
    })
    .on_conflict(
        OnConflict::column(membership_run::Column::ModelId)
            .update_columns([
                membership_run::Column::RunId,
                membership_run::Column::FeaturesAsOfUs,
                membership_run::Column::AssignTimeUs,
                membership_run::Column::Customers,
                membership_run::Column::SegmentCountsJson,
            ])
            .to_owned(),
    )
    .exec_without_returning(&transaction)
    .await?;
    if let Some(previous) = previous {
        discard_on(&transaction, &previous.run_id).await?;
    }
    transaction.commit().await?;
    Ok(run)
}

/// A run's member count and its members per segment id (k-means and RFM), as stored.
async fn stored_counts(db: &impl ConnectionTrait, run_id: &str) -> Result<(i64, BTreeMap<String, i64>), ServiceError> {
    let mut counts = BTreeMap::new();
    let mut customers = 0;
    for column in [segment_membership::Column::SegmentId, segment_membership::Column::RfmSegmentId] {
        let sizes: Vec<(String, i64)> = segment_membership::Entity::find()
            .select_only()
            .column(column)
            .column_as(
                sea_orm::sea_query::ExprTrait::count(Expr::col(segment_membership::Column::CustomerId)),
                "members",
            )
            .filter(segment_membership::Column::RunId.eq(run_id))
            .group_by(column)
            .into_tuple()
            .all(db)
            .await?;
        // Every member has one segment of each scheme, so either sum is the total.
        customers = sizes.iter().map(|(_, members)| members).sum();
        counts.extend(sizes);
    }
    Ok((customers, counts))
}

/// Deletes every membership of `customer_id` in every run (completed,
/// replaced, in progress or left by a crashed run) and lowers the counts of
/// the completed runs that held it, in one transaction. Returns the rows deleted.
pub async fn forget(db: &DatabaseConnection, customer_id: &str) -> Result<u64, ServiceError> {
    let transaction = patron_common::storage::begin_write(db).await?;
    let runs = run_ids(&transaction).await?;
    // By (run_id, customer_id), the primary key: no scan of other customers' rows.
    let rows = segment_membership::Entity::find()
        .filter(segment_membership::Column::RunId.is_in(runs))
        .filter(segment_membership::Column::CustomerId.eq(customer_id))
        .all(&transaction)
        .await?;
    if rows.is_empty() {
        transaction.commit().await?;
        return Ok(0);
    }
    let held_in: Vec<&str> = rows.iter().map(|row| row.run_id.as_str()).collect();
    let removed = segment_membership::Entity::delete_many()
        .filter(segment_membership::Column::RunId.is_in(held_in.iter().copied()))
        .filter(segment_membership::Column::CustomerId.eq(customer_id))
        .exec(&transaction)
        .await?
        .rows_affected;
    let completed = membership_run::Entity::find()
        .filter(membership_run::Column::RunId.is_in(held_in.iter().copied()))
        .all(&transaction)
        .await?;
    for completed in completed {
        let Some(row) = rows.iter().find(|row| row.run_id == completed.run_id) else { continue };
        let mut counts: BTreeMap<String, i64> =
            serde_json::from_str(&completed.segment_counts_json).map_err(ServiceError::internal)?;
        for segment_id in [&row.segment_id, &row.rfm_segment_id] {
            if let Some(count) = counts.get_mut(segment_id) {
                *count = (*count - 1).max(0);
            }
        }
        membership_run::Entity::update(membership_run::ActiveModel {
            model_id: Set(completed.model_id),
            customers: Set((completed.customers - 1).max(0)),
            segment_counts_json: Set(serde_json::to_string(&counts).map_err(ServiceError::internal)?),
            ..Default::default()
        })
        .exec(&transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(removed)
}

/// Every run id with stored rows, whether or not a version points at it.
/// Walks the primary key from one run id to the next (a loose index scan),
/// so the cost grows with the number of runs, not of rows.
async fn run_ids(db: &impl ConnectionTrait) -> Result<Vec<String>, ServiceError> {
    // Both terms cast to TEXT: PostgreSQL refuses a recursive query whose
    // terms differ in type modifier (varchar(64) against varchar).
    const DISTINCT_RUNS: &str = "WITH RECURSIVE runs(run_id) AS ( \
           SELECT CAST((SELECT run_id FROM segment_memberships ORDER BY run_id LIMIT 1) AS TEXT) \
           UNION ALL \
           SELECT CAST((SELECT m.run_id FROM segment_memberships m WHERE m.run_id > runs.run_id \
                        ORDER BY m.run_id LIMIT 1) AS TEXT) \
           FROM runs WHERE runs.run_id IS NOT NULL) \
         SELECT run_id FROM runs WHERE run_id IS NOT NULL";
    let statement = Statement::from_string(db.get_database_backend(), DISTINCT_RUNS.to_owned());
    let rows = db.query_all_raw(statement).await?;
    rows.iter().map(|row| row.try_get::<String>("", "run_id").map_err(ServiceError::from)).collect()
}

/// Deletes the rows of an abandoned or replaced run.
pub async fn discard(db: &DatabaseConnection, run_id: &str) -> Result<(), ServiceError> {
    discard_on(db, run_id).await
}

async fn discard_on(db: &impl ConnectionTrait, run_id: &str) -> Result<(), ServiceError> {
    segment_membership::Entity::delete_many().filter(segment_membership::Column::RunId.eq(run_id)).exec(db).await?;
    Ok(())
}

pub async fn completed_run(db: &DatabaseConnection, model_id: &str) -> Result<Option<CompletedRun>, ServiceError> {
    let Some(row) = membership_run::Entity::find_by_id(model_id.to_owned()).one(db).await? else {
        return Ok(None);
    };
    let segment_counts = serde_json::from_str(&row.segment_counts_json).map_err(ServiceError::internal)?;
    Ok(Some(CompletedRun {
        run_id: row.run_id,
        features_as_of_us: row.features_as_of_us,
        assign_time_us: row.assign_time_us,
        customers: row.customers,
        segment_counts,
    }))
}

fn membership(row: segment_membership::Model) -> Membership {
    Membership {
        customer_id: row.customer_id,
        segment_id: row.segment_id,
        distance: row.distance,
        rfm: [row.rfm_recency, row.rfm_frequency, row.rfm_monetary],
        rfm_segment_id: row.rfm_segment_id,
    }
}

pub async fn of_customer(
    db: &DatabaseConnection,
    run_id: &str,
    customer_id: &str,
) -> Result<Option<Membership>, ServiceError> {
    let row = segment_membership::Entity::find_by_id((run_id.to_owned(), customer_id.to_owned())).one(db).await?;
    Ok(row.map(membership))
}

/// Which members to list.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentFilter {
    Every,
    KMeans(String),
    Rfm(String),
}

/// Up to `limit` members of a run after `after` (exclusive), by ascending customer id.
pub async fn page(
    db: &DatabaseConnection,
    run_id: &str,
    filter: &SegmentFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Membership>, ServiceError> {
    let mut query = segment_membership::Entity::find().filter(segment_membership::Column::RunId.eq(run_id));
    query = match filter {
        SegmentFilter::Every => query,
        SegmentFilter::KMeans(id) => query.filter(segment_membership::Column::SegmentId.eq(id.as_str())),
        SegmentFilter::Rfm(id) => query.filter(segment_membership::Column::RfmSegmentId.eq(id.as_str())),
    };
    if let Some(after) = after {
        query = query.filter(segment_membership::Column::CustomerId.gt(after));
    }
    let rows = query.order_by_asc(segment_membership::Column::CustomerId).limit(limit).all(db).await?;
    Ok(rows.into_iter().map(membership).collect())
}
