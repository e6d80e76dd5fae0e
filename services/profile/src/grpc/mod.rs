//! The gRPC adapter: parse the request, call the store or domain, render the
//! answer. No business rule lives here.

mod export;
mod import;
pub mod parse;
mod render;
mod reports;
mod summary;

use std::pin::Pin;

use patron_common::{ServiceError, Validator};
use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_server::ProfileService;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::config::ProfileSettings;
use crate::domain::time::Micros;
use crate::store::idempotency::RequestKey;
use crate::store::{customers, erasure, events, orders};

pub struct ProfileApi {
    db: DatabaseConnection,
    settings: ProfileSettings,
    /// The reports' rollup of the orders, reloaded when they change.
    order_facts: crate::store::order_facts::OrderFactsCache,
}

impl ProfileApi {
    pub fn new(db: DatabaseConnection, settings: ProfileSettings) -> Self {
        Self { db, settings, order_facts: Default::default() }
    }
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;
type RpcResult<T> = Result<Response<T>, Status>;

/// Metadata the gateway sets to the authenticated principal's name.
pub const PRINCIPAL_HEADER: &str = "x-patron-principal";

#[tonic::async_trait]
impl ProfileService for ProfileApi {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> RpcResult<pb::CreateCustomerResponse> {
        let request = request.into_inner();
        let customer = parse::new_customer(request.customer.as_ref())?;
        let key = RequestKey::new(&request.request_id, "CreateCustomer");
        let created = customers::create(&self.db, &customer, key.as_ref()).await?;
        Ok(Response::new(pb::CreateCustomerResponse { customer: Some(render::customer(created)) }))
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> RpcResult<pb::GetCustomerResponse> {
        let request = request.into_inner();
        parse::customer_id(&request.customer_id)?;
        let customer = customers::get(&self.db, &request.customer_id).await?;
        Ok(Response::new(pb::GetCustomerResponse { customer: Some(render::customer(customer)) }))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> RpcResult<pb::UpdateCustomerResponse> {
        let request = request.into_inner();
        let (customer_id, changes) = parse::customer_changes(request.customer.as_ref(), request.update_mask.as_ref())?;
        let key = RequestKey::new(&request.request_id, "UpdateCustomer");
        let updated = customers::update(&self.db, &customer_id, &changes, key.as_ref()).await?;
        Ok(Response::new(pb::UpdateCustomerResponse { customer: Some(render::customer(updated)) }))
    }

    async fn list_customers(&self, request: Request<pb::ListCustomersRequest>) -> RpcResult<pb::ListCustomersResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        let page_size = parse::page_size(&mut validator, request.page_size);
        let filter = parse::customer_filter(&mut validator, request.filter.as_ref());
        validator.finish()?;
        let (page, next_page_token) = customers::list(&self.db, &filter, page_size, &request.page_token).await?;
        Ok(Response::new(pb::ListCustomersResponse {
            customers: page.into_iter().map(render::customer).collect(),
            next_page_token,
        }))
    }

    async fn tag_customer(&self, request: Request<pb::TagCustomerRequest>) -> RpcResult<pb::TagCustomerResponse> {
        let request = request.into_inner();
        let tags = parse::tag_list(&request.customer_id, &request.tags)?;
        let key = RequestKey::new(&request.request_id, "TagCustomer");
        let customer = customers::change_tags(&self.db, &request.customer_id, &tags, true, key.as_ref()).await?;
        Ok(Response::new(pb::TagCustomerResponse { customer: Some(render::customer(customer)) }))
    }

    async fn untag_customer(&self, request: Request<pb::UntagCustomerRequest>) -> RpcResult<pb::UntagCustomerResponse> {
        let request = request.into_inner();
        let tags = parse::tag_list(&request.customer_id, &request.tags)?;
        let key = RequestKey::new(&request.request_id, "UntagCustomer");
        let customer = customers::change_tags(&self.db, &request.customer_id, &tags, false, key.as_ref()).await?;
        Ok(Response::new(pb::UntagCustomerResponse { customer: Some(render::customer(customer)) }))
    }

    async fn set_consent(&self, request: Request<pb::SetConsentRequest>) -> RpcResult<pb::SetConsentResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.identifier("customer_id", &request.customer_id, crate::domain::limits::ID_CHARS);
        let channel = parse::consent_channel(&mut validator, "channel", request.channel);
        let state = parse::consent_state(&mut validator, "state", request.state);
        validator.finish()?;
        let (Some(channel), Some(state)) = (channel, state) else {
            return Err(ServiceError::internal("validated consent is missing").into());
        };
        let key = RequestKey::new(&request.request_id, "SetConsent");
        let customer = customers::set_consent(&self.db, &request.customer_id, channel, state, key.as_ref()).await?;
        Ok(Response::new(pb::SetConsentResponse { customer: Some(render::customer(customer)) }))
    }

    async fn erase_customer(&self, request: Request<pb::EraseCustomerRequest>) -> RpcResult<pb::EraseCustomerResponse> {
        // The gateway names the authenticated caller; a direct call is recorded as such.
        let erased_by: String = request
            .metadata()
            .get(PRINCIPAL_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("direct")
            .chars()
            .take(crate::domain::limits::ID_CHARS)
            .collect();
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.identifier("customer_id", &request.customer_id, crate::domain::limits::ID_CHARS);
        validator.text("reason", &request.reason, crate::domain::limits::TEXT_CHARS);
        validator.finish()?;
        let key = self.settings.erasure_hash_key.expose_secret().as_bytes();
        let erased = erasure::erase(&self.db, &request.customer_id, &erased_by, &request.reason, key).await?;
        tracing::info!(customer_id_hash = %erased.customer_id_hash, "customer erased");
        Ok(Response::new(pb::EraseCustomerResponse {
            customer_id_hash: erased.customer_id_hash,
            erase_time: Some(render::timestamp(erased.erase_time)),
            orders_anonymised: erased.orders_anonymised,
        }))
    }

    async fn get_customer_summary(
        &self,
        request: Request<pb::GetCustomerSummaryRequest>,
    ) -> RpcResult<pb::GetCustomerSummaryResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.identifier("customer_id", &request.customer_id, crate::domain::limits::ID_CHARS);
        let as_of = parse::timestamp(&mut validator, "as_of", request.as_of.as_ref()).unwrap_or_else(Micros::now);
        validator.check((0..=50).contains(&request.recent_orders), "recent_orders", "must be between 0 and 50");
        validator.finish()?;
        let recent = if request.recent_orders == 0 { 5 } else { request.recent_orders as usize };
        let summary = summary::customer_summary(&self.db, &self.settings, &request.customer_id, as_of, recent).await?;
        Ok(Response::new(summary))
    }

    async fn record_order(&self, request: Request<pb::RecordOrderRequest>) -> RpcResult<pb::RecordOrderResponse> {
        let request = request.into_inner();
        let Some(order) = request.order.as_ref() else {
            return Err(ServiceError::invalid("order", "is required").into());
        };
        let mut validator = Validator::new();
        let order = parse::order(&mut validator, "order", order);
        validator.finish()?;
        let key = RequestKey::new(&request.request_id, "RecordOrder");
        let (order, created) = orders::record(&self.db, &order, key.as_ref()).await?;
        Ok(Response::new(pb::RecordOrderResponse { order: Some(render::order(order)), created }))
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> RpcResult<pb::GetOrderResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.identifier("order_id", &request.order_id, crate::domain::limits::ID_CHARS);
        validator.finish()?;
        let order = orders::get(&self.db, &request.order_id).await?;
        Ok(Response::new(pb::GetOrderResponse { order: Some(render::order(order)) }))
    }

    async fn list_orders(&self, request: Request<pb::ListOrdersRequest>) -> RpcResult<pb::ListOrdersResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        let page_size = parse::page_size(&mut validator, request.page_size);
        let window = parse::window(&mut validator, "window", request.window.as_ref());
        if !request.customer_id.is_empty() {
            validator.identifier("customer_id", &request.customer_id, crate::domain::limits::ID_CHARS);
        }
        validator.finish()?;
        let customer_id = (!request.customer_id.is_empty()).then_some(request.customer_id.as_str());
        let (page, next_page_token) =
            orders::list(&self.db, customer_id, window, page_size, &request.page_token).await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: page.into_iter().map(render::order).collect(),
            next_page_token,
        }))
    }

    async fn record_contact(&self, request: Request<pb::RecordContactRequest>) -> RpcResult<pb::RecordContactResponse> {
        let request = request.into_inner();
        let Some(value) = request.contact.as_ref() else {
            return Err(ServiceError::invalid("contact", "is required").into());
        };
        let mut validator = Validator::new();
        let parsed = parse::contact(&mut validator, "contact", value);
        validator.finish()?;
        let key = RequestKey::new(&request.request_id, "RecordContact");
        let (stored, created) = events::record_contact(&self.db, &parsed, key.as_ref()).await?;
        Ok(Response::new(pb::RecordContactResponse { contact: Some(render::contact(stored)), created }))
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> RpcResult<pb::RecordFeedbackResponse> {
        let request = request.into_inner();
        let Some(value) = request.feedback.as_ref() else {
            return Err(ServiceError::invalid("feedback", "is required").into());
        };
        let mut validator = Validator::new();
        let parsed = parse::feedback(&mut validator, "feedback", value);
        validator.finish()?;
        let key = RequestKey::new(&request.request_id, "RecordFeedback");
        let (stored, created) = events::record_feedback(&self.db, &parsed, key.as_ref()).await?;
        Ok(Response::new(pb::RecordFeedbackResponse { feedback: Some(render::feedback(stored)), created }))
    }

    async fn record_cart_event(
        &self,
        request: Request<pb::RecordCartEventRequest>,
    ) -> RpcResult<pb::RecordCartEventResponse> {
        let request = request.into_inner();
        let Some(value) = request.event.as_ref() else {
            return Err(ServiceError::invalid("event", "is required").into());
        };
        let mut validator = Validator::new();
        let parsed = parse::cart_event(&mut validator, "event", value);
        validator.finish()?;
        let key = RequestKey::new(&request.request_id, "RecordCartEvent");
        let (stored, created) = events::record_cart_event(&self.db, &parsed, key.as_ref()).await?;
        Ok(Response::new(pb::RecordCartEventResponse { event: Some(render::cart_event(stored)), created }))
    }

    async fn record_exposure(
        &self,
        request: Request<pb::RecordExposureRequest>,
    ) -> RpcResult<pb::RecordExposureResponse> {
        let request = request.into_inner();
        let Some(value) = request.exposure.as_ref() else {
            return Err(ServiceError::invalid("exposure", "is required").into());
        };
        let mut validator = Validator::new();
        let parsed = parse::exposure(&mut validator, "exposure", value);
        validator.finish()?;
        let key = RequestKey::new(&request.request_id, "RecordExposure");
        let (stored, created) = events::record_exposure(&self.db, &parsed, key.as_ref()).await?;
        Ok(Response::new(pb::RecordExposureResponse { exposure: Some(render::exposure(stored)), created }))
    }

    type ImportRecordsStream = ResponseStream<pb::ImportRecordsResponse>;

    async fn import_records(
        &self,
        request: Request<Streaming<pb::ImportRecordsRequest>>,
    ) -> RpcResult<Self::ImportRecordsStream> {
        // A small buffer: a slow reader slows the import instead of piling up answers.
        let (answers, receiver) = tokio::sync::mpsc::channel(4);
        let import = import::run(self.db.clone(), request.into_inner(), answers);
        tokio::spawn(tracing::Instrument::instrument(import, tracing::Span::current()));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    type ExportCustomerFeaturesStream = ResponseStream<pb::ExportCustomerFeaturesResponse>;

    async fn export_customer_features(
        &self,
        request: Request<pb::ExportCustomerFeaturesRequest>,
    ) -> RpcResult<Self::ExportCustomerFeaturesStream> {
        let export = export::FeatureExport::parse(request.get_ref(), &self.settings)?;
        let (rows, receiver) = tokio::sync::mpsc::channel(2);
        let task = export.run(self.db.clone(), rows);
        tokio::spawn(tracing::Instrument::instrument(task, tracing::Span::current()));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    type ExportSalesSeriesStream = ResponseStream<pb::ExportSalesSeriesResponse>;

    async fn export_sales_series(
        &self,
        request: Request<pb::ExportSalesSeriesRequest>,
    ) -> RpcResult<Self::ExportSalesSeriesStream> {
        let query = export::series_query(request.get_ref(), &self.settings)?;
        let (points, receiver) = tokio::sync::mpsc::channel(2);
        let task = export::sales_series(self.db.clone(), query, points);
        tokio::spawn(tracing::Instrument::instrument(task, tracing::Span::current()));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    async fn get_kpis(&self, request: Request<pb::GetKpisRequest>) -> RpcResult<pb::GetKpisResponse> {
        Ok(Response::new(reports::get_kpis(&self.db, &self.order_facts, &self.settings, request.get_ref()).await?))
    }

    async fn get_pareto_report(
        &self,
        request: Request<pb::GetParetoReportRequest>,
    ) -> RpcResult<pb::GetParetoReportResponse> {
        Ok(Response::new(
            reports::get_pareto_report(&self.db, &self.order_facts, &self.settings, request.get_ref()).await?,
        ))
    }

    async fn list_lapsed_customers(
        &self,
        request: Request<pb::ListLapsedCustomersRequest>,
    ) -> RpcResult<pb::ListLapsedCustomersResponse> {
        Ok(Response::new(reports::list_lapsed_customers(&self.db, request.get_ref()).await?))
    }

    async fn list_abandoned_carts(
        &self,
        request: Request<pb::ListAbandonedCartsRequest>,
    ) -> RpcResult<pb::ListAbandonedCartsResponse> {
        Ok(Response::new(reports::list_abandoned_carts(&self.db, &self.settings, request.get_ref()).await?))
    }

    async fn evaluate_campaign(
        &self,
        request: Request<pb::EvaluateCampaignRequest>,
    ) -> RpcResult<pb::EvaluateCampaignResponse> {
        Ok(Response::new(reports::evaluate_campaign(&self.db, request.get_ref()).await?))
    }
}
