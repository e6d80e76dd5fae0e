//! Domain types out to protobuf messages.

use patron_proto::profile::v1 as pb;

use crate::domain::customer::{AttributeValue, Customer};
use crate::domain::events::{CampaignExposure, CartEvent, Feedback, Score, SupportContact};
use crate::domain::order::Order;
use crate::domain::time::Micros;

pub fn timestamp(at: Micros) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.seconds(), nanos: at.subsec_nanos() }
}

pub fn customer(value: Customer) -> pb::Customer {
    pb::Customer {
        customer_id: value.customer_id,
        name: value.name,
        email: value.email,
        phone: value.phone,
        home_store_id: value.home_store_id,
        region: value.region,
        tags: value.tags.into_iter().collect(),
        attributes: value
            .attributes
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    AttributeValue::Text(text) => pb::attribute_value::Value::StringValue(text),
                    AttributeValue::Number(number) => pb::attribute_value::Value::NumberValue(number),
                    AttributeValue::Bool(flag) => pb::attribute_value::Value::BoolValue(flag),
                    AttributeValue::Date(date) => pb::attribute_value::Value::DateValue(date),
                };
                (name, pb::AttributeValue { value: Some(value) })
            })
            .collect(),
        consents: value
            .consents
            .into_iter()
            .map(|(channel, consent)| pb::Consent {
                channel: channel as i32,
                state: consent.state as i32,
                update_time: Some(timestamp(consent.update_time)),
            })
            .collect(),
        create_time: Some(timestamp(value.create_time)),
        update_time: Some(timestamp(value.update_time)),
    }
}

pub fn order(value: Order) -> pb::Order {
    pb::Order {
        order_id: value.order_id,
        customer_id: value.customer_id.unwrap_or_default(),
        place_time: Some(timestamp(value.place_time)),
        channel: value.channel as i32,
        store_id: value.store_id,
        region: value.region,
        currency_code: value.currency_code,
        status: value.status as i32,
        total_minor: value.total_minor,
        lines: value
            .lines
            .into_iter()
            .map(|line| pb::OrderLine {
                sku: line.sku,
                category: line.category,
                quantity: line.quantity,
                unit_price_minor: line.unit_price_minor,
                discount_minor: line.discount_minor,
                unit_cost_minor: line.unit_cost_minor,
            })
            .collect(),
    }
}

pub fn contact(value: SupportContact) -> pb::SupportContact {
    pb::SupportContact {
        contact_id: value.contact_id,
        customer_id: value.customer_id.unwrap_or_default(),
        channel: value.channel as i32,
        reason: value.reason,
        complaint: value.complaint,
        open_time: Some(timestamp(value.open_time)),
        resolve_time: value.resolve_time.map(timestamp),
    }
}

pub fn feedback(value: Feedback) -> pb::Feedback {
    pb::Feedback {
        feedback_id: value.feedback_id,
        customer_id: value.customer_id.unwrap_or_default(),
        score: Some(match value.score {
            Score::Nps(score) => pb::feedback::Score::Nps(i32::from(score)),
            Score::Csat(score) => pb::feedback::Score::Csat(i32::from(score)),
        }),
        comment: value.comment,
        touchpoint: value.touchpoint,
        submit_time: Some(timestamp(value.submit_time)),
    }
}

pub fn cart_event(value: CartEvent) -> pb::CartEvent {
    pb::CartEvent {
        event_id: value.event_id,
        cart_id: value.cart_id,
        customer_id: value.customer_id.unwrap_or_default(),
        r#type: value.kind as i32,
        event_time: Some(timestamp(value.event_time)),
        value: (!value.currency_code.is_empty()).then(|| patron_proto::common::v1::Money {
            currency_code: value.currency_code,
            amount_minor: value.value_minor,
        }),
        order_id: value.order_id,
    }
}

pub fn exposure(value: CampaignExposure) -> pb::CampaignExposure {
    pb::CampaignExposure {
        exposure_id: value.exposure_id,
        campaign_id: value.campaign_id,
        variant: value.variant,
        customer_id: value.customer_id,
        expose_time: Some(timestamp(value.expose_time)),
    }
}
