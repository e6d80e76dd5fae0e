//! Reading the report change log (migration `report_change_orders`): where a
//! set of order facts was read, whether anything changed since, which orders,
//! and folding the log once every change in it has been applied.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, DbBackend, Value};

use crate::store::sql::{self, int, optional_int, text};

/// Where in the change log a set of facts was read.
#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    /// PostgreSQL: the snapshot (`pg_snapshot` text) the facts were read in;
    /// a change is new when that snapshot does not see its transaction.
    Snapshot(String),
    /// SQLite: the last log number read (committed numbers are dense).
    Sequence(i64),
}

/// What changed since a position.
#[derive(Debug, PartialEq)]
pub enum Changes {
    /// These orders (sorted, distinct) may differ from the facts.
    Orders(Vec<i64>),
    /// The log cannot say (a TRUNCATE, or the rows were folded away).
    Unknown,
}

/// The position of the reading transaction `db`: call it first in a
/// PostgreSQL REPEATABLE READ transaction, so it names the transaction's snapshot.
pub async fn current(db: &impl ConnectionTrait) -> Result<Position, ServiceError> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let rows = sql::query(db, "SELECT CAST(pg_current_snapshot() AS TEXT) AS snapshot", vec![]).await?;
            let row = rows.first().ok_or_else(|| ServiceError::internal("pg_current_snapshot answered no row"))?;
            Ok(Position::Snapshot(text(row, "snapshot")?))
        }
        _ => {
            let rows = sql::query(db, "SELECT COALESCE(MAX(seq), 0) AS last FROM report_change_log", vec![]).await?;
            Ok(Position::Sequence(rows.first().map(|row| int(row, "last")).transpose()?.unwrap_or(0)))
        }
    }
}

/// The changes a reader at `snapshot` has not seen: their transaction is not
/// in the snapshot (the xmin bound lets the index skip the older rows).
const UNSEEN_POSTGRES: &str = "FROM report_changes WHERE xid >= pg_snapshot_xmin(CAST(? AS pg_snapshot)) \
     AND NOT pg_visible_in_snapshot(xid, CAST(? AS pg_snapshot))";

/// Whether the log folded away changes a reader at `snapshot` may not have seen.
const FOLDED_POSTGRES: &str =
    "SELECT 1 FROM report_change_folds WHERE before_xid > pg_snapshot_xmin(CAST(? AS pg_snapshot))";

/// Whether anything was written since `position` (one cheap query per report).
pub async fn any_since(db: &impl ConnectionTrait, position: &Position) -> Result<bool, ServiceError> {
    match position {
        Position::Snapshot(snapshot) => {
            let rows = sql::query(
                db,
                &format!("SELECT (EXISTS (SELECT 1 {UNSEEN_POSTGRES}) OR EXISTS ({FOLDED_POSTGRES})) AS stale"),
                vec![snapshot.clone().into(), snapshot.clone().into(), snapshot.clone().into()],
            )
            .await?;
            let row = rows.first().ok_or_else(|| ServiceError::internal("report change check answered no row"))?;
            row.try_get::<bool>("", "stale").map_err(|error| ServiceError::internal(format!("column stale: {error}")))
        }
        Position::Sequence(_) => Ok(current(db).await? != *position),
    }
}

/// The orders changed since `position`, read in the caller's transaction.
pub async fn since(db: &impl ConnectionTrait, position: &Position) -> Result<Changes, ServiceError> {
    let mut orders = Vec::new();
    match position {
        Position::Snapshot(snapshot) => {
            if !sql::query(db, FOLDED_POSTGRES, vec![snapshot.clone().into()]).await?.is_empty() {
                return Ok(Changes::Unknown);
            }
            let rows = sql::query(
                db,
                &format!("SELECT array_to_string(order_ids, ',') AS order_ids {UNSEEN_POSTGRES}"),
                vec![snapshot.clone().into(), snapshot.clone().into()],
            )
            .await?;
            for row in &rows {
                let listed: Option<String> = row
                    .try_get("", "order_ids")
                    .map_err(|error| ServiceError::internal(format!("column order_ids: {error}")))?;
                let Some(listed) = listed else { return Ok(Changes::Unknown) };
                for id in listed.split(',').filter(|id| !id.is_empty()) {
                    orders.push(id.parse::<i64>().map_err(ServiceError::internal)?);
                }
            }
        }
        Position::Sequence(last) => {
            let rows = sql::query(
                db,
                "SELECT seq, order_id FROM report_change_log WHERE seq >= ? ORDER BY seq",
                vec![Value::from(*last)],
            )
            .await?;
            // The reader's own last row must still be there: if it was folded
            // away, so may be rows after it that this reader never saw.
            if rows.first().map(|row| int(row, "seq")).transpose()? != Some(*last) {
                return Ok(Changes::Unknown);
            }
            for row in rows.iter().skip(1) {
                match optional_int(row, "order_id")? {
                    Some(id) => orders.push(id),
                    None => return Ok(Changes::Unknown),
                }
            }
        }
    }
    orders.sort_unstable();
    orders.dedup();
    Ok(Changes::Orders(orders))
}

/// Log rows kept before a fold: enough that a second replica rarely has to
/// reload in full, few enough that reading the log stays cheap.
const FOLD_AT_ROWS: i64 = 1_000;

/// Deletes the log rows a reader at `position` has applied, once there are
/// many. A replica that has not applied them yet finds them folded and
/// reloads in full.
pub async fn fold(db: &impl ConnectionTrait, position: &Position) -> Result<(), ServiceError> {
    match position {
        Position::Snapshot(snapshot) => {
            let applied = "FROM report_changes WHERE xid < pg_snapshot_xmin(CAST(? AS pg_snapshot))";
            let rows =
                sql::query(db, &format!("SELECT COUNT(*) AS logged {applied}"), vec![snapshot.clone().into()]).await?;
            if rows.first().map(|row| int(row, "logged")).transpose()?.unwrap_or(0) <= FOLD_AT_ROWS {
                return Ok(());
            }
            // The mark and the deletion commit together (the caller's transaction).
            sql::execute(
                db,
                "UPDATE report_change_folds SET before_xid = GREATEST(before_xid, \
                 pg_snapshot_xmin(CAST(? AS pg_snapshot))) WHERE id = 1",
                vec![snapshot.clone().into()],
            )
            .await?;
            sql::execute(db, &format!("DELETE {applied}"), vec![snapshot.clone().into()]).await?;
        }
        Position::Sequence(last) => {
            let rows = sql::query(db, "SELECT MIN(seq) AS first FROM report_change_log", vec![]).await?;
            let first = rows.first().map(|row| optional_int(row, "first")).transpose()?.flatten().unwrap_or(*last);
            if *last - first <= FOLD_AT_ROWS {
                return Ok(());
            }
            // Keeps the row at `last`, so the numbering never restarts below it.
            sql::execute(db, "DELETE FROM report_change_log WHERE seq < ?", vec![Value::from(*last)]).await?;
        }
    }
    Ok(())
}
