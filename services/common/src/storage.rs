//! The service's own database: SQLite (the embedded default, a file under
//! `./data/`) or PostgreSQL (by URL), through one sea-orm connection and one
//! set of migrations.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseConfig;
use crate::server::{ProbeError, ReadinessProbe};

/// Opens a pool without waiting for the database, so the service starts (and
/// reports NOT_SERVING) even while its database is down.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let url = config.url();
    let parent = sqlite_file_path(url)
        .and_then(|path| std::path::Path::new(path).parent())
        .filter(|parent| !parent.as_os_str().is_empty());
    if let Some(parent) = parent {
        std::fs::create_dir_all(parent)
            .map_err(|error| DbErr::Custom(format!("cannot create {}: {error}", parent.display())))?;
    }
    let in_memory = url.contains(":memory:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        // An in-memory SQLite database exists once per connection: keep exactly one.
        .max_connections(if in_memory { 1 } else { config.max_connections })
        .min_connections(if in_memory { 1 } else { 0 })
        .connect_timeout(config.acquire_timeout_ms)
        .acquire_timeout(config.acquire_timeout_ms)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy(!in_memory)
        .sqlx_logging(false);
    Database::connect(options).await.map_err(|error| without_url(error, url))
}

/// Begins a transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then
/// writes cannot wait for the lock when another writer committed in between
/// (SQLite answers "database is locked" at once, without the busy timeout),
/// so concurrent writers failed instead of taking turns. PostgreSQL is
/// unaffected.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

/// sea-orm quotes the whole URL when it cannot parse it or has no driver for
/// it, and the URL may carry the database password: the message keeps the
/// scheme only.
fn without_url(error: DbErr, url: &str) -> DbErr {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    let redacted = format!("{scheme}://[REDACTED]");
    match error {
        DbErr::Conn(sea_orm::RuntimeErr::Internal(message)) => {
            DbErr::Conn(sea_orm::RuntimeErr::Internal(message.replace(url, &redacted)))
        }
        other if other.to_string().contains(url) => DbErr::Custom(other.to_string().replace(url, &redacted)),
        other => other,
    }
}

/// The file path inside a `sqlite://path?params` URL, if it names a file.
fn sqlite_file_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

/// Readiness for a database-backed service: the first successful check
/// applies pending migrations (refusing a schema newer than this build), and
/// every check after that pings the database.
///
/// The migration runs on a task of its own, which a check only waits for:
/// the health watcher gives each check a short timeout, and cancelling the
/// migration itself with it would restart it on every check — on a busy
/// machine or with a long migration it would never finish, and the service
/// would never report SERVING.
pub struct StoreProbe<M> {
    db: DatabaseConnection,
    migrated: AtomicBool,
    migrating: tokio::sync::Mutex<Option<tokio::task::JoinHandle<Result<(), ProbeError>>>>,
    migrator: PhantomData<fn() -> M>,
}

impl<M: MigratorTrait> StoreProbe<M> {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, migrated: AtomicBool::new(false), migrating: tokio::sync::Mutex::new(None), migrator: PhantomData }
    }
}

impl<M: MigratorTrait + 'static> StoreProbe<M> {
    /// Starts the migration if none is running and waits for it; a failed
    /// one is started again by the next check.
    async fn migrated(&self) -> Result<(), ProbeError> {
        let mut migrating = self.migrating.lock().await;
        let task = migrating.get_or_insert_with(|| {
            let db = self.db.clone();
            tokio::spawn(async move { migrate::<M>(&db).await })
        });
        let outcome = task.await.unwrap_or_else(|error| Err(ProbeError::NotReady(format!("migration task: {error}"))));
        *migrating = None;
        outcome?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }
}

impl<M: MigratorTrait + 'static> ReadinessProbe for StoreProbe<M> {
    async fn check(&self) -> Result<(), ProbeError> {
        if !self.migrated.load(Ordering::Acquire) {
            self.migrated().await?;
        }
        self.db.ping().await.map_err(|error| ProbeError::NotReady(format!("database does not answer: {error}")))
    }
}

/// Applies pending migrations; refuses a database that has migrations this
/// build does not know (it was migrated by a newer version).
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), ProbeError> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        // WAL lets readers run beside the writer; it persists in the file.
        db.execute_unprepared("PRAGMA journal_mode=WAL").await.map_err(not_ready)?;
    }
    let known: std::collections::HashSet<String> =
        M::migrations().iter().map(|migration| migration.name().to_owned()).collect();
    // The raw rows of the migration table: sea-orm's own status listing fails
    // with a generic error on an unknown row, which would read as "not ready".
    let applied = M::get_migration_models(db).await.map_err(not_ready)?;
    if let Some(unknown) = applied.iter().find(|migration| !known.contains(&migration.version)) {
        return Err(ProbeError::Fatal(format!(
            "database schema is newer than this build: migration {} is unknown; upgrade the service",
            unknown.version
        )));
    }
    M::up(db, None).await.map_err(not_ready)
}

fn not_ready(error: DbErr) -> ProbeError {
    ProbeError::NotReady(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::{DbErr, sqlite_file_path, without_url};

    #[test]
    fn sqlite_paths_are_found() {
        assert_eq!(sqlite_file_path("sqlite://data/profile.db?mode=rwc"), Some("data/profile.db"));
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://localhost/test"), None);
    }

    #[tokio::test]
    async fn an_unusable_url_is_reported_without_its_password() {
        for url in ["postgres://patron:hunter2@db:notaport/patron", "mysql://patron:hunter2@db/patron"] {
            let config = crate::config::DatabaseConfig {
                url: secrecy::SecretString::from(url.to_owned()),
                ..crate::config::DatabaseConfig::default()
            };
            let error = super::connect(&config).await.expect_err("refused");
            let message = error.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("[REDACTED]"), "{message}");
        }
        let other = DbErr::Custom("no url here".into());
        assert_eq!(without_url(other, "postgres://a:b@c/d").to_string(), "Custom Error: no url here");
    }

    /// A migration slower than the health watcher's check timeout: each
    /// check is cancelled, but the migration is not.
    mod slow {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;

        use sea_orm_migration::prelude::*;

        pub static STARTED: AtomicUsize = AtomicUsize::new(0);

        pub struct Migrator;

        #[async_trait::async_trait]
        impl MigratorTrait for Migrator {
            fn migrations() -> Vec<Box<dyn MigrationTrait>> {
                vec![Box::new(Slow)]
            }
        }

        struct Slow;

        impl MigrationName for Slow {
            fn name(&self) -> &str {
                "m20260101_000001_slow"
            }
        }

        #[async_trait::async_trait]
        impl MigrationTrait for Slow {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                STARTED.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(600)).await;
                manager.get_connection().execute_unprepared("CREATE TABLE slow (id INTEGER PRIMARY KEY)").await?;
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn a_migration_longer_than_a_check_finishes_across_cancelled_checks() {
        use crate::server::ReadinessProbe;
        let db = sea_orm::Database::connect("sqlite::memory:").await.expect("in-memory SQLite");
        let probe = super::StoreProbe::<slow::Migrator>::new(db);
        let started = std::time::Instant::now();
        let mut checks = 0;
        loop {
            checks += 1;
            let checked = tokio::time::timeout(std::time::Duration::from_millis(100), probe.check()).await;
            if matches!(checked, Ok(Ok(()))) {
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "never ready: {checked:?}");
        }
        assert!(checks > 1, "the first checks were cut off by their timeout");
        assert_eq!(slow::STARTED.load(std::sync::atomic::Ordering::SeqCst), 1, "one migration, not one per check");
    }
}
