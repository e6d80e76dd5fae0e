//! Hostile requests on every RPC of the profile service, on both stores, with
//! the customers and the order the generator's plausible ids name ("c-1",
//! "c-2", "o-1") on file, so requests reach stored rows too: random and
//! boundary field values go through decoding, validation and the handler and
//! come back OK or with a documented code, never a panic or an internal error
//! (see `patron_common::testing::hostile`).

use patron_common::testing::hostile::every_rpc_survives_hostile_requests;
use patron_proto::profile::v1 as pb;
use tonic::transport::Channel;

use crate::customers::{create, customer};
use crate::helpers::{Store, TestApp, at, spawn_app};

/// Requests per RPC and store: enough to reach every field's boundary values
/// in `make test`; `make fuzz` does the volume.
const CASES: u32 = 24;

async fn with_customers_and_an_order(store: Store) -> TestApp {
    let mut app = spawn_app(store).await;
    for id in ["c-1", "c-2"] {
        create(&mut app.client, customer(id)).await;
    }
    let order = pb::Order {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        place_time: at(1_767_225_600),
        channel: pb::SalesChannel::Store as i32,
        currency_code: "USD".into(),
        lines: vec![pb::OrderLine { sku: "sku-1".into(), quantity: 2, unit_price_minor: 500, ..Default::default() }],
        ..Default::default()
    };
    app.client
        .record_order(pb::RecordOrderRequest { request_id: String::new(), order: Some(order) })
        .await
        .expect("the order is recorded");
    app
}

fn every_rpc_on(store: Store) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime.block_on(with_customers_and_an_order(store));
    let channel = runtime
        .block_on(async { Channel::from_shared(format!("http://{}", app.addr)).expect("a valid uri").connect_lazy() });
    every_rpc_survives_hostile_requests(&runtime, &channel, "patron.profile.v1.ProfileService", CASES);
    runtime.block_on(app.stop()).expect("the service stops cleanly");
}

#[test]
fn every_rpc_answers_hostile_requests_on_sqlite() {
    every_rpc_on(Store::Sqlite);
}

#[test]
fn every_rpc_answers_hostile_requests_on_postgres() {
    every_rpc_on(Store::Postgres);
}
