//! AssignAll stores every customer exactly as AssignCustomer places them,
//! across the writer's statement and batch boundaries.

use std::collections::BTreeMap;

use patron_proto::common::v1::JobState;
use patron_proto::profile::v1 as profile_pb;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;
use tokio_stream::StreamExt;

use crate::helpers::{Store, days_ago, spawn_app};

/// Two full 1,000-row insert statements and a partial one in one export message.
const CUSTOMERS: usize = 2_345;

fn orders() -> Vec<profile_pb::OrderRow> {
    (0..CUSTOMERS)
        .flat_map(|index| {
            (0..1 + index % 4).map(move |order| profile_pb::OrderRow {
                order_id: format!("o-{index}-{order}"),
                customer_id: format!("c-{index:05}"),
                place_time: Some(days_ago(1.0 + ((index * 7 + order * 31) % 400) as f64)),
                channel: if index % 3 == 0 { profile_pb::SalesChannel::Web } else { profile_pb::SalesChannel::Store }
                    as i32,
                currency_code: "USD".into(),
                status: profile_pb::OrderStatus::Completed as i32,
                total_minor: 100 + ((index * 13 + order) % 977) as i64 * 10,
                ..Default::default()
            })
        })
        .collect()
}

async fn every_membership_is_stored_as_assign_customer_places_it(store: Store) {
    let app = spawn_app(store).await;
    app.import_orders(orders()).await;
    let job = app
        .train(pb::TrainSegmentationRequest {
            request_id: "train-assign-all".into(),
            features: vec!["recency_days".into(), "orders".into(), "monetary".into()],
            k_choice: Some(KChoice::K(3)),
            n_init: 1,
            seed: Some(3),
            silhouette_sample_size: 200,
            ..Default::default()
        })
        .await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    let mut client = app.client.clone();
    client
        .activate_model(pb::ActivateModelRequest { request_id: String::new(), model_id: job.model_version_id.clone() })
        .await
        .expect("activated");

    // One cutoff for the run and the single assignments, so both see the same features.
    let as_of = days_ago(0.0);
    let mut stream = client
        .assign_all(pb::AssignAllRequest { request_id: "assign-exact".into(), as_of: Some(as_of) })
        .await
        .expect("AssignAll starts")
        .into_inner();
    let mut last = None;
    while let Some(message) = stream.next().await {
        last = Some(message.expect("progress"));
    }
    let last = last.expect("a final message");
    assert!(last.done);
    assert_eq!(last.customers_assigned, CUSTOMERS as i64);

    let page = client
        .list_segment_members(pb::ListSegmentMembersRequest { page_size: 10_000, ..Default::default() })
        .await
        .expect("members")
        .into_inner();
    assert!(page.next_page_token.is_empty(), "one page holds every member");
    let stored: Vec<&str> = page.members.iter().map(|member| member.customer_id.as_str()).collect();
    let expected: Vec<String> = (0..CUSTOMERS).map(|index| format!("c-{index:05}")).collect();
    assert_eq!(stored, expected, "every customer once, none else");

    let mut sizes: BTreeMap<String, i64> = BTreeMap::new();
    for member in &page.members {
        *sizes.entry(member.segment_id.clone()).or_default() += 1;
    }
    assert_eq!(sizes, last.segment_sizes.into_iter().collect::<BTreeMap<_, _>>());

    // Every 7th customer, and the last one of each 1,000-row statement and of the run.
    let checked = (0..CUSTOMERS).filter(|index| index % 7 == 0 || index % 1_000 == 999 || *index == CUSTOMERS - 1);
    for index in checked {
        let member = &page.members[index];
        let placed = client
            .assign_customer(pb::AssignCustomerRequest {
                customer: Some(pb::assign_customer_request::Customer::CustomerId(member.customer_id.clone())),
                model_id: String::new(),
                as_of: Some(as_of),
            })
            .await
            .expect("assigned")
            .into_inner()
            .assignment
            .expect("an assignment");
        assert_eq!(
            (&member.segment_id, member.distance, &member.rfm),
            (&placed.segment_id, placed.distance, &placed.rfm),
            "{}",
            member.customer_id
        );
    }
    app.stop().await;
}

on_every_store!(every_membership_is_stored_as_assign_customer_places_it);
