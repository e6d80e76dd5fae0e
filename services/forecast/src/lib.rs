//! The forecast service: sales and demand forecasts per SKU, store, segment
//! and in total, learned from the profile service's time-series export.

pub mod config;
pub mod domain;
pub mod grpc;
pub mod migration;
pub mod models;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::Application;
