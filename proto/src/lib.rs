//! Patron's gRPC contracts, generated from `proto/patron/**.proto`.
//!
//! Each service's package is a module here (`patron_proto::profile::v1`, ...).
//! [`FILE_DESCRIPTOR_SET`] feeds the reflection service, so `grpcurl list` works.

/// Encoded `google.protobuf.FileDescriptorSet` of every Patron proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/patron_descriptor.bin"));

pub mod common {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        tonic::include_proto!("patron.common.v1");
    }
}

pub mod profile {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        tonic::include_proto!("patron.profile.v1");
    }
}

pub mod segmentation {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        tonic::include_proto!("patron.segmentation.v1");
    }
}

pub mod forecast {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        tonic::include_proto!("patron.forecast.v1");
    }
}

pub mod churn {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        tonic::include_proto!("patron.churn.v1");
    }
}

pub mod gateway {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        tonic::include_proto!("patron.gateway.v1");
    }
}
