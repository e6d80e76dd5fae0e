//! The clustering library end to end: recovery of known clusters, agreement
//! with linfa's stock `KMeans`, k selection and bad input.

use linfa::DatasetBase;
use linfa::prelude::{Fit, Predict};
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array1, Array2};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use super::quality::adjusted_rand_index;
use super::synthetic::{blobs, separated_centres};
use super::*;

fn labels_of(predicted: &Array1<usize>) -> Vec<u32> {
    predicted.iter().map(|&label| label as u32).collect()
}

#[test]
fn recovers_synthetic_blobs() {
    let centres = separated_centres(6, 5, 10.0, 6.0, 11);
    let (points, truth) = blobs(6_000, &centres, 5, 0.8, 0.0, 12);
    let dataset = DatasetBase::from(points.clone());
    let model = KMeansParams::new(6).seed(3).fit(&dataset).expect("fit");
    let ari = adjusted_rand_index(&model.training_labels, &truth);
    assert!(ari >= 0.99, "adjusted Rand index {ari}");
    // Predict (linfa's interface) agrees with the training labels.
    let predicted: Array1<usize> = model.predict(&points);
    assert_eq!(labels_of(&predicted), model.training_labels);
}

#[test]
fn agrees_with_linfa_kmeans_from_the_same_initial_centroids() {
    let centres = separated_centres(5, 4, 8.0, 3.0, 21);
    let (points, _) = blobs(4_000, &centres, 4, 1.2, 0.05, 22);
    let dataset = DatasetBase::from(points.clone());
    // Start both from a deliberately poor seeding (the first five rows) so the fits take many steps.
    let initial: Array2<f64> = points.select(ndarray::Axis(0), &[0, 1, 2, 3, 4]);

    let ours = KMeansParams::new(5)
        .initialisation(Initialisation::Precomputed(initial.clone()))
        .max_iterations(1_000)
        .tolerance(1e-12)
        .fit(&dataset)
        .expect("our fit");
    let stock = KMeans::params_with_rng(5, Xoshiro256Plus::seed_from_u64(1))
        .init_method(KMeansInit::Precomputed(initial))
        .n_runs(1)
        .max_n_iterations(1_000)
        .tolerance(1e-12)
        .fit(&dataset)
        .expect("linfa fit");

    let largest_gap =
        ours.centroids.iter().zip(stock.centroids().iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(largest_gap < 1e-9, "centroids differ by {largest_gap}");
    let ours_predicted: Array1<usize> = ours.predict(&points);
    let stock_predicted: Array1<usize> = stock.predict(&points);
    assert_eq!(ours_predicted, stock_predicted);
    // linfa reports inertia per row.
    let ours_per_row = ours.inertia / points.nrows() as f64;
    assert!((ours_per_row - stock.inertia()).abs() < 1e-6 * ours_per_row, "{ours_per_row} vs {}", stock.inertia());
}

#[test]
fn restarts_are_reproducible_and_keep_the_lowest_inertia() {
    let centres = separated_centres(4, 3, 5.0, 2.0, 31);
    let (points, _) = blobs(3_000, &centres, 3, 1.5, 0.1, 32);
    let dataset = DatasetBase::from(points);
    let many = KMeansParams::new(4).n_init(8).seed(5).fit(&dataset).expect("fit");
    let again = KMeansParams::new(4).n_init(8).seed(5).fit(&dataset).expect("fit");
    assert_eq!(many, again);
    let single = KMeansParams::new(4).n_init(1).seed(5).fit(&dataset).expect("fit");
    assert!(many.inertia <= single.inertia + 1e-9);
}

#[test]
fn mini_batch_gets_close_to_the_exact_fit() {
    let centres = separated_centres(5, 4, 10.0, 6.0, 41);
    let (points, truth) = blobs(40_000, &centres, 4, 1.0, 0.0, 42);
    let dataset = DatasetBase::from(points);
    let exact = KMeansParams::new(5).seed(1).fit(&dataset).expect("exact");
    let approximate = KMeansParams::new(5)
        .seed(1)
        .n_init(3)
        .algorithm(Algorithm::MiniBatch { batch_size: 1_024 })
        .fit(&dataset)
        .expect("mini-batch");
    assert!(adjusted_rand_index(&approximate.training_labels, &truth) >= 0.99);
    assert!(approximate.inertia <= exact.inertia * 1.01, "{} vs {}", approximate.inertia, exact.inertia);
}

#[test]
fn selects_the_true_k_and_reports_every_k() {
    let centres = separated_centres(4, 3, 10.0, 7.0, 51);
    let (points, _) = blobs(2_000, &centres, 3, 0.7, 0.0, 52);
    let selection =
        select_k(&points, &[2, 3, 4, 5, 6], &KMeansParams::new(2).seed(2), 500, 7, &|_, _| {}).expect("selection");
    let ks: Vec<usize> = selection.candidates.iter().map(|candidate| candidate.k).collect();
    assert_eq!(ks, vec![2, 3, 4, 5, 6]);
    assert_eq!(selection.candidates[selection.selected].k, 4);
    assert_eq!(selection.model.k(), 4);
    // The elbow: inertia falls as k grows.
    assert!(selection.candidates.windows(2).all(|pair| pair[1].inertia <= pair[0].inertia));
    assert!(selection.candidates.iter().all(|candidate| candidate.calinski_harabasz > 0.0));
}

#[test]
fn bad_input_is_a_clear_error() {
    let too_few = DatasetBase::from(Array2::<f64>::zeros((3, 2)));
    assert_eq!(KMeansParams::new(4).fit(&too_few).unwrap_err(), ClusteringError::TooFewRows { rows: 3, needed: 4 });
    let mut with_nan = Array2::<f64>::zeros((10, 2));
    with_nan[[7, 1]] = f64::NAN;
    assert_eq!(
        KMeansParams::new(2).fit(&DatasetBase::from(with_nan)).unwrap_err(),
        ClusteringError::NonFinite { row: 7, column: 1 }
    );
    let wrong_shape = Initialisation::Precomputed(Array2::zeros((2, 3)));
    assert!(matches!(
        KMeansParams::new(2).initialisation(wrong_shape).fit(&DatasetBase::from(Array2::<f64>::zeros((10, 2)))),
        Err(ClusteringError::InitialCentroidShape { .. })
    ));
    assert!(matches!(
        KMeansParams::new(2).tolerance(-1.0).fit(&DatasetBase::from(Array2::<f64>::zeros((10, 2)))),
        Err(ClusteringError::InvalidParameter { name: "tolerance", .. })
    ));
}
