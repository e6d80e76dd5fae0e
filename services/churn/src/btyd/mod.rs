//! Buy-till-you-die models for Patron's churn service: the pure mathematics,
//! without I/O.
//!
//! - [`bgnbd`]: BG/NBD (Fader, Hardie & Lee 2005) — maximum-likelihood fit
//!   from [`SufficientStats`], P(alive), expected purchases, P(no purchase),
//!   next purchase.
//! - [`gamma_gamma`]: the Gamma-Gamma spend model — fit, expected order value.
//! - [`clv`]: discounted CLV as defined in `patron/churn/v1/churn.proto`.
//! - [`score`]: all of the above for many customers in parallel.
//! - [`hyp2f1`]: the Gauss hypergeometric function the expectations need.
//!
//! All times are in the model's time unit (days or weeks), as x, t_x and T.
//! Invalid input is a [`BtydError`] whose [`BtydError::field`] names the
//! field; data that cannot support a fit is refused, never fitted.

pub mod bgnbd;
pub mod clv;
mod error;
pub mod gamma_gamma;
pub mod hyp2f1;
mod input;
mod optimize;
mod parsum;
pub mod score;
pub mod sufficient_stats;

pub use bgnbd::{BgNbdFit, BgNbdFitOptions, BgNbdParams, NextPurchase};
pub use clv::{Clv, ClvConfig};
pub use error::{BtydError, Field, InputError, Result};
pub use gamma_gamma::{GammaGammaFit, GammaGammaFitOptions, GammaGammaParams};
pub use input::{CustomerRow, Rfm, validate_discount_rate, validate_horizon};
pub use score::{Score, Scorer};
pub use sufficient_stats::SufficientStats;
