//! The whole suite as separate processes, driven through the gateway.

mod churn;
mod cli;
mod crash_import;
mod forecast;
mod gateway;
mod import;
mod migration;
mod overload;
mod segmentation;
mod startup;
