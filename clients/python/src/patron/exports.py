"""Streaming exports into pandas DataFrames.

Each ``iter_*`` function yields one DataFrame per streamed batch or page, so a
large export never has to fit in one list of messages; the ``export_*``
functions concatenate them. Every row carries the customer's (or series')
external id. Column rules are those of :mod:`patron.frames`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from patron.churn.v1 import churn_pb2
from patron.forecast.v1 import forecast_pb2
from patron.frames import empty_columns, enum_label, flatten, to_frame
from patron.profile.v1 import profile_pb2
from patron.segmentation.v1 import segmentation_pb2
from patron.values import enum_value, time_unit, timestamp


def _concat(frames: Iterator[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    chunks = [frame for frame in frames if not frame.empty]
    if not chunks:
        return pd.DataFrame(columns=columns)
    return pd.concat(chunks, ignore_index=True)


def _pages(call, request, items: str, timeout: float | None) -> Iterator[Sequence[Any]]:
    """Items of every page of an AIP-158 list call, one page at a time."""
    while True:
        page = call(request, timeout=timeout)
        yield getattr(page, items)
        if not page.next_page_token:
            return
        request.page_token = page.next_page_token


# --- Customer features (profile service) -----------------------------------


def iter_customer_features(
    profile,
    as_of=None,
    time_unit_name: str = "days",
    customer_ids: Sequence[str] = (),
    include_non_buyers: bool = False,
    currency_code: str = "",
    batch_size: int = 1000,
    timeout: float | None = None,
) -> Iterator[pd.DataFrame]:
    request = profile_pb2.ExportCustomerFeaturesRequest(
        time_unit=time_unit(time_unit_name),
        customer_ids=list(customer_ids),
        include_non_buyers=include_non_buyers,
        currency_code=currency_code,
        batch_size=batch_size,
    )
    if as_of is not None:
        request.as_of.CopyFrom(timestamp(as_of))
    columns = empty_columns(profile_pb2.CustomerFeatures)
    for response in profile.ExportCustomerFeatures(request, timeout=timeout):
        yield to_frame(response.rows, columns)


def export_customer_features(profile, **options) -> pd.DataFrame:
    """Per-customer features as of a cutoff (``as_of``, default now), in
    ``time_unit_name`` ``"days"`` or ``"weeks"`` for recency, age and tenure."""
    return _concat(iter_customer_features(profile, **options), empty_columns(profile_pb2.CustomerFeatures))


# --- Churn scores -----------------------------------------------------------


def iter_churn_scores(
    churn, risk_band: str | None = None, page_size: int = 10_000, timeout: float | None = None
) -> Iterator[pd.DataFrame]:
    request = churn_pb2.ListScoresRequest(page_size=page_size)
    if risk_band is not None:
        request.risk_band = enum_value(churn_pb2.RiskBand, "RISK_BAND_", risk_band)
    columns = empty_columns(churn_pb2.CustomerScore)
    for scores in _pages(churn.ListScores, request, "scores", timeout):
        yield to_frame(scores, columns)


def export_churn_scores(churn, **options) -> pd.DataFrame:
    """The stored scores of the last completed ScoreAll run (all pages come
    from that one run), in customer_id order."""
    return _concat(iter_churn_scores(churn, **options), empty_columns(churn_pb2.CustomerScore))


# --- Segment members --------------------------------------------------------


def iter_segment_members(
    segmentation, model_id: str = "", segment_id: str = "", page_size: int = 10_000, timeout: float | None = None
) -> Iterator[pd.DataFrame]:
    request = segmentation_pb2.ListSegmentMembersRequest(model_id=model_id, segment_id=segment_id, page_size=page_size)
    columns = empty_columns(segmentation_pb2.SegmentAssignment)
    for members in _pages(segmentation.ListSegmentMembers, request, "members", timeout):
        yield to_frame(members, columns)


def export_segment_members(segmentation, **options) -> pd.DataFrame:
    """Stored memberships (latest AssignAll) of a version (default the
    active one), of one segment or, with ``segment_id=""``, of everyone."""
    return _concat(iter_segment_members(segmentation, **options), empty_columns(segmentation_pb2.SegmentAssignment))


# --- Stored forecasts -------------------------------------------------------


def _level_name(level: float) -> str:
    return f"{level:g}"


def forecast_rows(forecast: forecast_pb2.SeriesForecast) -> list[dict[str, Any]]:
    """One row per forecast period: the series, the method chosen for it and
    the point forecast with ``lower_<level>``/``upper_<level>`` bounds."""
    series = flatten(forecast.series_id, "series_") if forecast.HasField("series_id") else {}
    selection = forecast.selection
    common = {
        "forecast_id": forecast.id,
        **series,
        "granularity": enum_label(forecast_pb2.Granularity.DESCRIPTOR, forecast.granularity),
        "data_cutoff": flatten(forecast)["data_cutoff"],
        "history_length": forecast.history_length,
        "model_id": forecast.model_id,
        "job_id": forecast.job_id,
        "method": enum_label(forecast_pb2.ForecastMethod.DESCRIPTOR, selection.method),
        "specification": selection.specification,
        "fallback": selection.fallback,
    }
    rows = []
    for step, point in enumerate(forecast.points, start=1):
        row = {**common, "step": step, "period_start": flatten(point)["start_time"], "value": point.value}
        for interval in point.intervals:
            row[f"lower_{_level_name(interval.level)}"] = interval.lower
            row[f"upper_{_level_name(interval.level)}"] = interval.upper
        rows.append(row)
    return rows


def iter_forecasts(
    forecast,
    job_id: str = "",
    model_id: str = "",
    level: str | None = None,
    key: str = "",
    page_size: int = 1000,
    timeout: float | None = None,
) -> Iterator[pd.DataFrame]:
    request = forecast_pb2.ListForecastsRequest(job_id=job_id, model_id=model_id, key=key, page_size=page_size)
    if level is not None:
        request.level = enum_value(forecast_pb2.SeriesLevel, "SERIES_LEVEL_", level)
    for forecasts in _pages(forecast.ListForecasts, request, "forecasts", timeout):
        rows = [row for stored in forecasts for row in forecast_rows(stored)]
        yield to_frame_rows(rows)


def to_frame_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows)
    for column in ("data_cutoff", "period_start"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def export_forecasts(forecast, **options) -> pd.DataFrame:
    """Stored BatchForecast results (newest first), filtered by job, model,
    level and key, one row per forecast period."""
    return _concat(iter_forecasts(forecast, **options), [])
