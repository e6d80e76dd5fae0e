//! Domain types out to protobuf messages.

use patron_proto::common::v1::TimeUnit;
use patron_proto::profile::v1 as pb;

use crate::domain::customer::{AttributeValue, Customer};
use crate::domain::events::{CampaignExposure, CartEvent, Feedback, Score, SupportContact};
use crate::domain::features::CustomerFeatures;
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
        value: (!value.currency_code.is_empty()).then_some(patron_proto::common::v1::Money {
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

pub fn features(value: CustomerFeatures, unit: TimeUnit) -> pb::CustomerFeatures {
    pb::CustomerFeatures {
        customer_id: value.customer_id,
        frequency: value.frequency,
        recency: value.recency,
        age: value.age,
        monetary_value: value.monetary_value,
        days_since_last_purchase: value.days_since_last_purchase,
        tenure_days: value.tenure_days,
        orders: value.orders,
        revenue_minor: value.revenue_minor,
        average_order_value: value.average_order_value,
        category_count: value.category_count,
        share_store: value.share_store,
        share_web: value.share_web,
        share_app: value.share_app,
        share_marketplace: value.share_marketplace,
        returns: value.returns,
        contacts: value.contacts,
        complaints: value.complaints,
        last_nps: value.last_nps,
        last_csat: value.last_csat,
        days_since_last_contact: value.days_since_last_contact,
        abandoned_carts: value.abandoned_carts,
        consents_granted: value.consents_granted.into_iter().map(|channel| channel as i32).collect(),
        region: value.region,
        home_store_id: value.home_store_id,
        first_purchase_time: value.first_purchase_time.map(timestamp),
        last_purchase_time: value.last_purchase_time.map(timestamp),
        time_unit: unit as i32,
    }
}
