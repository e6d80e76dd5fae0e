//! The whole suite as separate processes, driven through the gateway.

mod alone;
mod churn;
mod cli;
mod crash_import;
mod database_faults;
mod forecast;
mod gateway;
mod import;
mod migration;
mod overload;
mod personal_data;
mod secrets;
mod segmentation;
mod service_process;
mod shutdown;
mod startup;
