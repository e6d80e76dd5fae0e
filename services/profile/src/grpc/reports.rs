//! The report RPCs: KPIs, Pareto, lapsed customers, abandoned carts, A/B.

use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::Money;
use patron_proto::profile::v1 as pb;

use super::{parse, render};
use crate::config::ProfileSettings;
use crate::domain::order::SalesChannel;
use crate::domain::time::{MICROS_PER_DAY, Micros};
use crate::store::kpis::{self, Kpis, ReportFilter};
use crate::store::order_facts::OrderFactsCache;
use crate::store::report_filter::OrderSelection;
use crate::store::{campaigns, lists, pareto};

/// Most customer ids a report filter may list: the ids travel as one bound
/// parameter, so this only bounds a request's memory.
pub const MAX_FILTER_CUSTOMERS: usize = 1_000_000;

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
        parse::currency(validator, "filter.currency_code", &value.currency_code, &settings.default_currency);
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
    order_facts: &OrderFactsCache,
    settings: &ProfileSettings,
    request: &pb::GetKpisRequest,
) -> Result<pb::GetKpisResponse, ServiceError> {
    let mut validator = Validator::new();
    let window = parse::required_window(&mut validator, "window", request.window.as_ref());
    let filter = report_filter(&mut validator, request.filter.as_ref(), settings);
    validator.finish()?;
    let Some((start, end)) = window else { return Err(ServiceError::invalid("window", "is required")) };
    let timeout = settings.abandonment_timeout_micros();
    let facts = order_facts.get(db).await?;
    let selection = OrderSelection::resolve(db, &facts, &filter).await?;
    let current = kpis::compute(db, &facts, &selection, &filter, (start, end), timeout).await?;
    let previous_start = Micros(start.0 - (end.0 - start.0));
    let previous = kpis::compute(db, &facts, &selection, &filter, (previous_start, start), timeout).await?;
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

pub async fn get_pareto_report(
    db: &sea_orm::DatabaseConnection,
    order_facts: &OrderFactsCache,
    settings: &ProfileSettings,
    request: &pb::GetParetoReportRequest,
) -> Result<pb::GetParetoReportResponse, ServiceError> {
    let mut validator = Validator::new();
    let window = parse::required_window(&mut validator, "window", request.window.as_ref());
    let filter = report_filter(&mut validator, request.filter.as_ref(), settings);
    for (index, share) in request.customer_shares.iter().enumerate() {
        validator.check(*share > 0.0 && *share <= 1.0, format!("customer_shares[{index}]"), "must be in (0, 1]");
    }
    validator.check((0..=1_000).contains(&request.top_n), "top_n", "must be between 0 and 1000");
    validator.finish()?;
    let Some(window) = window else { return Err(ServiceError::invalid("window", "is required")) };
    let top_n = if request.top_n == 0 { 20 } else { request.top_n as usize };
    let facts = order_facts.get(db).await?;
    let selection = OrderSelection::resolve(db, &facts, &filter).await?;
    let report = pareto::report(db, &facts, &selection, window, top_n).await?;
    let shares = if request.customer_shares.is_empty() { vec![0.2] } else { request.customer_shares.clone() };
    let point = |share: f64| pb::ParetoPoint {
        customer_share: share,
        revenue_share: pareto::revenue_share(&report.revenues, share),
    };
    let top = |customer: pareto::CustomerRevenue| pb::TopCustomer {
        customer_id: customer.customer_id,
        revenue_minor: customer.revenue_minor,
        margin_minor: customer.margin_minor,
        orders: customer.orders,
    };
    Ok(pb::GetParetoReportResponse {
        customers: report.revenues.len() as i64,
        revenue: Some(Money {
            currency_code: filter.currency_code.clone(),
            amount_minor: report.revenues.iter().sum(),
        }),
        points: shares.into_iter().map(point).collect(),
        curve: (1..=20).map(|step| point(f64::from(step) * 0.05)).collect(),
        top_by_revenue: report.top_by_revenue.into_iter().map(top).collect(),
        top_by_margin: report.top_by_margin.into_iter().map(top).collect(),
    })
}

pub async fn list_lapsed_customers(
    db: &sea_orm::DatabaseConnection,
    request: &pb::ListLapsedCustomersRequest,
) -> Result<pb::ListLapsedCustomersResponse, ServiceError> {
    let mut validator = Validator::new();
    validator.check((1..=3_650).contains(&request.days), "days", "must be between 1 and 3650");
    let as_of = parse::timestamp(&mut validator, "as_of", request.as_of.as_ref()).unwrap_or_else(Micros::now);
    let page_size = parse::page_size(&mut validator, request.page_size);
    let consent = match request.consent_granted {
        0 => None,
        code => parse::consent_channel(&mut validator, "consent_granted", code),
    };
    validator.finish()?;
    let lapsed_since = Micros(as_of.0 - i64::from(request.days) * MICROS_PER_DAY);
    let (customers, next_page_token) =
        lists::lapsed_customers(db, as_of, lapsed_since, consent, page_size, &request.page_token).await?;
    Ok(pb::ListLapsedCustomersResponse {
        customers: customers
            .into_iter()
            .map(|customer| pb::LapsedCustomer {
                customer_id: customer.customer_id,
                last_order_time: Some(render::timestamp(customer.last_order)),
                orders: customer.orders,
                revenue_minor: customer.revenue_minor,
            })
            .collect(),
        next_page_token,
    })
}

pub async fn list_abandoned_carts(
    db: &sea_orm::DatabaseConnection,
    settings: &ProfileSettings,
    request: &pb::ListAbandonedCartsRequest,
) -> Result<pb::ListAbandonedCartsResponse, ServiceError> {
    let mut validator = Validator::new();
    let window = parse::required_window(&mut validator, "window", request.window.as_ref());
    let page_size = parse::page_size(&mut validator, request.page_size);
    validator.finish()?;
    let Some(window) = window else { return Err(ServiceError::invalid("window", "is required")) };
    let timeout = settings.abandonment_timeout_micros();
    let (carts, next_page_token) = lists::abandoned_carts(db, window, timeout, page_size, &request.page_token).await?;
    Ok(pb::ListAbandonedCartsResponse {
        carts: carts
            .into_iter()
            .map(|cart| pb::AbandonedCart {
                cart_id: cart.cart_id,
                customer_id: cart.customer_id.unwrap_or_default(),
                last_event_time: Some(render::timestamp(cart.last_event)),
                value: Some(Money { currency_code: cart.currency_code, amount_minor: cart.value_minor }),
            })
            .collect(),
        next_page_token,
    })
}

pub async fn evaluate_campaign(
    db: &sea_orm::DatabaseConnection,
    request: &pb::EvaluateCampaignRequest,
) -> Result<pb::EvaluateCampaignResponse, ServiceError> {
    let mut validator = Validator::new();
    validator.identifier("campaign_id", &request.campaign_id, crate::domain::limits::ID_CHARS);
    validator.check(
        (0..=365).contains(&request.conversion_window_days),
        "conversion_window_days",
        "must be between 1 and 365",
    );
    validator.check(
        request.confidence == 0.0 || (request.confidence > 0.0 && request.confidence < 1.0),
        "confidence",
        "must be in (0, 1)",
    );
    for (index, tag) in request.by_tags.iter().enumerate() {
        validator.identifier(&format!("by_tags[{index}]"), tag, crate::domain::limits::ID_CHARS);
    }
    validator.finish()?;
    let window_days = if request.conversion_window_days == 0 { 7 } else { i64::from(request.conversion_window_days) };
    let control = if request.control_variant.is_empty() { "control" } else { request.control_variant.as_str() };
    let confidence = if request.confidence == 0.0 { 0.95 } else { request.confidence };
    let outcomes =
        campaigns::outcomes(db, &request.campaign_id, window_days * MICROS_PER_DAY, &request.by_tags).await?;
    let breakdown = |tag: Option<&str>| pb::CampaignBreakdown {
        tag: tag.unwrap_or_default().to_owned(),
        variants: outcomes
            .compare(tag, control, confidence)
            .into_iter()
            .map(|result| pb::VariantResult {
                variant: result.variant,
                exposed: result.exposed,
                converted: result.converted,
                conversion_rate: result.conversion_rate,
                absolute_lift: result.lift.as_ref().map(|lift| lift.absolute),
                relative_lift: result.lift.as_ref().and_then(|lift| lift.relative),
                absolute_lift_lower: result.lift.as_ref().map(|lift| lift.lower),
                absolute_lift_upper: result.lift.as_ref().map(|lift| lift.upper),
                p_value: result.lift.as_ref().map(|lift| lift.p_value),
            })
            .collect(),
    };
    let mut breakdowns = vec![breakdown(None)];
    breakdowns.extend(request.by_tags.iter().map(|tag| breakdown(Some(tag))));
    Ok(pb::EvaluateCampaignResponse { campaign_id: request.campaign_id.clone(), breakdowns })
}
