//! The segmentation service, as the win-back list needs it: the members of
//! one segment of its active model (`ListSegmentMembers`, paginated).

use std::collections::HashSet;

use patron_common::ServiceError;
use patron_common::upstream::UpstreamChannel;
use patron_proto::segmentation::v1::ListSegmentMembersRequest;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;

const PAGE: i32 = 10_000;

#[derive(Clone)]
pub struct Segmentation {
    client: SegmentationServiceClient<UpstreamChannel>,
}

impl Segmentation {
    pub fn new(channel: UpstreamChannel) -> Self {
        Self { client: SegmentationServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024) }
    }

    pub async fn members(&self, segment_id: &str) -> Result<HashSet<String>, ServiceError> {
        let mut members = HashSet::new();
        let mut page_token = String::new();
        loop {
            let request = ListSegmentMembersRequest {
                model_id: String::new(),
                segment_id: segment_id.to_owned(),
                page_size: PAGE,
                page_token: page_token.clone(),
            };
            let page =
                self.client.clone().list_segment_members(request).await.map_err(|status| match status.code() {
                    tonic::Code::NotFound | tonic::Code::InvalidArgument => {
                        ServiceError::invalid("segment_id", format!("segmentation service: {}", status.message()))
                    }
                    tonic::Code::FailedPrecondition => {
                        ServiceError::FailedPrecondition(format!("segmentation service: {}", status.message()))
                    }
                    _ => ServiceError::Unavailable(format!("segmentation service: {}", status.message())),
                })?;
            let page = page.into_inner();
            members.extend(page.members.into_iter().map(|m| m.customer_id));
            if page.next_page_token.is_empty() {
                return Ok(members);
            }
            page_token = page.next_page_token;
        }
    }
}
