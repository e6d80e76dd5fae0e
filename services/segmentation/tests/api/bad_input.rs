//! Bad requests name their field; bad data fails the job with a reason; the
//! active model is never touched.

use patron_proto::common::v1::JobState;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;
use tonic::Code;

use crate::customers::{features, orders};
use crate::helpers::{Store, days_ago, spawn_app, violated_fields};

fn train_request(k_choice: KChoice) -> pb::TrainSegmentationRequest {
    pb::TrainSegmentationRequest { features: features(), k_choice: Some(k_choice), seed: Some(1), ..Default::default() }
}

async fn bad_requests_name_their_field_and_leave_the_active_model(store: Store) {
    let app = spawn_app(store).await;
    app.import_orders(orders(40)).await;
    let mut client = app.client.clone();
    let job = app.train(train_request(KChoice::K(4))).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    let active_id = job.model_version_id;
    client
        .activate_model(pb::ActivateModelRequest { request_id: String::new(), model_id: active_id.clone() })
        .await
        .expect("activated");

    let cases: Vec<(pb::TrainSegmentationRequest, Vec<&str>)> = vec![
        (train_request(KChoice::K(1)), vec!["k"]),
        (train_request(KChoice::K(33)), vec!["k"]),
        (train_request(KChoice::KRange(pb::KRange { min: 5, max: 3 })), vec!["k_range.max"]),
        (
            pb::TrainSegmentationRequest {
                features: vec!["recency_days".into(), "shoe_size".into(), "recency_days".into()],
                ..Default::default()
            },
            vec!["features[1]", "features[2]"],
        ),
        (pb::TrainSegmentationRequest { as_of: Some(days_ago(-2.0)), ..Default::default() }, vec!["as_of"]),
        (
            pb::TrainSegmentationRequest { n_init: 65, tolerance: -1.0, ..Default::default() },
            vec!["n_init", "tolerance"],
        ),
    ];
    for (request, fields) in cases {
        let status = client.train_segmentation(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_fields(&status), fields);
    }

    let status = client
        .activate_model(pb::ActivateModelRequest { request_id: String::new(), model_id: "seg-nope".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Assigning bad values: a missing feature, a NaN, a negative value for a log1p feature.
    let assign = |values: Vec<(&str, f64)>| pb::AssignCustomerRequest {
        customer: Some(pb::assign_customer_request::Customer::Features(pb::CustomerFeatures {
            values: values.into_iter().map(|(name, value)| (name.to_owned(), value)).collect(),
        })),
        ..Default::default()
    };
    let mut good = vec![
        ("recency_days", 5.0),
        ("orders", 10.0),
        ("monetary", 2_000.0),
        ("tenure_days", 300.0),
        ("average_order_value", 200.0),
        ("share_store", 0.0),
    ];
    let assignment = client.assign_customer(assign(good.clone())).await.expect("assigned").into_inner();
    assert_eq!(assignment.assignment.expect("assignment").model_id, active_id);
    good.retain(|(name, _)| *name != "orders");
    let status = client.assign_customer(assign(good.clone())).await.unwrap_err();
    assert_eq!(violated_fields(&status), vec!["features.values[\"orders\"]"]);
    good.push(("orders", f64::NAN));
    let status = client.assign_customer(assign(good.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), vec!["features.values[\"orders\"]"]);

    // A constant feature fails the job with a reason; the active model stays.
    let mut constant = train_request(KChoice::K(3));
    constant.features.push("contacts".into());
    let job = app.train(constant).await;
    assert_eq!(job.state, JobState::Failed as i32);
    assert_eq!(job.error, "FAILED_PRECONDITION: feature contacts is constant (0.0)");

    // Mini-batch k-means trains through the same job, recorded as its own kind.
    let mut mini_batch = train_request(KChoice::K(4));
    mini_batch.algorithm = pb::ClusteringAlgorithm::MiniBatchKmeans as i32;
    mini_batch.mini_batch_size = 64;
    let job = app.train(mini_batch).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    let version = client
        .get_model(pb::GetModelRequest { model_id: job.model_version_id })
        .await
        .expect("model")
        .into_inner()
        .model
        .expect("version");
    assert_eq!(version.kind, "mini_batch_kmeans");
    assert_eq!(version.parameters.get("mini_batch_size").map(String::as_str), Some("64"));

    let status = client
        .list_segment_members(pb::ListSegmentMembersRequest { page_size: -1, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), vec!["page_size"]);
    let status = client
        .list_segment_members(pb::ListSegmentMembersRequest { page_token: "garbage".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), vec!["page_token"]);

    let active = client
        .list_models(pb::ListModelsRequest {
            status: patron_proto::common::v1::ModelStatus::Active as i32,
            ..Default::default()
        })
        .await
        .expect("models")
        .into_inner()
        .models;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, active_id);
    app.stop().await;
}

async fn too_few_customers_fail_the_job(store: Store) {
    let app = spawn_app(store).await;
    app.import_orders(orders(10)).await;
    let job = app.train(train_request(KChoice::K(3))).await;
    assert_eq!(job.state, JobState::Failed as i32);
    assert!(
        job.error.starts_with("FAILED_PRECONDITION: 40 customers before ")
            && job.error.ends_with("; at least 100 needed"),
        "{}",
        job.error
    );
    app.stop().await;
}

on_every_store!(bad_requests_name_their_field_and_leave_the_active_model, too_few_customers_fail_the_job);
