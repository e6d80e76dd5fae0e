//! The churn service's tests, one binary: the buy-till-you-die models against
//! published results, properties and synthetic recovery.

mod common;

mod btyd_cdnow;
mod btyd_clv;
mod btyd_expectation;
mod btyd_grouping;
mod btyd_hyp2f1;
mod btyd_properties;
