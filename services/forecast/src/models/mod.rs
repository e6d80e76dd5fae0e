//! The forecasting models, free of gRPC and storage: each module implements
//! one method or one step of the automatic selection.

pub mod ets;
pub mod intermittent;
pub mod method;
pub mod metrics;
pub mod naive;
pub mod optimize;
pub mod seasonality;
pub mod selection;
pub mod stl;
pub mod theta;

pub use method::Method;
pub use selection::{BacktestSettings, SelectionSettings, SeriesForecast, TooShort};
