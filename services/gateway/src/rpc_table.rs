//! The one table of every public RPC: the role a caller needs and the call
//! class that sets its deadlines and whether it may be retried.
//!
//! A test compares this table with `patron_proto::FILE_DESCRIPTOR_SET`, so an
//! RPC added to a proto without an entry here fails the build's tests, and the
//! gateway answers UNIMPLEMENTED for any path not listed.

use serde::{Deserialize, Serialize};

/// Roles, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads records, reports, scores and models.
    Reader,
    /// Also imports and records events, edits customers.
    Writer,
    /// Also trains, evaluates, activates, rolls back and tags models.
    Modeler,
    /// Also erases customers: everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Writer, Role::Modeler, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Modeler => "modeler",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name().eq_ignore_ascii_case(text.trim()))
    }

    /// The role just below this one, if any: the "lowest insufficient role".
    pub fn below(self) -> Option<Role> {
        match self {
            Role::Reader => None,
            Role::Writer => Some(Role::Reader),
            Role::Modeler => Some(Role::Writer),
            Role::Admin => Some(Role::Modeler),
        }
    }
}

/// What kind of call an RPC is: sets its default and maximum deadline, and
/// whether a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallClass {
    /// Unary, changes nothing: retried on UNAVAILABLE.
    Read,
    /// Unary, changes state: retried on UNAVAILABLE only with a request_id.
    Write,
    /// Unary, starts or runs heavy work (training, evaluation, batch jobs).
    Heavy,
    /// Client- or server-streaming: never retried.
    Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcPolicy {
    /// `/package.Service/Method`.
    pub path: &'static str,
    pub role: Role,
    pub class: CallClass,
}

use CallClass::{Heavy, Read, Stream, Write};
use Role::{Admin, Modeler, Reader, Writer};

const fn rpc(path: &'static str, role: Role, class: CallClass) -> RpcPolicy {
    RpcPolicy { path, role, class }
}

/// Every public RPC served through the gateway.
pub const RPC_TABLE: &[RpcPolicy] = &[
    // Profile: customers.
    rpc("/patron.profile.v1.ProfileService/CreateCustomer", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/GetCustomer", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/UpdateCustomer", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/ListCustomers", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/TagCustomer", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/UntagCustomer", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/SetConsent", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/EraseCustomer", Admin, Write),
    rpc("/patron.profile.v1.ProfileService/GetCustomerSummary", Reader, Read),
    // Profile: records.
    rpc("/patron.profile.v1.ProfileService/RecordOrder", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/GetOrder", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/ListOrders", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/RecordContact", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/RecordFeedback", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/RecordCartEvent", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/RecordExposure", Writer, Write),
    rpc("/patron.profile.v1.ProfileService/ImportRecords", Writer, Stream),
    // Profile: exports feed model training; the per-customer one is bulk personal data.
    rpc("/patron.profile.v1.ProfileService/ExportCustomerFeatures", Modeler, Stream),
    rpc("/patron.profile.v1.ProfileService/ExportSalesSeries", Reader, Stream),
    // Profile: reports.
    rpc("/patron.profile.v1.ProfileService/GetKpis", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/GetParetoReport", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/ListLapsedCustomers", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/ListAbandonedCarts", Reader, Read),
    rpc("/patron.profile.v1.ProfileService/EvaluateCampaign", Reader, Read),
    // Segmentation: registry and jobs.
    rpc("/patron.segmentation.v1.SegmentationService/TrainSegmentation", Modeler, Heavy),
    rpc("/patron.segmentation.v1.SegmentationService/WatchJob", Reader, Stream),
    rpc("/patron.segmentation.v1.SegmentationService/GetJob", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/GetModel", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/ListModels", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/ActivateModel", Modeler, Write),
    rpc("/patron.segmentation.v1.SegmentationService/RollbackModel", Modeler, Write),
    rpc("/patron.segmentation.v1.SegmentationService/TagModel", Modeler, Write),
    rpc("/patron.segmentation.v1.SegmentationService/CompareModels", Modeler, Heavy),
    rpc("/patron.segmentation.v1.SegmentationService/EvaluateModel", Modeler, Heavy),
    // Segmentation: segments and memberships.
    rpc("/patron.segmentation.v1.SegmentationService/AssignCustomer", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/AssignAll", Modeler, Stream),
    rpc("/patron.segmentation.v1.SegmentationService/GetSegment", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/ListSegments", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/ListSegmentMembers", Reader, Read),
    rpc("/patron.segmentation.v1.SegmentationService/GetCustomerSegment", Reader, Read),
    // Segmentation: personal data (EraseCustomer calls it; admins may repeat it).
    rpc("/patron.segmentation.v1.SegmentationService/ForgetCustomer", Admin, Write),
    // Forecast.
    rpc("/patron.forecast.v1.ForecastService/Forecast", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/BatchForecast", Modeler, Heavy),
    rpc("/patron.forecast.v1.ForecastService/GetForecast", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/ListForecasts", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/Backtest", Modeler, Heavy),
    rpc("/patron.forecast.v1.ForecastService/DetectSeasonality", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/TrainForecastModel", Modeler, Heavy),
    rpc("/patron.forecast.v1.ForecastService/WatchJob", Reader, Stream),
    rpc("/patron.forecast.v1.ForecastService/GetJob", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/GetModel", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/ListModels", Reader, Read),
    rpc("/patron.forecast.v1.ForecastService/ActivateModel", Modeler, Write),
    rpc("/patron.forecast.v1.ForecastService/RollbackModel", Modeler, Write),
    rpc("/patron.forecast.v1.ForecastService/TagModel", Modeler, Write),
    rpc("/patron.forecast.v1.ForecastService/CompareModels", Modeler, Heavy),
    rpc("/patron.forecast.v1.ForecastService/EvaluateModel", Modeler, Heavy),
    // Churn: registry and jobs.
    rpc("/patron.churn.v1.ChurnService/TrainChurnModel", Modeler, Heavy),
    rpc("/patron.churn.v1.ChurnService/WatchJob", Reader, Stream),
    rpc("/patron.churn.v1.ChurnService/GetJob", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/GetModel", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/ListModels", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/ActivateModel", Modeler, Write),
    rpc("/patron.churn.v1.ChurnService/RollbackModel", Modeler, Write),
    rpc("/patron.churn.v1.ChurnService/TagModel", Modeler, Write),
    rpc("/patron.churn.v1.ChurnService/CompareModels", Modeler, Heavy),
    rpc("/patron.churn.v1.ChurnService/EvaluateModel", Modeler, Heavy),
    // Churn: scoring.
    rpc("/patron.churn.v1.ChurnService/ScoreCustomer", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/ScoreAll", Modeler, Stream),
    rpc("/patron.churn.v1.ChurnService/GetCustomerScore", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/ListScores", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/GetWinBackList", Reader, Read),
    rpc("/patron.churn.v1.ChurnService/PredictBtyd", Reader, Read),
    // Churn: personal data (EraseCustomer calls it; admins may repeat it).
    rpc("/patron.churn.v1.ChurnService/ForgetCustomer", Admin, Write),
    // The gateway's own API.
    rpc("/patron.gateway.v1.InsightService/GetCustomer360", Reader, Read),
];

/// The policy of `path`, or `None` for a path that is not a public RPC.
pub fn policy(path: &str) -> Option<&'static RpcPolicy> {
    RPC_TABLE.iter().find(|entry| entry.path == path)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::*;

    /// Every method of every Patron service in the descriptor set, with
    /// whether it streams in either direction.
    fn described_methods() -> Vec<(String, bool)> {
        let set = FileDescriptorSet::decode(patron_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
        let mut methods = Vec::new();
        for file in set.file.iter().filter(|file| file.package().starts_with("patron.")) {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    methods.push((path, method.client_streaming() || method.server_streaming()));
                }
            }
        }
        methods
    }

    #[test]
    fn every_described_rpc_has_exactly_one_entry() {
        let described = described_methods();
        assert!(described.len() > 60, "descriptor set lists {} methods", described.len());
        for (path, _) in &described {
            let entries = RPC_TABLE.iter().filter(|entry| entry.path == path).count();
            assert_eq!(entries, 1, "{path} needs exactly one entry in RPC_TABLE");
        }
        let described: BTreeSet<_> = described.into_iter().map(|(path, _)| path).collect();
        for entry in RPC_TABLE {
            assert!(described.contains(entry.path), "{} is not in any proto", entry.path);
        }
    }

    #[test]
    fn streaming_rpcs_and_only_they_are_in_the_stream_class() {
        for (path, streaming) in described_methods() {
            let class = policy(&path).map(|entry| entry.class);
            assert_eq!(class == Some(CallClass::Stream), streaming, "{path}");
        }
    }

    #[test]
    fn roles_are_ordered_and_parse_from_their_names() {
        assert!(Role::Reader < Role::Writer && Role::Writer < Role::Modeler && Role::Modeler < Role::Admin);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::Writer.below(), Some(Role::Reader));
    }

    #[test]
    fn unknown_paths_have_no_policy() {
        assert!(policy("/patron.profile.v1.ProfileService/DropDatabase").is_none());
        assert!(policy("/grpc.health.v1.Health/Check").is_none());
    }
}
