//! The segmentation service through its public gRPC interface, with the
//! profile service beside it, on SQLite and on PostgreSQL. One binary; each
//! test spawns its own services and databases.

mod helpers;

/// Runs each listed `async fn(Store)` once per store, as separate tests.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Store::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Store::Postgres).await })*
        }
    };
}

mod assign_all;
mod bad_input;
mod customers;
mod erasure;
mod hostile;
mod lifecycle;
mod limits;
