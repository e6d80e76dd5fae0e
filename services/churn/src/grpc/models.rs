//! The model registry RPCs, and holdout evaluation of stored versions.

use patron_common::registry::ListModelsQuery;
use patron_common::{ServiceError, Validator};
use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::{MetricComparison, ModelStatus};

use crate::domain::model::Engine;
use crate::domain::training::evaluate_on;
use crate::grpc::{ChurnApi, parse, render};
use crate::profile::ExportQuery;
use crate::time::{DAY_US, now_micros};

/// Metrics of CompareModels, in order, and whether higher is better.
const COMPARED: [(&str, bool); 4] = [("roc_auc", true), ("pr_auc", true), ("brier", false), ("top_decile_lift", true)];

impl ChurnApi {
    pub(super) async fn model_with_detail(&self, model_id: &str) -> Result<pb::GetModelResponse, ServiceError> {
        let model = self.registry.get(model_id).await?;
        let detail = if model.status == ModelStatus::Failed as i32 {
            None
        } else {
            let payload = self.registry.payload(model_id).await?;
            let engine = Engine::from_json(&payload).map_err(ServiceError::Internal)?;
            Some(render::detail(&engine.model))
        };
        Ok(pb::GetModelResponse { model: Some(model), detail })
    }

    pub(super) async fn list_models(
        &self,
        request: pb::ListModelsRequest,
    ) -> Result<pb::ListModelsResponse, ServiceError> {
        let (models, next_page_token) = self
            .registry
            .list(&ListModelsQuery {
                page_size: request.page_size,
                page_token: request.page_token,
                status: request.status,
                tag: request.tag,
            })
            .await?;
        Ok(pb::ListModelsResponse { models, next_page_token })
    }

    pub(super) async fn activate(
        &self,
        request: pb::ActivateModelRequest,
    ) -> Result<pb::ActivateModelResponse, ServiceError> {
        let mut v = Validator::new();
        parse::request_id(&mut v, &request.request_id);
        v.identifier("model_id", &request.model_id, 64);
        v.finish()?;
        let response = self
            .requests
            .once(&request.request_id, "ActivateModel", &request, async {
                let activation = self
                    .models
                    .activate(&request.model_id)
                    .await
                    .map_err(parse::unknown_model_is_invalid("model_id"))?;
                Ok(pb::ActivateModelResponse {
                    model: Some(activation.model),
                    previous_model_id: activation.previous_model_id,
                })
            })
            .await?;
        Ok(response)
    }

    pub(super) async fn rollback(
        &self,
        request: pb::RollbackModelRequest,
    ) -> Result<pb::RollbackModelResponse, ServiceError> {
        let mut v = Validator::new();
        parse::request_id(&mut v, &request.request_id);
        v.finish()?;
        let response = self
            .requests
            .once(&request.request_id, "RollbackModel", &request, async {
                let activation = self.models.rollback().await?;
                Ok(pb::RollbackModelResponse {
                    model: Some(activation.model),
                    previous_model_id: activation.previous_model_id,
                })
            })
            .await?;
        Ok(response)
    }

    pub(super) async fn tag(&self, request: pb::TagModelRequest) -> Result<pb::TagModelResponse, ServiceError> {
        let mut v = Validator::new();
        parse::request_id(&mut v, &request.request_id);
        v.identifier("model_id", &request.model_id, 64);
        v.finish()?;
        self.requests
            .once(&request.request_id, "TagModel", &request, async {
                let model = self
                    .registry
                    .tag(&request.model_id, &request.add_tags, &request.remove_tags)
                    .await
                    .map_err(parse::unknown_model_is_invalid("model_id"))?;
                Ok(pb::TagModelResponse { model: Some(model) })
            })
            .await
    }

    pub(super) async fn evaluate(
        &self,
        request: pb::EvaluateModelRequest,
    ) -> Result<pb::EvaluateModelResponse, ServiceError> {
        let mut v = Validator::new();
        let bins = parse::calibration_bins(&mut v, request.calibration_bins);
        v.finish()?;
        let loaded = self.engine(&request.model_id).await?;
        let s = &loaded.model.model.settings;
        let mut v = Validator::new();
        let data_cutoff = s.calibration_cutoff_us + i64::from(s.label_window_days) * DAY_US;
        let cutoff = parse::holdout_cutoff(
            &mut v,
            request.holdout_cutoff.as_ref(),
            &[data_cutoff],
            s.label_window_days,
            now_micros(),
        );
        v.finish()?;
        let [evaluation] = self.evaluate_engines([&loaded.model], cutoff, bins).await?;
        Ok(pb::EvaluateModelResponse {
            model_id: loaded.version.id.clone(),
            evaluation: Some(render::evaluation(&evaluation, cutoff, s.label_window_days)),
        })
    }

    pub(super) async fn compare(
        &self,
        request: pb::CompareModelsRequest,
    ) -> Result<pb::CompareModelsResponse, ServiceError> {
        let mut v = Validator::new();
        let bins = parse::calibration_bins(&mut v, request.calibration_bins);
        v.identifier("candidate_model_id", &request.candidate_model_id, 64);
        v.finish()?;
        let baseline = self
            .models
            .get(&request.baseline_model_id)
            .await
            .map_err(parse::unknown_model_is_invalid("baseline_model_id"))?;
        let candidate = self
            .models
            .get(&request.candidate_model_id)
            .await
            .map_err(parse::unknown_model_is_invalid("candidate_model_id"))?;
        let (b, c) = (&baseline.model.model.settings, &candidate.model.model.settings);
        if b.label_window_days != c.label_window_days {
            return Err(ServiceError::FailedPrecondition(format!(
                "the versions have different label windows ({} and {} days); they cannot share a holdout",
                b.label_window_days, c.label_window_days
            )));
        }
        let data_cutoffs = [b, c].map(|s| s.calibration_cutoff_us + i64::from(s.label_window_days) * DAY_US);
        let mut v = Validator::new();
        let cutoff = parse::holdout_cutoff(
            &mut v,
            request.holdout_cutoff.as_ref(),
            &data_cutoffs,
            b.label_window_days,
            now_micros(),
        );
        v.finish()?;
        let [base_eval, cand_eval] = self.evaluate_engines([&baseline.model, &candidate.model], cutoff, bins).await?;
        let base_metrics = crate::domain::training::evaluation_metrics(&base_eval);
        let cand_metrics = crate::domain::training::evaluation_metrics(&cand_eval);
        Ok(pb::CompareModelsResponse {
            baseline_model_id: baseline.version.id.clone(),
            candidate_model_id: candidate.version.id.clone(),
            metrics: COMPARED
                .iter()
                .map(|&(name, higher_is_better)| MetricComparison {
                    metric: name.to_owned(),
                    baseline_value: base_metrics.get(name).copied().unwrap_or(f64::NAN),
                    candidate_value: cand_metrics.get(name).copied().unwrap_or(f64::NAN),
                    higher_is_better,
                })
                .collect(),
            baseline_evaluation: Some(render::evaluation(&base_eval, cutoff, b.label_window_days)),
            candidate_evaluation: Some(render::evaluation(&cand_eval, cutoff, c.label_window_days)),
        })
    }

    /// Evaluates engines on the same holdout customers and labels. Each uses
    /// its own time unit and currency for its features, as it was trained.
    async fn evaluate_engines<const N: usize>(
        &self,
        engines: [&Engine; N],
        cutoff_us: i64,
        bins: usize,
    ) -> Result<[crate::classifier::Evaluation; N], ServiceError> {
        let mut out = Vec::with_capacity(N);
        for engine in engines {
            let s = &engine.model.settings;
            let query = |as_of_us| ExportQuery {
                as_of_us,
                time_unit: s.time_unit,
                currency_code: &s.currency_code,
                customer_ids: &[],
                include_non_buyers: false,
            };
            let holdout = self.profile.export(&query(cutoff_us), |_| {}).await?;
            let window_us = i64::from(s.label_window_days) * DAY_US;
            let outcome = self.profile.export(&query(cutoff_us + window_us), |_| {}).await?;
            let engine = engine.clone();
            let evaluation =
                tokio::task::spawn_blocking(move || evaluate_on(&engine, &holdout, &outcome, cutoff_us, bins))
                    .await
                    .map_err(ServiceError::internal)?
                    .map_err(|e| ServiceError::FailedPrecondition(e.to_string()))?;
            out.push(evaluation);
        }
        out.try_into().map_err(|_| ServiceError::internal("evaluation count"))
    }
}
