use patron_proto::profile::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Store, spawn_app};

on_every_store!(
    create_get_update_round_trip,
    duplicate_customer_is_already_exists,
    malformed_customer_names_every_bad_field,
    text_is_stored_verbatim,
    tags_consent_and_filters,
    request_id_makes_retries_idempotent,
    a_request_id_with_control_characters_is_invalid,
    list_paginates_without_gaps_or_repeats,
);

pub fn customer(id: &str) -> pb::Customer {
    pb::Customer {
        customer_id: id.to_owned(),
        name: "Ada Lovelace".to_owned(),
        email: "ada@example.com".to_owned(),
        phone: "+441234567890".to_owned(),
        home_store_id: "store-1".to_owned(),
        region: "north".to_owned(),
        tags: vec!["vip".to_owned()],
        attributes: [
            ("shoe_size".to_owned(), pb::AttributeValue { value: Some(pb::attribute_value::Value::NumberValue(38.5)) }),
            (
                "birthday".to_owned(),
                pb::AttributeValue { value: Some(pb::attribute_value::Value::DateValue("1815-12-10".to_owned())) },
            ),
        ]
        .into(),
        ..Default::default()
    }
}

pub async fn create(
    client: &mut pb::profile_service_client::ProfileServiceClient<tonic::transport::Channel>,
    customer: pb::Customer,
) -> pb::Customer {
    client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
        .await
        .expect("customer is created")
        .into_inner()
        .customer
        .expect("customer in response")
}

async fn create_get_update_round_trip(store: Store) {
    let mut app = spawn_app(store).await;
    let created = create(&mut app.client, customer("c-1")).await;
    assert_eq!(created.email, "ada@example.com");
    assert!(created.create_time.is_some());

    let fetched =
        app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap().into_inner();
    assert_eq!(fetched.customer.as_ref(), Some(&created));

    let mut changed = customer("c-1");
    changed.email = "ada@analytical.engine".to_owned();
    changed.region = "south".to_owned();
    let updated = app
        .client
        .update_customer(pb::UpdateCustomerRequest {
            request_id: String::new(),
            customer: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(updated.email, "ada@analytical.engine");
    assert_eq!(updated.region, "north", "fields outside the mask stay");

    let missing = app.client.get_customer(pb::GetCustomerRequest { customer_id: "nobody".into() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    app.stop().await.unwrap();
}

async fn duplicate_customer_is_already_exists(store: Store) {
    let mut app = spawn_app(store).await;
    create(&mut app.client, customer("c-1")).await;
    let error = app
        .client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer("c-1")) })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists);
    app.stop().await.unwrap();
}

async fn malformed_customer_names_every_bad_field(store: Store) {
    let mut app = spawn_app(store).await;
    let mut bad = customer("");
    bad.email = "not-an-email".to_owned();
    bad.attributes.insert(
        "when".to_owned(),
        pb::AttributeValue { value: Some(pb::attribute_value::Value::DateValue("2026-13-01".into())) },
    );
    let status = app
        .client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(bad) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = status.get_details_bad_request().expect("field violations attached").field_violations;
    let fields: Vec<&str> = violations.iter().map(|violation| violation.field.as_str()).collect();
    assert!(fields.contains(&"customer.customer_id"), "{fields:?}");
    assert!(fields.contains(&"customer.email"), "{fields:?}");
    assert!(fields.contains(&"customer.attributes[\"when\"]"), "{fields:?}");
    assert!(status.message().contains("customer.email"), "{}", status.message());

    let listed = app.client.list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner();
    assert!(listed.customers.is_empty(), "nothing was written");
    app.stop().await.unwrap();
}

async fn text_is_stored_verbatim(store: Store) {
    let mut app = spawn_app(store).await;
    let mut hostile = customer("c-'; DROP TABLE customers; --");
    hostile.name = "Robert'); DROP TABLE customers;-- \"quoted\" \\ back\tslash ünïcødé 🙂".to_owned();
    hostile.region = "%_like_wildcards_%".to_owned();
    let created = create(&mut app.client, hostile.clone()).await;
    assert_eq!(created.customer_id, hostile.customer_id);
    assert_eq!(created.name, hostile.name);
    let fetched = app
        .client
        .get_customer(pb::GetCustomerRequest { customer_id: hostile.customer_id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.customer.unwrap().name, hostile.name);
    let other = app
        .client
        .list_customers(pb::ListCustomersRequest {
            filter: Some(pb::CustomerFilter { region: "%".into(), ..Default::default() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(other.customers.is_empty(), "filters compare literally, not as patterns");
    app.stop().await.unwrap();
}

async fn tags_consent_and_filters(store: Store) {
    let mut app = spawn_app(store).await;
    create(&mut app.client, customer("c-1")).await;
    let mut second = customer("c-2");
    second.region = "south".into();
    second.tags = vec![];
    create(&mut app.client, second).await;

    let tagged = app
        .client
        .tag_customer(pb::TagCustomerRequest {
            request_id: String::new(),
            customer_id: "c-2".into(),
            tags: vec!["vip".into(), "new".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(tagged.tags, ["new", "vip"]);
    let untagged = app
        .client
        .untag_customer(pb::UntagCustomerRequest {
            request_id: String::new(),
            customer_id: "c-2".into(),
            tags: vec!["new".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(untagged.tags, ["vip"]);

    let consented = app
        .client
        .set_consent(pb::SetConsentRequest {
            request_id: String::new(),
            customer_id: "c-2".into(),
            channel: pb::ConsentChannel::Email as i32,
            state: pb::ConsentState::Granted as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(consented.consents.len(), 1);
    assert_eq!(consented.consents[0].state, pb::ConsentState::Granted as i32);

    let list = |filter: pb::CustomerFilter| {
        let mut client = app.client.clone();
        async move {
            let response = client
                .list_customers(pb::ListCustomersRequest { filter: Some(filter), ..Default::default() })
                .await
                .unwrap()
                .into_inner();
            response.customers.into_iter().map(|customer| customer.customer_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(pb::CustomerFilter { tags: vec!["vip".into()], ..Default::default() }).await, ["c-1", "c-2"]);
    assert_eq!(list(pb::CustomerFilter { region: "south".into(), ..Default::default() }).await, ["c-2"]);
    assert_eq!(
        list(pb::CustomerFilter { consent_granted: pb::ConsentChannel::Email as i32, ..Default::default() }).await,
        ["c-2"]
    );
    assert_eq!(
        list(pb::CustomerFilter {
            attribute_equals: [("shoe_size".to_owned(), "38.5".to_owned())].into(),
            ..Default::default()
        })
        .await,
        ["c-1", "c-2"]
    );

    let bad_consent = app
        .client
        .set_consent(pb::SetConsentRequest {
            request_id: String::new(),
            customer_id: "c-2".into(),
            channel: 0,
            state: 9,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_consent.code(), Code::InvalidArgument);
    let fields: Vec<String> =
        bad_consent.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["channel", "state"]);
    app.stop().await.unwrap();
}

async fn request_id_makes_retries_idempotent(store: Store) {
    let mut app = spawn_app(store).await;
    let request = pb::CreateCustomerRequest { request_id: "req-1".into(), customer: Some(customer("c-1")) };
    let first = app.client.create_customer(request.clone()).await.unwrap().into_inner();
    let retried = app.client.create_customer(request).await.expect("a retry is not a conflict").into_inner();
    assert_eq!(first, retried);

    let tag =
        pb::TagCustomerRequest { request_id: "req-2".into(), customer_id: "c-1".into(), tags: vec!["gold".into()] };
    app.client.tag_customer(tag.clone()).await.unwrap();
    app.client
        .untag_customer(pb::UntagCustomerRequest {
            request_id: "req-3".into(),
            customer_id: "c-1".into(),
            tags: vec!["gold".into()],
        })
        .await
        .unwrap();
    let replayed = app.client.tag_customer(tag).await.unwrap().into_inner().customer.unwrap();
    assert!(!replayed.tags.contains(&"gold".to_owned()), "a replayed request does not act again");
    app.stop().await.unwrap();
}

/// PostgreSQL cannot store NUL: such an id came back INTERNAL (hostile tests).
async fn a_request_id_with_control_characters_is_invalid(store: Store) {
    let mut app = spawn_app(store).await;
    app.client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer("c-1")) })
        .await
        .unwrap();
    for request_id in ["\0", "a\nb", &"r".repeat(129)] {
        let untag = pb::UntagCustomerRequest {
            request_id: request_id.to_owned(),
            customer_id: "c-1".into(),
            tags: vec!["vip".into()],
        };
        let status = app.client.untag_customer(untag).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{request_id:?}: {status:?}");
        let fields: Vec<String> =
            status.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["request_id"]);
    }
    let stored = app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap();
    assert!(stored.into_inner().customer.unwrap().tags.contains(&"vip".to_owned()), "nothing was untagged");
    app.stop().await.unwrap();
}

async fn list_paginates_without_gaps_or_repeats(store: Store) {
    let mut app = spawn_app(store).await;
    for index in 0..25 {
        create(&mut app.client, customer(&format!("c-{index:02}"))).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_customers(pb::ListCustomersRequest { page_size: 10, page_token: token.clone(), filter: None })
            .await
            .unwrap()
            .into_inner();
        assert!(page.customers.len() <= 10);
        seen.extend(page.customers.into_iter().map(|customer| customer.customer_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = (0..25).map(|index| format!("c-{index:02}")).collect();
    assert_eq!(seen, expected);

    let bad = app
        .client
        .list_customers(pb::ListCustomersRequest { page_size: -1, page_token: "garbage".into(), filter: None })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    app.stop().await.unwrap();
}
