//! The segmentation service's own tables (the registry's live in patron_common).

pub mod memberships;
mod tables;
