//! Hostile requests on every RPC of the segmentation service, on both stores,
//! with an active model whose members are assigned (so requests reach the
//! model, not only "nothing is active"): random and boundary field values go
//! through decoding, validation and the handler and come back OK or with a
//! documented code, never a panic or an internal error (see
//! `patron_common::testing::hostile`).

use patron_common::testing::hostile::every_rpc_survives_hostile_requests;
use patron_proto::common::v1::JobState;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;

use crate::customers::{features, orders};
use crate::helpers::{Store, TestApp, spawn_app};

/// Requests per RPC and store: enough to reach every field's boundary values
/// in `make test`; `make fuzz` does the volume.
const CASES: u32 = 24;

async fn with_an_active_model(store: Store) -> TestApp {
    let app = spawn_app(store).await;
    app.import_orders(orders(30)).await;
    let job = app
        .train(pb::TrainSegmentationRequest {
            request_id: "hostile-train".into(),
            features: features(),
            k_choice: Some(KChoice::KRange(pb::KRange { min: 2, max: 4 })),
            seed: Some(3),
            ..Default::default()
        })
        .await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    app.client
        .clone()
        .activate_model(pb::ActivateModelRequest {
            request_id: "hostile-activate".into(),
            model_id: job.model_version_id,
        })
        .await
        .expect("activated");
    app.assign_all("hostile-assign").await.expect("assigned");
    app
}

fn every_rpc_on(store: Store) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime.block_on(with_an_active_model(store));
    let channel = app.channel.clone();
    every_rpc_survives_hostile_requests(&runtime, &channel, "patron.segmentation.v1.SegmentationService", CASES);
    runtime.block_on(app.stop());
}

#[test]
fn every_rpc_answers_hostile_requests_on_sqlite() {
    every_rpc_on(Store::Sqlite);
}

#[test]
fn every_rpc_answers_hostile_requests_on_postgres() {
    every_rpc_on(Store::Postgres);
}
