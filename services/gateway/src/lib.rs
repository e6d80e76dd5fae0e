//! The gateway: Patron's one public entry point. It serves the public API of
//! every backend under the backend's own service names.

pub mod config;
pub mod forward;
pub mod startup;

pub use config::Config;
pub use startup::Application;
