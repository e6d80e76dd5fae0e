//! `patron demo-data` and `patron import` against the running suite, through the gateway.

use std::process::Command;

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::{Suite, binaries_dir};

fn patron(args: &[&str]) -> std::process::Output {
    Command::new(binaries_dir().join("patron")).args(args).env_remove("PATRON_TOKEN").output().expect("patron runs")
}

#[tokio::test]
async fn demo_data_imports_once_and_reimports_as_a_no_op() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up().await;
    let gateway = format!("http://127.0.0.1:{}", suite.gateway_port);
    // The development key `patron up` wrote, as `patron import` finds it by default under ./data/.
    let key_file = suite.data_dir.join("dev-api-key");
    let key_file = key_file.to_str().unwrap();
    let demo = suite.data_dir.join("demo-test");
    let written =
        patron(&["demo-data", "--customers", "200", "--days", "120", "--seed", "7", "--out", demo.to_str().unwrap()]);
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));

    for kind in ["customers", "orders", "contacts", "feedback"] {
        let file = demo.join(format!("{kind}.csv"));
        let first =
            patron(&["import", file.to_str().unwrap(), "--kind", kind, "--addr", &gateway, "--token-file", key_file]);
        let output = String::from_utf8_lossy(&first.stdout).to_string();
        assert!(first.status.success(), "{kind}: {output}{}", String::from_utf8_lossy(&first.stderr));
        assert!(output.contains(" 0 rejected"), "{output}");

        let again =
            patron(&["import", file.to_str().unwrap(), "--kind", kind, "--addr", &gateway, "--token-file", key_file]);
        let output = String::from_utf8_lossy(&again.stdout).to_string();
        assert!(again.status.success(), "{output}");
        assert!(output.contains(" 0 written"), "a re-import changes nothing: {output}");
    }

    // A file with bad rows: each one is reported with its line, the rest land.
    let bad = suite.data_dir.join("bad-orders.csv");
    std::fs::write(
        &bad,
        "order_id,customer_id,placed_at,channel,store_id,currency,sku,quantity,unit_price\n\
         b-1,x-1,2025-01-05,web,s-1,USD,sku-1,1,10.00\n\
         b-2,x-1,2025-01-06,web,s-1,USD,sku-1,-2,10.00\n\
         b-3,x-2,2025-01-07,teleport,s-1,USD,sku-1,1,10.00\n\
         b-4,x-2,2025-01-08,store,s-1,XYZ,sku-1,1,10.00\n\
         b-5,x-3,2025-01-09,store,s-1,USD,sku-2,3,1.50\n",
    )
    .unwrap();
    let mixed =
        patron(&["import", bad.to_str().unwrap(), "--kind", "orders", "--addr", &gateway, "--token-file", key_file]);
    let output = format!("{}{}", String::from_utf8_lossy(&mixed.stdout), String::from_utf8_lossy(&mixed.stderr));
    assert_eq!(mixed.status.code(), Some(2), "rejected rows give exit code 2: {output}");
    for line in ["line 3", "line 4", "line 5"] {
        assert!(output.contains(line), "{line} reported: {output}");
    }
    let mut profile = ProfileServiceClient::new(suite.gateway());
    for (order, lands) in [("b-1", true), ("b-2", false), ("b-3", false), ("b-4", false), ("b-5", true)] {
        let found = profile.get_order(pb::GetOrderRequest { order_id: order.into() }).await.is_ok();
        assert_eq!(found, lands, "{order}");
    }
    assert!(suite.terminate().await.success());
}
