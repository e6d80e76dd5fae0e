use patron_proto::common::v1::Money;
use patron_proto::profile::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Store, at, spawn_app};

on_every_store!(contacts_feedback_carts_and_exposures_are_recorded_idempotently, bad_events_name_their_fields);

async fn contacts_feedback_carts_and_exposures_are_recorded_idempotently(store: Store) {
    let mut app = spawn_app(store).await;
    let contact = pb::SupportContact {
        contact_id: "k-1".into(),
        customer_id: "c-1".into(),
        channel: pb::ContactChannel::Phone as i32,
        reason: "refund".into(),
        complaint: true,
        open_time: at(1_700_000_000),
        resolve_time: None,
    };
    let first = app
        .client
        .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    assert_eq!(first.contact.as_ref(), Some(&contact));
    let again = app
        .client
        .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact) })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);

    let answer = pb::Feedback {
        feedback_id: "f-1".into(),
        customer_id: "c-1".into(),
        score: Some(pb::feedback::Score::Csat(4)),
        comment: "fine 'quotes' \"too\"".into(),
        touchpoint: "post_purchase".into(),
        submit_time: at(1_700_000_100),
    };
    let stored = app
        .client
        .record_feedback(pb::RecordFeedbackRequest { request_id: "r-f".into(), feedback: Some(answer.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.feedback.as_ref(), Some(&answer));

    let cart = pb::CartEvent {
        event_id: "e-1".into(),
        cart_id: "cart-1".into(),
        customer_id: "c-1".into(),
        r#type: pb::CartEventType::Created as i32,
        event_time: at(1_700_000_200),
        value: Some(Money { currency_code: "USD".into(), amount_minor: 4_200 }),
        order_id: String::new(),
    };
    let stored = app
        .client
        .record_cart_event(pb::RecordCartEventRequest { request_id: String::new(), event: Some(cart.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.event.as_ref(), Some(&cart));

    let exposure = pb::CampaignExposure {
        exposure_id: "x-1".into(),
        campaign_id: "spring".into(),
        variant: "treatment".into(),
        customer_id: "c-1".into(),
        expose_time: at(1_700_000_300),
    };
    let stored = app
        .client
        .record_exposure(pb::RecordExposureRequest { request_id: String::new(), exposure: Some(exposure.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.exposure.as_ref(), Some(&exposure));
    app.stop().await.unwrap();
}

async fn bad_events_name_their_fields(store: Store) {
    let mut app = spawn_app(store).await;
    let status = app
        .client
        .record_feedback(pb::RecordFeedbackRequest {
            request_id: String::new(),
            feedback: Some(pb::Feedback {
                feedback_id: "f".into(),
                score: Some(pb::feedback::Score::Nps(11)),
                submit_time: at(1_700_000_000),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "feedback.nps");

    let status = app
        .client
        .record_contact(pb::RecordContactRequest {
            request_id: String::new(),
            contact: Some(pb::SupportContact {
                contact_id: "k".into(),
                channel: 42,
                open_time: at(1_700_000_000),
                resolve_time: at(1_600_000_000),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let fields: Vec<String> =
        status.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["contact.channel", "contact.resolve_time"]);

    let status = app
        .client
        .record_cart_event(pb::RecordCartEventRequest {
            request_id: String::new(),
            event: Some(pb::CartEvent {
                event_id: "e".into(),
                cart_id: "c".into(),
                r#type: pb::CartEventType::Converted as i32,
                event_time: at(1_700_000_000),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "event.order_id");
    app.stop().await.unwrap();
}
