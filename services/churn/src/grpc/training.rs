//! TrainChurnModel: cheap checks in the call, the rest as a job.

use std::time::Instant;

use patron_common::ServiceError;
use patron_common::registry::{JobHandle, NewModelVersion};
use patron_proto::churn::v1 as pb;

use crate::btyd::BgNbdFitOptions;
use crate::domain::settings::TrainSettings;
use crate::domain::snapshot::Snapshot;
use crate::domain::training::{TrainError, Trained, TrainingData, feature_names, train};
use crate::grpc::{ChurnApi, parse};
use crate::profile::ExportQuery;
use crate::time::{DAY_US, now_micros, timestamp};

pub const MODEL_KIND: &str = "bgnbd+gamma_gamma+logistic";

impl ChurnApi {
    pub(super) async fn start_training(
        &self,
        request: pb::TrainChurnModelRequest,
        trained_by: String,
    ) -> Result<pb::TrainChurnModelResponse, ServiceError> {
        let settings = parse::train_settings(&request, now_micros(), &self.settings.default_currency)?;
        self.requests
            .once(&request.request_id, "TrainChurnModel", &request, async {
                let calibration = self.export(&settings, settings.calibration_cutoff_us).await?;
                check_enough(&calibration, &settings)?;
                let job = self.jobs.start("train_churn").await?;
                let response = pb::TrainChurnModelResponse { job: Some(job.job()) };
                tokio::spawn(self.clone().run_training(job, settings, calibration, trained_by));
                Ok(response)
            })
            .await
    }

    async fn export(&self, settings: &TrainSettings, as_of_us: i64) -> Result<Vec<Snapshot>, ServiceError> {
        let query = ExportQuery {
            as_of_us,
            time_unit: settings.time_unit,
            currency_code: &settings.currency_code,
            customer_ids: &[],
            include_non_buyers: false,
        };
        self.profile.export(&query, |_| {}).await
    }

    async fn run_training(
        self,
        job: JobHandle,
        settings: TrainSettings,
        calibration: Vec<Snapshot>,
        trained_by: String,
    ) {
        let started = Instant::now();
        match self.train_in_job(&job, &settings, calibration).await {
            Ok(trained) => match self.record(&settings, &trained, started, trained_by).await {
                Ok(id) => job.succeed(Some(id), trained.metrics).await,
                Err(error) => job.fail(&error).await,
            },
            Err(error) => {
                if matches!(error, ServiceError::FailedPrecondition(_)) {
                    // Kept for audit: what was tried and why it was refused.
                    let failed = NewModelVersion {
                        kind: MODEL_KIND.to_owned(),
                        parameters: settings.parameters(),
                        features: feature_names(),
                        data_cutoff: Some(timestamp(data_cutoff(&settings))),
                        training_duration: started.elapsed(),
                        trained_by,
                        failed: true,
                        ..NewModelVersion::default()
                    };
                    if let Err(store_error) = self.registry.create(failed).await {
                        tracing::warn!(error = %store_error, "could not record the failed model version");
                    }
                }
                job.fail(&error).await;
            }
        }
    }

    async fn train_in_job(
        &self,
        job: &JobHandle,
        settings: &TrainSettings,
        calibration: Vec<Snapshot>,
    ) -> Result<Trained, ServiceError> {
        let window_us = i64::from(settings.label_window_days) * DAY_US;
        job.progress(0.02, "exporting training outcomes");
        let calibration_outcome = self.export(settings, settings.calibration_cutoff_us + window_us).await?;
        job.progress(0.04, "exporting the holdout");
        let holdout = if settings.holdout_cutoff_us == settings.calibration_cutoff_us + window_us {
            calibration_outcome.clone()
        } else {
            self.export(settings, settings.holdout_cutoff_us).await?
        };
        job.progress(0.06, "exporting holdout outcomes");
        let holdout_outcome = self.export(settings, settings.holdout_cutoff_us + window_us).await?;
        let data = TrainingData { calibration, calibration_outcome, holdout, holdout_outcome };
        let settings = settings.clone();
        let reporter = job.clone();
        tokio::task::spawn_blocking(move || {
            train(&data, &settings, &|fraction, message| reporter.progress(fraction, message))
        })
        .await
        .map_err(ServiceError::internal)?
        .map_err(|error| match error {
            TrainError::InsufficientData(reason) => ServiceError::FailedPrecondition(reason),
            TrainError::Numerical(reason) => ServiceError::Internal(reason),
        })
    }

    async fn record(
        &self,
        settings: &TrainSettings,
        trained: &Trained,
        started: Instant,
        trained_by: String,
    ) -> Result<String, ServiceError> {
        let payload = trained.engine.to_json().map_err(ServiceError::internal)?;
        let version = self
            .registry
            .create(NewModelVersion {
                kind: MODEL_KIND.to_owned(),
                parameters: settings.parameters(),
                features: feature_names(),
                data_cutoff: Some(timestamp(data_cutoff(settings))),
                training_rows: trained.training_rows,
                training_duration: started.elapsed(),
                metrics: trained.metrics.clone(),
                trained_by,
                failed: false,
                payload,
            })
            .await?;
        Ok(version.id)
    }
}

/// ModelVersion.data_cutoff = calibration cutoff + N days.
fn data_cutoff(settings: &TrainSettings) -> i64 {
    settings.calibration_cutoff_us + i64::from(settings.label_window_days) * DAY_US
}

/// The cheap checks made before a job starts: enough customers, repeat
/// customers and history before the calibration cutoff.
fn check_enough(calibration: &[Snapshot], settings: &TrainSettings) -> Result<(), ServiceError> {
    let defaults = BgNbdFitOptions::default();
    let customers = calibration.len() as u64;
    if customers < defaults.min_customers {
        return Err(ServiceError::FailedPrecondition(format!(
            "too few customers: {customers} with a purchase before the calibration cutoff {}; at least {} are needed",
            crate::domain::settings::rfc3339(settings.calibration_cutoff_us),
            defaults.min_customers
        )));
    }
    let repeat = calibration.iter().filter(|s| s.frequency > 0.0).count() as u64;
    if repeat < settings.min_repeat_customers {
        return Err(ServiceError::FailedPrecondition(format!(
            "too few repeat customers: {repeat} before the calibration cutoff; at least {} are needed",
            settings.min_repeat_customers
        )));
    }
    let longest_days = calibration.iter().map(|s| s.age).fold(0.0, f64::max) * settings.time_unit.days();
    if longest_days < f64::from(settings.label_window_days) {
        return Err(ServiceError::FailedPrecondition(format!(
            "history too short: {longest_days:.0} days before the calibration cutoff; at least the label window \
             ({} days) is needed",
            settings.label_window_days
        )));
    }
    Ok(())
}
