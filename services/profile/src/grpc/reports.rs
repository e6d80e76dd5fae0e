//! The report RPCs: KPIs (and later Pareto, lapsed customers, carts, A/B).

use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::Money;
use patron_proto::profile::v1 as pb;

use super::parse;
use crate::config::ProfileSettings;
use crate::domain::currency;
use crate::domain::order::SalesChannel;
use crate::store::kpis::{self, Kpis, ReportFilter};

/// Most customer ids a report filter may list.
pub const MAX_FILTER_CUSTOMERS: usize = 20_000;

pub fn report_filter(
    validator: &mut Validator,
    value: Option<&pb::ReportFilter>,
    settings: &ProfileSettings,
) -> ReportFilter {
    let Some(value) = value else {
        return ReportFilter { currency_code: settings.default_currency.clone(), ..Default::default() };
    };
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let channel = match value.channel {
        0 => None,
        code => {
            let channel = SalesChannel::from_code(code);
            validator.check(channel.is_some(), "filter.channel", "must be STORE, WEB, APP or MARKETPLACE");
            channel
        }
    };
    if value.customer_ids.len() > MAX_FILTER_CUSTOMERS {
        validator.violation("filter.customer_ids", format!("at most {MAX_FILTER_CUSTOMERS} customers"));
    }
    let currency_code =
        if value.currency_code.is_empty() { settings.default_currency.clone() } else { value.currency_code.clone() };
    validator.check(currency::is_known(&currency_code), "filter.currency_code", "must be an ISO 4217 code such as USD");
    ReportFilter {
        store_id: non_empty(&value.store_id),
        channel,
        region: non_empty(&value.region),
        tag: non_empty(&value.tag),
        customer_ids: (!value.customer_ids.is_empty()).then(|| value.customer_ids.clone()),
        currency_code,
    }
}

pub async fn get_kpis(
    db: &sea_orm::DatabaseConnection,
    settings: &ProfileSettings,
    request: &pb::GetKpisRequest,
) -> Result<pb::GetKpisResponse, ServiceError> {
    let mut validator = Validator::new();
    let window = parse::window(&mut validator, "window", request.window.as_ref());
    if request.window.is_none() {
        validator.violation("window", "is required");
    }
    let filter = report_filter(&mut validator, request.filter.as_ref(), settings);
    validator.finish()?;
    let Some((start, end)) = window else { return Err(ServiceError::invalid("window", "is required")) };
    let timeout = i64::try_from(settings.cart_abandonment_timeout_ms.as_micros()).unwrap_or(i64::MAX);
    let current = kpis::compute(db, &filter, (start, end), timeout).await?;
    let length = end.0 - start.0;
    let previous = kpis::compute(db, &filter, (crate::domain::time::Micros(start.0 - length), start), timeout).await?;
    Ok(pb::GetKpisResponse {
        kpis: Some(render(current, &filter.currency_code)),
        previous: Some(render(previous, &filter.currency_code)),
    })
}

fn render(kpis: Kpis, currency_code: &str) -> pb::Kpis {
    pb::Kpis {
        active_customers: kpis.active_customers,
        new_customers: kpis.new_customers,
        retention_rate: kpis.retention_rate(),
        repeat_purchase_rate: kpis.repeat_purchase_rate(),
        orders: kpis.orders,
        revenue: Some(Money { currency_code: currency_code.to_owned(), amount_minor: kpis.revenue_minor }),
        average_order_value_minor: kpis.average_order_value(),
        purchase_frequency: kpis.purchase_frequency(),
        historical_clv_minor: kpis.historical_clv(),
        nps: kpis.nps(),
        nps_responses: kpis.nps_responses,
        csat: kpis.csat(),
        csat_responses: kpis.csat_responses,
        contacts: kpis.contacts,
        customer_contact_ratio: kpis.customer_contact_ratio(),
        carts_created: kpis.carts_created,
        carts_abandoned: kpis.carts_abandoned,
        cart_abandonment_rate: kpis.cart_abandonment_rate(),
        complaint_rates: kpis
            .complaint_rates
            .into_iter()
            .map(|rate| pb::ComplaintRate {
                rate: if rate.contacts > 0 { rate.complaints as f64 / rate.contacts as f64 } else { 0.0 },
                reason: rate.reason,
                contacts: rate.contacts,
                complaints: rate.complaints,
            })
            .collect(),
        returns: kpis.returns,
    }
}
