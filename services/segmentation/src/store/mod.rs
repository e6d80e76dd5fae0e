//! The segmentation service's own tables (the registry's live in patron_common).

pub mod erasures;
pub mod memberships;
mod tables;
