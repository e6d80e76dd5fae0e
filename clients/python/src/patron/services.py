"""The model services' generated modules side by side. Segmentation, churn
and forecast share one registry pattern (Train, WatchJob, ListModels,
ActivateModel, RollbackModel, TagModel, CompareModels, EvaluateModel) with
their own message types; this table lets one helper serve all three."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from patron.churn.v1 import churn_pb2, churn_pb2_grpc
from patron.forecast.v1 import forecast_pb2, forecast_pb2_grpc
from patron.segmentation.v1 import segmentation_pb2, segmentation_pb2_grpc


@dataclass(frozen=True)
class ModelService:
    name: str
    messages: ModuleType
    stub_class: type
    # The service's Train RPC and its request message.
    train_method: str
    train_request: str


MODEL_SERVICES: dict[str, ModelService] = {
    "segmentation": ModelService(
        "segmentation",
        segmentation_pb2,
        segmentation_pb2_grpc.SegmentationServiceStub,
        "TrainSegmentation",
        "TrainSegmentationRequest",
    ),
    "churn": ModelService(
        "churn", churn_pb2, churn_pb2_grpc.ChurnServiceStub, "TrainChurnModel", "TrainChurnModelRequest"
    ),
    "forecast": ModelService(
        "forecast",
        forecast_pb2,
        forecast_pb2_grpc.ForecastServiceStub,
        "TrainForecastModel",
        "TrainForecastModelRequest",
    ),
}


def model_service(name: str) -> ModelService:
    try:
        return MODEL_SERVICES[name]
    except KeyError:
        raise ValueError(f"service must be one of {sorted(MODEL_SERVICES)}, not {name!r}") from None
