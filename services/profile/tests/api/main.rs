//! The profile service through its public gRPC interface, on SQLite and on
//! PostgreSQL. One binary; each test spawns its own service and database.

mod helpers;

/// Runs each listed `async fn(Store)` once per store, as separate tests.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Store::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Store::Postgres).await })*
        }
    };
}

mod customers;
mod erasure;
mod events;
mod feature_facts;
mod features;
mod hostile;
mod import;
mod kpis;
mod limits;
mod orders;
mod plumbing;
mod report_refresh;
mod series;
mod summary;
mod verbatim;
