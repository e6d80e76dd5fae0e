//! The forecast service through its public gRPC interface.

mod bad_input;
mod forecasting;
mod helpers;
mod hostile;
mod limits;
mod stored;
