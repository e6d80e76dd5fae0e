//! Requests in, domain types out: every field is checked here, at the edge,
//! and each mistake is reported with the request path of its field.

use std::collections::{BTreeMap, BTreeSet};

use patron_common::{ServiceError, Validator};
use patron_proto::common::v1 as common_pb;
use patron_proto::profile::v1 as pb;

use crate::domain::customer::{
    AttributeValue, Consent, ConsentChannel, ConsentState, Customer, CustomerChanges, CustomerFilter,
};
use crate::domain::events::{
    CampaignExposure, CartEvent, CartEventType, ContactChannel, Feedback, Score, SupportContact,
};
use crate::domain::limits::*;
use crate::domain::order::{self, Order, OrderLine, OrderStatus, SalesChannel};
use crate::domain::time::{MICROS_PER_DAY, Micros};
use crate::domain::{currency, limits};

/// How far in the future an event time may lie (clock skew between systems).
const FUTURE_TOLERANCE_MICROS: i64 = MICROS_PER_DAY;

pub fn timestamp(validator: &mut Validator, field: &str, value: Option<&prost_types::Timestamp>) -> Option<Micros> {
    let value = value?;
    if !(0..1_000_000_000).contains(&value.nanos) {
        validator.violation(field, "nanos must be in [0, 1e9)");
        return None;
    }
    match Micros::from_seconds_nanos(value.seconds, value.nanos) {
        // Before year 1900 or after 9999 is a unit mistake, not a real event.
        Some(micros) if (-2_208_988_800_000_000..=253_402_300_799_000_000).contains(&micros.0) => Some(micros),
        _ => {
            validator.violation(field, "is out of range (years 1900-9999)");
            None
        }
    }
}

/// A required event time, not in the future beyond the tolerance.
fn event_time(validator: &mut Validator, field: &str, value: Option<&prost_types::Timestamp>) -> Micros {
    match timestamp(validator, field, value) {
        Some(at) if at.0 > Micros::now().0 + FUTURE_TOLERANCE_MICROS => {
            validator.violation(field, "is in the future");
            at
        }
        Some(at) => at,
        None => {
            if value.is_none() {
                validator.violation(field, "is required");
            }
            Micros::default()
        }
    }
}

/// A `[start, end)` window; both ends required and ordered.
pub fn window(
    validator: &mut Validator,
    field: &str,
    value: Option<&common_pb::TimeWindow>,
) -> Option<(Micros, Micros)> {
    let value = value?;
    let start = timestamp(validator, &format!("{field}.start_time"), value.start_time.as_ref());
    let end = timestamp(validator, &format!("{field}.end_time"), value.end_time.as_ref());
    match (start, end) {
        (Some(start), Some(end)) if start < end => Some((start, end)),
        (Some(_), Some(_)) => {
            validator.violation(format!("{field}.end_time"), "must be after start_time");
            None
        }
        _ => {
            if value.start_time.is_none() {
                validator.violation(format!("{field}.start_time"), "is required");
            }
            if value.end_time.is_none() {
                validator.violation(format!("{field}.end_time"), "is required");
            }
            None
        }
    }
}

/// A window the request must carry.
pub fn required_window(
    validator: &mut Validator,
    field: &str,
    value: Option<&common_pb::TimeWindow>,
) -> Option<(Micros, Micros)> {
    if value.is_none() {
        validator.violation(field, "is required");
    }
    window(validator, field, value)
}

/// The currency a request names, or the service's default; a known ISO 4217 code.
pub fn currency(validator: &mut Validator, field: &str, requested: &str, default_currency: &str) -> String {
    let code = if requested.is_empty() { default_currency } else { requested };
    validator.check(currency::is_known(code), field, "must be an ISO 4217 code such as USD");
    code.to_owned()
}

pub fn page_size(validator: &mut Validator, value: i32) -> usize {
    match value {
        0 => DEFAULT_PAGE_SIZE,
        size if size < 0 => {
            validator.violation("page_size", "must not be negative");
            DEFAULT_PAGE_SIZE
        }
        size => usize::try_from(size).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
    }
}

fn optional_text(validator: &mut Validator, field: &str, value: &str, max_chars: usize) -> String {
    validator.text(field, value, max_chars);
    value.to_owned()
}

fn email(validator: &mut Validator, field: &str, value: &str) -> String {
    validator.text(field, value, EMAIL_CHARS);
    if !value.is_empty() {
        let valid = value.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !value.chars().any(|character| character.is_whitespace() || character.is_control());
        validator.check(valid, field, "is not an email address");
    }
    value.to_owned()
}

fn tags(validator: &mut Validator, field: &str, values: &[String]) -> BTreeSet<String> {
    if values.len() > TAGS_PER_CUSTOMER {
        validator.violation(field, format!("at most {TAGS_PER_CUSTOMER} tags"));
    }
    for (index, tag) in values.iter().enumerate() {
        validator.identifier(&format!("{field}[{index}]"), tag, ID_CHARS);
    }
    values.iter().cloned().collect()
}

fn attributes(
    validator: &mut Validator,
    field: &str,
    values: &std::collections::HashMap<String, pb::AttributeValue>,
) -> BTreeMap<String, AttributeValue> {
    if values.len() > ATTRIBUTES_PER_CUSTOMER {
        validator.violation(field, format!("at most {ATTRIBUTES_PER_CUSTOMER} attributes"));
    }
    let mut parsed = BTreeMap::new();
    for (name, value) in values {
        let path = format!("{field}[{name:?}]");
        validator.identifier(&path, name, ID_CHARS);
        let value = match &value.value {
            Some(pb::attribute_value::Value::StringValue(text)) => {
                validator.text(&path, text, TEXT_CHARS);
                AttributeValue::Text(text.clone())
            }
            Some(pb::attribute_value::Value::NumberValue(number)) => {
                validator.check(number.is_finite(), &path, "must be a finite number");
                AttributeValue::Number(*number)
            }
            Some(pb::attribute_value::Value::BoolValue(flag)) => AttributeValue::Bool(*flag),
            Some(pb::attribute_value::Value::DateValue(date)) => {
                let valid = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10;
                validator.check(valid, &path, "must be a date as YYYY-MM-DD");
                AttributeValue::Date(date.clone())
            }
            None => {
                validator.violation(&path, "must hold a value");
                continue;
            }
        };
        parsed.insert(name.clone(), value);
    }
    parsed
}

pub fn consent_channel(validator: &mut Validator, field: &str, code: i32) -> Option<ConsentChannel> {
    let channel = ConsentChannel::from_code(code);
    if channel.is_none() {
        validator.violation(field, "must be EMAIL, SMS, PHONE or PUSH");
    }
    channel
}

pub fn consent_state(validator: &mut Validator, field: &str, code: i32) -> Option<ConsentState> {
    let state = ConsentState::from_code(code);
    if state.is_none() {
        validator.violation(field, "must be GRANTED, DENIED or REVOKED");
    }
    state
}

/// A customer for CreateCustomer: everything but the server-set times.
pub fn new_customer(value: Option<&pb::Customer>) -> Result<Customer, ServiceError> {
    let Some(value) = value else { return Err(ServiceError::invalid("customer", "is required")) };
    let mut validator = Validator::new();
    validator.identifier("customer.customer_id", &value.customer_id, ID_CHARS);
    let mut consents = BTreeMap::new();
    for (index, consent) in value.consents.iter().enumerate() {
        let channel = consent_channel(&mut validator, &format!("customer.consents[{index}].channel"), consent.channel);
        let state = consent_state(&mut validator, &format!("customer.consents[{index}].state"), consent.state);
        let at =
            timestamp(&mut validator, &format!("customer.consents[{index}].update_time"), consent.update_time.as_ref());
        if let (Some(channel), Some(state)) = (channel, state) {
            let duplicate = consents.insert(channel, Consent { state, update_time: at.unwrap_or_else(Micros::now) });
            validator.check(duplicate.is_none(), format!("customer.consents[{index}].channel"), "appears twice");
        }
    }
    let customer = Customer {
        customer_id: value.customer_id.clone(),
        name: optional_text(&mut validator, "customer.name", &value.name, NAME_CHARS),
        email: email(&mut validator, "customer.email", &value.email),
        phone: optional_text(&mut validator, "customer.phone", &value.phone, PHONE_CHARS),
        home_store_id: optional_text(&mut validator, "customer.home_store_id", &value.home_store_id, ID_CHARS),
        region: optional_text(&mut validator, "customer.region", &value.region, ID_CHARS),
        tags: tags(&mut validator, "customer.tags", &value.tags),
        attributes: attributes(&mut validator, "customer.attributes", &value.attributes),
        consents,
        create_time: Micros::default(),
        update_time: Micros::default(),
    };
    validator.finish()?;
    Ok(customer)
}

/// The changes an UpdateCustomer asks for, limited to its field mask.
pub fn customer_changes(
    value: Option<&pb::Customer>,
    mask: Option<&prost_types::FieldMask>,
) -> Result<(String, CustomerChanges), ServiceError> {
    let Some(value) = value else { return Err(ServiceError::invalid("customer", "is required")) };
    let mut validator = Validator::new();
    validator.identifier("customer.customer_id", &value.customer_id, ID_CHARS);
    const MUTABLE: [&str; 7] = ["name", "email", "phone", "home_store_id", "region", "tags", "attributes"];
    let paths: Vec<&str> = match mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths.iter().map(String::as_str).collect(),
        _ => MUTABLE.to_vec(),
    };
    let mut changes = CustomerChanges::default();
    for path in paths {
        match path {
            "name" => changes.name = Some(optional_text(&mut validator, "customer.name", &value.name, NAME_CHARS)),
            "email" => changes.email = Some(email(&mut validator, "customer.email", &value.email)),
            "phone" => changes.phone = Some(optional_text(&mut validator, "customer.phone", &value.phone, PHONE_CHARS)),
            "home_store_id" => {
                changes.home_store_id =
                    Some(optional_text(&mut validator, "customer.home_store_id", &value.home_store_id, ID_CHARS))
            }
            "region" => {
                changes.region = Some(optional_text(&mut validator, "customer.region", &value.region, ID_CHARS))
            }
            "tags" => changes.tags = Some(tags(&mut validator, "customer.tags", &value.tags)),
            "attributes" => {
                changes.attributes = Some(attributes(&mut validator, "customer.attributes", &value.attributes))
            }
            other => validator.violation(
                "update_mask",
                format!(
                    "{other:?} is not an updatable field (one of {}); consent changes go through SetConsent",
                    MUTABLE.join(", ")
                ),
            ),
        }
    }
    validator.finish()?;
    Ok((value.customer_id.clone(), changes))
}

pub fn tag_list(customer_id: &str, values: &[String]) -> Result<BTreeSet<String>, ServiceError> {
    let mut validator = Validator::new();
    validator.identifier("customer_id", customer_id, ID_CHARS);
    validator.check(!values.is_empty(), "tags", "must name at least one tag");
    let parsed = tags(&mut validator, "tags", values);
    validator.finish()?;
    Ok(parsed)
}

pub fn customer_id(value: &str) -> Result<(), ServiceError> {
    let mut validator = Validator::new();
    validator.identifier("customer_id", value, ID_CHARS);
    validator.finish()
}

pub fn customer_filter(validator: &mut Validator, value: Option<&pb::CustomerFilter>) -> CustomerFilter {
    let Some(value) = value else { return CustomerFilter::default() };
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let mut attribute_equals: Vec<(String, String)> =
        value.attribute_equals.iter().map(|(name, value)| (name.clone(), value.clone())).collect();
    attribute_equals.sort();
    CustomerFilter {
        region: non_empty(&value.region),
        home_store_id: non_empty(&value.home_store_id),
        tags: value.tags.clone(),
        attribute_equals,
        consent_granted: match value.consent_granted {
            0 => None,
            code => consent_channel(validator, "filter.consent_granted", code),
        },
        first_purchase: window(validator, "filter.first_purchase", value.first_purchase.as_ref()),
        last_purchase: window(validator, "filter.last_purchase", value.last_purchase.as_ref()),
    }
}

/// An order for RecordOrder. `field` is the request path of the order.
pub fn order(validator: &mut Validator, field: &str, value: &pb::Order) -> Order {
    validator.identifier(&format!("{field}.order_id"), &value.order_id, ID_CHARS);
    if !value.customer_id.is_empty() {
        validator.identifier(&format!("{field}.customer_id"), &value.customer_id, ID_CHARS);
    }
    let place_time = event_time(validator, &format!("{field}.place_time"), value.place_time.as_ref());
    let channel = SalesChannel::from_code(value.channel);
    validator.check(channel.is_some(), format!("{field}.channel"), "must be STORE, WEB, APP or MARKETPLACE");
    let status = match value.status {
        // Unset means a normal, completed sale.
        0 => Some(OrderStatus::Completed),
        code => OrderStatus::from_code(code),
    };
    validator.check(status.is_some(), format!("{field}.status"), "must be COMPLETED, RETURNED or CANCELLED");
    validator.check(
        currency::is_known(&value.currency_code),
        format!("{field}.currency_code"),
        "must be an ISO 4217 code such as USD",
    );
    validator.text(&format!("{field}.store_id"), &value.store_id, ID_CHARS);
    validator.text(&format!("{field}.region"), &value.region, ID_CHARS);
    if value.lines.len() > limits::LINES_PER_ORDER {
        validator.violation(format!("{field}.lines"), format!("at most {} lines", limits::LINES_PER_ORDER));
    }
    let lines: Vec<OrderLine> = value
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| order_line(validator, &format!("{field}.lines[{index}]"), index, line))
        .collect();
    let total_minor = if lines.is_empty() {
        validator.check(value.total_minor >= 0, format!("{field}.total_minor"), "must not be negative");
        value.total_minor
    } else {
        match order::lines_total(&lines) {
            Some(total) if value.total_minor == 0 || value.total_minor == total => total,
            Some(total) => {
                validator.violation(
                    format!("{field}.total_minor"),
                    format!("is {} but the lines sum to {total}", value.total_minor),
                );
                total
            }
            None => {
                validator.violation(format!("{field}.lines"), "amounts overflow");
                0
            }
        }
    };
    Order {
        order_id: value.order_id.clone(),
        customer_id: (!value.customer_id.is_empty()).then(|| value.customer_id.clone()),
        place_time,
        channel: channel.unwrap_or(SalesChannel::Store),
        store_id: value.store_id.clone(),
        region: value.region.clone(),
        currency_code: value.currency_code.clone(),
        status: status.unwrap_or(OrderStatus::Completed),
        lines,
        total_minor,
    }
}

fn order_line(validator: &mut Validator, field: &str, index: usize, value: &pb::OrderLine) -> OrderLine {
    validator.identifier(&format!("{field}.sku"), &value.sku, ID_CHARS);
    validator.text(&format!("{field}.category"), &value.category, ID_CHARS);
    validator.check(value.quantity > 0, format!("{field}.quantity"), "must be positive");
    validator.check(value.unit_price_minor >= 0, format!("{field}.unit_price_minor"), "must not be negative");
    // The discount is judged only against a valid gross amount, so one mistake gives one error.
    if value.quantity > 0 && value.unit_price_minor >= 0 {
        let gross = value.quantity.checked_mul(value.unit_price_minor);
        validator.check(
            value.discount_minor >= 0 && gross.is_some_and(|gross| value.discount_minor <= gross),
            format!("{field}.discount_minor"),
            "must be between 0 and quantity * unit_price_minor",
        );
    }
    if let Some(cost) = value.unit_cost_minor {
        validator.check(cost >= 0, format!("{field}.unit_cost_minor"), "must not be negative");
    }
    OrderLine {
        line_number: i32::try_from(index + 1).unwrap_or(i32::MAX),
        sku: value.sku.clone(),
        category: value.category.clone(),
        quantity: value.quantity,
        unit_price_minor: value.unit_price_minor,
        discount_minor: value.discount_minor,
        unit_cost_minor: value.unit_cost_minor,
    }
}

fn optional_customer(validator: &mut Validator, field: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    validator.identifier(field, value, ID_CHARS);
    Some(value.to_owned())
}

pub fn contact(validator: &mut Validator, field: &str, value: &pb::SupportContact) -> SupportContact {
    validator.identifier(&format!("{field}.contact_id"), &value.contact_id, ID_CHARS);
    let channel = ContactChannel::from_code(value.channel);
    validator.check(channel.is_some(), format!("{field}.channel"), "must be EMAIL, PHONE, CHAT, SOCIAL or IN_STORE");
    validator.text(&format!("{field}.reason"), &value.reason, ID_CHARS);
    let open_time = event_time(validator, &format!("{field}.open_time"), value.open_time.as_ref());
    let resolve_time = timestamp(validator, &format!("{field}.resolve_time"), value.resolve_time.as_ref());
    if let Some(resolved) = resolve_time {
        validator.check(resolved >= open_time, format!("{field}.resolve_time"), "must not be before open_time");
    }
    SupportContact {
        contact_id: value.contact_id.clone(),
        customer_id: optional_customer(validator, &format!("{field}.customer_id"), &value.customer_id),
        channel: channel.unwrap_or(ContactChannel::Email),
        reason: value.reason.clone(),
        complaint: value.complaint,
        open_time,
        resolve_time,
    }
}

pub fn feedback(validator: &mut Validator, field: &str, value: &pb::Feedback) -> Feedback {
    validator.identifier(&format!("{field}.feedback_id"), &value.feedback_id, ID_CHARS);
    let score = match value.score {
        Some(pb::feedback::Score::Nps(score)) => {
            validator.check((0..=10).contains(&score), format!("{field}.nps"), "must be between 0 and 10");
            Score::Nps(i16::try_from(score).unwrap_or(0))
        }
        Some(pb::feedback::Score::Csat(score)) => {
            validator.check((1..=5).contains(&score), format!("{field}.csat"), "must be between 1 and 5");
            Score::Csat(i16::try_from(score).unwrap_or(0))
        }
        None => {
            validator.violation(format!("{field}.score"), "one of nps or csat is required");
            Score::Nps(0)
        }
    };
    validator.text(&format!("{field}.comment"), &value.comment, TEXT_CHARS);
    validator.text(&format!("{field}.touchpoint"), &value.touchpoint, ID_CHARS);
    Feedback {
        feedback_id: value.feedback_id.clone(),
        customer_id: optional_customer(validator, &format!("{field}.customer_id"), &value.customer_id),
        score,
        comment: value.comment.clone(),
        touchpoint: value.touchpoint.clone(),
        submit_time: event_time(validator, &format!("{field}.submit_time"), value.submit_time.as_ref()),
    }
}

pub fn cart_event(validator: &mut Validator, field: &str, value: &pb::CartEvent) -> CartEvent {
    validator.identifier(&format!("{field}.event_id"), &value.event_id, ID_CHARS);
    validator.identifier(&format!("{field}.cart_id"), &value.cart_id, ID_CHARS);
    let kind = CartEventType::from_code(value.r#type);
    validator.check(kind.is_some(), format!("{field}.type"), "must be CREATED, UPDATED or CONVERTED");
    if kind == Some(CartEventType::Converted) {
        validator.identifier(&format!("{field}.order_id"), &value.order_id, ID_CHARS);
    } else {
        validator.text(&format!("{field}.order_id"), &value.order_id, ID_CHARS);
    }
    let (value_minor, currency_code) = match &value.value {
        Some(money) => {
            validator.check(money.amount_minor >= 0, format!("{field}.value.amount_minor"), "must not be negative");
            validator.check(
                currency::is_known(&money.currency_code),
                format!("{field}.value.currency_code"),
                "must be an ISO 4217 code such as USD",
            );
            (money.amount_minor, money.currency_code.clone())
        }
        None => (0, String::new()),
    };
    CartEvent {
        event_id: value.event_id.clone(),
        cart_id: value.cart_id.clone(),
        customer_id: optional_customer(validator, &format!("{field}.customer_id"), &value.customer_id),
        kind: kind.unwrap_or(CartEventType::Created),
        event_time: event_time(validator, &format!("{field}.event_time"), value.event_time.as_ref()),
        value_minor,
        currency_code,
        order_id: value.order_id.clone(),
    }
}

pub fn exposure(validator: &mut Validator, field: &str, value: &pb::CampaignExposure) -> CampaignExposure {
    validator.identifier(&format!("{field}.exposure_id"), &value.exposure_id, ID_CHARS);
    validator.identifier(&format!("{field}.campaign_id"), &value.campaign_id, ID_CHARS);
    validator.identifier(&format!("{field}.variant"), &value.variant, ID_CHARS);
    validator.identifier(&format!("{field}.customer_id"), &value.customer_id, ID_CHARS);
    CampaignExposure {
        exposure_id: value.exposure_id.clone(),
        campaign_id: value.campaign_id.clone(),
        variant: value.variant.clone(),
        customer_id: value.customer_id.clone(),
        expose_time: event_time(validator, &format!("{field}.expose_time"), value.expose_time.as_ref()),
    }
}

/// A customer row of a bulk import: like CreateCustomer, but the source may
/// say when the customer was created.
pub fn imported_customer(value: &pb::Customer) -> Result<Customer, ServiceError> {
    let mut customer = new_customer(Some(value))?;
    let mut validator = Validator::new();
    if let Some(created) = timestamp(&mut validator, "customer.create_time", value.create_time.as_ref()) {
        customer.create_time = created;
    }
    validator.finish()?;
    Ok(customer)
}

/// One order row of a bulk import: the order's fields and at most one line.
pub fn order_row(validator: &mut Validator, value: &pb::OrderRow) -> crate::store::import::OrderRow {
    let total_only = value.sku.is_empty();
    let line = (!total_only).then(|| pb::OrderLine {
        sku: value.sku.clone(),
        category: value.category.clone(),
        quantity: value.quantity,
        unit_price_minor: value.unit_price_minor,
        discount_minor: value.discount_minor,
        unit_cost_minor: value.unit_cost_minor,
    });
    let as_order = pb::Order {
        order_id: value.order_id.clone(),
        customer_id: value.customer_id.clone(),
        place_time: value.place_time,
        channel: value.channel,
        store_id: value.store_id.clone(),
        region: value.region.clone(),
        currency_code: value.currency_code.clone(),
        status: value.status,
        lines: line.into_iter().collect(),
        total_minor: if total_only { value.total_minor } else { 0 },
    };
    let mut order = order(validator, "order", &as_order);
    let mut line = order.lines.pop();
    if let Some(line) = line.as_mut() {
        validator.check(value.line_number >= 1, "order.line_number", "must be 1 or more for a row with a sku");
        line.line_number = value.line_number;
    }
    // Field paths of a row are flat: "order.lines[0].sku" is "order.sku" here.
    crate::store::import::OrderRow { order, line }
}
