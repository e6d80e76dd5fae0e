//! The reports' order rollup follows writes by applying just the changed
//! orders: after each kind of write, a service that has been serving reports
//! all along answers exactly as a service that reads every order afresh.

use patron_proto::common::v1::TimeWindow;
use patron_proto::profile::v1 as pb;
use tokio_stream::StreamExt;

use crate::helpers::{AppOptions, Store, TestApp, spawn_app, spawn_with, utc};

on_every_store!(
    reports_after_each_kind_of_write_equal_a_fresh_read,
    a_folded_change_log_still_brings_every_replica_up_to_date,
);

fn day(month: u32, day: u32) -> Option<prost_types::Timestamp> {
    utc(2024, month, day, 12)
}

fn line(category: &str, quantity: i64, price: i64, cost: Option<i64>) -> pb::OrderLine {
    pb::OrderLine {
        sku: format!("sku-{category}"),
        category: category.into(),
        quantity,
        unit_price_minor: price,
        unit_cost_minor: cost,
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
async fn record(
    app: &mut TestApp,
    id: &str,
    customer: &str,
    at: Option<prost_types::Timestamp>,
    total: i64,
    store: &str,
    status: pb::OrderStatus,
    lines: Vec<pb::OrderLine>,
) {
    let order = pb::Order {
        order_id: id.into(),
        customer_id: customer.into(),
        place_time: at,
        channel: pb::SalesChannel::Store as i32,
        store_id: store.into(),
        currency_code: "USD".into(),
        status: status as i32,
        total_minor: total,
        lines,
        ..Default::default()
    };
    app.client.record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) }).await.unwrap();
}

fn imported(line: i64, order: &str, customer: &str, day_of_march: u32, status: pb::OrderStatus) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Order(pb::OrderRow {
            order_id: order.into(),
            customer_id: customer.into(),
            place_time: day(3, day_of_march),
            channel: pb::SalesChannel::Web as i32,
            store_id: "s-2".into(),
            region: "north".into(),
            currency_code: "USD".into(),
            status: status as i32,
            line_number: 1,
            sku: "sku-bags".into(),
            category: "bags".into(),
            quantity: 3,
            unit_price_minor: 700,
            unit_cost_minor: Some(400),
            ..Default::default()
        })),
    }
}

async fn import(app: &mut TestApp, request_id: &str, rows: Vec<pb::ImportRow>) {
    let messages = vec![
        pb::ImportRecordsRequest {
            payload: Some(pb::import_records_request::Payload::Header(pb::ImportHeader {
                request_id: request_id.into(),
                kind: pb::ImportKind::Orders as i32,
                source: "refresh.csv".into(),
            })),
        },
        pb::ImportRecordsRequest {
            payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch { rows })),
        },
    ];
    let mut answers = app.client.import_records(tokio_stream::iter(messages)).await.unwrap().into_inner();
    while let Some(answer) = answers.next().await {
        let answer = answer.unwrap();
        assert!(answer.errors.is_empty(), "{:?}", answer.errors);
    }
}

fn window(start_month: u32, end_month: u32) -> Option<TimeWindow> {
    Some(TimeWindow { start_time: utc(2024, start_month, 1, 0), end_time: utc(2024, end_month, 1, 0) })
}

/// Every report the rollup feeds, over a few windows and filters.
async fn reports(app: &mut TestApp) -> Vec<String> {
    let filters = [
        None,
        Some(pb::ReportFilter { store_id: "s-2".into(), ..Default::default() }),
        Some(pb::ReportFilter { customer_ids: vec!["A".into(), "E".into()], ..Default::default() }),
    ];
    let mut answers = Vec::new();
    for (start, end) in [(3, 4), (1, 5)] {
        for filter in &filters {
            let request = pb::GetKpisRequest { window: window(start, end), filter: filter.clone() };
            answers.push(format!("{:?}", app.client.get_kpis(request).await.unwrap().into_inner()));
            let request = pb::GetParetoReportRequest {
                window: window(start, end),
                filter: filter.clone(),
                customer_shares: vec![0.2, 0.5],
                ..Default::default()
            };
            answers.push(format!("{:?}", app.client.get_pareto_report(request).await.unwrap().into_inner()));
        }
    }
    answers
}

/// The reports of a second service on the same database, which reads every order at its first report.
async fn fresh_reports(app: &TestApp) -> Vec<String> {
    let options = AppOptions { database_url: app.database_url.clone(), ..AppOptions::on(Store::Sqlite).await };
    let mut fresh = spawn_with(options).await;
    // Not stopped: stopping removes the database, which the first service still uses.
    reports(&mut fresh).await
}

async fn assert_up_to_date(app: &mut TestApp, after: &str) {
    let served = reports(app).await;
    assert_eq!(served, fresh_reports(app).await, "reports after {after}");
}

async fn seed(app: &mut TestApp) {
    use pb::OrderStatus::{Completed, Returned};
    record(app, "a-1", "A", day(2, 10), 1_000, "s-1", Completed, vec![]).await;
    record(app, "a-2", "A", day(3, 5), 2_000, "s-1", Completed, vec![line("shoes", 2, 1_000, Some(600))]).await;
    record(app, "b-1", "B", day(3, 8), 3_000, "s-2", Completed, vec![]).await;
    record(app, "c-1", "C", day(3, 9), 900, "s-1", Returned, vec![]).await;
    record(app, "anon", "", day(3, 12), 700, "s-1", Completed, vec![]).await;
}

async fn kpi_orders(app: &mut TestApp) -> i64 {
    let request = pb::GetKpisRequest { window: window(3, 4), filter: None };
    app.client.get_kpis(request).await.unwrap().into_inner().kpis.unwrap().orders
}

async fn reports_after_each_kind_of_write_equal_a_fresh_read(store: Store) {
    use pb::OrderStatus::{Cancelled, Completed, Returned};
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    assert_eq!(kpi_orders(&mut app).await, 3);
    assert_up_to_date(&mut app, "the seed").await;

    // A new order, earlier in time than most: merged into the middle of the rollup.
    record(&mut app, "d-1", "D", day(3, 2), 4_000, "s-2", Completed, vec![line("hats", 1, 4_000, Some(1_000))]).await;
    assert_eq!(kpi_orders(&mut app).await, 4);
    assert_up_to_date(&mut app, "a recorded order").await;

    // Status changes: completed -> cancelled leaves the rollup, returned -> completed re-enters it.
    record(&mut app, "b-1", "B", day(3, 8), 3_000, "s-2", Cancelled, vec![]).await;
    record(&mut app, "c-1", "C", day(3, 9), 900, "s-1", Completed, vec![]).await;
    assert_eq!(kpi_orders(&mut app).await, 4);
    assert_up_to_date(&mut app, "status changes").await;

    // An order's lines and total change (its margin with them); another moves in time.
    record(
        &mut app,
        "a-2",
        "A",
        day(3, 5),
        3_500,
        "s-1",
        Completed,
        vec![line("shoes", 2, 1_000, Some(600)), line("socks", 3, 500, None)],
    )
    .await;
    record(&mut app, "a-1", "A", day(3, 20), 1_000, "s-1", Returned, vec![]).await;
    assert_up_to_date(&mut app, "changed lines and a moved order").await;

    // A bulk import: new orders for a new customer, and a change to an imported one on re-import.
    import(&mut app, "refresh-1", vec![imported(2, "e-1", "E", 14, Completed), imported(3, "e-2", "E", 21, Completed)])
        .await;
    assert_eq!(kpi_orders(&mut app).await, 6);
    assert_up_to_date(&mut app, "an import").await;
    import(&mut app, "refresh-2", vec![imported(2, "e-2", "E", 21, Returned)]).await;
    assert_eq!(kpi_orders(&mut app).await, 5);
    assert_up_to_date(&mut app, "a re-import changing a status").await;

    // Erasure: the customer's orders stay, as anonymous revenue.
    app.client
        .erase_customer(pb::EraseCustomerRequest {
            request_id: String::new(),
            customer_id: "A".into(),
            reason: "test".into(),
        })
        .await
        .unwrap();
    assert_eq!(kpi_orders(&mut app).await, 5);
    assert_up_to_date(&mut app, "an erasure").await;
    app.stop().await.unwrap();
}

async fn logged_changes(db: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::ConnectionTrait;
    let table = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "report_changes",
        _ => "report_change_log",
    };
    let statement =
        sea_orm::Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}"));
    db.query_one_raw(statement).await.unwrap().unwrap().try_get("", "n").unwrap()
}

/// A second service that read the log before the first folded it reloads in
/// full; both end up with exactly the data.
async fn a_folded_change_log_still_brings_every_replica_up_to_date(store: Store) {
    use sea_orm::ConnectionTrait;
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let options = AppOptions { database_url: app.database_url.clone(), ..AppOptions::on(Store::Sqlite).await };
    let mut replica = spawn_with(options).await;
    assert_eq!(reports(&mut app).await, reports(&mut replica).await);

    // As if 1,500 writes had each changed one order since then.
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let bloat = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO report_changes (order_ids) SELECT ARRAY[MIN(id)] FROM orders, generate_series(1, 1500) AS n \
             GROUP BY n"
        }
        _ => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) \
             INSERT INTO report_change_log (order_id) SELECT (SELECT MIN(id) FROM orders) FROM n"
        }
    };
    db.execute_unprepared(bloat).await.unwrap();
    assert!(logged_changes(&db).await > 1_500);
    let served = reports(&mut app).await;
    // A fold runs after each refresh, off the request path, and deletes what
    // every running transaction has seen: transactions of other tests on the
    // same cluster can hold that back, so writes (and refreshes) go on until it has.
    let started = std::time::Instant::now();
    let mut round = 0;
    while logged_changes(&db).await > 100 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the log was not folded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let id = format!("fold-{round}");
        record(&mut app, &id, "B", day(3, 29), 100, "s-1", pb::OrderStatus::Completed, vec![]).await;
        kpi_orders(&mut app).await;
        round += 1;
    }

    record(&mut app, "h-1", "A", day(3, 30), 5_000, "s-1", pb::OrderStatus::Completed, vec![]).await;
    let after_fold = reports(&mut app).await;
    assert_ne!(served, after_fold, "the write after the fold is seen");
    assert_eq!(after_fold, reports(&mut replica).await, "the replica that missed the folded rows caught up");
    assert_eq!(after_fold, fresh_reports(&app).await);
    db.close().await.unwrap();
    app.stop().await.unwrap();
}
