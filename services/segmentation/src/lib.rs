//! The segmentation service: behavioural customer segments learned with
//! k-means over the profile service's feature export.

pub mod config;
pub mod domain;
pub mod grpc;
pub mod kmeans;
pub mod migration;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::Application;
