use patron_proto::profile::v1 as pb;
use sea_orm::{ConnectionTrait, Database};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::customers::{create, customer};
use crate::helpers::{Store, at, spawn_app};

on_every_store!(erasure_removes_the_person_and_keeps_the_revenue, summary_gives_the_customer_view);

fn order(id: &str, seconds: i64, total: i64) -> pb::Order {
    pb::Order {
        order_id: id.into(),
        customer_id: "c-1".into(),
        place_time: at(seconds),
        channel: pb::SalesChannel::Web as i32,
        currency_code: "USD".into(),
        status: pb::OrderStatus::Completed as i32,
        total_minor: total,
        ..Default::default()
    }
}

async fn seed(app: &mut crate::helpers::TestApp) {
    create(&mut app.client, customer("c-1")).await;
    app.client
        .set_consent(pb::SetConsentRequest {
            request_id: "consent-1".into(),
            customer_id: "c-1".into(),
            channel: pb::ConsentChannel::Sms as i32,
            state: pb::ConsentState::Granted as i32,
        })
        .await
        .unwrap();
    for (id, seconds, total) in [("o-1", 1_700_000_000, 1_000), ("o-2", 1_700_500_000, 3_000)] {
        app.client
            .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order(id, seconds, total)) })
            .await
            .unwrap();
    }
    let answer = pb::Feedback {
        feedback_id: "f-1".into(),
        customer_id: "c-1".into(),
        score: Some(pb::feedback::Score::Nps(3)),
        comment: "call me on +441234567890".into(),
        submit_time: at(1_700_100_000),
        ..Default::default()
    };
    app.client
        .record_feedback(pb::RecordFeedbackRequest { request_id: String::new(), feedback: Some(answer) })
        .await
        .unwrap();
    let contact = pb::SupportContact {
        contact_id: "k-1".into(),
        customer_id: "c-1".into(),
        channel: pb::ContactChannel::Email as i32,
        complaint: true,
        open_time: at(1_700_200_000),
        ..Default::default()
    };
    app.client
        .record_contact(pb::RecordContactRequest { request_id: String::new(), contact: Some(contact) })
        .await
        .unwrap();
}

async fn erasure_removes_the_person_and_keeps_the_revenue(store: Store) {
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let erased = app
        .client
        .erase_customer(pb::EraseCustomerRequest {
            request_id: "erase-1".into(),
            customer_id: "c-1".into(),
            reason: "ticket 42".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.orders_anonymised, 2);
    assert_eq!(erased.customer_id_hash.len(), 64);

    let gone = app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let kept =
        app.client.get_order(pb::GetOrderRequest { order_id: "o-2".into() }).await.unwrap().into_inner().order.unwrap();
    assert_eq!((kept.customer_id.as_str(), kept.total_minor), ("", 3_000), "the revenue stays, anonymous");

    let mut exported = app
        .client
        .export_customer_features(pb::ExportCustomerFeaturesRequest { include_non_buyers: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    while let Some(batch) = exported.next().await {
        assert!(batch.unwrap().rows.is_empty(), "erased customers never appear in exports");
    }

    // No trace of the id, email or phone in any text the store keeps.
    let db = Database::connect(app.database_url.clone()).await.unwrap();
    let text_columns = [
        ("customers", "external_id"),
        ("customers", "email"),
        ("customers", "phone"),
        ("customer_tags", "tag"),
        ("customer_attributes", "value"),
        ("orders", "external_id"),
        ("feedback", "comment"),
        ("idempotency_keys", "resource_id"),
        ("erasure_audit", "customer_id_hash"),
        ("erasure_audit", "reason"),
    ];
    for needle in ["c-1", "ada@example.com", "+441234567890"] {
        for (table, column) in text_columns {
            let sql =
                format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = '{needle}' OR {column} LIKE '%{needle}%'");
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            let count: i64 = row.try_get("", "n").unwrap();
            assert_eq!(count, 0, "{needle} found in {table}.{column}");
        }
    }
    let audit = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM erasure_audit".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(audit.try_get::<i64>("", "n").unwrap(), 1);

    // Erasing again (a retry of an erasure interrupted downstream) answers
    // with the first erasure's record and writes no second one.
    let again = app
        .client
        .erase_customer(pb::EraseCustomerRequest {
            request_id: String::new(),
            customer_id: "c-1".into(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.customer_id_hash, erased.customer_id_hash);
    assert_eq!(again.erase_time, erased.erase_time);
    assert_eq!(again.orders_anonymised, 0, "nothing left to anonymise");
    let audit = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM erasure_audit".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(audit.try_get::<i64>("", "n").unwrap(), 1);
    // An id that was never a customer is still unknown.
    let never = app
        .client
        .erase_customer(pb::EraseCustomerRequest {
            request_id: String::new(),
            customer_id: "c-2".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(never.code(), Code::NotFound);
    app.stop().await.unwrap();
}

async fn summary_gives_the_customer_view(store: Store) {
    let mut app = spawn_app(store).await;
    seed(&mut app).await;
    let summary = app
        .client
        .get_customer_summary(pb::GetCustomerSummaryRequest {
            customer_id: "c-1".into(),
            as_of: None,
            recent_orders: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.customer.unwrap().customer_id, "c-1");
    assert_eq!(summary.orders, 2);
    assert_eq!(summary.revenue.unwrap().amount_minor, 4_000);
    assert_eq!(summary.average_order_value.unwrap().amount_minor, 2_000);
    assert_eq!(summary.last_nps, Some(3));
    assert_eq!((summary.contacts, summary.complaints), (1, 1));
    assert_eq!(summary.recent_orders.iter().map(|order| order.order_id.as_str()).collect::<Vec<_>>(), ["o-2"]);
    assert_eq!(summary.last_order_time.unwrap().seconds, 1_700_500_000);

    let missing = app
        .client
        .get_customer_summary(pb::GetCustomerSummaryRequest { customer_id: "nobody".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    app.stop().await.unwrap();
}
