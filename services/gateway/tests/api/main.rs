//! The gateway through its public gRPC interface, in-process: the real
//! profile service on a fresh SQLite file behind it, and scripted fake
//! backends where a test needs one that is slow, failing or counting.

mod helpers;

mod auth;
mod customer360;
mod deadlines;
mod erasure;
mod hostile;
mod internal;
mod matrix;
mod protection;
mod tls;
