//! Demo-like data for the service tests: customers who buy as a BG/NBD
//! process over the last two years (Gamma purchase rates, a Beta dropout
//! chance after each purchase), spend drawn independently of frequency, some with
//! complaints and low NPS (who drop out more often), email consent for
//! every other customer, two regions. Loaded through the profile service's
//! import RPC; seeded, so every run sees the same data relative to now.
#![allow(dead_code)]

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const DAY: i64 = 86_400;

pub struct Demo {
    pub customers: usize,
    /// Customer ids with email consent GRANTED.
    pub email_consent: Vec<String>,
    /// Customer ids with at least one order.
    pub buyers: Vec<String>,
}

pub fn customer_id(i: usize) -> String {
    format!("c-{i:05}")
}

pub fn region(i: usize) -> &'static str {
    if i.is_multiple_of(3) { "north" } else { "south" }
}

fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// Loads `n` customers with their orders, contacts and feedback.
pub async fn seed(client: &mut ProfileServiceClient<Channel>, n: usize, seed: u64) -> Demo {
    let now = chrono::Utc::now().timestamp();
    let start = now - 730 * DAY;
    let mut rng = StdRng::seed_from_u64(seed);
    let rate = Gamma::new(1.5, 1.0 / 40.0).expect("rate distribution"); // purchases per day
    let spend = Gamma::new(4.0, 1500.0).expect("spend distribution");
    let happy_dropout = Beta::new(1.0, 8.0).expect("dropout distribution");
    let unhappy_dropout = Beta::new(2.0, 3.0).expect("dropout distribution");
    let (mut customers, mut orders, mut contacts, mut feedback) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut demo = Demo { customers: n, email_consent: Vec::new(), buyers: Vec::new() };
    for i in 0..n {
        let id = customer_id(i);
        let joined = start + rng.random_range(0..560) * DAY + rng.random_range(0..DAY);
        let unhappy = rng.random::<f64>() < 0.25;
        let consents = if i.is_multiple_of(2) {
            demo.email_consent.push(id.clone());
            vec![pb::Consent {
                channel: pb::ConsentChannel::Email as i32,
                state: pb::ConsentState::Granted as i32,
                update_time: ts(joined),
            }]
        } else {
            Vec::new()
        };
        customers.push(pb::import_row::Record::Customer(pb::Customer {
            customer_id: id.clone(),
            name: format!("Customer {i}"),
            region: region(i).to_owned(),
            consents,
            create_time: ts(joined),
            ..Default::default()
        }));

        let lambda: f64 = rate.sample(&mut rng);
        let dropout: f64 = if unhappy { unhappy_dropout.sample(&mut rng) } else { happy_dropout.sample(&mut rng) };
        let wait = Exp::new(lambda).expect("waiting time distribution");
        let mut t = joined as f64;
        let mut k = 0;
        while t < now as f64 {
            let total = (spend.sample(&mut rng) as i64).max(100);
            orders.push(pb::import_row::Record::Order(pb::OrderRow {
                order_id: format!("o-{i:05}-{k}"),
                customer_id: id.clone(),
                place_time: ts(t as i64),
                channel: if k % 3 == 0 { pb::SalesChannel::Web } else { pb::SalesChannel::Store } as i32,
                store_id: "s-1".to_owned(),
                region: region(i).to_owned(),
                currency_code: "USD".to_owned(),
                status: pb::OrderStatus::Completed as i32,
                line_number: 1,
                total_minor: total,
                ..Default::default()
            }));
            k += 1;
            if rng.random::<f64>() < dropout {
                break;
            }
            t += wait.sample(&mut rng) * DAY as f64;
        }
        demo.buyers.push(id.clone());
        if unhappy && joined + 20 * DAY < now {
            contacts.push(pb::import_row::Record::Contact(pb::SupportContact {
                contact_id: format!("k-{i:05}"),
                customer_id: id.clone(),
                channel: pb::ContactChannel::Phone as i32,
                reason: "late_delivery".to_owned(),
                complaint: true,
                open_time: ts(joined + 20 * DAY),
                resolve_time: ts(joined + 21 * DAY),
            }));
        }
        if rng.random::<f64>() < 0.7 && joined + 10 * DAY < now {
            let nps = if unhappy { rng.random_range(0..6) } else { rng.random_range(6..11) };
            feedback.push(pb::import_row::Record::Feedback(pb::Feedback {
                feedback_id: format!("f-{i:05}"),
                customer_id: id.clone(),
                score: Some(pb::feedback::Score::Nps(nps)),
                touchpoint: "post_purchase_email".to_owned(),
                submit_time: ts(joined + 10 * DAY),
                ..Default::default()
            }));
        }
    }
    import(client, pb::ImportKind::Customers, customers).await;
    import(client, pb::ImportKind::Orders, orders).await;
    import(client, pb::ImportKind::Contacts, contacts).await;
    import(client, pb::ImportKind::Feedback, feedback).await;
    demo
}

async fn import(
    client: &mut ProfileServiceClient<Channel>,
    kind: pb::ImportKind,
    records: Vec<pb::import_row::Record>,
) {
    let count = records.len();
    let rows: Vec<pb::ImportRow> = records
        .into_iter()
        .enumerate()
        .map(|(line, record)| pb::ImportRow { line: line as i64 + 2, record: Some(record) })
        .collect();
    let mut messages = vec![pb::ImportRecordsRequest {
        payload: Some(pb::import_records_request::Payload::Header(pb::ImportHeader {
            request_id: format!("demo-{kind:?}"),
            kind: kind as i32,
            source: "demo".to_owned(),
        })),
    }];
    messages.extend(rows.chunks(5_000).map(|chunk| pb::ImportRecordsRequest {
        payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch { rows: chunk.to_vec() })),
    }));
    let mut answers = client.import_records(tokio_stream::iter(messages)).await.expect("import starts").into_inner();
    let mut last = None;
    while let Some(answer) = answers.next().await {
        let answer = answer.unwrap_or_else(|status| panic!("{kind:?} import: {status:?}"));
        assert!(answer.errors.is_empty(), "{kind:?} rows rejected: {:?}", answer.errors);
        last = answer.progress;
    }
    let progress = last.expect("import progress");
    assert_eq!(progress.rows_written as usize, count, "{kind:?}: {progress:?}");
}
