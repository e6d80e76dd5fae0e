//! Crash-safe import: the profile service is killed with SIGKILL at random
//! points of a streamed import, restarted, and the same file imported again,
//! at least 15 times per store. At the end the store holds exactly the file:
//! no row lost, none doubled, every order's total consistent with its lines
//! (no half-written batch), and the store's own integrity check passes.

use std::collections::HashSet;
use std::time::Duration;

use patron_tests::bench_profile::{ProfileProcess, ScratchDatabase, Workload};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const KILLS: usize = 15;

fn workload() -> Workload {
    Workload { order_lines: 30_000, customers: 2_000, lines_per_order: 3 }
}

/// What the file holds: orders, lines, distinct customers and the sum of line amounts.
fn expected(workload: &Workload) -> (i64, i64, i64, i64) {
    let mut orders = HashSet::new();
    let mut customers = HashSet::new();
    let mut amount = 0;
    for index in 0..workload.order_lines {
        let row = workload.row(index);
        orders.insert(row.order_id);
        customers.insert(row.customer_id);
        amount += row.quantity * row.unit_price_minor - row.discount_minor;
    }
    (orders.len() as i64, workload.order_lines as i64, customers.len() as i64, amount)
}

/// A reproducible delay in [50 ms, 1.5 s) for kill number `attempt`.
fn kill_delay(attempt: usize) -> Duration {
    let mixed = (attempt as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    Duration::from_millis(50 + mixed % 1_450)
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get_by_index::<i64>(0)
        .or_else(|_| row.try_get_by_index::<Option<i64>>(0).map(Option::unwrap_or_default))
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

async fn kill_and_resume(database_url: &str) {
    let bin_dir = patron_tests::binaries_dir();
    let workload = workload();
    for attempt in 0..KILLS {
        let profile = ProfileProcess::start(&bin_dir, database_url).await.expect("profile starts");
        let channel = profile.channel();
        let import = tokio::spawn(async move { workload_import(channel).await });
        tokio::time::sleep(kill_delay(attempt)).await;
        drop(profile); // SIGKILL, mid-import or not
        let _ = import.await;
    }
    let profile = ProfileProcess::start(&bin_dir, database_url).await.expect("profile starts");
    workload.import(profile.channel()).await.expect("the import completes after the crashes");
    drop(profile);
}

async fn workload_import(channel: tonic::transport::Channel) -> Result<Duration, tonic::Status> {
    workload().import(channel).await
}

async fn assert_store_holds_exactly_the_file(database_url: &str) {
    let (orders, lines, customers, amount) = expected(&workload());
    let db = Database::connect(database_url).await.expect("open the store");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM order_lines").await, lines, "order lines");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM orders").await, orders, "orders");
    assert_eq!(scalar(&db, "SELECT COUNT(DISTINCT external_id) FROM orders").await, orders, "distinct order ids");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM customers").await, customers, "customers");
    assert_eq!(scalar(&db, "SELECT COUNT(DISTINCT external_id) FROM customers").await, customers, "distinct customers");
    assert_eq!(
        scalar(&db, "SELECT CAST(SUM(quantity * unit_price_minor - discount_minor) AS BIGINT) FROM order_lines").await,
        amount,
        "sum of line amounts"
    );
    assert_eq!(scalar(&db, "SELECT CAST(SUM(total_minor) AS BIGINT) FROM orders").await, amount, "sum of order totals");
    let inconsistent = "SELECT COUNT(*) FROM orders o WHERE o.total_minor <> \
        (SELECT COALESCE(SUM(l.quantity * l.unit_price_minor - l.discount_minor), 0) FROM order_lines l \
         WHERE l.order_id = o.id)";
    assert_eq!(scalar(&db, inconsistent).await, 0, "orders whose total disagrees with their lines");
    let orphans = "SELECT COUNT(*) FROM order_lines l LEFT JOIN orders o ON o.id = l.order_id WHERE o.id IS NULL";
    assert_eq!(scalar(&db, orphans).await, 0, "lines without their order");
    if db.get_database_backend() == DbBackend::Sqlite {
        let check = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA integrity_check".to_owned()))
            .await
            .expect("integrity check")
            .expect("a result row");
        assert_eq!(check.try_get_by_index::<String>(0).expect("text"), "ok");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_import_survives_sigkill() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let path = std::env::temp_dir().join(format!("patron-crash-import-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    kill_and_resume(&url).await;
    assert_store_holds_exactly_the_file(&url).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_import_survives_sigkill() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let database = ScratchDatabase::create("patron_crash_import").expect("scratch database");
    kill_and_resume(&database.url()).await;
    assert_store_holds_exactly_the_file(&database.url()).await;
}
