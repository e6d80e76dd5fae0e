//! The gateway: Patron's one public entry point. It serves the public API of
//! every backend under the backend's own service names, plus its own
//! InsightService, behind one authentication, role table, deadline policy
//! and set of protections.

pub mod auth;
pub mod backend;
pub mod call;
pub mod config;
pub mod connection;
pub mod erasure;
pub mod gate;
pub mod insight;
pub mod protection;
pub mod rpc_table;
pub mod startup;
pub mod wire;

pub use config::Config;
pub use startup::Application;
