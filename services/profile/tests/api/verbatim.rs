//! Text is stored and returned byte for byte on both stores: quotes, SQL
//! fragments, control characters (all but NUL, which every store refuses),
//! emoji, right-to-left and combining characters, and strings exactly at
//! their length limit (docs/limits.md), in every kind of text field a
//! customer, an order, a contact and a feedback answer carry.

use std::collections::HashMap;

use patron_proto::profile::v1 as pb;
use pb::attribute_value::Value;

use crate::helpers::{Store, at, spawn_app};

on_every_store!(customer_text_comes_back_verbatim, order_contact_and_feedback_text_come_back_verbatim);

/// Characters that break naive quoting, SQL and terminals.
const QUOTES_AND_SQL: &str = "'; DROP TABLE customers; -- \"x\" `y` \\ %_ $1 ?";
/// Control characters, C0 and C1, except NUL.
const CONTROLS: &str = "\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}[31m\u{7f}\u{85}\u{9f}";
/// Emoji with joiners and a skin tone, right-to-left text with an override,
/// combining marks and a character outside the BMP.
const SCRIPTS: &str = "🙂👩‍👩‍👧👍🏽 \u{202e}עברית العربية\u{202c} e\u{301}ñ\u{303} 𝔘 \u{feff}";

/// Text of exactly `chars` characters mixing multi-byte ones, so a byte limit
/// in place of a character limit would show.
fn at_limit(chars: usize) -> String {
    let pattern: Vec<char> = "🙂é'a\"".chars().collect();
    let text: String = pattern.iter().cycle().take(chars).collect();
    assert_eq!(text.chars().count(), chars);
    text
}

/// Free text: every hostile piece at once.
fn free_text() -> String {
    format!("{QUOTES_AND_SQL}{CONTROLS}{SCRIPTS}")
}

/// Identifier-like text: everything but control characters (identifiers refuse them).
fn id_text(suffix: &str) -> String {
    format!("{QUOTES_AND_SQL}{SCRIPTS}{suffix}").replace('\u{feff}', "")
}

async fn customer_text_comes_back_verbatim(store: Store) {
    let mut app = spawn_app(store).await;
    let attributes: HashMap<String, pb::AttributeValue> = [
        ("note".to_owned(), Value::StringValue(free_text())),
        ("long".to_owned(), Value::StringValue(at_limit(4_096))),
        (id_text("-attribute"), Value::StringValue(SCRIPTS.to_owned())),
        (at_limit(128), Value::StringValue(CONTROLS.to_owned())),
    ]
    .into_iter()
    .map(|(name, value)| (name, pb::AttributeValue { value: Some(value) }))
    .collect();
    let customers = [
        pb::Customer {
            customer_id: id_text("-1"),
            name: free_text(),
            email: "o'brien+\"--\";DROP@exämple.com".to_owned(),
            phone: format!("+1 555 0100{CONTROLS}"),
            home_store_id: free_text(),
            region: format!("{SCRIPTS}{CONTROLS}"),
            tags: vec![id_text("-tag"), at_limit(128), "🙂".to_owned()],
            attributes,
            ..Default::default()
        },
        pb::Customer {
            customer_id: at_limit(128),
            name: at_limit(256),
            email: format!("{}@example.com", "a".repeat(320 - "@example.com".len())),
            phone: at_limit(64),
            home_store_id: at_limit(128),
            region: at_limit(128),
            ..Default::default()
        },
    ];
    for sent in customers {
        let created = app
            .client
            .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(sent.clone()) })
            .await
            .unwrap_or_else(|status| panic!("{status:?}"))
            .into_inner()
            .customer
            .expect("the created customer");
        assert_same_text(&created, &sent);
        let fetched = app
            .client
            .get_customer(pb::GetCustomerRequest { customer_id: sent.customer_id.clone() })
            .await
            .unwrap_or_else(|status| panic!("{status:?}"))
            .into_inner()
            .customer
            .expect("the stored customer");
        assert_same_text(&fetched, &sent);
    }
    let listed = app.client.list_customers(pb::ListCustomersRequest::default()).await.expect("list").into_inner();
    assert_eq!(listed.customers.len(), 2);
    let by_id = pb::CustomerFilter { tags: vec![id_text("-tag")], ..Default::default() };
    let tagged = app
        .client
        .list_customers(pb::ListCustomersRequest { filter: Some(by_id), ..Default::default() })
        .await
        .expect("filtered list")
        .into_inner();
    assert_eq!(tagged.customers.len(), 1, "a hostile tag is matched exactly");
    assert_eq!(tagged.customers[0].customer_id, id_text("-1"));
    app.stop().await.unwrap();
}

/// Every text field of `sent` came back unchanged (tags as a set: the store keeps them sorted).
fn assert_same_text(returned: &pb::Customer, sent: &pb::Customer) {
    assert_eq!(returned.customer_id.as_bytes(), sent.customer_id.as_bytes());
    assert_eq!(returned.name.as_bytes(), sent.name.as_bytes());
    assert_eq!(returned.email.as_bytes(), sent.email.as_bytes());
    assert_eq!(returned.phone.as_bytes(), sent.phone.as_bytes());
    assert_eq!(returned.home_store_id.as_bytes(), sent.home_store_id.as_bytes());
    assert_eq!(returned.region.as_bytes(), sent.region.as_bytes());
    let mut returned_tags = returned.tags.clone();
    let mut sent_tags = sent.tags.clone();
    returned_tags.sort();
    sent_tags.sort();
    assert_eq!(returned_tags, sent_tags);
    assert_eq!(returned.attributes, sent.attributes);
}

async fn order_contact_and_feedback_text_come_back_verbatim(store: Store) {
    let mut app = spawn_app(store).await;
    let placed = at(1_767_225_600); // 2026-01-01
    let order = pb::Order {
        order_id: id_text("-order"),
        place_time: placed,
        channel: pb::SalesChannel::Web as i32,
        store_id: format!("{QUOTES_AND_SQL}{CONTROLS}"),
        region: at_limit(128),
        currency_code: "EUR".to_owned(),
        lines: vec![
            pb::OrderLine {
                sku: id_text("-sku"),
                category: format!("{SCRIPTS}{CONTROLS}"),
                quantity: 1,
                unit_price_minor: 250,
                ..Default::default()
            },
            pb::OrderLine {
                sku: at_limit(128),
                category: at_limit(128),
                quantity: 2,
                unit_price_minor: 100,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    app.client
        .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order.clone()) })
        .await
        .unwrap_or_else(|status| panic!("{status:?}"));
    let stored = app
        .client
        .get_order(pb::GetOrderRequest { order_id: order.order_id.clone() })
        .await
        .unwrap_or_else(|status| panic!("{status:?}"))
        .into_inner()
        .order
        .expect("the stored order");
    assert_eq!(stored.order_id.as_bytes(), order.order_id.as_bytes());
    assert_eq!(stored.store_id.as_bytes(), order.store_id.as_bytes());
    assert_eq!(stored.region.as_bytes(), order.region.as_bytes());
    let texts = |order: &pb::Order| -> Vec<(String, String)> {
        order.lines.iter().map(|line| (line.sku.clone(), line.category.clone())).collect()
    };
    assert_eq!(texts(&stored), texts(&order));

    // Contacts and feedback are answered as re-read from the store.
    let contact = pb::SupportContact {
        contact_id: id_text("-contact"),
        channel: pb::ContactChannel::Chat as i32,
        reason: format!("{QUOTES_AND_SQL}{CONTROLS}"),
        open_time: placed,
        ..Default::default()
    };
    let stored = app
        .client
        .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact.clone()) })
        .await
        .unwrap_or_else(|status| panic!("{status:?}"))
        .into_inner()
        .contact
        .expect("the stored contact");
    assert_eq!((stored.contact_id, stored.reason), (contact.contact_id, contact.reason));

    for (index, comment) in [free_text(), at_limit(4_096)].into_iter().enumerate() {
        let feedback = pb::Feedback {
            feedback_id: format!("{}-{index}", id_text("-feedback")),
            score: Some(pb::feedback::Score::Nps(7)),
            comment,
            touchpoint: at_limit(128),
            submit_time: placed,
            ..Default::default()
        };
        let stored = app
            .client
            .record_feedback(pb::RecordFeedbackRequest { request_id: String::new(), feedback: Some(feedback.clone()) })
            .await
            .unwrap_or_else(|status| panic!("{status:?}"))
            .into_inner()
            .feedback
            .expect("the stored feedback");
        assert_eq!(stored.feedback_id.as_bytes(), feedback.feedback_id.as_bytes());
        assert_eq!(stored.comment.as_bytes(), feedback.comment.as_bytes());
        assert_eq!(stored.touchpoint.as_bytes(), feedback.touchpoint.as_bytes());
    }
    app.stop().await.unwrap();
}
