//! The whole suite as separate processes, driven through the gateway.

mod import;
mod startup;
