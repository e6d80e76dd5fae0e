//! The forecast service's request decoding and validation (see
//! profile_requests.rs for the input layout).
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_common::Validator;
use patron_forecast::domain::period::Granularity;
use patron_forecast::grpc::parse::{self, SeriesInput};
use patron_proto::forecast::v1 as pb;
use prost::Message;

fn with<T: Message + Default>(bytes: &[u8], check: impl FnOnce(T)) {
    if let Ok(request) = T::decode(bytes) {
        check(request);
    }
}

/// The series-and-settings prologue shared by Forecast, Backtest and DetectSeasonality.
fn series_request(
    id: Option<&pb::SeriesId>,
    data: Option<&pb::SeriesData>,
    horizon: Option<i32>,
    levels: &[f64],
    cutoff: Option<&prost_types::Timestamp>,
    selection: Option<&pb::SelectionConfig>,
) {
    let mut validator = Validator::new();
    let input = parse::series(&mut validator, id, data);
    let granularity = input.as_ref().map(SeriesInput::granularity).unwrap_or(Granularity::Day);
    let horizon = horizon.map(|horizon| parse::horizon(&mut validator, "horizon", horizon, granularity));
    let levels = parse::interval_levels(&mut validator, levels);
    parse::data_cutoff(&mut validator, cutoff, input.as_ref());
    parse::selection(&mut validator, selection, granularity, horizon, levels, None);
    let _ = validator.finish();
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else { return };
    match kind % 4 {
        0 => with(bytes, |r: pb::ForecastRequest| {
            use pb::forecast_request::Series;
            let (id, data) = match &r.series {
                Some(Series::SeriesId(id)) => (Some(id), None),
                Some(Series::SeriesData(data)) => (None, Some(data)),
                None => (None, None),
            };
            series_request(id, data, Some(r.horizon), &r.interval_levels, r.data_cutoff.as_ref(), r.selection.as_ref());
        }),
        1 => with(bytes, |r: pb::BacktestRequest| {
            use pb::backtest_request::Series;
            let (id, data) = match &r.series {
                Some(Series::SeriesId(id)) => (Some(id), None),
                Some(Series::SeriesData(data)) => (None, Some(data)),
                None => (None, None),
            };
            series_request(id, data, None, &r.interval_levels, r.data_cutoff.as_ref(), r.selection.as_ref());
        }),
        2 => with(bytes, |r: pb::DetectSeasonalityRequest| {
            use pb::detect_seasonality_request::Series;
            let (id, data) = match &r.series {
                Some(Series::SeriesId(id)) => (Some(id), None),
                Some(Series::SeriesData(data)) => (None, Some(data)),
                None => (None, None),
            };
            series_request(id, data, None, &[], r.data_cutoff.as_ref(), None);
        }),
        _ => with(bytes, |r: pb::BatchForecastRequest| {
            let mut validator = Validator::new();
            if let Some(set) = &r.series_set {
                let granularity = parse::granularity(&mut validator, "series_set.granularity", set.granularity);
                for (index, item) in set.series.iter().enumerate() {
                    let level = parse::level(&mut validator, &format!("series_set.series[{index}].level"), item.level);
                    parse::key(&mut validator, &format!("series_set.series[{index}].key"), level, &item.key);
                }
                let horizon = parse::horizon(&mut validator, "horizon", r.horizon, granularity);
                let levels = parse::interval_levels(&mut validator, &r.interval_levels);
                parse::selection(&mut validator, r.selection.as_ref(), granularity, Some(horizon), levels, None);
            }
            let _ = validator.finish();
        }),
    }
});
