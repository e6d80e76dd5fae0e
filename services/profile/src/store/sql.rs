//! Hand-written SQL for the analytical queries, portable between SQLite and
//! PostgreSQL: written with `?` placeholders, numbered for PostgreSQL.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use patron_common::ServiceError;

pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => number_placeholders(sql),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn number_placeholders(sql: &str) -> String {
    let mut numbered = String::with_capacity(sql.len() + 16);
    let mut index = 0;
    for character in sql.chars() {
        if character == '?' {
            index += 1;
            numbered.push('$');
            numbered.push_str(&index.to_string());
        } else {
            numbered.push(character);
        }
    }
    numbered
}

pub async fn query(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, ServiceError> {
    Ok(db.query_all_raw(statement(db.get_database_backend(), sql, values)).await?)
}

/// Reads an integer column that SQLite may hand back as a smaller type.
pub fn int(row: &QueryResult, column: &str) -> Result<i64, ServiceError> {
    row.try_get::<i64>("", column)
        .or_else(|_| row.try_get::<i32>("", column).map(i64::from))
        .or_else(|_| row.try_get::<i16>("", column).map(i64::from))
        .map_err(|error| ServiceError::internal(format!("column {column}: {error}")))
}

pub fn optional_int(row: &QueryResult, column: &str) -> Result<Option<i64>, ServiceError> {
    row.try_get::<Option<i64>>("", column)
        .or_else(|_| row.try_get::<Option<i32>>("", column).map(|value| value.map(i64::from)))
        .or_else(|_| row.try_get::<Option<i16>>("", column).map(|value| value.map(i64::from)))
        .map_err(|error| ServiceError::internal(format!("column {column}: {error}")))
}

pub fn text(row: &QueryResult, column: &str) -> Result<String, ServiceError> {
    row.try_get::<String>("", column).map_err(|error| ServiceError::internal(format!("column {column}: {error}")))
}

/// `?, ?, ?` for an IN list of `count` values.
pub fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// A subquery yielding the strings of one bound parameter, [`text_list`]:
/// any number of values through a single placeholder, where an `IN (?, ?, …)`
/// list would hit the drivers' limit on bound parameters.
pub fn text_set(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "SELECT jsonb_array_elements_text(CAST(? AS jsonb))",
        _ => "SELECT value FROM json_each(?)",
    }
}

/// The parameter of [`text_set`]: the values as a JSON array.
pub fn text_list(values: &[String]) -> Value {
    Value::from(serde_json::Value::from(values.to_vec()).to_string())
}

/// "(?, ?, ?), (?, ?, ?)" for `rows` rows of `columns` values.
pub fn values_list(rows: usize, columns: usize) -> String {
    let row = format!("({})", placeholders(columns));
    vec![row; rows].join(", ")
}

pub async fn execute(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<u64, ServiceError> {
    Ok(db.execute_raw(statement(db.get_database_backend(), sql, values)).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(super::number_placeholders("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
    }
}
