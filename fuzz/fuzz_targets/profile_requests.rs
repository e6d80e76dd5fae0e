//! The profile service's request decoding and validation: the first byte picks
//! a request type, the rest is decoded as that message and run through the
//! validators its handler runs before touching the store. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_common::Validator;
use patron_profile::grpc::parse;
use patron_proto::profile::v1 as pb;
use prost::Message;

/// Decodes `bytes` as `T` and validates it with `check`; undecodable input is
/// what tonic refuses before any handler runs, so it ends here.
fn with<T: Message + Default>(bytes: &[u8], check: impl FnOnce(T)) {
    if let Ok(request) = T::decode(bytes) {
        check(request);
    }
}

fn import_row(row: &pb::ImportRow) {
    let mut validator = Validator::new();
    match &row.record {
        Some(pb::import_row::Record::Customer(customer)) => drop(parse::imported_customer(customer)),
        Some(pb::import_row::Record::Order(order)) => drop(parse::order_row(&mut validator, order)),
        Some(pb::import_row::Record::Contact(contact)) => drop(parse::contact(&mut validator, "contact", contact)),
        Some(pb::import_row::Record::Feedback(answer)) => drop(parse::feedback(&mut validator, "feedback", answer)),
        // Kinds added to the import later are covered by their own request types above.
        #[allow(unreachable_patterns)]
        _ => {}
    }
    let _ = validator.finish();
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else { return };
    let mut validator = Validator::new();
    match kind % 14 {
        0 => with(bytes, |r: pb::CreateCustomerRequest| drop(parse::new_customer(r.customer.as_ref()))),
        1 => with(bytes, |r: pb::UpdateCustomerRequest| {
            drop(parse::customer_changes(r.customer.as_ref(), r.update_mask.as_ref()))
        }),
        2 => with(bytes, |r: pb::TagCustomerRequest| drop(parse::tag_list(&r.customer_id, &r.tags))),
        3 => with(bytes, |r: pb::ListCustomersRequest| {
            parse::page_size(&mut validator, r.page_size);
            parse::customer_filter(&mut validator, r.filter.as_ref());
        }),
        4 => with(bytes, |r: pb::SetConsentRequest| {
            parse::consent_channel(&mut validator, "channel", r.channel);
            parse::consent_state(&mut validator, "state", r.state);
        }),
        5 => with(bytes, |r: pb::RecordOrderRequest| {
            if let Some(order) = &r.order {
                parse::order(&mut validator, "order", order);
            }
        }),
        6 => with(bytes, |r: pb::ListOrdersRequest| {
            parse::page_size(&mut validator, r.page_size);
            parse::window(&mut validator, "window", r.window.as_ref());
        }),
        7 => with(bytes, |r: pb::RecordContactRequest| {
            if let Some(contact) = &r.contact {
                parse::contact(&mut validator, "contact", contact);
            }
        }),
        8 => with(bytes, |r: pb::RecordFeedbackRequest| {
            if let Some(feedback) = &r.feedback {
                parse::feedback(&mut validator, "feedback", feedback);
            }
        }),
        9 => with(bytes, |r: pb::RecordCartEventRequest| {
            if let Some(event) = &r.event {
                parse::cart_event(&mut validator, "event", event);
            }
        }),
        10 => with(bytes, |r: pb::RecordExposureRequest| {
            if let Some(exposure) = &r.exposure {
                parse::exposure(&mut validator, "exposure", exposure);
            }
        }),
        11 => with(bytes, |r: pb::ImportRecordsRequest| {
            if let Some(pb::import_records_request::Payload::Batch(batch)) = &r.payload {
                batch.rows.iter().for_each(import_row);
            }
        }),
        12 => with(bytes, |r: pb::GetKpisRequest| {
            parse::required_window(&mut validator, "window", r.window.as_ref());
            if let Some(filter) = &r.filter {
                parse::currency(&mut validator, "filter.currency_code", &filter.currency_code, "USD");
            }
        }),
        _ => with(bytes, |r: pb::ListLapsedCustomersRequest| {
            parse::timestamp(&mut validator, "as_of", r.as_of.as_ref());
            parse::page_size(&mut validator, r.page_size);
            parse::consent_channel(&mut validator, "consent_granted", r.consent_granted);
        }),
    }
    let _ = validator.finish();
});
