//! The churn service's tests, one binary: the buy-till-you-die models against
//! published results, properties and synthetic recovery; and the service
//! through its public gRPC interface on SQLite and PostgreSQL.

mod common;
mod demo;
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

mod btyd_cdnow;
mod btyd_clv;
mod btyd_expectation;
mod btyd_grouping;
mod btyd_hyp2f1;
mod btyd_properties;
mod hostile;
mod limits;
mod service_cdnow;
mod service_erasure;
mod service_flow;
mod service_registry;
