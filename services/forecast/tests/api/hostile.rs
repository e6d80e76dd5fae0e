//! Hostile requests on every RPC of the forecast service, on both stores:
//! random and boundary field values go through decoding, validation and the
//! handler and come back OK or with a documented code, never a panic or an
//! internal error (see `patron_common::testing::hostile`).

use patron_common::testing::hostile::every_rpc_survives_hostile_requests;

use crate::helpers::{Store, spawn_app};

/// Requests per RPC and store: enough to reach every field's boundary values
/// in `make test`; `make fuzz` does the volume.
const CASES: u32 = 24;

fn every_rpc_on(store: Store) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime.block_on(spawn_app(store));
    every_rpc_survives_hostile_requests(&runtime, &app.channel, "patron.forecast.v1.ForecastService", CASES);
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
