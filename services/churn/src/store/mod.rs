//! The churn service's own tables (the registry's live in patron_common).

pub mod entities;
pub mod scores;
