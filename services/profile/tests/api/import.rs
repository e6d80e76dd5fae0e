use patron_proto::common::v1::ImportProgress;
use patron_proto::profile::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::{Store, at, spawn_app, utc};

on_every_store!(
    orders_import_lands_good_rows_and_reports_bad_ones,
    reimporting_the_same_file_changes_nothing,
    customers_contacts_and_feedback_import,
    customer_rows_fold_over_stored_and_earlier_rows,
    anonymous_orders_and_unit_costs_survive_import,
    stream_without_header_is_invalid,
    contact_and_feedback_rows_are_upserted_by_id,
    cart_events_and_exposures_import,
    an_oversize_batch_ends_the_import_after_the_committed_ones,
    a_batch_mixing_new_and_changed_orders,
    bad_rows_amid_a_large_batch_are_reported_and_the_rest_lands,
    order_references_hold_per_statement,
);

fn order_row(line: i64, order_id: &str, line_number: i32, sku: &str, quantity: i64) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Order(pb::OrderRow {
            order_id: order_id.to_owned(),
            customer_id: "c-1".to_owned(),
            place_time: at(1_700_000_000),
            channel: pb::SalesChannel::Store as i32,
            store_id: "s-1".to_owned(),
            region: "north".to_owned(),
            currency_code: "USD".to_owned(),
            status: pb::OrderStatus::Completed as i32,
            line_number,
            sku: sku.to_owned(),
            category: "shoes".to_owned(),
            quantity,
            unit_price_minor: 1_000,
            discount_minor: 0,
            unit_cost_minor: None,
            total_minor: 0,
        })),
    }
}

pub async fn import(
    client: &mut pb::profile_service_client::ProfileServiceClient<tonic::transport::Channel>,
    kind: pb::ImportKind,
    batches: Vec<Vec<pb::ImportRow>>,
) -> Result<(ImportProgress, Vec<patron_proto::common::v1::ImportRowError>), tonic::Status> {
    let mut messages = vec![pb::ImportRecordsRequest {
        payload: Some(pb::import_records_request::Payload::Header(pb::ImportHeader {
            request_id: "import-1".into(),
            kind: kind as i32,
            source: "test.csv".into(),
        })),
    }];
    messages.extend(batches.into_iter().map(|rows| pb::ImportRecordsRequest {
        payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch { rows })),
    }));
    let mut answers = client.import_records(tokio_stream::iter(messages)).await?.into_inner();
    let mut last = ImportProgress::default();
    let mut errors = Vec::new();
    while let Some(answer) = answers.next().await {
        let answer = answer?;
        last = answer.progress.unwrap_or_default();
        errors.extend(answer.errors);
    }
    assert!(last.done, "the final answer says the import is done");
    Ok((last, errors))
}

async fn orders_import_lands_good_rows_and_reports_bad_ones(store: Store) {
    let mut app = spawn_app(store).await;
    let first = vec![
        order_row(2, "o-1", 1, "sku-1", 2),
        order_row(3, "o-1", 2, "sku-2", 1),
        order_row(4, "o-2", 1, "sku-1", -3),
    ];
    let mut bad_currency = order_row(5, "o-3", 1, "sku-1", 1);
    if let Some(pb::import_row::Record::Order(row)) = bad_currency.record.as_mut() {
        row.currency_code = "ZZZ".into();
    }
    // Spans a batch boundary: o-1's third line arrives in the next batch; line 7 repeats it.
    let second = vec![bad_currency, order_row(6, "o-1", 3, "sku-3", 4), order_row(7, "o-1", 3, "sku-9", 1)];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Orders, vec![first, second]).await.unwrap();
    assert_eq!(progress.rows_read, 6);
    assert_eq!(progress.rows_written, 3);
    assert_eq!(progress.rows_rejected, 3);
    assert_eq!(progress.batches_committed, 2);
    let mut reported: Vec<(i64, String)> = errors.into_iter().map(|error| (error.line, error.field)).collect();
    reported.sort();
    assert_eq!(reported, [(4, "quantity".to_owned()), (5, "currency_code".to_owned()), (7, "line_number".to_owned())]);

    let order =
        app.client.get_order(pb::GetOrderRequest { order_id: "o-1".into() }).await.unwrap().into_inner().order.unwrap();
    assert_eq!(order.lines.len(), 3);
    assert_eq!(order.total_minor, (2 + 1 + 4) * 1_000);
    for missing in ["o-2", "o-3"] {
        let status = app.client.get_order(pb::GetOrderRequest { order_id: missing.into() }).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    }
    app.stop().await.unwrap();
}

async fn reimporting_the_same_file_changes_nothing(store: Store) {
    let mut app = spawn_app(store).await;
    let file = || {
        vec![
            vec![order_row(2, "o-1", 1, "sku-1", 2), order_row(3, "o-1", 2, "sku-2", 1)],
            vec![order_row(4, "o-2", 1, "sku-1", 5)],
        ]
    };
    let (first, _) = import(&mut app.client, pb::ImportKind::Orders, file()).await.unwrap();
    assert_eq!(first.rows_written, 3);
    let before = app.client.list_orders(pb::ListOrdersRequest::default()).await.unwrap().into_inner();
    let (again, errors) = import(&mut app.client, pb::ImportKind::Orders, file()).await.unwrap();
    assert!(errors.is_empty());
    assert_eq!((again.rows_written, again.rows_unchanged), (0, 3));
    let after = app.client.list_orders(pb::ListOrdersRequest::default()).await.unwrap().into_inner();
    assert_eq!(before, after);

    // One changed line: only its row is written, and the order's total follows.
    let changed = vec![
        vec![order_row(2, "o-1", 1, "sku-1", 7), order_row(3, "o-1", 2, "sku-2", 1)],
        vec![order_row(4, "o-2", 1, "sku-1", 5)],
    ];
    let (third, _) = import(&mut app.client, pb::ImportKind::Orders, changed).await.unwrap();
    assert_eq!((third.rows_written, third.rows_unchanged), (1, 2));
    let order =
        app.client.get_order(pb::GetOrderRequest { order_id: "o-1".into() }).await.unwrap().into_inner().order.unwrap();
    assert_eq!(order.total_minor, (7 + 1) * 1_000);
    app.stop().await.unwrap();
}

async fn customers_contacts_and_feedback_import(store: Store) {
    let mut app = spawn_app(store).await;
    let customer = |line: i64, id: &str, email: &str| pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Customer(pb::Customer {
            customer_id: id.into(),
            name: "Name".into(),
            email: email.into(),
            tags: vec!["imported".into()],
            create_time: at(1_600_000_000),
            ..Default::default()
        })),
    };
    let (progress, errors) = import(
        &mut app.client,
        pb::ImportKind::Customers,
        vec![vec![customer(2, "c-1", "a@example.com"), customer(3, "c-2", "broken"), customer(4, "", "b@example.com")]],
    )
    .await
    .unwrap();
    assert_eq!((progress.rows_written, progress.rows_rejected), (1, 2));
    let fields: Vec<(i64, String)> = errors.into_iter().map(|error| (error.line, error.field)).collect();
    assert_eq!(fields, [(3, "email".to_owned()), (4, "customer_id".to_owned())]);
    let stored = app
        .client
        .get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(stored.create_time.unwrap().seconds, 1_600_000_000, "the source's creation time is kept");

    let contact = pb::ImportRow {
        line: 2,
        record: Some(pb::import_row::Record::Contact(pb::SupportContact {
            contact_id: "k-1".into(),
            customer_id: "c-1".into(),
            channel: pb::ContactChannel::Chat as i32,
            reason: "late_delivery".into(),
            complaint: true,
            open_time: at(1_700_000_000),
            resolve_time: at(1_700_003_600),
        })),
    };
    let (progress, _) = import(&mut app.client, pb::ImportKind::Contacts, vec![vec![contact]]).await.unwrap();
    assert_eq!(progress.rows_written, 1);

    let nps = |line: i64, id: &str, score: i32| pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Feedback(pb::Feedback {
            feedback_id: id.into(),
            customer_id: "c-1".into(),
            score: Some(pb::feedback::Score::Nps(score)),
            submit_time: at(1_700_000_000),
            ..Default::default()
        })),
    };
    let (progress, errors) =
        import(&mut app.client, pb::ImportKind::Feedback, vec![vec![nps(2, "f-1", 9), nps(3, "f-2", 11)]])
            .await
            .unwrap();
    assert_eq!((progress.rows_written, progress.rows_rejected), (1, 1));
    assert_eq!(errors[0].field, "nps");

    // A row of another kind is rejected, not guessed.
    let (progress, errors) =
        import(&mut app.client, pb::ImportKind::Feedback, vec![vec![customer(2, "c-9", "")]]).await.unwrap();
    assert_eq!(progress.rows_rejected, 1);
    assert_eq!(errors[0].field, "record");
    app.stop().await.unwrap();
}

fn customer_row(line: i64, id: &str, email: &str, tags: &[&str], tier: &str, consents: &[(i32, i32)]) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Customer(pb::Customer {
            customer_id: id.into(),
            name: "Name".into(),
            email: email.into(),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            attributes: [(
                "tier".to_owned(),
                pb::AttributeValue { value: Some(pb::attribute_value::Value::StringValue(tier.into())) },
            )]
            .into(),
            consents: consents
                .iter()
                .map(|(channel, state)| pb::Consent {
                    channel: *channel,
                    state: *state,
                    update_time: at(1_700_000_000),
                })
                .collect(),
            ..Default::default()
        })),
    }
}

/// Customer rows are written set-based: a customer repeated in a batch sees
/// its earlier row, tags only accumulate, and attributes and consents are set
/// per key.
async fn customer_rows_fold_over_stored_and_earlier_rows(store: Store) {
    use pb::{ConsentChannel as Channel, ConsentState as State};
    let mut app = spawn_app(store).await;
    let email_granted = (Channel::Email as i32, State::Granted as i32);
    let sms_denied = (Channel::Sms as i32, State::Denied as i32);
    let batch = vec![
        customer_row(2, "c-1", "a@example.com", &["vip"], "gold", &[email_granted]),
        customer_row(3, "c-1", "a@example.com", &["vip", "new"], "gold", &[sms_denied]),
        customer_row(4, "c-2", "c@example.com", &[], "silver", &[]),
    ];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Customers, vec![batch.clone()]).await.unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!((progress.rows_written, progress.rows_unchanged), (3, 0));

    let get = |client: &mut pb::profile_service_client::ProfileServiceClient<tonic::transport::Channel>| {
        let mut client = client.clone();
        async move {
            let request = pb::GetCustomerRequest { customer_id: "c-1".into() };
            client.get_customer(request).await.unwrap().into_inner().customer.unwrap()
        }
    };
    let stored = get(&mut app.client).await;
    let mut tags = stored.tags.clone();
    tags.sort();
    assert_eq!(tags, ["new", "vip"]);
    let mut consents: Vec<(i32, i32)> =
        stored.consents.iter().map(|consent| (consent.channel, consent.state)).collect();
    consents.sort();
    assert_eq!(consents, [email_granted, sms_denied]);

    let (progress, _) = import(&mut app.client, pb::ImportKind::Customers, vec![batch]).await.unwrap();
    assert_eq!((progress.rows_written, progress.rows_unchanged), (0, 3), "re-importing changes nothing");

    let downgrade = customer_row(2, "c-1", "b@example.com", &[], "silver", &[]);
    let (progress, _) = import(&mut app.client, pb::ImportKind::Customers, vec![vec![downgrade]]).await.unwrap();
    assert_eq!(progress.rows_written, 1);
    let stored = get(&mut app.client).await;
    assert_eq!(stored.email, "b@example.com");
    let tier = stored.attributes.get("tier").and_then(|value| value.value.clone());
    assert_eq!(tier, Some(pb::attribute_value::Value::StringValue("silver".into())));
    assert_eq!(stored.tags.len(), 2, "an import never removes a tag");
    assert_eq!(stored.consents.len(), 2, "consents not in the row are kept");
    app.stop().await.unwrap();
}

/// The set-based writer carries absent values through sentinels; they must
/// come back absent, and present ones intact.
async fn anonymous_orders_and_unit_costs_survive_import(store: Store) {
    let mut app = spawn_app(store).await;
    let mut anonymous = order_row(2, "o-anon", 1, "sku-1", 1);
    if let Some(pb::import_row::Record::Order(row)) = anonymous.record.as_mut() {
        row.customer_id = String::new();
        row.unit_cost_minor = Some(300);
    }
    let known = order_row(3, "o-known", 1, "sku-2", 2);
    let (progress, errors) =
        import(&mut app.client, pb::ImportKind::Orders, vec![vec![anonymous, known]]).await.unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(progress.rows_written, 2);
    let order = |id: &str| {
        let mut client = app.client.clone();
        let request = pb::GetOrderRequest { order_id: id.into() };
        async move { client.get_order(request).await.unwrap().into_inner().order.unwrap() }
    };
    let anonymous = order("o-anon").await;
    assert_eq!(anonymous.customer_id, "");
    assert_eq!(anonymous.lines[0].unit_cost_minor, Some(300));
    let known = order("o-known").await;
    assert_eq!(known.customer_id, "c-1");
    assert_eq!(known.lines[0].unit_cost_minor, None);
    app.stop().await.unwrap();
}

async fn stream_without_header_is_invalid(store: Store) {
    let mut app = spawn_app(store).await;
    let batch = pb::ImportRecordsRequest {
        payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch {
            rows: vec![order_row(2, "o-1", 1, "s", 1)],
        })),
    };
    let mut answers = app.client.import_records(tokio_stream::iter([batch])).await.unwrap().into_inner();
    let status = answers.next().await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("header"));
    app.stop().await.unwrap();
}

fn contact_row(line: i64, id: &str, customer: &str, reason: &str, resolved: bool) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Contact(pb::SupportContact {
            contact_id: id.into(),
            customer_id: customer.into(),
            channel: pb::ContactChannel::Chat as i32,
            reason: reason.into(),
            complaint: true,
            open_time: at(1_700_000_000),
            resolve_time: if resolved { at(1_700_003_600) } else { None },
        })),
    }
}

fn feedback_row(line: i64, id: &str, customer: &str, score: pb::feedback::Score) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Feedback(pb::Feedback {
            feedback_id: id.into(),
            customer_id: customer.into(),
            score: Some(score),
            comment: "it's fine'); DROP TABLE feedback; --".into(),
            touchpoint: "email".into(),
            submit_time: at(1_700_000_000),
        })),
    }
}

/// Contacts and feedback are written set-based: absent values (customer,
/// resolve time, the other score) survive the round trip, a record repeated
/// in a batch ends as its last row, and re-importing changes nothing.
async fn contact_and_feedback_rows_are_upserted_by_id(store: Store) {
    let mut app = spawn_app(store).await;
    let contacts = vec![
        contact_row(2, "k-1", "c-new", "late_delivery", true),
        contact_row(3, "k-2", "", "billing", false),
        contact_row(4, "k-1", "c-new", "damaged", true),
        contact_row(5, "", "c-1", "billing", false),
    ];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Contacts, vec![contacts.clone()]).await.unwrap();
    assert_eq!((progress.rows_written, progress.rows_unchanged, progress.rows_rejected), (3, 0, 1));
    assert_eq!(errors.iter().map(|error| (error.line, error.field.as_str())).collect::<Vec<_>>(), [(5, "contact_id")]);
    let (again, _) = import(&mut app.client, pb::ImportKind::Contacts, vec![contacts]).await.unwrap();
    assert_eq!((again.rows_written, again.rows_unchanged), (0, 3));
    let last = vec![vec![contact_row(2, "k-1", "c-new", "damaged", true)]];
    let (stored_is_last, _) = import(&mut app.client, pb::ImportKind::Contacts, last).await.unwrap();
    assert_eq!((stored_is_last.rows_written, stored_is_last.rows_unchanged), (0, 1), "the batch's last row landed");
    let reopened = vec![vec![contact_row(2, "k-1", "c-new", "damaged", false)]];
    let (changed, _) = import(&mut app.client, pb::ImportKind::Contacts, reopened).await.unwrap();
    assert_eq!(changed.rows_written, 1);
    let customer = app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-new".into() }).await;
    assert!(customer.is_ok(), "a contact's unknown customer gets a record: {customer:?}");

    use pb::feedback::Score;
    let answers = vec![
        feedback_row(2, "f-1", "c-1", Score::Nps(9)),
        feedback_row(3, "f-2", "", Score::Csat(4)),
        feedback_row(4, "f-3", "c-1", Score::Csat(6)),
    ];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Feedback, vec![answers.clone()]).await.unwrap();
    assert_eq!((progress.rows_written, progress.rows_rejected), (2, 1));
    assert_eq!(errors[0].field, "csat");
    let (again, _) = import(&mut app.client, pb::ImportKind::Feedback, vec![answers]).await.unwrap();
    assert_eq!((again.rows_written, again.rows_unchanged), (0, 2));
    // NPS to CSAT: the NPS must be gone, or the same row would differ again.
    let switched = || vec![vec![feedback_row(2, "f-1", "c-1", Score::Csat(5))]];
    let (first, _) = import(&mut app.client, pb::ImportKind::Feedback, switched()).await.unwrap();
    let (second, _) = import(&mut app.client, pb::ImportKind::Feedback, switched()).await.unwrap();
    assert_eq!((first.rows_written, second.rows_unchanged), (1, 1));
    app.stop().await.unwrap();
}

fn cart_row(line: i64, id: &str, cart: &str, customer: &str, kind: pb::CartEventType, hour: u32) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::CartEvent(pb::CartEvent {
            event_id: id.into(),
            cart_id: cart.into(),
            customer_id: customer.into(),
            r#type: kind as i32,
            event_time: utc(2024, 3, 2, hour),
            value: Some(patron_proto::common::v1::Money { amount_minor: 2_500, currency_code: "EUR".into() }),
            order_id: if kind == pb::CartEventType::Converted { "o-1".into() } else { String::new() },
        })),
    }
}

fn exposure_row(line: i64, id: &str, variant: &str, customer: &str) -> pb::ImportRow {
    pb::ImportRow {
        line,
        record: Some(pb::import_row::Record::Exposure(pb::CampaignExposure {
            exposure_id: id.into(),
            campaign_id: "spring".into(),
            variant: variant.into(),
            customer_id: customer.into(),
            expose_time: utc(2024, 3, 1, 9),
        })),
    }
}

/// Cart events and campaign exposures have their own import kinds; what
/// lands is what the abandoned-cart list and the campaign evaluation read.
async fn cart_events_and_exposures_import(store: Store) {
    use pb::CartEventType::{Converted, Created};
    let mut app = spawn_app(store).await;
    let mut missing_order = cart_row(6, "e-5", "cart-3", "c-1", Converted, 5);
    if let Some(pb::import_row::Record::CartEvent(event)) = missing_order.record.as_mut() {
        event.order_id.clear();
    }
    let carts = vec![
        cart_row(2, "e-1", "cart-1", "c-1", Created, 1),
        cart_row(3, "e-2", "cart-1", "c-1", Converted, 2),
        cart_row(4, "e-3", "cart-2", "c-2", Created, 3),
        cart_row(5, "e-4", "cart-4", "", Created, 4),
        missing_order,
    ];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::CartEvents, vec![carts.clone()]).await.unwrap();
    assert_eq!((progress.rows_written, progress.rows_rejected), (4, 1));
    assert_eq!(errors.iter().map(|error| (error.line, error.field.as_str())).collect::<Vec<_>>(), [(6, "order_id")]);
    let (again, _) = import(&mut app.client, pb::ImportKind::CartEvents, vec![carts]).await.unwrap();
    assert_eq!((again.rows_written, again.rows_unchanged), (0, 4));
    let window =
        Some(patron_proto::common::v1::TimeWindow { start_time: utc(2024, 3, 1, 0), end_time: utc(2024, 4, 1, 0) });
    let abandoned = app
        .client
        .list_abandoned_carts(pb::ListAbandonedCartsRequest { window, page_size: 0, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    let mut carts: Vec<(String, String, i64)> = abandoned
        .carts
        .into_iter()
        .map(|cart| (cart.cart_id, cart.customer_id, cart.value.map_or(0, |value| value.amount_minor)))
        .collect();
    carts.sort();
    assert_eq!(carts, [("cart-2".into(), "c-2".into(), 2_500), ("cart-4".into(), String::new(), 2_500)]);

    let exposures = vec![
        exposure_row(2, "x-1", "control", "c-1"),
        exposure_row(3, "x-2", "treatment", "c-2"),
        exposure_row(4, "x-3", "treatment", "c-3"),
        exposure_row(5, "x-4", "treatment", ""),
    ];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Exposures, vec![exposures.clone()]).await.unwrap();
    assert_eq!((progress.rows_written, progress.rows_rejected), (3, 1));
    assert_eq!(errors[0].field, "customer_id");
    let (again, _) = import(&mut app.client, pb::ImportKind::Exposures, vec![exposures]).await.unwrap();
    assert_eq!((again.rows_written, again.rows_unchanged), (0, 3));
    let evaluation = app
        .client
        .evaluate_campaign(pb::EvaluateCampaignRequest { campaign_id: "spring".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let exposed: Vec<(&str, i64)> =
        evaluation.breakdowns[0].variants.iter().map(|variant| (variant.variant.as_str(), variant.exposed)).collect();
    assert_eq!(exposed, [("control", 1), ("treatment", 2)]);
    app.stop().await.unwrap();
}

/// Batches are validated ahead of the write of the one before: a bad batch
/// still ends the stream only after every earlier batch is committed and answered.
async fn an_oversize_batch_ends_the_import_after_the_committed_ones(store: Store) {
    let mut app = spawn_app(store).await;
    let oversize: Vec<pb::ImportRow> =
        (0..10_001).map(|index| order_row(index + 3, &format!("o-{index}"), 1, "sku-1", 1)).collect();
    let result =
        import(&mut app.client, pb::ImportKind::Orders, vec![vec![order_row(2, "o-first", 1, "sku-1", 1)], oversize])
            .await;
    let status = result.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("batch.rows"), "{}", status.message());
    let first = app.client.get_order(pb::GetOrderRequest { order_id: "o-first".into() }).await;
    assert!(first.is_ok(), "the batch before the bad one is committed");
    let rows = app.client.list_orders(pb::ListOrdersRequest::default()).await.unwrap().into_inner().orders;
    assert_eq!(rows.len(), 1);
    app.stop().await.unwrap();
}

async fn get_order(app: &crate::helpers::TestApp, order_id: &str) -> Result<pb::Order, tonic::Status> {
    let request = pb::GetOrderRequest { order_id: order_id.into() };
    Ok(app.client.clone().get_order(request).await?.into_inner().order.unwrap_or_default())
}

/// One batch holds a changed line of a stored order, a new line of a stored
/// order, an unchanged line and a new order: each row is counted once, as
/// written or unchanged, and every total follows its stored lines.
async fn a_batch_mixing_new_and_changed_orders(store: Store) {
    let mut app = spawn_app(store).await;
    let first = vec![
        order_row(2, "o-1", 1, "sku-1", 2),
        order_row(3, "o-1", 2, "sku-2", 1),
        order_row(4, "o-2", 1, "sku-1", 5),
    ];
    import(&mut app.client, pb::ImportKind::Orders, vec![first]).await.unwrap();
    let mixed = vec![
        order_row(2, "o-1", 1, "sku-1", 3), // changed quantity
        order_row(3, "o-1", 3, "sku-3", 4), // new line of a stored order
        order_row(4, "o-2", 1, "sku-1", 5), // unchanged
        order_row(5, "o-3", 1, "sku-1", 1), // a new order...
        order_row(6, "o-3", 2, "sku-4", 2), // ...with two lines
    ];
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Orders, vec![mixed]).await.unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!((progress.rows_written, progress.rows_unchanged), (4, 1));
    let one = get_order(&app, "o-1").await.unwrap();
    assert_eq!(one.lines.len(), 3, "the stored line the batch does not name stays");
    assert_eq!(one.total_minor, (3 + 1 + 4) * 1_000);
    assert_eq!(get_order(&app, "o-2").await.unwrap().total_minor, 5 * 1_000);
    let three = get_order(&app, "o-3").await.unwrap();
    assert_eq!((three.lines.len(), three.total_minor), (2, 3 * 1_000));
    app.stop().await.unwrap();
}

/// A full-size batch with bad rows at its start, middle and end: each is
/// reported by line, and every other row lands with the right totals.
async fn bad_rows_amid_a_large_batch_are_reported_and_the_rest_lands(store: Store) {
    let mut app = spawn_app(store).await;
    let rows_in_batch: i64 = 9_000;
    let bad_lines = [2, 2 + rows_in_batch / 2, 1 + rows_in_batch];
    // Three lines per order; a bad row is one whose quantity is negative.
    let batch: Vec<pb::ImportRow> = (0..rows_in_batch)
        .map(|index| {
            let line = index + 2;
            let quantity = if bad_lines.contains(&line) { -1 } else { 1 + index % 3 };
            order_row(line, &format!("o-{}", index / 3), (index % 3 + 1) as i32, "sku-1", quantity)
        })
        .collect();
    let (progress, errors) = import(&mut app.client, pb::ImportKind::Orders, vec![batch.clone()]).await.unwrap();
    let mut reported: Vec<(i64, String)> = errors.into_iter().map(|error| (error.line, error.field)).collect();
    reported.sort();
    assert_eq!(reported, bad_lines.map(|line| (line, "quantity".to_owned())));
    assert_eq!((progress.rows_read, progress.rows_rejected), (rows_in_batch, 3));
    assert_eq!((progress.rows_written, progress.rows_unchanged), (rows_in_batch - 3, 0));
    // o-0 lost its first line (1 unit), the middle order one line, the last order its last line (3 units).
    assert_eq!(get_order(&app, "o-0").await.unwrap().total_minor, (2 + 3) * 1_000);
    let middle = (rows_in_batch / 2) / 3;
    let middle_order = get_order(&app, &format!("o-{middle}")).await.unwrap();
    assert_eq!(middle_order.lines.len(), 2);
    let last = get_order(&app, &format!("o-{}", rows_in_batch / 3 - 1)).await.unwrap();
    assert_eq!((last.lines.len(), last.total_minor), (2, (1 + 2) * 1_000));
    assert_eq!(get_order(&app, "o-1").await.unwrap().total_minor, (1 + 2 + 3) * 1_000);

    // The same file again: the good rows are unchanged, the bad ones reported again.
    let (again, errors) = import(&mut app.client, pb::ImportKind::Orders, vec![batch]).await.unwrap();
    assert_eq!(errors.len(), 3);
    assert_eq!((again.rows_written, again.rows_unchanged), (0, rows_in_batch - 3));
    app.stop().await.unwrap();
}

/// Every store keeps the order references whatever writes them: a line needs
/// its order and an order its customer; deleting an order deletes its lines,
/// deleting a customer leaves their orders anonymous. (PostgreSQL checks them
/// per statement, SQLite per row.)
async fn order_references_hold_per_statement(store: Store) {
    use sea_orm::ConnectionTrait;
    let mut app = spawn_app(store).await;
    let rows = vec![
        order_row(2, "o-1", 1, "sku-1", 1),
        order_row(3, "o-1", 2, "sku-2", 1),
        order_row(4, "o-2", 1, "sku-1", 1),
    ];
    import(&mut app.client, pb::ImportKind::Orders, vec![rows]).await.unwrap();
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
            row.unwrap().try_get_by_index::<i64>(0).unwrap()
        }
    };
    let refused = [
        "INSERT INTO order_lines (order_id, line_number, sku, category, quantity, unit_price_minor, discount_minor) \
         VALUES (999999, 1, 'sku', 'cat', 1, 1, 0)",
        // One good and one orphan line in one statement: the whole statement is refused.
        "INSERT INTO order_lines (order_id, line_number, sku, category, quantity, unit_price_minor, discount_minor) \
         SELECT CASE WHEN external_id = 'o-1' THEN id ELSE id + 1000 END, 9, 'sku', 'cat', 1, 1, 0 FROM orders",
        "UPDATE order_lines SET order_id = 999999 WHERE line_number = 2",
        "INSERT INTO orders (external_id, customer_id, place_time_us, channel, store_id, region, currency_code, status, \
         total_minor, units) VALUES ('o-orphan', 999999, 0, 1, '', '', 'USD', 1, 0, 0)",
        "UPDATE orders SET customer_id = 999999",
        "UPDATE orders SET id = id + 1000",
    ];
    for statement in refused {
        let error = db.execute_unprepared(statement).await.expect_err(statement);
        assert!(error.to_string().to_lowercase().contains("foreign key"), "{statement}: {error}");
    }
    assert_eq!(count("SELECT COUNT(*) FROM order_lines").await, 3, "nothing of a refused statement stays");

    db.execute_unprepared("DELETE FROM orders WHERE external_id = 'o-1'").await.unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM order_lines").await, 1, "the deleted order's lines went with it");
    db.execute_unprepared("DELETE FROM customers WHERE external_id = 'c-1'").await.unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM orders WHERE customer_id IS NULL").await, 1, "o-2 is anonymous now");
    assert_eq!(get_order(&app, "o-2").await.unwrap().customer_id, "");
    if store == Store::Postgres {
        let error = db.execute_unprepared("TRUNCATE orders").await.expect_err("truncate orders alone");
        assert!(error.to_string().contains("order_lines"), "{error}");
        db.execute_unprepared("TRUNCATE orders, order_lines").await.unwrap();
    }
    app.stop().await.unwrap();
}
