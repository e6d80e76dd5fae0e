//! Why a clustering could not be computed.

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ClusteringError {
    #[error("{rows} rows; at least {needed} needed")]
    TooFewRows { rows: usize, needed: usize },
    #[error("value at row {row}, column {column} is not finite")]
    NonFinite { row: usize, column: usize },
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("initial centroids have shape {rows}x{columns}, expected {expected_rows}x{expected_columns}")]
    InitialCentroidShape { rows: usize, columns: usize, expected_rows: usize, expected_columns: usize },
    #[error(transparent)]
    Linfa(#[from] LinfaError),
}

/// linfa's error, wrapped so `ClusteringError` stays `Clone + PartialEq`.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{0}")]
pub struct LinfaError(String);

impl From<linfa::Error> for ClusteringError {
    fn from(error: linfa::Error) -> Self {
        ClusteringError::Linfa(LinfaError(error.to_string()))
    }
}
