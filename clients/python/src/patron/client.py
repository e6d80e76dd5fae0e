"""The client object: one authenticated channel to the gateway, a stub per
service, and helpers for the model lifecycle and the exports."""

from __future__ import annotations

import os
from typing import Any

import grpc
import pandas as pd

from patron import exports
from patron.churn.v1 import churn_pb2, churn_pb2_grpc
from patron.common.v1 import common_pb2
from patron.connection import BearerInterceptor, open_channel, resolve
from patron.forecast.v1 import forecast_pb2_grpc
from patron.frames import empty_columns, to_frame
from patron.gateway.v1 import gateway_pb2_grpc
from patron.jobs import ProgressCallback, follow
from patron.profile.v1 import profile_pb2_grpc
from patron.segmentation.v1 import segmentation_pb2, segmentation_pb2_grpc
from patron.services import model_service
from patron.values import enum_value, request_id, timestamp

# The services' own limit (PATRON_SERVER__MAX_MESSAGE_BYTES default).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# The registry's wording when nothing is active yet, shared by every model
# service (the `patron train --activate-if-better` command matches it too).
NO_ACTIVE_VERSION = "no model version is active"


class Client:
    """A connection to the Patron gateway.

    ``address`` and ``token`` are resolved as the ``patron`` command does
    (see :mod:`patron.connection`): the argument, then ``$PATRON_ADDR`` /
    ``$PATRON_TOKEN``, then the config file, then ``http://127.0.0.1:50051``
    and ``token_file`` (default ``data/dev-api-key``, written by ``patron
    up``). Every call carries ``authorization: Bearer <token>``. gRPC errors surface as
    :class:`grpc.RpcError` with ``.code()`` and ``.details()``.
    """

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
        config: str | os.PathLike | None = None,
        timeout: float | None = None,
    ):
        settings = resolve(address, token, token_file, config)
        self.address = settings.address
        self.timeout = timeout
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        self._channel = open_channel(self.address, options)
        channel = self._channel
        if settings.token:
            channel = grpc.intercept_channel(channel, BearerInterceptor(settings.token))
        self.channel = channel
        self.profile = profile_pb2_grpc.ProfileServiceStub(channel)
        self.segmentation = segmentation_pb2_grpc.SegmentationServiceStub(channel)
        self.forecast = forecast_pb2_grpc.ForecastServiceStub(channel)
        self.churn = churn_pb2_grpc.ChurnServiceStub(channel)
        self.insight = gateway_pb2_grpc.InsightServiceStub(channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _stub(self, service: str):
        return getattr(self, model_service(service).name)

    # --- Training and jobs ------------------------------------------------

    def start_training(self, service: str, **fields: Any) -> common_pb2.Job:
        """Starts a training job of ``"segmentation"``, ``"churn"`` or
        ``"forecast"``; ``fields`` are those of the service's Train request
        (e.g. ``label_window_days=60`` for churn, ``k=5`` for segmentation)."""
        spec = model_service(service)
        fields.setdefault("request_id", request_id(f"train-{service}"))
        request = getattr(spec.messages, spec.train_request)(**fields)
        response = getattr(self._stub(service), spec.train_method)(request, timeout=self.timeout)
        return response.job

    def watch_job(
        self, service: str, job_id: str, on_progress: ProgressCallback | None = None, check: bool = True
    ) -> common_pb2.Job:
        """Follows a job to its end; raises :class:`patron.JobFailed` when it
        does not succeed (unless ``check=False``)."""
        spec = model_service(service)
        updates = self._stub(service).WatchJob(spec.messages.WatchJobRequest(job_id=job_id))
        return follow(updates, on_progress, check)

    def train(
        self, service: str, on_progress: ProgressCallback | None = None, check: bool = True, **fields: Any
    ) -> common_pb2.Job:
        """Trains a new version and waits for it; the returned job names it
        (``model_version_id``) and carries its metrics. The version stays a
        CANDIDATE until activated."""
        job = self.start_training(service, **fields)
        return self.watch_job(service, job.id, on_progress, check)

    def score_all(self, on_progress=None) -> churn_pb2.ScoreAllResponse:
        """Scores every customer with the active churn model and stores the
        scores; returns the final progress message (scored and skipped counts)."""
        last = None
        for message in self.churn.ScoreAll(churn_pb2.ScoreAllRequest(request_id=request_id("score-all"))):
            last = message
            if on_progress is not None:
                on_progress(message.job)
        if last is None:
            raise RuntimeError("ScoreAll ended without a message")
        return last

    def assign_all(self, as_of=None) -> segmentation_pb2.AssignAllResponse:
        """Stores every customer's segment under the active segmentation
        model; returns the final message (``done`` set, counts per segment)."""
        request = segmentation_pb2.AssignAllRequest(request_id=request_id("assign-all"))
        if as_of is not None:
            request.as_of.CopyFrom(timestamp(as_of))
        last = None
        for message in self.segmentation.AssignAll(request):
            last = message
        if last is None or not last.done:
            raise RuntimeError("AssignAll ended before its final message")
        return last

    # --- Model registry ---------------------------------------------------

    def list_models(self, service: str, status: str | None = None, tag: str = "") -> pd.DataFrame:
        """Every version of a service, newest first, one row each (metrics
        and parameters as dict columns, tags joined with ``;``)."""
        spec = model_service(service)
        request = spec.messages.ListModelsRequest(page_size=1000, tag=tag)
        if status is not None:
            request.status = enum_value(common_pb2.ModelStatus, "MODEL_STATUS_", status)
        models = []
        for page in exports._pages(self._stub(service).ListModels, request, "models", self.timeout):
            models.extend(page)
        return to_frame(models, empty_columns(common_pb2.ModelVersion))

    def get_model(self, service: str, model_id: str):
        """The version with its service-specific detail (GetModelResponse)."""
        spec = model_service(service)
        return self._stub(service).GetModel(spec.messages.GetModelRequest(model_id=model_id), timeout=self.timeout)

    def activate(self, service: str, model_id: str):
        """Makes ``model_id`` the serving version; every replica picks it up
        within seconds. Returns ActivateModelResponse (``previous_model_id``)."""
        spec = model_service(service)
        request = spec.messages.ActivateModelRequest(request_id=request_id("activate"), model_id=model_id)
        return self._stub(service).ActivateModel(request, timeout=self.timeout)

    def rollback(self, service: str):
        """Re-activates the version active before the current one."""
        spec = model_service(service)
        request = spec.messages.RollbackModelRequest(request_id=request_id("rollback"))
        return self._stub(service).RollbackModel(request, timeout=self.timeout)

    def tag(self, service: str, model_id: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()):
        """Adds and removes tags; a tag names one version, so adding
        ``champion`` here moves it from wherever it was."""
        spec = model_service(service)
        request = spec.messages.TagModelRequest(
            request_id=request_id("tag"), model_id=model_id, add_tags=list(add), remove_tags=list(remove)
        )
        return self._stub(service).TagModel(request, timeout=self.timeout)

    def compare(self, service: str, candidate_model_id: str, baseline_model_id: str = "", **fields: Any):
        """Both versions on the same held-out data (baseline default: the
        active one). Returns CompareModelsResponse; see :func:`comparison_frame`."""
        spec = model_service(service)
        request = spec.messages.CompareModelsRequest(
            candidate_model_id=candidate_model_id, baseline_model_id=baseline_model_id, **fields
        )
        return self._stub(service).CompareModels(request, timeout=self.timeout)

    def evaluate(self, service: str, model_id: str = "", **fields: Any):
        """The holdout (churn, segmentation) or backtest (forecast) report of
        one version (default the active one): EvaluateModelResponse."""
        spec = model_service(service)
        request = spec.messages.EvaluateModelRequest(model_id=model_id, **fields)
        return self._stub(service).EvaluateModel(request, timeout=self.timeout)

    # --- Exports ------------------------------------------------------------

    def export_customer_features(self, **options) -> pd.DataFrame:
        return exports.export_customer_features(self.profile, timeout=self.timeout, **options)

    def export_churn_scores(self, **options) -> pd.DataFrame:
        return exports.export_churn_scores(self.churn, timeout=self.timeout, **options)

    def export_segment_members(self, **options) -> pd.DataFrame:
        return exports.export_segment_members(self.segmentation, timeout=self.timeout, **options)

    def export_forecasts(self, **options) -> pd.DataFrame:
        return exports.export_forecasts(self.forecast, timeout=self.timeout, **options)


def comparison_frame(metrics) -> pd.DataFrame:
    """MetricComparison rows as a table with a ``candidate_better`` column
    (strictly better in the metric's own direction)."""
    rows = [
        {
            "metric": metric.metric,
            "baseline": metric.baseline_value,
            "candidate": metric.candidate_value,
            "higher_is_better": metric.higher_is_better,
            "candidate_better": is_better(metric),
        }
        for metric in metrics
    ]
    return pd.DataFrame(rows, columns=["metric", "baseline", "candidate", "higher_is_better", "candidate_better"])


def is_better(metric: common_pb2.MetricComparison) -> bool:
    if metric.higher_is_better:
        return metric.candidate_value > metric.baseline_value
    return metric.candidate_value < metric.baseline_value


def nothing_active(error: grpc.RpcError) -> bool:
    """True for the registry's answer when no version is active yet."""
    return error.code() == grpc.StatusCode.FAILED_PRECONDITION and NO_ACTIVE_VERSION in (error.details() or "")
