//! A batch of rows as a SQL row source named `v`, for set-based writes.
//!
//! SQLite gets `VALUES` lists, chunked under its bound-parameter limit.
//! PostgreSQL gets one `unnest` of per-column arrays for the whole batch: a
//! handful of array parameters bind and plan far faster than thousands of
//! scalars, and the statement text no longer depends on the row count, so it
//! is prepared once per connection.
//!
//! Columns are never NULL in the source (arrays of nullable elements are not
//! bindable here); a nullable column is carried with a sentinel that the
//! statement turns back into NULL with `NULLIF`.

use sea_orm::{DbBackend, Value};

use super::sql::values_list;

/// Rows per `VALUES` statement, well under SQLite's bound-parameter limit.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// Sentinel for an absent integer, read back with `NULLIF(v.column, NULL_INT)`.
pub const NULL_INT: i64 = i64::MIN;

pub enum Column {
    Text(Vec<String>),
    BigInt(Vec<i64>),
    SmallInt(Vec<i16>),
    Int(Vec<i32>),
    Bool(Vec<bool>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Self::Text(values) => values.len(),
            Self::BigInt(values) => values.len(),
            Self::SmallInt(values) => values.len(),
            Self::Int(values) => values.len(),
            Self::Bool(values) => values.len(),
        }
    }

    fn postgres_array_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "text[]",
            Self::BigInt(_) => "int8[]",
            Self::SmallInt(_) => "int2[]",
            Self::Int(_) => "int4[]",
            Self::Bool(_) => "bool[]",
        }
    }

    fn into_array(self) -> Value {
        match self {
            Self::Text(values) => Value::from(values),
            Self::BigInt(values) => Value::from(values),
            Self::SmallInt(values) => Value::from(values),
            Self::Int(values) => Value::from(values),
            Self::Bool(values) => Value::from(values),
        }
    }

    fn scalar(&self, row: usize) -> Value {
        match self {
            Self::Text(values) => Value::from(values[row].clone()),
            Self::BigInt(values) => Value::from(values[row]),
            Self::SmallInt(values) => Value::from(values[row]),
            Self::Int(values) => Value::from(values[row]),
            Self::Bool(values) => Value::from(values[row]),
        }
    }
}

/// Named columns of equal length.
pub struct RowSource {
    names: Vec<&'static str>,
    columns: Vec<Column>,
}

/// One statement's share of the rows: the `v(…) AS (…)` CTE and its values.
pub struct Chunk {
    pub cte: String,
    pub values: Vec<Value>,
}

impl RowSource {
    pub fn new(columns: Vec<(&'static str, Column)>) -> Self {
        let (names, columns) = columns.into_iter().unzip();
        Self { names, columns }
    }

    fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// The rows split into as few statements as the backend allows.
    pub fn chunks(self, backend: DbBackend) -> Vec<Chunk> {
        let rows = self.rows();
        if rows == 0 {
            return Vec::new();
        }
        let names = self.names.join(", ");
        if backend == DbBackend::Postgres {
            let arrays: Vec<String> =
                self.columns.iter().map(|column| format!("?::{}", column.postgres_array_type())).collect();
            let cte = format!("v AS (SELECT * FROM unnest({}) AS u({names}))", arrays.join(", "));
            // The columns move into the parameters: a batch's values are not copied again.
            return vec![Chunk { cte, values: self.columns.into_iter().map(Column::into_array).collect() }];
        }
        (0..rows)
            .step_by(SQLITE_ROWS_PER_STATEMENT)
            .map(|start| {
                let end = (start + SQLITE_ROWS_PER_STATEMENT).min(rows);
                let values =
                    (start..end).flat_map(|row| self.columns.iter().map(move |column| column.scalar(row))).collect();
                let cte = format!("v({names}) AS (VALUES {})", values_list(end - start, self.columns.len()));
                Chunk { cte, values }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(rows: usize) -> RowSource {
        RowSource::new(vec![
            ("id", Column::Text((0..rows).map(|row| format!("o-{row}")).collect())),
            ("n", Column::BigInt((0..rows).map(|row| row as i64).collect())),
        ])
    }

    #[test]
    fn postgres_binds_one_array_per_column() {
        let chunks = source(1_200).chunks(DbBackend::Postgres);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].cte, "v AS (SELECT * FROM unnest(?::text[], ?::int8[]) AS u(id, n))");
        assert_eq!(chunks[0].values.len(), 2);
    }

    #[test]
    fn sqlite_gets_values_lists_under_the_parameter_limit() {
        let chunks = source(1_200).chunks(DbBackend::Sqlite);
        assert_eq!(chunks.iter().map(|chunk| chunk.values.len()).collect::<Vec<_>>(), [1_000, 1_000, 400]);
        assert!(chunks[2].cte.starts_with("v(id, n) AS (VALUES (?, ?), "));
        assert!(source(0).chunks(DbBackend::Sqlite).is_empty());
    }
}
