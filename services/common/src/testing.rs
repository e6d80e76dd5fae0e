//! Test support shared by every service's integration tests (feature
//! `testing`, enabled only by dev-dependencies): fresh databases on both
//! stores and the database settings tests run with.

pub mod hostile;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;

use crate::config::DatabaseConfig;

/// The stores every storage test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// Where the local PostgreSQL lives; `make test` makes sure it runs.
pub fn postgres_admin_url() -> String {
    std::env::var("PATRON_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    format!("{prefix}_{}_{}_{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A URL of a new, empty database on `store`: a new SQLite file, or a new
/// database on the local PostgreSQL server. Panics when PostgreSQL does not
/// answer — tests must not skip silently.
pub async fn fresh_database(store: Store, prefix: &str) -> String {
    match store {
        Store::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name(prefix)));
            format!("sqlite://{}?mode=rwc", path.display())
        }
        Store::Postgres => {
            let name = unique_name(prefix);
            let admin = Database::connect(postgres_admin_url()).await.expect("PostgreSQL answers on 127.0.0.1:5432");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
            let admin_url = postgres_admin_url();
            let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
            format!("{base}/{name}")
        }
    }
}

/// Drops a test database (PostgreSQL) or deletes its files (SQLite); best effort.
pub async fn remove_database(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://").and_then(|rest| rest.split('?').next()) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    } else if let (Some((_, name)), Ok(admin)) = (url.rsplit_once('/'), Database::connect(postgres_admin_url()).await) {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}

/// Database settings for a test service: short timeouts and fast health checks.
pub fn database_config(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        url: SecretString::from(url.to_owned()),
        acquire_timeout_ms: Duration::from_millis(3000),
        health_interval_ms: Duration::from_millis(100),
        ..DatabaseConfig::default()
    }
}
