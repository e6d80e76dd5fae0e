//! The customer profile service: Patron's system of record for customers and
//! what they did, and the source of the data every model learns from.

pub mod config;
pub mod domain;
pub mod grpc;
pub mod migration;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::Application;
