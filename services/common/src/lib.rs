//! Plumbing shared by every Patron service, written once: configuration,
//! telemetry, the gRPC server bootstrap (health, reflection, limits, graceful
//! shutdown, metrics) and storage, plus the one error type.

pub mod cli;
pub mod config;
pub mod erasures;
pub mod error;
pub mod log_writer;
pub mod metrics;
pub mod registry;
mod rpc_layer;
pub mod runtime;
pub mod server;
pub mod service;
pub mod storage;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upstream;

pub use error::{FieldViolation, ServiceError, Validator};
pub use rpc_layer::parse_grpc_timeout;
pub use server::{GrpcServer, ProbeError, ReadinessProbe, shutdown_signal};
