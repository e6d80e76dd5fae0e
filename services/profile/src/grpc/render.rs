//! Domain types out to protobuf messages.

use patron_proto::profile::v1 as pb;

use crate::domain::customer::{AttributeValue, Customer};
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
