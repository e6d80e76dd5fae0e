//! Segmentation as a domain: which features describe a customer, how they
//! are transformed, how a model is trained, named and applied. Nothing here
//! knows about gRPC or the store.

pub mod catalogue;
pub mod model;
pub mod naming;
pub mod rfm;
pub mod training;
pub mod transform;
