//! The columns of each export and how a message fills them. Each export is
//! one list of (name, kind, value) so the header and the rows cannot drift
//! apart.

use patron_proto::churn::v1::{CustomerScore, RiskBand};
use patron_proto::common::v1::{Money, TimeUnit};
use patron_proto::forecast::v1::{Granularity, Measure, SeriesForecast, SeriesLevel};
use patron_proto::profile::v1::{ConsentChannel, CustomerFeatures};
use patron_proto::segmentation::v1::SegmentAssignment;

use super::sink::{Column, ColumnKind};
use crate::output::Cell;
use crate::time;

use ColumnKind::{Integer, Number, Text};

type Field<T> = (&'static str, ColumnKind, fn(&T) -> Cell);

fn columns_of<T>(fields: &[Field<T>]) -> Vec<Column> {
    fields.iter().map(|(name, kind, _)| Column::new(*name, *kind)).collect()
}

fn row_of<T>(fields: &[Field<T>], message: &T) -> Vec<Cell> {
    fields.iter().map(|(_, _, value)| value(message)).collect()
}

fn money_minor(money: Option<&Money>) -> Cell {
    money.map_or(Cell::Empty, |money| money.amount_minor.into())
}

/// An enum's proto name without its prefix, lower-case: `TIME_UNIT_WEEKS` -> `weeks`.
fn short_name(name: &str, prefix: &str) -> Cell {
    Cell::Text(name.strip_prefix(prefix).unwrap_or(name).to_lowercase())
}

const FEATURE_FIELDS: &[Field<CustomerFeatures>] = &[
    ("customer_id", Text, |row| row.customer_id.as_str().into()),
    ("frequency", Integer, |row| row.frequency.into()),
    ("recency", Number, |row| row.recency.into()),
    ("age", Number, |row| row.age.into()),
    ("monetary_value_minor", Number, |row| row.monetary_value.into()),
    ("time_unit", Text, |row| short_name(row.time_unit().as_str_name(), "TIME_UNIT_")),
    ("days_since_last_purchase", Number, |row| row.days_since_last_purchase.into()),
    ("tenure_days", Number, |row| row.tenure_days.into()),
    ("orders", Integer, |row| row.orders.into()),
    ("revenue_minor", Integer, |row| row.revenue_minor.into()),
    ("average_order_value_minor", Number, |row| row.average_order_value.into()),
    ("category_count", Integer, |row| row.category_count.into()),
    ("share_store", Number, |row| row.share_store.into()),
    ("share_web", Number, |row| row.share_web.into()),
    ("share_app", Number, |row| row.share_app.into()),
    ("share_marketplace", Number, |row| row.share_marketplace.into()),
    ("returns", Integer, |row| row.returns.into()),
    ("contacts", Integer, |row| row.contacts.into()),
    ("complaints", Integer, |row| row.complaints.into()),
    ("last_nps", Integer, |row| row.last_nps.into()),
    ("last_csat", Integer, |row| row.last_csat.into()),
    ("days_since_last_contact", Number, |row| row.days_since_last_contact.into()),
    ("abandoned_carts", Integer, |row| row.abandoned_carts.into()),
    ("consents_granted", Text, |row| {
        let names: Vec<String> = row
            .consents_granted()
            .map(|channel: ConsentChannel| channel.as_str_name().trim_start_matches("CONSENT_CHANNEL_").to_lowercase())
            .collect();
        Cell::Text(names.join(";"))
    }),
    ("region", Text, |row| row.region.as_str().into()),
    ("home_store_id", Text, |row| row.home_store_id.as_str().into()),
    ("first_purchase_time", Text, |row| time::text(row.first_purchase_time.as_ref()).into()),
    ("last_purchase_time", Text, |row| time::text(row.last_purchase_time.as_ref()).into()),
];

pub fn feature_columns() -> Vec<Column> {
    columns_of(FEATURE_FIELDS)
}

pub fn feature_row(row: &CustomerFeatures) -> Vec<Cell> {
    row_of(FEATURE_FIELDS, row)
}

const SEGMENT_FIELDS: &[Field<SegmentAssignment>] = &[
    ("customer_id", Text, |row| row.customer_id.as_str().into()),
    ("model_id", Text, |row| row.model_id.as_str().into()),
    ("segment_id", Text, |row| row.segment_id.as_str().into()),
    ("segment_name", Text, |row| row.segment_name.as_str().into()),
    ("distance", Number, |row| row.distance.into()),
    ("rfm_recency", Integer, |row| row.rfm.as_ref().map(|rfm| rfm.recency).into()),
    ("rfm_frequency", Integer, |row| row.rfm.as_ref().map(|rfm| rfm.frequency).into()),
    ("rfm_monetary", Integer, |row| row.rfm.as_ref().map(|rfm| rfm.monetary).into()),
    ("rfm_segment_id", Text, |row| row.rfm.as_ref().map(|rfm| rfm.segment_id.clone()).into()),
    ("rfm_segment_name", Text, |row| row.rfm.as_ref().map(|rfm| rfm.segment_name.clone()).into()),
    ("features_as_of", Text, |row| time::text(row.features_as_of.as_ref()).into()),
    ("assign_time", Text, |row| time::text(row.assign_time.as_ref()).into()),
];

pub fn segment_columns() -> Vec<Column> {
    columns_of(SEGMENT_FIELDS)
}

pub fn segment_row(row: &SegmentAssignment) -> Vec<Cell> {
    row_of(SEGMENT_FIELDS, row)
}

const SCORE_FIELDS: &[Field<CustomerScore>] = &[
    ("customer_id", Text, |row| row.customer_id.as_str().into()),
    ("model_id", Text, |row| row.model_id.as_str().into()),
    ("as_of", Text, |row| time::text(row.as_of.as_ref()).into()),
    ("churn_probability", Number, |row| row.churn_probability.into()),
    ("risk_band", Text, |row| {
        short_name(RiskBand::try_from(row.risk_band).unwrap_or_default().as_str_name(), "RISK_BAND_")
    }),
    ("probability_alive", Number, |row| row.probability_alive.into()),
    ("expected_purchases", Number, |row| row.expected_purchases.into()),
    ("probability_no_purchase", Number, |row| row.probability_no_purchase.into()),
    ("horizon_days", Number, |row| row.horizon.as_ref().map(|horizon| horizon.seconds as f64 / 86_400.0).into()),
    ("expected_order_value_minor", Integer, |row| money_minor(row.expected_order_value.as_ref())),
    ("clv_minor", Integer, |row| money_minor(row.clv.as_ref())),
    ("value_at_risk_minor", Integer, |row| money_minor(row.value_at_risk.as_ref())),
    ("currency_code", Text, |row| row.clv.as_ref().map(|money| money.currency_code.clone()).into()),
    ("next_order_time", Text, |row| {
        time::text(row.next_order.as_ref().and_then(|next| next.expected_time.as_ref())).into()
    }),
    ("next_order_probability", Number, |row| row.next_order.as_ref().map(|next| next.probability).into()),
    ("last_order_time", Text, |row| time::text(row.last_order_time.as_ref()).into()),
    ("lapsed", Text, |row| row.lapsed.into()),
    ("frequency", Number, |row| row.statistics.as_ref().map(|statistics| statistics.frequency).into()),
    ("recency", Number, |row| row.statistics.as_ref().map(|statistics| statistics.recency).into()),
    ("age", Number, |row| row.statistics.as_ref().map(|statistics| statistics.age).into()),
    ("time_unit", Text, |row| {
        let unit = row.statistics.as_ref().map_or(TimeUnit::Unspecified, |statistics| statistics.time_unit());
        short_name(unit.as_str_name(), "TIME_UNIT_")
    }),
    ("top_factor", Text, |row| row.top_factors.first().map(|factor| factor.feature.clone()).into()),
];

pub fn score_columns() -> Vec<Column> {
    columns_of(SCORE_FIELDS)
}

pub fn score_row(row: &CustomerScore) -> Vec<Cell> {
    row_of(SCORE_FIELDS, row)
}

const FORECAST_FIELDS: &[Field<SeriesForecast>] = &[
    ("forecast_id", Text, |row| row.id.as_str().into()),
    ("model_id", Text, |row| row.model_id.as_str().into()),
    ("measure", Text, |row| {
        let measure = row.series_id.as_ref().map_or(Measure::Unspecified, |series| series.measure());
        short_name(measure.as_str_name(), "MEASURE_")
    }),
    ("level", Text, |row| {
        let level = row.series_id.as_ref().map_or(SeriesLevel::Unspecified, |series| series.level());
        short_name(level.as_str_name(), "SERIES_LEVEL_")
    }),
    ("key", Text, |row| row.series_id.as_ref().map(|series| series.key.clone()).into()),
    ("granularity", Text, |row| {
        short_name(Granularity::try_from(row.granularity).unwrap_or_default().as_str_name(), "GRANULARITY_")
    }),
    ("data_cutoff", Text, |row| time::text(row.data_cutoff.as_ref()).into()),
];

pub fn forecast_columns(levels: &[f64]) -> Vec<Column> {
    let mut columns = columns_of(FORECAST_FIELDS);
    columns.push(Column::new("period_start", Text));
    columns.push(Column::new("value", Number));
    for level in levels {
        columns.push(Column::new(format!("lower_{level}"), Number));
        columns.push(Column::new(format!("upper_{level}"), Number));
    }
    columns
}

/// One row per forecast period; a level the forecast lacks leaves its bounds empty.
pub fn forecast_rows(forecast: &SeriesForecast, levels: &[f64]) -> Vec<Vec<Cell>> {
    let series = row_of(FORECAST_FIELDS, forecast);
    forecast
        .points
        .iter()
        .map(|point| {
            let mut row = series.clone();
            row.push(time::text(point.start_time.as_ref()).into());
            row.push(point.value.into());
            for level in levels {
                let interval = point.intervals.iter().find(|interval| (interval.level - level).abs() < 1e-9);
                row.push(interval.map(|interval| interval.lower).into());
                row.push(interval.map(|interval| interval.upper).into());
            }
            row
        })
        .collect()
}
