use patron_proto::profile::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Store, at, spawn_app};

on_every_store!(record_get_and_list_orders, recording_again_updates_in_place, bad_order_is_rejected_whole);

pub fn order(id: &str, customer_id: &str, seconds: i64) -> pb::Order {
    pb::Order {
        order_id: id.to_owned(),
        customer_id: customer_id.to_owned(),
        place_time: at(seconds),
        channel: pb::SalesChannel::Web as i32,
        store_id: "web".to_owned(),
        region: "north".to_owned(),
        currency_code: "EUR".to_owned(),
        status: pb::OrderStatus::Completed as i32,
        lines: vec![
            pb::OrderLine {
                sku: "sku-1".into(),
                category: "shoes".into(),
                quantity: 2,
                unit_price_minor: 4_999,
                discount_minor: 998,
                unit_cost_minor: Some(2_000),
            },
            pb::OrderLine {
                sku: "sku-2".into(),
                category: "socks".into(),
                quantity: 1,
                unit_price_minor: 500,
                discount_minor: 0,
                unit_cost_minor: None,
            },
        ],
        total_minor: 0,
    }
}

async fn record_get_and_list_orders(store: Store) {
    let mut app = spawn_app(store).await;
    let recorded = app
        .client
        .record_order(pb::RecordOrderRequest {
            request_id: String::new(),
            order: Some(order("o-1", "c-1", 1_700_000_000)),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(recorded.created);
    let stored = recorded.order.unwrap();
    assert_eq!(stored.total_minor, 2 * 4_999 - 998 + 500, "total computed from the lines");
    assert_eq!(stored.lines.len(), 2);

    // The unknown customer was created as a bare record.
    let customer =
        app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap().into_inner();
    assert_eq!(customer.customer.unwrap().customer_id, "c-1");

    let mut total_only = order("o-2", "c-1", 1_700_100_000);
    total_only.lines.clear();
    total_only.total_minor = 1_234;
    app.client
        .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(total_only) })
        .await
        .unwrap();
    let mut anonymous = order("o-3", "", 1_700_200_000);
    anonymous.channel = pb::SalesChannel::Store as i32;
    app.client
        .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(anonymous) })
        .await
        .unwrap();

    let fetched =
        app.client.get_order(pb::GetOrderRequest { order_id: "o-1".into() }).await.unwrap().into_inner().order.unwrap();
    assert_eq!(fetched, stored);

    let mine = app
        .client
        .list_orders(pb::ListOrdersRequest { customer_id: "c-1".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = mine.orders.iter().map(|order| order.order_id.as_str()).collect();
    assert_eq!(ids, ["o-2", "o-1"], "newest first, only this customer's");

    let first_page = app
        .client
        .list_orders(pb::ListOrdersRequest { page_size: 2, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.orders.len(), 2);
    let second_page = app
        .client
        .list_orders(pb::ListOrdersRequest {
            page_size: 2,
            page_token: first_page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second_page.orders.iter().map(|order| order.order_id.as_str()).collect::<Vec<_>>(), ["o-1"]);
    assert!(second_page.next_page_token.is_empty());
    app.stop().await.unwrap();
}

async fn recording_again_updates_in_place(store: Store) {
    let mut app = spawn_app(store).await;
    let request = pb::RecordOrderRequest { request_id: String::new(), order: Some(order("o-1", "c-1", 1_700_000_000)) };
    app.client.record_order(request.clone()).await.unwrap();
    let mut returned = order("o-1", "c-1", 1_700_000_000);
    returned.status = pb::OrderStatus::Returned as i32;
    returned.lines.pop();
    let again = app
        .client
        .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(returned) })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    let stored = again.order.unwrap();
    assert_eq!(stored.status, pb::OrderStatus::Returned as i32);
    assert_eq!(stored.lines.len(), 1);
    let all = app.client.list_orders(pb::ListOrdersRequest::default()).await.unwrap().into_inner();
    assert_eq!(all.orders.len(), 1, "no duplicate");
    app.stop().await.unwrap();
}

async fn bad_order_is_rejected_whole(store: Store) {
    let mut app = spawn_app(store).await;
    let mut bad = order("o-1", "c-1", 4_102_444_800); // 2100-01-01: in the future
    bad.currency_code = "XYZ".into();
    bad.lines[0].quantity = -1;
    bad.lines[1].discount_minor = 10_000;
    let status = app
        .client
        .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(bad) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> =
        status.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    for expected in
        ["order.place_time", "order.currency_code", "order.lines[0].quantity", "order.lines[1].discount_minor"]
    {
        assert!(fields.iter().any(|field| field == expected), "{expected} missing from {fields:?}");
    }
    let missing = app.client.get_order(pb::GetOrderRequest { order_id: "o-1".into() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let no_customer = app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap_err();
    assert_eq!(no_customer.code(), Code::NotFound, "nothing half-written");
    app.stop().await.unwrap();
}
