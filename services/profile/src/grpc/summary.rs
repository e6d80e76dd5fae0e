//! GetCustomerSummary: the profile part of the customer-360 view.

use patron_common::ServiceError;
use patron_proto::common::v1::Money;
use patron_proto::profile::v1 as pb;
use sea_orm::DatabaseConnection;

use super::render;
use crate::config::ProfileSettings;
use crate::domain::features;
use crate::domain::time::Micros;
use crate::store::{customer_facts, customers, orders};

pub async fn customer_summary(
    db: &DatabaseConnection,
    settings: &ProfileSettings,
    customer_id: &str,
    as_of: Micros,
    recent_orders: usize,
) -> Result<pb::GetCustomerSummaryResponse, ServiceError> {
    // Four statements (five with orders): the row, then its details, orders
    // and engagement side by side, then the recent orders' lines.
    let row = customers::find_row(db, customer_id).await?;
    let (customer, mut orders, engagement) = tokio::try_join!(
        customers::with_details(db, row.clone()),
        orders::placed_before(db, row.id, as_of),
        customer_facts::engagement(db, row.id, as_of),
    )?;
    let facts = customer_facts::from_orders(&row, &orders, engagement, &settings.default_currency);
    orders.truncate(recent_orders);
    let recent = orders::with_lines(db, orders, customer_id).await?;
    let computed = features::compute(facts, as_of, 1.0);
    let money = |amount_minor: i64| Money { currency_code: settings.default_currency.clone(), amount_minor };
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
