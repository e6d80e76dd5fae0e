//! Migrations as Kubernetes runs them: `patron-<service> --migrate-only` in the
//! migration Job, and services refusing a schema newer than they know. On a
//! fresh SQLite file and a fresh PostgreSQL database each.

use std::process::Output;
use std::time::{Duration, Instant};

use patron_tests::binaries_dir;
use tokio::process::Command;

/// A fresh, empty database URL; PostgreSQL ones are created with `psql`.
struct FreshDatabase {
    url: String,
    postgres_name: Option<String>,
}

impl FreshDatabase {
    fn sqlite(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!("patron-migration-{label}-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Self { url: format!("sqlite://{}?mode=rwc", path.display()), postgres_name: None }
    }

    fn postgres(label: &str) -> Self {
        let name = format!("patron_migration_{label}_{}", std::process::id());
        psql(&format!("DROP DATABASE IF EXISTS {name}"));
        psql(&format!("CREATE DATABASE {name}"));
        Self { url: format!("postgres://postgres@127.0.0.1:5432/{name}"), postgres_name: Some(name) }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        match &self.postgres_name {
            Some(name) => psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
            None => {
                let path = self.url.trim_start_matches("sqlite://").trim_end_matches("?mode=rwc").to_owned();
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{suffix}"));
                }
            }
        }
    }
}

fn psql(statement: &str) {
    let status = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-c", statement])
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .status()
        .expect("psql runs (PostgreSQL client tools are installed)");
    assert!(status.success(), "psql -c {statement:?} failed");
}

/// Runs a service binary against `url` with `args`, as a container would.
async fn run(service: &str, url: &str, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(binaries_dir().join(format!("patron-{service}")))
        .args(args)
        .env("PATRON_DATABASE__URL", url)
        .env("PATRON_SERVER__LISTEN_ADDR", "127.0.0.1:0")
        .env("PATRON_TELEMETRY__LOG_FILTER", "info")
        .env("PATRON_TELEMETRY__LOG_FORMAT", "text")
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), output)
        .await
        .expect("the process ends by itself")
        .expect("the service binary is built");
    (output, started.elapsed())
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

async fn migrate_only_applies_the_migrations_then_exits_and_is_idempotent(database: FreshDatabase) {
    let (first, _) = run("profile", &database.url, &["--migrate-only"]).await;
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("Applying migration"), "{}", text(&first));
    assert!(text(&first).contains("migrations applied"), "{}", text(&first));

    // The Job may run again on every release: nothing left to apply is a success.
    let (second, _) = run("profile", &database.url, &["--migrate-only"]).await;
    assert!(second.status.success(), "{}", text(&second));
    assert!(!text(&second).contains("Applying migration"), "{}", text(&second));
}

async fn a_schema_newer_than_the_build_is_refused_at_once(database: FreshDatabase) {
    // A database carrying migrations the segmentation build has never seen
    // (the profile service's), as after a newer release migrated it.
    let (migrated, _) = run("profile", &database.url, &["--migrate-only"]).await;
    assert!(migrated.status.success(), "{}", text(&migrated));

    let (job, elapsed) = run("segmentation", &database.url, &["--migrate-only"]).await;
    assert!(!job.status.success(), "{}", text(&job));
    assert!(text(&job).contains("database schema is newer than this build"), "{}", text(&job));
    // Refused, not retried as "database not ready" until the one-minute wait ends.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");

    // The service itself stops instead of serving.
    let (service, elapsed) = run("segmentation", &database.url, &[]).await;
    assert!(!service.status.success(), "{}", text(&service));
    assert!(text(&service).contains("database schema is newer than this build"), "{}", text(&service));
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

mod sqlite {
    use super::FreshDatabase;

    #[tokio::test]
    async fn migrate_only_applies_the_migrations_then_exits_and_is_idempotent() {
        let _shared = crate::alone::shared().await; // the overload test runs alone
        super::migrate_only_applies_the_migrations_then_exits_and_is_idempotent(FreshDatabase::sqlite("idempotent"))
            .await;
    }

    #[tokio::test]
    async fn a_schema_newer_than_the_build_is_refused_at_once() {
        let _shared = crate::alone::shared().await; // the overload test runs alone
        super::a_schema_newer_than_the_build_is_refused_at_once(FreshDatabase::sqlite("newer")).await;
    }
}

mod postgres {
    use super::FreshDatabase;

    #[tokio::test]
    async fn migrate_only_applies_the_migrations_then_exits_and_is_idempotent() {
        let _shared = crate::alone::shared().await; // the overload test runs alone
        super::migrate_only_applies_the_migrations_then_exits_and_is_idempotent(FreshDatabase::postgres("idempotent"))
            .await;
    }

    #[tokio::test]
    async fn a_schema_newer_than_the_build_is_refused_at_once() {
        let _shared = crate::alone::shared().await; // the overload test runs alone
        super::a_schema_newer_than_the_build_is_refused_at_once(FreshDatabase::postgres("newer")).await;
    }
}
