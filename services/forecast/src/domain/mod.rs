//! Series and periods: what the forecast service knows of calendars and of
//! where its data comes from, free of gRPC.

pub mod evaluation;
pub mod model;
pub mod period;
pub mod series;
