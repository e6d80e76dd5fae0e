//! `--param key=value` pairs turned into each service's Train request.
//!
//! Scalars are written as they read in the proto (`k=5`, `label_window_days=90`),
//! enums by their short name (`classifier=gradient_boosted_trees`), instants
//! as a date or RFC 3339 (`as_of=2026-01-31`), lists with `;` between items
//! (`levels=total;store`), since `,` separates parameters.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{anyhow, bail};
use patron_proto::churn::v1 as churn;
use patron_proto::common::v1::TimeUnit;
use patron_proto::forecast::v1 as forecast;
use patron_proto::segmentation::v1 as segmentation;

/// The parameters of one run, by key; each key at most once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `key=value` items; empty items (an empty `--param=`) are ignored.
    pub fn parse(items: &[String]) -> anyhow::Result<Self> {
        let mut params = BTreeMap::new();
        for item in items.iter().map(|item| item.trim()).filter(|item| !item.is_empty()) {
            let (key, value) = item.split_once('=').ok_or_else(|| anyhow!("--param {item:?} is not key=value"))?;
            let key = key.trim().to_owned();
            if key.is_empty() {
                bail!("--param {item:?} has no key");
            }
            if params.insert(key.clone(), value.trim().to_owned()).is_some() {
                bail!("--param {key} is given twice");
            }
        }
        Ok(Self(params))
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    fn take_parsed<T: FromStr>(&mut self, key: &str) -> anyhow::Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.take(key)
            .map(|value| value.parse::<T>().map_err(|error| anyhow!("--param {key}={value}: {error}")))
            .transpose()
    }

    fn take_list(&mut self, key: &str) -> Vec<String> {
        self.take(key)
            .map(|value| value.split(';').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn take_instant(&mut self, key: &str) -> anyhow::Result<Option<prost_types::Timestamp>> {
        self.take(key).map(|value| instant(key, &value)).transpose()
    }

    /// Fails naming the keys nobody took.
    fn finish(self, service: &str, known: &[&str]) -> anyhow::Result<()> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(key) => bail!("--param {key} is not a {service} training parameter; known: {}", known.join(", ")),
        }
    }
}

/// An enum value by its short name, e.g. `weeks` for `TIME_UNIT_WEEKS`.
fn enum_value<E: Into<i32>>(
    key: &str,
    value: &str,
    prefix: &str,
    from_name: fn(&str) -> Option<E>,
) -> anyhow::Result<i32> {
    let name = format!("{prefix}{}", value.trim().to_uppercase().replace('-', "_"));
    from_name(&name).map(Into::into).ok_or_else(|| anyhow!("--param {key}={value} is not a known value"))
}

fn instant(key: &str, value: &str) -> anyhow::Result<prost_types::Timestamp> {
    crate::time::parse_instant(&format!("--param {key}"), value)
}

const SEGMENTATION_KEYS: &[&str] = &[
    "features",
    "k",
    "k_min",
    "k_max",
    "n_init",
    "seed",
    "silhouette_sample_size",
    "as_of",
    "algorithm",
    "max_iterations",
    "tolerance",
    "mini_batch_size",
];

pub fn segmentation_request(
    mut params: Params,
    request_id: String,
) -> anyhow::Result<segmentation::TrainSegmentationRequest> {
    use segmentation::train_segmentation_request::KChoice;
    let k = params.take_parsed::<i32>("k")?;
    let (k_min, k_max) = (params.take_parsed::<i32>("k_min")?, params.take_parsed::<i32>("k_max")?);
    let k_choice = match (k, k_min, k_max) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => bail!("--param k excludes k_min and k_max"),
        (Some(k), None, None) => Some(KChoice::K(k)),
        (None, Some(min), Some(max)) => Some(KChoice::KRange(segmentation::KRange { min, max })),
        (None, None, None) => None,
        (None, _, _) => bail!("--param k_min and k_max go together"),
    };
    let algorithm = match params.take("algorithm") {
        Some(value) => {
            enum_value("algorithm", &value, "CLUSTERING_ALGORITHM_", segmentation::ClusteringAlgorithm::from_str_name)?
        }
        None => 0,
    };
    let request = segmentation::TrainSegmentationRequest {
        request_id,
        features: params.take_list("features"),
        k_choice,
        n_init: params.take_parsed("n_init")?.unwrap_or_default(),
        seed: params.take_parsed("seed")?,
        silhouette_sample_size: params.take_parsed("silhouette_sample_size")?.unwrap_or_default(),
        as_of: params.take_instant("as_of")?,
        algorithm,
        max_iterations: params.take_parsed("max_iterations")?.unwrap_or_default(),
        tolerance: params.take_parsed("tolerance")?.unwrap_or_default(),
        mini_batch_size: params.take_parsed("mini_batch_size")?.unwrap_or_default(),
    };
    params.finish("segmentation", SEGMENTATION_KEYS)?;
    Ok(request)
}

/// Keys other than these go to the request's free `parameters` map (e.g.
/// `seed`, `gbt.max_depth`), which the service validates.
pub fn churn_request(mut params: Params, request_id: String) -> anyhow::Result<churn::TrainChurnModelRequest> {
    let time_unit = match params.take("time_unit") {
        Some(value) => enum_value("time_unit", &value, "TIME_UNIT_", TimeUnit::from_str_name)?,
        None => 0,
    };
    let classifier = match params.take("classifier") {
        Some(value) => enum_value("classifier", &value, "CLASSIFIER_", churn::Classifier::from_str_name)?,
        None => 0,
    };
    let probability_calibration = match params.take("probability_calibration") {
        Some(value) => enum_value(
            "probability_calibration",
            &value,
            "PROBABILITY_CALIBRATION_",
            churn::ProbabilityCalibration::from_str_name,
        )?,
        None => 0,
    };
    let clv_horizon = params
        .take_parsed::<u32>("clv_horizon_days")?
        .map(|days| prost_types::Duration { seconds: i64::from(days) * 86_400, nanos: 0 });
    Ok(churn::TrainChurnModelRequest {
        request_id,
        time_unit,
        label_window_days: params.take_parsed("label_window_days")?.unwrap_or_default(),
        calibration_cutoff: params.take_instant("calibration_cutoff")?,
        holdout_cutoff: params.take_instant("holdout_cutoff")?,
        classifier,
        probability_calibration,
        l2_penalty: params.take_parsed("l2_penalty")?.unwrap_or_default(),
        clv_horizon,
        annual_discount_rate: params.take_parsed("annual_discount_rate")?,
        medium_risk_threshold: params.take_parsed("medium_risk_threshold")?.unwrap_or_default(),
        high_risk_threshold: params.take_parsed("high_risk_threshold")?.unwrap_or_default(),
        max_spend_frequency_correlation: params.take_parsed("max_spend_frequency_correlation")?.unwrap_or_default(),
        currency_code: params.take("currency_code").unwrap_or_default(),
        parameters: params.0.into_iter().collect(),
    })
}

const FORECAST_KEYS: &[&str] = &[
    "measure",
    "granularity",
    "levels",
    "segmentation_model_id",
    "currency_code",
    "candidates",
    "combination_size",
    "seasonal_periods",
    "interval_levels",
    "data_cutoff",
    "tags",
];

pub fn forecast_request(mut params: Params, request_id: String) -> anyhow::Result<forecast::TrainForecastModelRequest> {
    let measure = match params.take("measure") {
        Some(value) => enum_value("measure", &value, "MEASURE_", forecast::Measure::from_str_name)?,
        None => 0,
    };
    let granularity = match params.take("granularity") {
        Some(value) => enum_value("granularity", &value, "GRANULARITY_", forecast::Granularity::from_str_name)?,
        None => 0,
    };
    let levels = params
        .take_list("levels")
        .iter()
        .map(|level| enum_value("levels", level, "SERIES_LEVEL_", forecast::SeriesLevel::from_str_name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let candidates = params
        .take_list("candidates")
        .iter()
        .map(|method| enum_value("candidates", method, "FORECAST_METHOD_", forecast::ForecastMethod::from_str_name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let numbers = |list: Vec<String>, key: &str| -> anyhow::Result<Vec<f64>> {
        list.iter().map(|item| item.parse::<f64>().map_err(|error| anyhow!("--param {key}={item}: {error}"))).collect()
    };
    let seasonal_periods = params
        .take_list("seasonal_periods")
        .iter()
        .map(|item| item.parse::<i32>().map_err(|error| anyhow!("--param seasonal_periods={item}: {error}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = forecast::TrainForecastModelRequest {
        request_id,
        series_set: Some(forecast::SeriesSet {
            measure,
            granularity,
            levels,
            series: Vec::new(),
            segmentation_model_id: params.take("segmentation_model_id").unwrap_or_default(),
            currency_code: params.take("currency_code").unwrap_or_default(),
        }),
        selection: Some(forecast::SelectionConfig {
            candidates,
            backtest: None,
            combination_size: params.take_parsed("combination_size")?.unwrap_or_default(),
            seasonal_periods,
        }),
        interval_levels: numbers(params.take_list("interval_levels"), "interval_levels")?,
        data_cutoff: params.take_instant("data_cutoff")?,
        tags: params.take_list("tags"),
    };
    params.finish("forecast", FORECAST_KEYS)?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(items: &[&str]) -> Params {
        Params::parse(&items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>()).expect("parses")
    }

    #[test]
    fn empty_items_are_ignored_and_malformed_ones_refused() {
        assert_eq!(params(&["", " "]), Params::default());
        assert!(Params::parse(&["k".to_owned()]).is_err());
        assert!(Params::parse(&["=3".to_owned()]).is_err());
        assert!(Params::parse(&["k=3".to_owned(), "k=4".to_owned()]).is_err());
    }

    #[test]
    fn segmentation_parameters_fill_the_request() {
        let request = segmentation_request(
            params(&["k_min=3", "k_max=6", "n_init=12", "seed=7", "features=recency;frequency", "as_of=2026-01-31"]),
            "r-1".into(),
        )
        .expect("valid");
        assert_eq!(
            request.k_choice,
            Some(segmentation::train_segmentation_request::KChoice::KRange(segmentation::KRange { min: 3, max: 6 }))
        );
        assert_eq!((request.n_init, request.seed), (12, Some(7)));
        assert_eq!(request.features, ["recency", "frequency"]);
        assert_eq!(request.as_of.map(|time| time.seconds), Some(1_769_817_600));
        assert_eq!(request.request_id, "r-1");

        let error = segmentation_request(params(&["kk=3"]), String::new()).expect_err("unknown key");
        assert!(error.to_string().contains("kk"), "{error}");
        assert!(segmentation_request(params(&["k=3", "k_min=2"]), String::new()).is_err());
        assert!(segmentation_request(params(&["k=three"]), String::new()).is_err());
    }

    #[test]
    fn churn_enums_by_short_name_and_advanced_keys_pass_through() {
        let request = churn_request(
            params(&[
                "label_window_days=60",
                "time_unit=days",
                "classifier=gradient_boosted_trees",
                "clv_horizon_days=180",
                "gbt.max_depth=4",
            ]),
            String::new(),
        )
        .expect("valid");
        assert_eq!(request.label_window_days, 60);
        assert_eq!(request.time_unit, TimeUnit::Days as i32);
        assert_eq!(request.classifier, churn::Classifier::GradientBoostedTrees as i32);
        assert_eq!(request.clv_horizon.map(|horizon| horizon.seconds), Some(180 * 86_400));
        assert_eq!(request.parameters.get("gbt.max_depth").map(String::as_str), Some("4"));
        assert!(churn_request(params(&["classifier=forest"]), String::new()).is_err());
    }

    #[test]
    fn forecast_series_set_from_short_names() {
        let request =
            forecast_request(params(&["measure=revenue", "granularity=week", "levels=total;store"]), String::new())
                .expect("valid");
        let series_set = request.series_set.expect("set");
        assert_eq!(series_set.measure, forecast::Measure::Revenue as i32);
        assert_eq!(series_set.granularity, forecast::Granularity::Week as i32);
        assert_eq!(series_set.levels, [forecast::SeriesLevel::Total as i32, forecast::SeriesLevel::Store as i32]);
        assert!(forecast_request(params(&["horizon=12"]), String::new()).is_err());
    }
}
