//! The churn service's domain: what a customer looks like to the models,
//! the trained model that is stored as a version's payload, training, and
//! scoring. No gRPC and no storage here.

pub mod model;
pub mod scoring;
pub mod settings;
pub mod snapshot;
pub mod training;
