//! The profile service's domain: validated customer and order types and the
//! rules about them, independent of gRPC and of the store.

pub mod currency;
pub mod customer;
pub mod events;
pub mod features;
pub mod limits;
pub mod order;
pub mod time;
