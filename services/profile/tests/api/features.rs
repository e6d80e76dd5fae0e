//! The feature export, checked against the published CDNOW summary.

use std::collections::HashMap;

use patron_proto::common::v1::TimeUnit;
use patron_proto::profile::v1 as pb;
use tokio_stream::StreamExt;

use crate::helpers::{Store, spawn_app};
use crate::import::import;

on_every_store!(cdnow_import_reproduces_the_published_summary, nothing_after_the_cutoff_leaks_in);

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cdnow").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn utc(year: i32, month: u32, day: u32) -> prost_types::Timestamp {
    midnight(chrono::NaiveDate::from_ymd_opt(year, month, day).expect("valid date"))
}

fn midnight(date: chrono::NaiveDate) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: date.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp(), nanos: 0 }
}

/// The transactions as import rows: one total-only order per row, keyed so a
/// re-import is idempotent.
fn cdnow_rows() -> Vec<pb::ImportRow> {
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    fixture("cdnow_sample_transactions.txt")
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (sample_id, date, amount) = (fields[1], fields[2], fields[4]);
            let occurrence = seen.entry((sample_id.to_owned(), date.to_owned())).or_insert(0);
            *occurrence += 1;
            let (dollars, cents) = amount.split_once('.').unwrap_or((amount, "0"));
            let minor = dollars.parse::<i64>().unwrap() * 100 + format!("{cents:0<2}").parse::<i64>().unwrap();
            let day = chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap();
            pb::ImportRow {
                line: index as i64 + 1,
                record: Some(pb::import_row::Record::Order(pb::OrderRow {
                    order_id: format!("cdnow-{sample_id}-{date}-{occurrence}"),
                    customer_id: sample_id.trim_start_matches('0').to_owned(),
                    place_time: Some(midnight(day)),
                    channel: pb::SalesChannel::Web as i32,
                    currency_code: "USD".into(),
                    status: pb::OrderStatus::Completed as i32,
                    total_minor: minor,
                    ..Default::default()
                })),
            }
        })
        .collect()
}

async fn export(
    app: &mut crate::helpers::TestApp,
    request: pb::ExportCustomerFeaturesRequest,
) -> Vec<pb::CustomerFeatures> {
    let mut stream = app.client.export_customer_features(request).await.unwrap().into_inner();
    let mut rows = Vec::new();
    while let Some(batch) = stream.next().await {
        rows.extend(batch.unwrap().rows);
    }
    rows
}

async fn cdnow_import_reproduces_the_published_summary(store: Store) {
    let mut app = spawn_app(store).await;
    let rows = cdnow_rows();
    assert_eq!(rows.len(), 6_919);
    let batches: Vec<Vec<pb::ImportRow>> = rows.chunks(1_000).map(<[_]>::to_vec).collect();
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Orders, batches).await.unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(progress.rows_written, 6_919);

    let exported = export(
        &mut app,
        pb::ExportCustomerFeaturesRequest {
            as_of: Some(utc(1997, 10, 1)),
            time_unit: TimeUnit::Weeks as i32,
            batch_size: 500,
            ..Default::default()
        },
    )
    .await;
    let by_id: HashMap<&str, &pb::CustomerFeatures> =
        exported.iter().map(|row| (row.customer_id.as_str(), row)).collect();
    let summary = fixture("cdnow_sample_summary.csv");
    let mut checked = 0;
    for line in summary.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (id, x, t_x, age, zbar) = (fields[0], fields[1], fields[2], fields[3], fields[4]);
        let row = by_id.get(id).unwrap_or_else(|| panic!("customer {id} exported"));
        assert_eq!(row.frequency, x.parse::<i64>().unwrap(), "x of {id}");
        assert!((row.recency - t_x.parse::<f64>().unwrap()).abs() <= 0.005 + 1e-9, "t_x of {id}: {}", row.recency);
        assert!((row.age - age.parse::<f64>().unwrap()).abs() <= 0.005 + 1e-9, "T of {id}: {}", row.age);
        let mean_repeat_dollars = row.monetary_value / 100.0;
        assert!(
            (mean_repeat_dollars - zbar.parse::<f64>().unwrap()).abs() <= 0.005 + 1e-9,
            "zbar of {id}: {mean_repeat_dollars}"
        );
        checked += 1;
    }
    assert_eq!(checked, 2_357);
    assert_eq!(exported.len(), 2_357, "every customer exported exactly once");
    app.stop().await.unwrap();
}

async fn nothing_after_the_cutoff_leaks_in(store: Store) {
    let mut app = spawn_app(store).await;
    let order = |id: &str, day: u32, total: i64| pb::Order {
        order_id: id.into(),
        customer_id: "c-1".into(),
        place_time: Some(utc(2024, 3, day)),
        channel: pb::SalesChannel::Store as i32,
        currency_code: "USD".into(),
        status: pb::OrderStatus::Completed as i32,
        total_minor: total,
        ..Default::default()
    };
    for (id, day, total) in [("o-1", 1, 1_000), ("o-2", 5, 2_000), ("o-3", 20, 9_999)] {
        app.client
            .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order(id, day, total)) })
            .await
            .unwrap();
    }
    let contact = pb::SupportContact {
        contact_id: "k-1".into(),
        customer_id: "c-1".into(),
        channel: pb::ContactChannel::Email as i32,
        complaint: true,
        open_time: Some(utc(2024, 3, 15)),
        ..Default::default()
    };
    app.client
        .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact) })
        .await
        .unwrap();

    let rows =
        export(&mut app, pb::ExportCustomerFeaturesRequest { as_of: Some(utc(2024, 3, 10)), ..Default::default() })
            .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.frequency, row.orders, row.revenue_minor), (1, 2, 3_000));
    assert_eq!((row.recency, row.age), (4.0, 8.0), "days, to the last day before the cutoff");
    assert_eq!(row.contacts, 0, "the contact is after the cutoff");
    assert_eq!(row.time_unit, TimeUnit::Days as i32);
    app.stop().await.unwrap();
}
