//! The churn and value service: who is leaving and what they are worth,
//! learned from the profile service's feature export.

pub mod btyd;
pub mod config;
pub mod migration;
pub mod startup;

pub use config::Config;
pub use startup::Application;
