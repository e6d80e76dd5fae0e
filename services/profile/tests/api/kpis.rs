//! Every KPI on a small hand-checked dataset, exact numbers.

use patron_proto::common::v1::{Money, TimeWindow};
use patron_proto::profile::v1 as pb;

use crate::helpers::{Store, TestApp, spawn_app, utc};

on_every_store!(
    every_kpi_on_a_hand_checked_dataset,
    pareto_lapsed_carts_and_campaign_on_the_same_dataset,
    reports_follow_recording_import_and_erasure,
    a_filter_may_list_more_customers_than_a_query_has_parameters,
);

fn march(day: u32, hour: u32) -> Option<prost_types::Timestamp> {
    utc(2024, 3, day, hour)
}

async fn order(
    app: &mut TestApp,
    id: &str,
    customer: &str,
    at: Option<prost_types::Timestamp>,
    total: i64,
    store: &str,
    status: pb::OrderStatus,
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
        ..Default::default()
    };
    app.client.record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) }).await.unwrap();
}

async fn seed(app: &mut TestApp) {
    use pb::OrderStatus::{Cancelled, Completed, Returned};
    for (id, tags) in [("A", vec!["vip"]), ("B", vec![]), ("C", vec!["vip"]), ("D", vec![])] {
        let customer = pb::Customer {
            customer_id: id.into(),
            tags: tags.into_iter().map(String::from).collect(),
            ..Default::default()
        };
        app.client
            .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
            .await
            .unwrap();
    }
    order(app, "a-prev", "A", utc(2024, 2, 10, 12), 1_000, "s-1", Completed).await;
    order(app, "a-1", "A", march(5, 9), 2_000, "s-1", Completed).await;
    order(app, "a-2", "A", march(5, 17), 500, "s-1", Completed).await;
    order(app, "a-3", "A", march(20, 12), 1_500, "s-1", Completed).await;
    order(app, "a-ret", "A", march(15, 12), 900, "s-1", Returned).await;
    order(app, "b-prev", "B", utc(2024, 2, 15, 12), 3_000, "s-1", Completed).await;
    order(app, "c-1", "C", march(10, 12), 4_000, "s-1", Completed).await;
    order(app, "c-cancel", "C", march(11, 12), 8_000, "s-1", Cancelled).await;
    order(app, "d-old", "D", utc(2024, 1, 1, 12), 1_000, "s-1", Completed).await;
    order(app, "d-1", "D", march(25, 12), 6_000, "s-2", Completed).await;
    order(app, "anon", "", march(12, 12), 700, "s-1", Completed).await;

    let nps = [("A", 10), ("B", 9), ("C", 7), ("D", 3), ("", 0)];
    for (index, (customer, score)) in nps.into_iter().enumerate() {
        let answer = pb::Feedback {
            feedback_id: format!("n-{index}"),
            customer_id: customer.into(),
            score: Some(pb::feedback::Score::Nps(score)),
            submit_time: march(6, 12),
            ..Default::default()
        };
        app.client
            .record_feedback(pb::RecordFeedbackRequest { request_id: String::new(), feedback: Some(answer) })
            .await
            .unwrap();
    }
    for (index, (customer, score)) in [("A", 5), ("B", 4), ("C", 2)].into_iter().enumerate() {
        let answer = pb::Feedback {
            feedback_id: format!("s-{index}"),
            customer_id: customer.into(),
            score: Some(pb::feedback::Score::Csat(score)),
            submit_time: march(7, 12),
            ..Default::default()
        };
        app.client
            .record_feedback(pb::RecordFeedbackRequest { request_id: String::new(), feedback: Some(answer) })
            .await
            .unwrap();
    }
    // Outside the window: ignored.
    let late = pb::Feedback {
        feedback_id: "late".into(),
        customer_id: "A".into(),
        score: Some(pb::feedback::Score::Nps(0)),
        submit_time: utc(2024, 4, 2, 12),
        ..Default::default()
    };
    app.client
        .record_feedback(pb::RecordFeedbackRequest { request_id: String::new(), feedback: Some(late) })
        .await
        .unwrap();

    for (id, customer, reason, complaint) in
        [("k-1", "A", "late_delivery", true), ("k-2", "B", "late_delivery", false), ("k-3", "C", "refund", true)]
    {
        let contact = pb::SupportContact {
            contact_id: id.into(),
            customer_id: customer.into(),
            channel: pb::ContactChannel::Email as i32,
            reason: reason.into(),
            complaint,
            open_time: march(8, 12),
            resolve_time: None,
        };
        app.client
            .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact) })
            .await
            .unwrap();
    }

    let cart = |id: &str, cart: &str, kind: pb::CartEventType, at: Option<prost_types::Timestamp>, order: &str| {
        pb::CartEvent {
            event_id: id.into(),
            cart_id: cart.into(),
            customer_id: "A".into(),
            r#type: kind as i32,
            event_time: at,
            value: Some(Money { currency_code: "USD".into(), amount_minor: 1_000 }),
            order_id: order.into(),
        }
    };
    for event in [
        cart("e-1", "cart-1", pb::CartEventType::Created, march(2, 10), ""),
        cart("e-2", "cart-1", pb::CartEventType::Converted, march(2, 11), "a-1"),
        cart("e-3", "cart-2", pb::CartEventType::Created, march(3, 10), ""),
        cart("e-4", "cart-2", pb::CartEventType::Updated, march(4, 10), ""),
        cart("e-5", "cart-3", pb::CartEventType::Created, utc(2024, 2, 20, 10), ""),
    ] {
        app.client
            .record_cart_event(pb::RecordCartEventRequest { request_id: String::new(), event: Some(event) })
            .await
            .unwrap();
    }
}

fn march_window() -> Option<TimeWindow> {
    Some(TimeWindow { start_time: utc(2024, 3, 1, 0), end_time: utc(2024, 4, 1, 0) })
}

async fn kpis(app: &mut TestApp, filter: Option<pb::ReportFilter>) -> (pb::Kpis, pb::Kpis) {
    let response =
        app.client.get_kpis(pb::GetKpisRequest { window: march_window(), filter }).await.unwrap().into_inner();
    (response.kpis.unwrap(), response.previous.unwrap())
}

fn close(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|actual| (actual - expected).abs() < 1e-9)
}

async fn every_kpi_on_a_hand_checked_dataset(store: Store) {
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let (march, february) = kpis(&mut app, None).await;
    assert_eq!(march.orders, 6);
    assert_eq!(march.revenue.as_ref().unwrap().amount_minor, 14_700);
    assert_eq!(march.active_customers, 3);
    assert_eq!(march.new_customers, 1);
    assert!(close(march.repeat_purchase_rate, 1.0 / 3.0), "{:?}", march.repeat_purchase_rate);
    assert!(close(march.retention_rate, 0.5), "{:?}", march.retention_rate);
    assert!(close(march.average_order_value_minor, 2_450.0));
    assert!(close(march.purchase_frequency, 2.0));
    assert!(close(march.historical_clv_minor, 4_750.0), "{:?}", march.historical_clv_minor);
    assert_eq!(march.returns, 1);
    assert_eq!(march.nps_responses, 5);
    assert!(close(march.nps, 0.0), "{:?}", march.nps);
    assert_eq!(march.csat_responses, 3);
    assert!(close(march.csat, 200.0 / 3.0), "{:?}", march.csat);
    assert_eq!(march.contacts, 3);
    assert!(close(march.customer_contact_ratio, 2.0));
    let rates: Vec<(String, i64, i64, f64)> = march
        .complaint_rates
        .iter()
        .map(|rate| (rate.reason.clone(), rate.contacts, rate.complaints, rate.rate))
        .collect();
    assert_eq!(rates, [("late_delivery".to_owned(), 2, 1, 0.5), ("refund".to_owned(), 1, 1, 1.0)]);
    assert_eq!((march.carts_created, march.carts_abandoned), (2, 1));
    assert!(close(march.cart_abandonment_rate, 0.5));

    assert_eq!(february.orders, 2);
    assert_eq!(february.revenue.unwrap().amount_minor, 4_000);

    let (store_two, _) = kpis(&mut app, Some(pb::ReportFilter { store_id: "s-2".into(), ..Default::default() })).await;
    assert_eq!((store_two.orders, store_two.revenue.unwrap().amount_minor, store_two.active_customers), (1, 6_000, 1));

    let (vip, _) = kpis(&mut app, Some(pb::ReportFilter { tag: "vip".into(), ..Default::default() })).await;
    assert_eq!((vip.orders, vip.revenue.unwrap().amount_minor), (4, 8_000));
    assert!(close(vip.nps, 50.0), "{:?}", vip.nps);

    let (segment, _) =
        kpis(&mut app, Some(pb::ReportFilter { customer_ids: vec!["C".into(), "D".into()], ..Default::default() }))
            .await;
    assert_eq!((segment.orders, segment.active_customers, segment.new_customers), (2, 2, 1));

    let missing = app.client.get_kpis(pb::GetKpisRequest { window: None, filter: None }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    app.stop().await.unwrap();
}

async fn pareto_lapsed_carts_and_campaign_on_the_same_dataset(store: Store) {
    let mut app = spawn_app(store).await;
    seed(&mut app).await;

    let pareto = app
        .client
        .get_pareto_report(pb::GetParetoReportRequest {
            window: march_window(),
            filter: None,
            customer_shares: vec![0.2, 1.0],
            top_n: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pareto.customers, 3);
    assert_eq!(pareto.revenue.unwrap().amount_minor, 14_000, "identified customers only");
    assert!((pareto.points[0].revenue_share - 6_000.0 / 14_000.0).abs() < 1e-12);
    assert!((pareto.points[1].revenue_share - 1.0).abs() < 1e-12);
    assert_eq!(pareto.curve.len(), 20);
    let top: Vec<&str> = pareto.top_by_revenue.iter().map(|customer| customer.customer_id.as_str()).collect();
    assert_eq!(top, ["D", "A", "C"]);
    assert!(pareto.top_by_margin.is_empty(), "no order has line costs");

    let lapsed = |days: i32, page_size: i32, page_token: String| pb::ListLapsedCustomersRequest {
        days,
        as_of: utc(2024, 4, 1, 0),
        page_size,
        page_token,
        consent_granted: 0,
    };
    let month = app.client.list_lapsed_customers(lapsed(30, 0, String::new())).await.unwrap().into_inner();
    assert_eq!(month.customers.iter().map(|c| c.customer_id.as_str()).collect::<Vec<_>>(), ["B"]);
    let first = app.client.list_lapsed_customers(lapsed(10, 2, String::new())).await.unwrap().into_inner();
    assert_eq!(first.customers.iter().map(|c| c.customer_id.as_str()).collect::<Vec<_>>(), ["A", "C"]);
    let second = app.client.list_lapsed_customers(lapsed(10, 2, first.next_page_token)).await.unwrap().into_inner();
    assert_eq!(second.customers.iter().map(|c| c.customer_id.as_str()).collect::<Vec<_>>(), ["B"]);
    assert!(second.next_page_token.is_empty());

    let carts = app
        .client
        .list_abandoned_carts(pb::ListAbandonedCartsRequest {
            window: march_window(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(carts.carts.len(), 1);
    assert_eq!((carts.carts[0].cart_id.as_str(), carts.carts[0].customer_id.as_str()), ("cart-2", "A"));
    assert_eq!(carts.carts[0].value.as_ref().unwrap().amount_minor, 1_000);

    for (id, customer, variant, day) in [
        ("x-1", "B", "control", 1),
        ("x-2", "D", "control", 1),
        ("x-3", "A", "treatment", 4),
        ("x-4", "C", "treatment", 9),
    ] {
        let exposure = pb::CampaignExposure {
            exposure_id: id.into(),
            campaign_id: "spring".into(),
            variant: variant.into(),
            customer_id: customer.into(),
            expose_time: march(day, 0),
        };
        app.client
            .record_exposure(pb::RecordExposureRequest { request_id: String::new(), exposure: Some(exposure) })
            .await
            .unwrap();
    }
    let evaluation = app
        .client
        .evaluate_campaign(pb::EvaluateCampaignRequest {
            campaign_id: "spring".into(),
            by_tags: vec!["vip".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let all = &evaluation.breakdowns[0];
    assert_eq!(all.variants.len(), 2);
    let control = &all.variants[0];
    let treatment = &all.variants[1];
    assert_eq!((control.variant.as_str(), control.exposed, control.converted), ("control", 2, 0));
    assert_eq!((treatment.variant.as_str(), treatment.exposed, treatment.converted), ("treatment", 2, 2));
    assert_eq!(treatment.absolute_lift, Some(1.0));
    assert_eq!(treatment.relative_lift, None, "no relative lift over a zero baseline");
    assert!((treatment.p_value.unwrap() - 0.0455).abs() < 1e-3, "{:?}", treatment.p_value);
    let vip = &evaluation.breakdowns[1];
    assert_eq!(vip.tag, "vip");
    assert_eq!(vip.variants.iter().map(|v| v.variant.as_str()).collect::<Vec<_>>(), ["treatment"]);

    let unknown = app
        .client
        .evaluate_campaign(pb::EvaluateCampaignRequest { campaign_id: "nope".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    app.stop().await.unwrap();
}

async fn pareto(app: &mut TestApp) -> pb::GetParetoReportResponse {
    let request = pb::GetParetoReportRequest { window: march_window(), ..Default::default() };
    app.client.get_pareto_report(request).await.unwrap().into_inner()
}

fn imported_order(customer: &str, day: u32) -> pb::ImportRow {
    pb::ImportRow {
        line: 2,
        record: Some(pb::import_row::Record::Order(pb::OrderRow {
            order_id: format!("{customer}-imported"),
            customer_id: customer.into(),
            place_time: march(day, 12),
            channel: pb::SalesChannel::Web as i32,
            store_id: "s-1".into(),
            region: "north".into(),
            currency_code: "USD".into(),
            status: pb::OrderStatus::Completed as i32,
            line_number: 1,
            sku: "sku-1".into(),
            category: "shoes".into(),
            quantity: 2,
            unit_price_minor: 1_000,
            unit_cost_minor: Some(600),
            ..Default::default()
        })),
    }
}

/// The reports read a rollup of the orders: each kind of write must reach it
/// before the next report.
async fn reports_follow_recording_import_and_erasure(store: Store) {
    use pb::OrderStatus::Completed;
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let (seeded, _) = kpis(&mut app, None).await;
    assert_eq!((seeded.orders, seeded.active_customers), (6, 3));

    order(&mut app, "b-1", "B", march(28, 12), 2_500, "s-1", Completed).await;
    let (recorded, _) = kpis(&mut app, None).await;
    assert_eq!((recorded.orders, recorded.revenue.unwrap().amount_minor, recorded.active_customers), (7, 17_200, 4));
    assert!(close(recorded.retention_rate, 1.0), "A and B bought in February and again: {:?}", recorded.retention_rate);

    let (_, errors) =
        crate::import::import(&mut app.client, pb::ImportKind::Orders, vec![vec![imported_order("E", 29)]])
            .await
            .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let (imported, _) = kpis(&mut app, None).await;
    assert_eq!(
        (imported.orders, imported.revenue.unwrap().amount_minor, imported.active_customers, imported.new_customers),
        (8, 19_200, 5, 2)
    );
    let report = pareto(&mut app).await;
    assert_eq!(report.customers, 5);
    let by_margin: Vec<(&str, Option<i64>)> =
        report.top_by_margin.iter().map(|customer| (customer.customer_id.as_str(), customer.margin_minor)).collect();
    assert_eq!(by_margin, [("E", Some(800))], "only the imported order has line costs");

    app.client
        .erase_customer(pb::EraseCustomerRequest {
            request_id: String::new(),
            customer_id: "A".into(),
            reason: "test".into(),
        })
        .await
        .unwrap();
    let (erased, _) = kpis(&mut app, None).await;
    assert_eq!(
        (erased.orders, erased.revenue.unwrap().amount_minor, erased.active_customers),
        (8, 19_200, 4),
        "the erased customer's orders stay as anonymous revenue"
    );
    let report = pareto(&mut app).await;
    assert_eq!((report.customers, report.revenue.unwrap().amount_minor), (4, 14_500));
    let top: Vec<&str> = report.top_by_revenue.iter().map(|customer| customer.customer_id.as_str()).collect();
    assert_eq!(top, ["D", "C", "B", "E"]);
    app.stop().await.unwrap();
}

/// 70,000 ids: more than PostgreSQL's 65,535 bound parameters.
async fn a_filter_may_list_more_customers_than_a_query_has_parameters(store: Store) {
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let mut customer_ids: Vec<String> = (0..70_000).map(|index| format!("nobody-{index}")).collect();
    customer_ids.extend(["C".to_owned(), "D".to_owned()]);
    let filter = pb::ReportFilter { customer_ids: customer_ids.clone(), ..Default::default() };
    let (segment, _) = kpis(&mut app, Some(filter.clone())).await;
    assert_eq!((segment.orders, segment.active_customers, segment.new_customers), (2, 2, 1));
    let request = pb::GetParetoReportRequest { window: march_window(), filter: Some(filter), ..Default::default() };
    let report = app.client.get_pareto_report(request).await.unwrap().into_inner();
    assert_eq!((report.customers, report.revenue.unwrap().amount_minor), (2, 10_000));
    let series = pb::ExportSalesSeriesRequest {
        level: pb::SeriesLevel::Customers as i32,
        granularity: pb::Granularity::Month as i32,
        window: march_window(),
        customer_ids,
        ..Default::default()
    };
    let mut points = app.client.export_sales_series(series).await.unwrap().into_inner();
    let mut revenue = 0;
    while let Some(message) = points.message().await.unwrap() {
        revenue += message.points.iter().map(|point| point.revenue_minor).sum::<i64>();
    }
    assert_eq!(revenue, 10_000);
    app.stop().await.unwrap();
}
