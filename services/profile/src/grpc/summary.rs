//! GetCustomerSummary: the profile part of the customer-360 view.

use patron_common::ServiceError;
use patron_proto::common::v1::Money;
use patron_proto::profile::v1 as pb;
use sea_orm::DatabaseConnection;

use super::render;
use crate::config::ProfileSettings;
use crate::domain::features;
use crate::domain::time::Micros;
use crate::store::features::{self as store, FeatureScope};
use crate::store::{customers, orders};

pub async fn customer_summary(
    db: &DatabaseConnection,
    settings: &ProfileSettings,
    customer_id: &str,
    as_of: Micros,
    recent_orders: usize,
) -> Result<pb::GetCustomerSummaryResponse, ServiceError> {
    let customer = customers::get(db, customer_id).await?;
    let scope = FeatureScope {
        cutoff: as_of,
        currency_code: settings.default_currency.clone(),
        abandonment_timeout_micros: settings.abandonment_timeout_micros(),
        include_non_buyers: true,
    };
    let chunk = store::next_chunk(db, &scope, Some(&[customer_id.to_owned()]), 0, 1).await?;
    let facts = chunk.facts.into_iter().next().ok_or_else(|| ServiceError::not_found("customer", customer_id))?;
    let computed = features::compute(facts, as_of, 1.0);
    let money = |amount_minor: i64| Money { currency_code: settings.default_currency.clone(), amount_minor };
    let (recent, _) =
        orders::list(db, Some(customer_id), Some((Micros(i64::MIN / 2), as_of)), recent_orders, "").await?;
    Ok(pb::GetCustomerSummaryResponse {
        customer: Some(render::customer(customer)),
        orders: computed.orders,
        revenue: Some(money(computed.revenue_minor)),
        average_order_value: Some(money(computed.average_order_value.round() as i64)),
        first_order_time: computed.first_purchase_time.map(render::timestamp),
        last_order_time: computed.last_purchase_time.map(render::timestamp),
        last_nps: computed.last_nps,
        last_csat: computed.last_csat,
        contacts: computed.contacts,
        complaints: computed.complaints,
        returns: computed.returns,
        recent_orders: recent.into_iter().map(render::order).collect(),
    })
}
