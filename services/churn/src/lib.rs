//! The churn and value service: who is leaving and what they are worth,
//! learned from the profile service's feature export.

pub mod btyd;
pub mod classifier;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod migration;
pub mod profile;
pub mod segmentation;
pub mod startup;
pub mod store;
pub mod time;

pub use config::Config;
pub use startup::Application;
