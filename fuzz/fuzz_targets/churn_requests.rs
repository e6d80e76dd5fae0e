//! The churn service's request decoding and validation (see
//! profile_requests.rs for the input layout).
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_churn::domain::settings::TimeUnit;
use patron_churn::grpc::parse;
use patron_common::Validator;
use patron_proto::churn::v1 as pb;
use prost::Message;

/// A fixed "now" so a crash reproduces: 2026-01-01T00:00:00Z.
const NOW_US: i64 = 1_767_225_600_000_000;

fn with<T: Message + Default>(bytes: &[u8], check: impl FnOnce(T)) {
    if let Ok(request) = T::decode(bytes) {
        check(request);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else { return };
    let mut validator = Validator::new();
    match kind % 4 {
        0 => with(bytes, |r: pb::TrainChurnModelRequest| drop(parse::train_settings(&r, NOW_US, "USD"))),
        1 => with(bytes, |r: pb::PredictBtydRequest| {
            parse::statistics(&mut validator, r.statistics.as_ref(), TimeUnit::Weeks);
            parse::discount_rate(&mut validator, "annual_discount_rate", r.annual_discount_rate.unwrap_or(0.1));
        }),
        2 => with(bytes, |r: pb::EvaluateModelRequest| {
            parse::calibration_bins(&mut validator, r.calibration_bins);
            parse::holdout_cutoff(
                &mut validator,
                r.holdout_cutoff.as_ref(),
                &[NOW_US - 400 * 86_400_000_000],
                90,
                NOW_US,
            );
        }),
        _ => with(bytes, |r: pb::ScoreAllRequest| parse::request_id(&mut validator, &r.request_id)),
    }
    let _ = validator.finish();
});
