//! Which orders each exported feature counts: completed ones before the
//! cutoff in the export's currency, returns apart, category breadth over the
//! lines of completed orders, and buyers only unless non-buyers are asked for.

use patron_proto::profile::v1 as pb;
use tokio_stream::StreamExt;

use crate::helpers::{Store, TestApp, spawn_app, utc};

on_every_store!(each_feature_counts_exactly_the_orders_it_should);

fn line(category: &str) -> pb::OrderLine {
    pb::OrderLine {
        sku: format!("sku-{category}"),
        category: category.into(),
        quantity: 1,
        unit_price_minor: 100,
        ..Default::default()
    }
}

async fn record(
    app: &mut TestApp,
    (id, customer, day, currency): (&str, &str, u32, &str),
    status: pb::OrderStatus,
    channel: pb::SalesChannel,
    total_minor: i64,
    categories: &[&str],
) {
    let order = pb::Order {
        order_id: id.into(),
        customer_id: customer.into(),
        place_time: utc(2024, 3, day, 12),
        channel: channel as i32,
        currency_code: currency.into(),
        status: status as i32,
        total_minor,
        lines: categories.iter().copied().map(line).collect(),
        ..Default::default()
    };
    app.client.record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) }).await.unwrap();
}

async fn export(app: &mut TestApp, request: pb::ExportCustomerFeaturesRequest) -> Vec<pb::CustomerFeatures> {
    let mut stream = app.client.export_customer_features(request).await.unwrap().into_inner();
    let mut rows = Vec::new();
    while let Some(batch) = stream.next().await {
        rows.extend(batch.unwrap().rows);
    }
    rows
}

async fn each_feature_counts_exactly_the_orders_it_should(store: Store) {
    use pb::OrderStatus::{Cancelled, Completed, Returned};
    use pb::SalesChannel::{Store as InStore, Web};
    let mut app = spawn_app(store).await;
    let customer = pb::Customer { customer_id: "never-bought".into(), ..Default::default() };
    app.client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
        .await
        .unwrap();
    // Totals with lines follow the lines (100 each), so these orders' totals are 200.
    record(&mut app, ("x-1", "x", 1, "USD"), Completed, Web, 0, &["shoes", "hats"]).await;
    record(&mut app, ("x-2", "x", 5, "USD"), Completed, InStore, 0, &["shoes", "socks"]).await;
    record(&mut app, ("x-3", "x", 6, "USD"), Cancelled, Web, 0, &["bags"]).await;
    record(&mut app, ("x-4", "x", 7, "USD"), Returned, Web, 0, &["gloves"]).await;
    record(&mut app, ("x-5", "x", 20, "USD"), Completed, Web, 0, &["belts"]).await;
    record(&mut app, ("x-6", "x", 8, "EUR"), Completed, Web, 5_000, &[]).await;
    record(&mut app, ("x-7", "x", 8, "USD"), Completed, Web, 700, &[]).await;
    record(&mut app, ("y-1", "y", 2, "USD"), Cancelled, Web, 900, &[]).await;
    record(&mut app, ("y-2", "y", 3, "USD"), Returned, Web, 900, &[]).await;

    let as_of = utc(2024, 3, 10, 0);
    let rows = export(&mut app, pb::ExportCustomerFeaturesRequest { as_of, ..Default::default() }).await;
    let ids: Vec<&str> = rows.iter().map(|row| row.customer_id.as_str()).collect();
    assert_eq!(ids, ["x"], "buyers only");
    let x = &rows[0];
    assert_eq!((x.orders, x.revenue_minor, x.frequency), (3, 1_100, 2), "x-1, x-2, x-7: USD, completed, before");
    assert_eq!(x.returns, 1);
    assert_eq!(x.category_count, 3, "shoes, hats, socks: the lines of completed orders before the cutoff");
    assert!((x.share_web - 2.0 / 3.0).abs() < 1e-12 && (x.share_store - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!((x.recency, x.age), (7.0, 8.0), "days 1 to 8, and to day 9");

    let request = pb::ExportCustomerFeaturesRequest { as_of, include_non_buyers: true, ..Default::default() };
    let everyone = export(&mut app, request).await;
    let summary: Vec<(&str, i64, i64)> =
        everyone.iter().map(|row| (row.customer_id.as_str(), row.orders, row.returns)).collect();
    assert_eq!(summary, [("never-bought", 0, 0), ("x", 3, 1), ("y", 0, 1)], "in creation order");

    let request = pb::ExportCustomerFeaturesRequest {
        as_of,
        customer_ids: vec!["y".into(), "x".into(), "never-bought".into()],
        ..Default::default()
    };
    let chosen: Vec<String> = export(&mut app, request).await.into_iter().map(|row| row.customer_id).collect();
    assert_eq!(chosen, ["x"], "of the listed customers, the buyers");

    let request = pb::ExportCustomerFeaturesRequest { as_of, currency_code: "EUR".into(), ..Default::default() };
    let euros = export(&mut app, request).await;
    assert_eq!(euros.iter().map(|row| (row.customer_id.as_str(), row.orders)).collect::<Vec<_>>(), [("x", 1)]);
    app.stop().await.unwrap();
}
