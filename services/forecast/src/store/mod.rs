//! The forecast service's own tables (the registry's are in patron_common).

pub mod forecasts;
