//! The profile service's limits through gRPC, at the limit and one past it
//! (the rows of docs/limits.md). Where a request at the limit would start
//! real work, it carries one other deliberately bad field, so the answer
//! lists exactly the fields the limits refuse and nothing runs.

use patron_proto::common::v1::TimeWindow;
use patron_proto::profile::v1 as pb;
use pb::import_records_request::Payload;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{AppOptions, Store, TestApp, at, spawn_with};

const DAY: i64 = 86_400;
/// 2016-01-01 00:00 UTC.
const START: i64 = 1_451_606_400;

/// The fields an INVALID_ARGUMENT names, sorted.
fn refused_fields(result: Result<impl std::fmt::Debug, tonic::Status>) -> Vec<String> {
    let status = result.expect_err("the request has a bad field");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut fields: Vec<String> = status
        .get_details_bad_request()
        .expect("field violations attached")
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

fn window(days: i64) -> Option<TimeWindow> {
    Some(TimeWindow { start_time: at(START), end_time: at(START + days * DAY) })
}

/// A service allowed messages big enough for a million-id filter.
async fn spawn() -> TestApp {
    spawn_with(AppOptions { max_message_bytes: 16 * 1024 * 1024, ..AppOptions::on(Store::Sqlite).await }).await
}

/// Imports `rows` customers in one batch message; the server's answer.
async fn import_batch(app: &TestApp, rows: usize) -> Result<pb::ImportRecordsResponse, tonic::Status> {
    let rows = (0..rows)
        .map(|index| pb::ImportRow {
            line: index as i64 + 2,
            record: Some(pb::import_row::Record::Customer(pb::Customer {
                customer_id: format!("c-{index:05}"),
                ..Default::default()
            })),
        })
        .collect();
    let header = pb::ImportHeader { kind: pb::ImportKind::Customers as i32, ..Default::default() };
    let messages = [Payload::Header(header), Payload::Batch(pb::ImportBatch { rows })]
        .map(|payload| pb::ImportRecordsRequest { payload: Some(payload) });
    let mut answers = app.client.clone().import_records(tokio_stream::iter(messages)).await?.into_inner();
    let mut last = None;
    while let Some(answer) = answers.next().await {
        last = Some(answer?);
    }
    Ok(last.expect("a final answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_batches_and_pages_are_served_at_the_limit_and_refused_or_lowered_past_it() {
    let mut app = spawn().await;
    let done = import_batch(&app, 10_000).await.expect("10,000 rows per batch are accepted");
    assert_eq!(done.progress.expect("progress").rows_written, 10_000);
    assert_eq!(refused_fields(import_batch(&app, 10_001).await), ["batch.rows"]);

    for (asked, served) in [(1_000, 1_000), (1_001, 1_000), (i32::MAX, 1_000), (0, 100)] {
        let page = app
            .client
            .list_customers(pb::ListCustomersRequest { page_size: asked, ..Default::default() })
            .await
            .expect("a page")
            .into_inner();
        assert_eq!(page.customers.len(), served, "page_size {asked}");
    }
    let negative = app.client.list_customers(pb::ListCustomersRequest { page_size: -1, ..Default::default() }).await;
    assert_eq!(refused_fields(negative), ["page_size"]);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_lengths_and_counts_are_accepted_at_the_limit_and_refused_past_it() {
    let mut app = spawn().await;
    let customer = |extra: usize| pb::Customer {
        customer_id: "é".repeat(128 + extra),
        name: "é".repeat(256 + extra),
        email: format!("{}@example.com", "a".repeat(320 - "@example.com".len() + extra)),
        phone: "1".repeat(64 + extra),
        home_store_id: "s".repeat(128 + extra),
        region: "r".repeat(128 + extra),
        tags: (0..100 + extra).map(|index| format!("tag-{index}")).collect(),
        attributes: (0..100 + extra)
            .map(|index| {
                let text = if index == 0 { "t".repeat(4_096 + extra) } else { String::new() };
                (
                    format!("a-{index}"),
                    pb::AttributeValue { value: Some(pb::attribute_value::Value::StringValue(text)) },
                )
            })
            .collect(),
        // Refused at every size, so nothing is written.
        consents: vec![pb::Consent { channel: 99, state: pb::ConsentState::Granted as i32, update_time: None }],
        ..Default::default()
    };
    let create = |customer| pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) };
    let at_limit = refused_fields(app.client.create_customer(create(customer(0))).await);
    assert_eq!(at_limit, ["customer.consents[0].channel"]);
    let past = refused_fields(app.client.create_customer(create(customer(1))).await);
    assert_eq!(
        past,
        [
            "customer.attributes",
            "customer.attributes[\"a-0\"]",
            "customer.consents[0].channel",
            "customer.customer_id",
            "customer.email",
            "customer.home_store_id",
            "customer.name",
            "customer.phone",
            "customer.region",
            "customer.tags",
        ]
    );

    let order = |lines: usize| pb::Order {
        order_id: "o-1".into(),
        place_time: at(START),
        channel: pb::SalesChannel::Web as i32,
        // Refused at every size, so nothing is written.
        currency_code: "XXX-not-a-currency".into(),
        lines: (0..lines)
            .map(|index| pb::OrderLine {
                sku: format!("sku-{index}"),
                quantity: 1,
                unit_price_minor: 100,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let record = |order| pb::RecordOrderRequest { request_id: String::new(), order: Some(order) };
    assert_eq!(refused_fields(app.client.record_order(record(order(1_000))).await), ["order.currency_code"]);
    assert_eq!(
        refused_fields(app.client.record_order(record(order(1_001))).await),
        ["order.currency_code", "order.lines"]
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_export_limits_are_accepted_at_the_limit_and_refused_past_it() {
    let mut app = spawn().await;

    // Summary recent orders 0-50 (with an id holding a control character).
    let summary = |recent_orders| pb::GetCustomerSummaryRequest {
        customer_id: "c\u{1}".into(),
        recent_orders,
        ..Default::default()
    };
    assert_eq!(refused_fields(app.client.get_customer_summary(summary(50)).await), ["customer_id"]);
    assert_eq!(refused_fields(app.client.get_customer_summary(summary(51)).await), ["customer_id", "recent_orders"]);

    // Lapsed days 1-3,650 (with a negative page size).
    let lapsed = |days| pb::ListLapsedCustomersRequest { days, page_size: -1, ..Default::default() };
    assert_eq!(refused_fields(app.client.list_lapsed_customers(lapsed(3_650)).await), ["page_size"]);
    assert_eq!(refused_fields(app.client.list_lapsed_customers(lapsed(3_651)).await), ["days", "page_size"]);
    assert_eq!(refused_fields(app.client.list_lapsed_customers(lapsed(0)).await), ["days", "page_size"]);

    // Pareto top N 0-1,000 and the report filter's 1,000,000 customers (without a window).
    let ids = |count: usize| (0..count).map(|index| format!("{index:x}")).collect::<Vec<_>>();
    let pareto = |top_n, customer_ids| pb::GetParetoReportRequest {
        top_n,
        filter: Some(pb::ReportFilter { customer_ids, ..Default::default() }),
        ..Default::default()
    };
    assert_eq!(refused_fields(app.client.get_pareto_report(pareto(1_000, ids(1_000_000))).await), ["window"]);
    assert_eq!(
        refused_fields(app.client.get_pareto_report(pareto(1_001, ids(1_000_001))).await),
        ["filter.customer_ids", "top_n", "window"]
    );

    // Feature-export batches of 1-10,000 customers (with an unknown currency).
    let features = |batch_size| pb::ExportCustomerFeaturesRequest {
        batch_size,
        currency_code: "XXX-not-a-currency".into(),
        ..Default::default()
    };
    let client = app.client.clone();
    let exported = |request: pb::ExportCustomerFeaturesRequest| {
        let mut client = client.clone();
        async move { client.export_customer_features(request).await.map(|_| ()) }
    };
    assert_eq!(refused_fields(exported(features(10_000)).await), ["currency_code"]);
    assert_eq!(refused_fields(exported(features(10_001)).await), ["batch_size", "currency_code"]);

    // Sales-series windows of at most 3,660 days (with no granularity).
    let series = |days| pb::ExportSalesSeriesRequest {
        level: pb::SeriesLevel::Total as i32,
        window: window(days),
        ..Default::default()
    };
    let exported = |request: pb::ExportSalesSeriesRequest| {
        let mut client = client.clone();
        async move { client.export_sales_series(request).await.map(|_| ()) }
    };
    assert_eq!(refused_fields(exported(series(3_660)).await), ["granularity"]);
    assert_eq!(refused_fields(exported(series(3_661)).await), ["granularity", "window"]);
    app.stop().await.unwrap();
}
