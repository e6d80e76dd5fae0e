//! The whole suite as separate processes, driven through the gateway.

mod gateway;
mod import;
mod migration;
mod startup;
