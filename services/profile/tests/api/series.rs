use patron_proto::common::v1::TimeWindow;
use patron_proto::profile::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::{Store, TestApp, spawn_app, utc};

on_every_store!(series_are_complete_per_level_and_granularity);

fn day(month: u32, day: u32) -> Option<prost_types::Timestamp> {
    utc(2024, month, day, 12)
}

fn midnight(month: u32, day: u32) -> Option<prost_types::Timestamp> {
    utc(2024, month, day, 0)
}

async fn export(
    app: &mut TestApp,
    request: pb::ExportSalesSeriesRequest,
) -> Result<Vec<pb::SeriesPoint>, tonic::Status> {
    let mut stream = app.client.export_sales_series(request).await?.into_inner();
    let mut points = Vec::new();
    while let Some(batch) = stream.next().await {
        points.extend(batch?.points);
    }
    Ok(points)
}

async fn series_are_complete_per_level_and_granularity(store: Store) {
    let mut app = spawn_app(store).await;
    let line = |sku: &str, quantity: i64, price: i64| pb::OrderLine {
        sku: sku.into(),
        category: "c".into(),
        quantity,
        unit_price_minor: price,
        ..Default::default()
    };
    for (id, customer, at, store, lines) in [
        ("o-1", "A", day(3, 4), "s-1", vec![line("sku-1", 2, 100), line("sku-2", 1, 50)]),
        ("o-2", "B", day(3, 4), "s-2", vec![line("sku-1", 1, 100)]),
        ("o-3", "A", day(3, 13), "s-1", vec![line("sku-2", 3, 50)]),
    ] {
        let order = pb::Order {
            order_id: id.into(),
            customer_id: customer.into(),
            place_time: at,
            channel: pb::SalesChannel::Store as i32,
            store_id: store.into(),
            currency_code: "USD".into(),
            lines,
            ..Default::default()
        };
        app.client
            .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) })
            .await
            .unwrap();
    }
    let window = Some(TimeWindow { start_time: midnight(3, 1), end_time: midnight(4, 1) });
    let request = |level: pb::SeriesLevel, granularity: pb::Granularity| pb::ExportSalesSeriesRequest {
        level: level as i32,
        granularity: granularity as i32,
        window,
        ..Default::default()
    };

    let daily = export(&mut app, request(pb::SeriesLevel::Total, pb::Granularity::Day)).await.unwrap();
    assert_eq!(daily.len(), 31, "every day of March, sales or not");
    let march_4 = &daily[3];
    assert_eq!((march_4.revenue_minor, march_4.units, march_4.orders), (350, 4, 2));
    assert_eq!(daily.iter().map(|point| point.revenue_minor).sum::<i64>(), 500);
    assert_eq!(daily[4].revenue_minor, 0, "missing days are zeros");

    let weekly = export(&mut app, request(pb::SeriesLevel::Sku, pb::Granularity::Week)).await.unwrap();
    // March 2024 touches the ISO weeks starting Feb 26, Mar 4, 11, 18 and 25.
    let sku_1: Vec<i64> = weekly.iter().filter(|point| point.key == "sku-1").map(|point| point.units).collect();
    let sku_2: Vec<i64> = weekly.iter().filter(|point| point.key == "sku-2").map(|point| point.units).collect();
    assert_eq!(sku_1, [0, 3, 0, 0, 0]);
    assert_eq!(sku_2, [0, 1, 3, 0, 0]);

    let by_store = export(&mut app, request(pb::SeriesLevel::Store, pb::Granularity::Month)).await.unwrap();
    let totals: Vec<(&str, i64)> = by_store.iter().map(|point| (point.key.as_str(), point.revenue_minor)).collect();
    assert_eq!(totals, [("s-1", 400), ("s-2", 100)]);

    // Named keys only: each one present, zeros where it never sold, others left out.
    let mut chosen = request(pb::SeriesLevel::Sku, pb::Granularity::Week);
    chosen.keys = vec!["sku-2".into(), "sku-9".into(), "'; DROP TABLE orders; --".into()];
    let chosen = export(&mut app, chosen).await.unwrap();
    let units =
        |key: &str| -> Vec<i64> { chosen.iter().filter(|point| point.key == key).map(|point| point.units).collect() };
    assert_eq!(units("sku-2"), [0, 1, 3, 0, 0]);
    assert_eq!(units("sku-9"), [0, 0, 0, 0, 0]);
    assert_eq!(units("'; DROP TABLE orders; --"), [0, 0, 0, 0, 0]);
    assert!(units("sku-1").is_empty(), "sku-1 was not asked for");
    let mut one_store = request(pb::SeriesLevel::Store, pb::Granularity::Month);
    one_store.keys = vec!["s-2".into()];
    let one_store = export(&mut app, one_store).await.unwrap();
    let totals: Vec<(&str, i64)> = one_store.iter().map(|point| (point.key.as_str(), point.revenue_minor)).collect();
    assert_eq!(totals, [("s-2", 100)]);
    let mut web = request(pb::SeriesLevel::Channel, pb::Granularity::Month);
    web.keys = vec!["web".into()];
    let web = export(&mut app, web).await.unwrap();
    let totals: Vec<(&str, i64)> = web.iter().map(|point| (point.key.as_str(), point.revenue_minor)).collect();
    assert_eq!(totals, [("web", 0)]);

    let mut segment = request(pb::SeriesLevel::Customers, pb::Granularity::Month);
    segment.customer_ids = vec!["B".into()];
    let members = export(&mut app, segment).await.unwrap();
    assert_eq!(members.iter().map(|point| point.revenue_minor).collect::<Vec<_>>(), [100]);

    let channels = export(&mut app, request(pb::SeriesLevel::Channel, pb::Granularity::Month)).await.unwrap();
    assert_eq!(channels.iter().map(|point| point.key.as_str()).collect::<Vec<_>>(), ["store"]);

    let mut bad = request(pb::SeriesLevel::Unspecified, pb::Granularity::Day);
    bad.window = None;
    let status = export(&mut app, bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("level") && status.message().contains("window"), "{}", status.message());
    app.stop().await.unwrap();
}
