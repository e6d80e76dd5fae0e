//! The whole suite as separate processes, driven through the gateway.

mod crash_import;
mod gateway;
mod import;
mod migration;
mod segmentation;
mod startup;
