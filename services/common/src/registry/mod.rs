//! The model registry and long-running jobs, written once for every model
//! service (segmentation, churn, forecast), which expose them through
//! identically named RPCs:
//!
//! - [`ModelRegistry`]: stored model versions, the activation stack behind
//!   ActivateModel/RollbackModel, and tags;
//! - [`ActiveModel`]: the active version decoded in memory, refreshed by
//!   polling the store so every replica follows an activation without restart;
//! - [`JobBoard`]: training and batch jobs whose progress is streamed to
//!   watchers and persisted for other replicas;
//! - [`RequestLog`]: `request_id` idempotency for mutating calls.
//!
//! Each service keeps these tables in its own database ([`RegistryTables`]).

mod active;
mod ids;
mod jobs;
mod models;
mod page;
mod request_log;
mod tables;

pub use active::{ActiveModel, Decoder, LoadedModel};
pub use jobs::{JobBoard, JobHandle, JobStream};
pub use models::{Activation, ListModelsQuery, ModelRegistry, NewModelVersion};
pub use request_log::RequestLog;
pub use tables::RegistryTables;

/// Version of the Patron build, recorded with every trained model.
pub const CODE_VERSION: &str = env!("CARGO_PKG_VERSION");
