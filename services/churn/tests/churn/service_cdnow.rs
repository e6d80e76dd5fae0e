//! The published CDNOW values through gRPC: the sample's transactions are
//! imported into the profile service, a weekly model is trained with the
//! calibration period ending 1997-09-30, and GetModel and PredictBtyd
//! report Fader, Hardie & Lee's parameters and their worked example.

use std::collections::HashMap;

use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::{JobState, TimeUnit};
use patron_proto::profile::v1 as profile;
use tokio_stream::StreamExt;

use crate::common::round;
use crate::helpers::{Store, spawn_app};

on_every_store!(cdnow_through_the_service_reproduces_the_published_values);

fn midnight(year: i32, month: u32, day: u32) -> prost_types::Timestamp {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day).expect("valid date");
    prost_types::Timestamp { seconds: date.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp(), nanos: 0 }
}

/// The transactions (tests/fixtures/README.md) as total-only order rows.
fn cdnow_orders() -> Vec<profile::ImportRow> {
    let text = include_str!("../../../../tests/fixtures/cdnow/cdnow_sample_transactions.txt");
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (sample_id, date, amount) = (fields[1], fields[2], fields[4]);
            let occurrence = seen.entry((sample_id.to_owned(), date.to_owned())).or_insert(0);
            *occurrence += 1;
            let minor = (amount.parse::<f64>().expect("amount") * 100.0).round() as i64;
            let day = chrono::NaiveDate::parse_from_str(date, "%Y%m%d").expect("date");
            let place_time = prost_types::Timestamp {
                seconds: day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp(),
                nanos: 0,
            };
            profile::ImportRow {
                line: index as i64 + 1,
                record: Some(profile::import_row::Record::Order(profile::OrderRow {
                    order_id: format!("cdnow-{sample_id}-{date}-{occurrence}"),
                    customer_id: sample_id.trim_start_matches('0').to_owned(),
                    place_time: Some(place_time),
                    channel: profile::SalesChannel::Web as i32,
                    currency_code: "USD".into(),
                    status: profile::OrderStatus::Completed as i32,
                    total_minor: minor,
                    ..Default::default()
                })),
            }
        })
        .collect()
}

async fn cdnow_through_the_service_reproduces_the_published_values(store: Store) {
    let mut app = spawn_app(store).await;
    let rows = cdnow_orders();
    let mut messages = vec![profile::ImportRecordsRequest {
        payload: Some(profile::import_records_request::Payload::Header(profile::ImportHeader {
            request_id: "cdnow".into(),
            kind: profile::ImportKind::Orders as i32,
            source: "cdnow_sample_transactions.txt".into(),
        })),
    }];
    messages.extend(rows.chunks(2_000).map(|chunk| profile::ImportRecordsRequest {
        payload: Some(profile::import_records_request::Payload::Batch(profile::ImportBatch { rows: chunk.to_vec() })),
    }));
    let mut answers = app.profile.import_records(tokio_stream::iter(messages)).await.expect("import").into_inner();
    while let Some(answer) = answers.next().await {
        assert!(answer.expect("import answer").errors.is_empty());
    }

    let job = app
        .train(pb::TrainChurnModelRequest {
            request_id: "cdnow".into(),
            time_unit: TimeUnit::Weeks as i32,
            calibration_cutoff: Some(midnight(1997, 10, 1)),
            holdout_cutoff: Some(midnight(1998, 1, 1)),
            ..Default::default()
        })
        .await
        .expect("training starts");
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    let detail = app
        .churn
        .get_model(pb::GetModelRequest { model_id: job.model_version_id.clone() })
        .await
        .expect("model")
        .into_inner()
        .detail
        .expect("detail");
    let bg = detail.bg_nbd.expect("bg/nbd");
    assert_eq!(bg.customer_count, 2_357);
    assert_eq!([bg.r, bg.alpha, bg.a, bg.b].map(|v| round(v, 3)), [0.243, 4.414, 0.793, 2.426]);
    let gg = detail.gamma_gamma.expect("gamma-gamma");
    // gamma in minor units: the published 15.44 dollars.
    assert_eq!([gg.p, gg.q, gg.gamma / 100.0].map(|v| round(v, 2)), [6.25, 3.74, 15.44]);
    assert!(gg.spend_frequency_correlation.abs() < 0.3);

    app.churn
        .activate_model(pb::ActivateModelRequest { request_id: "cdnow-act".into(), model_id: job.model_version_id })
        .await
        .expect("activate");
    let predicted = app
        .churn
        .predict_btyd(pb::PredictBtydRequest {
            statistics: Some(pb::BtydStatistics {
                frequency: 2.0,
                recency: 30.43,
                age: 38.86,
                monetary_value: 2235.0,
                time_unit: TimeUnit::Weeks as i32,
            }),
            horizon: 39.0,
            ..Default::default()
        })
        .await
        .expect("predict")
        .into_inner();
    assert_eq!(round(predicted.expected_purchases, 3), 1.226);
    assert_eq!(predicted.time_unit, TimeUnit::Weeks as i32);
    app.stop().await;
}
