//! ScoreCustomer, PredictBtyd and the stored-score reads.

use patron_common::registry::LoadedModel;
use patron_common::{ServiceError, Validator};
use patron_proto::churn::v1 as pb;
use prost::Message;

use crate::btyd::{ClvConfig, Scorer};
use crate::domain::model::Engine;
use crate::domain::scoring::minor_units;
use crate::grpc::pages::{self, Position};
use crate::grpc::{ChurnApi, parse, render};
use crate::profile::ExportQuery;
use crate::store::scores;
use crate::time::now_micros;

const LIST_DEFAULT: u64 = 1_000;
const LIST_MAX: u64 = 10_000;

impl ChurnApi {
    pub(super) async fn score_customer(
        &self,
        request: pb::ScoreCustomerRequest,
    ) -> Result<pb::ScoreCustomerResponse, ServiceError> {
        parse::customer_id(&request.customer_id)?;
        let loaded = self.engine(&request.model_id).await?;
        let now = now_micros();
        let score = self.score_now(&loaded, &request.customer_id, now).await?;
        Ok(pb::ScoreCustomerResponse { score: Some(score) })
    }

    /// Scores one customer from their history before `now`.
    async fn score_now(
        &self,
        loaded: &LoadedModel<Engine>,
        customer_id: &str,
        now: i64,
    ) -> Result<pb::CustomerScore, ServiceError> {
        let s = &loaded.model.model.settings;
        let ids = [customer_id.to_owned()];
        let query = ExportQuery {
            as_of_us: now,
            time_unit: s.time_unit,
            currency_code: &s.currency_code,
            customer_ids: &ids,
            include_non_buyers: true,
        };
        let snapshot = self
            .profile
            .export(&query, |_| {})
            .await?
            .into_iter()
            .find(|row| row.customer_id == customer_id)
            .ok_or_else(|| ServiceError::not_found("customer", customer_id))?;
        if !snapshot.has_purchase() {
            return Err(ServiceError::FailedPrecondition(format!(
                "customer {customer_id:?} has no completed purchase in {} yet; there is nothing to score",
                s.currency_code
            )));
        }
        let outcome = loaded.model.score(&snapshot).map_err(|e| parse::btyd_error("", &e))?;
        Ok(render::customer_score(&loaded.version.id, &loaded.model.model, &snapshot, &outcome, now, now))
    }

    pub(super) async fn predict_btyd(
        &self,
        request: pb::PredictBtydRequest,
    ) -> Result<pb::PredictBtydResponse, ServiceError> {
        let loaded = self.engine(&request.model_id).await?;
        let model = &loaded.model.model;
        let s = &model.settings;
        let mut v = Validator::new();
        let row = parse::statistics(&mut v, request.statistics.as_ref(), s.time_unit);
        v.check(request.horizon.is_finite() && request.horizon > 0.0, "horizon", "must be > 0");
        let rate = request.annual_discount_rate.unwrap_or(s.annual_discount_rate);
        parse::discount_rate(&mut v, "annual_discount_rate", rate);
        v.finish()?;
        let row = row.ok_or_else(|| ServiceError::internal("validated statistics are missing"))?;
        let clv = ClvConfig::new(request.horizon, rate, s.time_unit.days()).map_err(|e| {
            let e = crate::btyd::BtydError::from(e);
            parse::btyd_error("", &e)
        })?;
        let scorer = Scorer::new(loaded.model.scorer.bg_nbd, loaded.model.scorer.gamma_gamma, clv);
        let score = tokio::task::spawn_blocking(move || scorer.score(&row))
            .await
            .map_err(ServiceError::internal)?
            .map_err(|e| parse::btyd_error("statistics.", &e))?;
        Ok(pb::PredictBtydResponse {
            model_id: loaded.version.id.clone(),
            time_unit: parse::pb_time_unit(s.time_unit) as i32,
            probability_alive: score.p_alive,
            expected_purchases: score.expected_purchases,
            probability_no_purchase: score.p_no_purchase,
            median_time_to_next_purchase: score.next_purchase.median_wait,
            expected_order_value: Some(render::money(&s.currency_code, minor_units(score.expected_order_value))),
            clv: Some(render::money(&s.currency_code, minor_units(score.clv))),
        })
    }

    pub(super) async fn stored_score(
        &self,
        request: pb::GetCustomerScoreRequest,
    ) -> Result<pb::GetCustomerScoreResponse, ServiceError> {
        parse::customer_id(&request.customer_id)?;
        let not_found = || ServiceError::not_found("stored score of customer", request.customer_id.clone());
        let run = match scores::latest_run(&self.db).await {
            Ok(run) => run,
            Err(ServiceError::FailedPrecondition(_)) => return Err(not_found()),
            Err(other) => return Err(other),
        };
        let bytes = scores::get(&self.db, &run.id, &request.customer_id).await?.ok_or_else(not_found)?;
        Ok(pb::GetCustomerScoreResponse { score: Some(decode_score(&bytes)?) })
    }

    pub(super) async fn list_scores(
        &self,
        request: pb::ListScoresRequest,
    ) -> Result<pb::ListScoresResponse, ServiceError> {
        let size = page_size(request.page_size, LIST_DEFAULT, LIST_MAX)?;
        let band = match pb::RiskBand::try_from(request.risk_band) {
            Ok(pb::RiskBand::Unspecified) => None,
            Ok(band) => Some(band as i32),
            Err(_) => return Err(ServiceError::invalid("risk_band", format!("unknown band {}", request.risk_band))),
        };
        let filter = format!("band={}", request.risk_band);
        let (run, after) = if request.page_token.is_empty() {
            (scores::latest_run(&self.db).await?, String::new())
        } else {
            let position = pages::decode(&request.page_token, &filter)?;
            (scores::pinned_run(&self.db, &position.run_id).await?, position.customer_id)
        };
        let mut rows = scores::list(&self.db, &run.id, &after, band, size + 1).await?;
        let more = rows.len() as u64 > size;
        rows.truncate(size as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => pages::encode(&Position {
                run_id: run.id.clone(),
                filter,
                value: 0,
                customer_id: last.customer_id.clone(),
                served: 0,
            }),
            _ => String::new(),
        };
        let scores = rows.iter().map(|row| decode_score(&row.score)).collect::<Result<_, _>>()?;
        Ok(pb::ListScoresResponse { scores, next_page_token })
    }
}

pub(super) fn decode_score(bytes: &[u8]) -> Result<pb::CustomerScore, ServiceError> {
    pb::CustomerScore::decode(bytes).map_err(|e| ServiceError::internal(format!("stored score: {e}")))
}

/// Page size after the documented defaults: 0 means `default`, larger than
/// `max` is lowered to it, negative is INVALID_ARGUMENT.
pub(super) fn page_size(requested: i32, default: u64, max: u64) -> Result<u64, ServiceError> {
    match u64::try_from(requested) {
        Err(_) => Err(ServiceError::invalid("page_size", "must not be negative")),
        Ok(0) => Ok(default),
        Ok(size) => Ok(size.min(max)),
    }
}
