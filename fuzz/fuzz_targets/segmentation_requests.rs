//! The segmentation service's request decoding and validation (see
//! profile_requests.rs for the input layout).
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_proto::segmentation::v1 as pb;
use patron_segmentation::grpc::parse;
use prost::Message;

fn with<T: Message + Default>(bytes: &[u8], check: impl FnOnce(T)) {
    if let Ok(request) = T::decode(bytes) {
        check(request);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else { return };
    match kind % 4 {
        0 => with(bytes, |r: pb::TrainSegmentationRequest| drop(parse::training_request(&r))),
        1 => with(bytes, |r: pb::ListSegmentMembersRequest| {
            drop(parse::page_size(r.page_size, 1_000, 10_000));
            drop(parse::decode_token("m1.", &r.page_token));
        }),
        2 => with(bytes, |r: pb::ListSegmentsRequest| {
            drop(parse::page_size(r.page_size, 100, 1_000));
            if let Ok(position) = parse::decode_token("s1.", &r.page_token) {
                // A token the service wrote decodes to what was encoded.
                assert_eq!(parse::decode_token("s1.", &parse::encode_token("s1.", &position)).ok(), Some(position));
            }
        }),
        _ => with(bytes, |r: pb::GetCustomerSegmentRequest| drop(parse::required_id("customer_id", &r.customer_id))),
    }
});
