//! Requests parsed into domain values; every bad field is reported at once.

use std::collections::BTreeMap;

use patron_common::{ServiceError, Validator};
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;

use super::time::{micros_of, now_micros};
use crate::domain::catalogue::{self, FeatureSpec};
use crate::kmeans::{Algorithm, KMeansParams};

pub const K_LIMITS: (i32, i32) = (2, 32);
const DEFAULT_KS: (usize, usize) = (3, 8);

/// A validated TrainSegmentation request.
#[derive(Debug, Clone)]
pub struct TrainingRequest {
    pub features: Vec<&'static FeatureSpec>,
    pub ks: Vec<usize>,
    pub params: KMeansParams,
    pub mini_batch: bool,
    pub seed: u64,
    pub silhouette_sample: usize,
    pub as_of_us: i64,
    /// Every parameter after defaults, keyed by request field name.
    pub parameters: BTreeMap<String, String>,
}

fn defaulted(value: i32, default: i32) -> i32 {
    if value == 0 { default } else { value }
}

pub fn training_request(request: &pb::TrainSegmentationRequest) -> Result<TrainingRequest, ServiceError> {
    let mut check = Validator::new();
    let names: Vec<String> = if request.features.is_empty() {
        catalogue::DEFAULT_FEATURES.iter().map(|name| (*name).to_owned()).collect()
    } else {
        request.features.clone()
    };
    let mut features = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        match catalogue::find(name) {
            None => check.violation(
                format!("features[{index}]"),
                format!("unknown feature {name:?}; known: {}", catalogue::known_names()),
            ),
            Some(_) if names[..index].contains(name) => {
                check.violation(format!("features[{index}]"), format!("duplicate feature {name:?}"))
            }
            Some(spec) => features.push(spec),
        }
    }

    let ks: Vec<usize> = match &request.k_choice {
        Some(KChoice::K(k)) => {
            check.check((K_LIMITS.0..=K_LIMITS.1).contains(k), "k", "must be between 2 and 32");
            vec![(*k).max(0) as usize]
        }
        Some(KChoice::KRange(range)) => {
            check.check((K_LIMITS.0..=K_LIMITS.1).contains(&range.min), "k_range.min", "must be between 2 and 32");
            check.check(
                (K_LIMITS.0..=K_LIMITS.1).contains(&range.max) && range.max >= range.min,
                "k_range.max",
                "must be between k_range.min and 32",
            );
            // Clamped: a refused range must not allocate (k_range.max = i32::MAX would ask for 16 GB).
            let clamp = |k: i32| k.clamp(K_LIMITS.0, K_LIMITS.1) as usize;
            (clamp(range.min)..=clamp(range.max)).collect()
        }
        None => (DEFAULT_KS.0..=DEFAULT_KS.1).collect(),
    };

    let n_init = defaulted(request.n_init, 10);
    check.check((1..=64).contains(&n_init), "n_init", "must be between 1 and 64 (0 = 10)");
    let silhouette_sample = defaulted(request.silhouette_sample_size, 10_000);
    check.check(
        (100..=50_000).contains(&silhouette_sample),
        "silhouette_sample_size",
        "must be between 100 and 50,000 (0 = 10,000)",
    );
    let max_iterations = defaulted(request.max_iterations, 300);
    check.check((1..=10_000).contains(&max_iterations), "max_iterations", "must be between 1 and 10,000 (0 = 300)");
    check.check(request.tolerance.is_finite() && request.tolerance >= 0.0, "tolerance", "must be finite and >= 0");
    let tolerance = if request.tolerance == 0.0 { 1e-4 } else { request.tolerance };
    let mini_batch_size = defaulted(request.mini_batch_size, 4_096);
    check.check(
        (1..=1_000_000).contains(&mini_batch_size),
        "mini_batch_size",
        "must be between 1 and 1,000,000 (0 = 4,096)",
    );
    let algorithm = match pb::ClusteringAlgorithm::try_from(request.algorithm) {
        Ok(pb::ClusteringAlgorithm::Unspecified | pb::ClusteringAlgorithm::Kmeans) => Algorithm::Lloyd,
        Ok(pb::ClusteringAlgorithm::MiniBatchKmeans) => {
            Algorithm::MiniBatch { batch_size: mini_batch_size.max(1) as usize }
        }
        Err(_) => {
            check.violation("algorithm", "unknown algorithm");
            Algorithm::Lloyd
        }
    };
    let now = now_micros();
    let as_of_us = request.as_of.as_ref().map_or(now, micros_of);
    check.check(as_of_us <= now, "as_of", "must not be in the future");
    check.finish()?;

    let seed = request.seed.unwrap_or(now as u64 ^ 0x5EED_5EED_5EED_5EED);
    let mini_batch = matches!(algorithm, Algorithm::MiniBatch { .. });
    let params = KMeansParams::new(ks[0])
        .n_init(n_init as usize)
        .seed(seed)
        .max_iterations(max_iterations as usize)
        .tolerance(tolerance)
        .algorithm(algorithm);
    let k_text = match &request.k_choice {
        Some(KChoice::K(k)) => ("k", k.to_string()),
        _ => ("k_range", format!("{}..{}", ks[0], ks[ks.len() - 1])),
    };
    let parameters = BTreeMap::from([
        ("features".to_owned(), names.join(",")),
        (k_text.0.to_owned(), k_text.1),
        ("n_init".to_owned(), n_init.to_string()),
        ("seed".to_owned(), seed.to_string()),
        ("silhouette_sample_size".to_owned(), silhouette_sample.to_string()),
        ("as_of".to_owned(), as_of_us.to_string()),
        ("algorithm".to_owned(), if mini_batch { "MINI_BATCH_KMEANS" } else { "KMEANS" }.to_owned()),
        ("max_iterations".to_owned(), max_iterations.to_string()),
        ("tolerance".to_owned(), tolerance.to_string()),
        ("mini_batch_size".to_owned(), mini_batch_size.to_string()),
    ]);
    Ok(TrainingRequest {
        features,
        ks,
        params,
        mini_batch,
        seed,
        silhouette_sample: silhouette_sample as usize,
        as_of_us,
        parameters,
    })
}

/// Page size after defaults: 0 = `default`, above `max` lowered, negative refused.
pub fn page_size(requested: i32, default: u64, max: u64) -> Result<u64, ServiceError> {
    match u64::try_from(requested) {
        Err(_) => Err(ServiceError::invalid("page_size", "must not be negative")),
        Ok(0) => Ok(default),
        Ok(size) => Ok(size.min(max)),
    }
}

/// Opaque page tokens: a version prefix and hex of the position.
pub fn encode_token(prefix: &str, position: &str) -> String {
    let hex: String = position.bytes().map(|byte| format!("{byte:02x}")).collect();
    format!("{prefix}{hex}")
}

pub fn decode_token(prefix: &str, token: &str) -> Result<String, ServiceError> {
    let malformed =
        || ServiceError::invalid("page_token", "malformed or foreign page token; start from the first page");
    let hex = token.strip_prefix(prefix).ok_or_else(malformed)?;
    if hex.len() % 2 != 0 || hex.len() > 1_024 {
        return Err(malformed());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| hex.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    String::from_utf8(bytes).map_err(|_| malformed())
}

/// Longest identifier (customer, model, job, segment) the service accepts.
pub const MAX_ID_CHARS: usize = 128;
/// Longest `request_id`, as the registry's request log takes it.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

pub fn required_id(field: &str, value: &str) -> Result<(), ServiceError> {
    let mut check = Validator::new();
    check.identifier(field, value, MAX_ID_CHARS);
    check.finish()
}
