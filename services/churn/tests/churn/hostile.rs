//! Hostile requests on every RPC of the churn service, on both stores, with
//! an active model trained on demo data (so scoring, prediction and win-back
//! requests reach the model, not only "nothing is active") and a
//! segmentation service with an active model behind it (so a win-back list's
//! segment filter reaches real segments): random and
//! boundary field values go through decoding, validation and the handler and
//! come back OK or with a documented code, never a panic or an internal error
//! (see `patron_common::testing::hostile`).

use patron_common::testing::hostile::every_rpc_survives_hostile_requests;

use crate::helpers::{Store, spawn_app_with_segmentation};

/// Requests per RPC and store: enough to reach every field's boundary values
/// in `make test`; `make fuzz` does the volume.
const CASES: u32 = 24;

fn every_rpc_on(store: Store) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime.block_on(async {
        let mut app = spawn_app_with_segmentation(store).await;
        crate::demo::seed(&mut app.profile, 300, 5).await;
        app.train_and_activate("hostile-train").await;
        app.train_and_activate_segments("hostile-segments").await;
        app
    });
    let channel = app.churn_channel();
    every_rpc_survives_hostile_requests(&runtime, &channel, "patron.churn.v1.ChurnService", CASES);
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
