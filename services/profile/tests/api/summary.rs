//! GetCustomerSummary (the profile part of the customer-360 view) reads one
//! customer with queries of its own; it must agree with the feature export
//! for the same customer and cutoff, field by field, and see nothing after
//! the cutoff.

use patron_proto::profile::v1 as pb;
use tokio_stream::StreamExt;

use crate::helpers::{Store, TestApp, spawn_app};

fn march(day: u32) -> prost_types::Timestamp {
    crate::helpers::utc(2024, 3, day, 12).expect("a valid date")
}

async fn summary_of(
    app: &mut TestApp,
    customer_id: &str,
    as_of: Option<prost_types::Timestamp>,
    recent_orders: i32,
) -> pb::GetCustomerSummaryResponse {
    let request = pb::GetCustomerSummaryRequest { customer_id: customer_id.into(), as_of, recent_orders };
    app.client.get_customer_summary(request).await.expect("a summary").into_inner()
}

async fn record_order(app: &mut TestApp, id: &str, day: u32, total: i64, currency: &str, status: pb::OrderStatus) {
    let order = pb::Order {
        order_id: id.into(),
        customer_id: "c-1".into(),
        place_time: Some(march(day)),
        channel: if day.is_multiple_of(2) { pb::SalesChannel::Web } else { pb::SalesChannel::Store } as i32,
        currency_code: currency.into(),
        status: status as i32,
        total_minor: total,
        ..Default::default()
    };
    app.client.record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) }).await.unwrap();
}

async fn record_contact(app: &mut TestApp, id: &str, day: u32, complaint: bool) {
    let contact = pb::SupportContact {
        contact_id: id.into(),
        customer_id: "c-1".into(),
        channel: pb::ContactChannel::Chat as i32,
        complaint,
        open_time: Some(march(day)),
        ..Default::default()
    };
    app.client
        .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact) })
        .await
        .unwrap();
}

async fn record_feedback(app: &mut TestApp, id: &str, day: u32, score: pb::feedback::Score) {
    let feedback = pb::Feedback {
        feedback_id: id.into(),
        customer_id: "c-1".into(),
        score: Some(score),
        submit_time: Some(march(day)),
        ..Default::default()
    };
    app.client
        .record_feedback(pb::RecordFeedbackRequest { request_id: String::new(), feedback: Some(feedback) })
        .await
        .unwrap();
}

/// c-1 with purchases, a return, an order in another currency, contacts and
/// answers, each kind with one event after the cutoff (March 10th).
async fn seed(app: &mut TestApp) {
    use pb::OrderStatus::{Completed, Returned};
    record_order(app, "o-1", 1, 1_000, "USD", Completed).await;
    record_order(app, "o-2", 5, 2_001, "USD", Completed).await;
    record_order(app, "o-3", 6, 500, "USD", Returned).await;
    record_order(app, "o-4", 7, 700, "EUR", Completed).await;
    record_order(app, "o-5", 20, 9_999, "USD", Completed).await;
    record_contact(app, "k-1", 3, true).await;
    record_contact(app, "k-2", 4, false).await;
    record_contact(app, "k-3", 15, true).await;
    use pb::feedback::Score::{Csat, Nps};
    record_feedback(app, "f-1", 2, Nps(9)).await;
    record_feedback(app, "f-2", 3, Csat(4)).await;
    record_feedback(app, "f-3", 8, Nps(3)).await;
    record_feedback(app, "f-4", 12, Nps(0)).await;
    record_feedback(app, "f-5", 12, Csat(1)).await;
}

async fn summary_agrees_with_the_export_and_stops_at_the_cutoff(store: Store) {
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let cutoff = march(10);
    let summary = summary_of(&mut app, "c-1", Some(cutoff), 2).await;
    let mut stream = app
        .client
        .export_customer_features(pb::ExportCustomerFeaturesRequest { as_of: Some(cutoff), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let mut exported = Vec::new();
    while let Some(batch) = stream.next().await {
        exported.extend(batch.unwrap().rows);
    }
    let [features] = exported.as_slice() else { panic!("one customer exported: {exported:?}") };

    // The hand-checked figures: USD purchases o-1 and o-2 only.
    assert_eq!((summary.orders, summary.revenue.as_ref().unwrap().amount_minor), (2, 3_001));
    assert_eq!(summary.average_order_value.as_ref().unwrap().amount_minor, 1_501, "3,001 / 2, rounded");
    assert_eq!((summary.returns, summary.contacts, summary.complaints), (1, 2, 1));
    assert_eq!((summary.last_nps, summary.last_csat), (Some(3), Some(4)));
    assert_eq!(summary.first_order_time, Some(march(1)));
    assert_eq!(summary.last_order_time, Some(march(5)));
    let recent: Vec<&str> = summary.recent_orders.iter().map(|order| order.order_id.as_str()).collect();
    assert_eq!(recent, ["o-4", "o-3"], "every order before the cutoff, newest first");

    // And the export says the same.
    assert_eq!(summary.orders, features.orders);
    assert_eq!(summary.revenue.unwrap().amount_minor, features.revenue_minor);
    assert_eq!(summary.average_order_value.unwrap().amount_minor, features.average_order_value.round() as i64);
    assert_eq!(
        (summary.returns, summary.contacts, summary.complaints),
        (features.returns, features.contacts, features.complaints)
    );
    assert_eq!((summary.last_nps, summary.last_csat), (features.last_nps, features.last_csat));
    assert_eq!(summary.first_order_time, features.first_purchase_time);
    assert_eq!(summary.last_order_time, features.last_purchase_time);

    // Without a cutoff everything counts.
    let now = summary_of(&mut app, "c-1", None, 0).await;
    assert_eq!((now.orders, now.contacts, now.complaints), (3, 3, 2));
    assert_eq!((now.last_nps, now.last_csat), (Some(0), Some(1)));
    assert_eq!(now.recent_orders.len(), 5, "0 asks for the default five");
    assert_eq!(now.recent_orders[0].order_id, "o-5");
    app.stop().await.unwrap();
}

async fn summary_of_a_customer_without_events_is_empty_not_missing(store: Store) {
    let mut app = spawn_app(store).await;
    let customer = pb::Customer { customer_id: "c-quiet".into(), ..Default::default() };
    app.client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
        .await
        .unwrap();
    let summary = summary_of(&mut app, "c-quiet", None, 5).await;
    assert_eq!(summary.customer.unwrap().customer_id, "c-quiet");
    assert_eq!((summary.orders, summary.returns, summary.contacts, summary.complaints), (0, 0, 0, 0));
    assert_eq!((summary.last_nps, summary.last_csat, summary.first_order_time), (None, None, None));
    assert!(summary.recent_orders.is_empty());
    app.stop().await.unwrap();
}

/// The summary reads the customer and the recent orders its own way (one
/// statement for tags, attributes and consents; the orders once, for the
/// figures and the recent list); what it shows is what GetCustomer and
/// GetOrder show, lines included.
async fn summary_shows_the_customer_and_recent_orders_whole(store: Store) {
    let mut app = spawn_app(store).await;
    let mut customer = crate::customers::customer("c-1");
    customer.tags.push("newsletter".into());
    customer.consents = vec![pb::Consent {
        channel: pb::ConsentChannel::Email as i32,
        state: pb::ConsentState::Granted as i32,
        ..Default::default()
    }];
    crate::customers::create(&mut app.client, customer).await;
    let line = |sku: &str, quantity, unit_price_minor| pb::OrderLine {
        sku: sku.into(),
        category: "shoes".into(),
        quantity,
        unit_price_minor,
        ..Default::default()
    };
    for (id, day, lines) in [("o-1", 1, vec![line("a", 1, 500)]), ("o-2", 2, vec![line("b", 2, 300), line("c", 1, 99)])]
    {
        let order = pb::Order {
            order_id: id.into(),
            customer_id: "c-1".into(),
            place_time: Some(march(day)),
            channel: pb::SalesChannel::Web as i32,
            currency_code: "USD".into(),
            status: pb::OrderStatus::Completed as i32,
            lines,
            ..Default::default()
        };
        app.client
            .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) })
            .await
            .unwrap();
    }

    let summary = summary_of(&mut app, "c-1", None, 5).await;
    let stored = app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap();
    let stored = stored.into_inner().customer.unwrap();
    assert_eq!((stored.tags.len(), stored.attributes.len(), stored.consents.len()), (2, 2, 1));
    assert_eq!(summary.customer, Some(stored));
    let mut recent = Vec::new();
    for id in ["o-2", "o-1"] {
        let order = app.client.get_order(pb::GetOrderRequest { order_id: id.into() }).await.unwrap();
        recent.push(order.into_inner().order.unwrap());
    }
    assert_eq!(recent[0].lines.len(), 2);
    assert_eq!(summary.recent_orders, recent, "newest first, with customer and lines");
    app.stop().await.unwrap();
}

on_every_store!(
    summary_agrees_with_the_export_and_stops_at_the_cutoff,
    summary_shows_the_customer_and_recent_orders_whole,
    summary_of_a_customer_without_events_is_empty_not_missing
);
