"""Messages to table rows, without a server."""

import datetime as dt

import pandas as pd

from patron.churn.v1 import churn_pb2
from patron.common.v1 import common_pb2
from patron.exports import forecast_rows
from patron.forecast.v1 import forecast_pb2
from patron.frames import empty_columns, enum_label, flatten, to_frame
from patron.profile.v1 import profile_pb2
from patron.segmentation.v1 import segmentation_pb2
from patron.values import enum_value, timestamp


def test_enums_lose_their_type_prefix_and_are_lower_case():
    assert enum_label(churn_pb2.RiskBand.DESCRIPTOR, churn_pb2.RISK_BAND_HIGH) == "high"
    assert enum_label(forecast_pb2.Measure.DESCRIPTOR, forecast_pb2.MEASURE_REVENUE) == "revenue"
    assert enum_label(common_pb2.TimeUnit.DESCRIPTOR, common_pb2.TIME_UNIT_WEEKS) == "weeks"
    assert enum_label(forecast_pb2.ForecastMethod.DESCRIPTOR, forecast_pb2.FORECAST_METHOD_MSTL_ETS) == "mstl_ets"
    assert enum_value(churn_pb2.RiskBand, "RISK_BAND_", "medium") == churn_pb2.RISK_BAND_MEDIUM


def test_nested_fields_are_prefixed_and_unset_values_are_missing():
    score = churn_pb2.CustomerScore(customer_id="c-1", churn_probability=0.25, risk_band=churn_pb2.RISK_BAND_LOW)
    score.clv.CopyFrom(common_pb2.Money(currency_code="USD", amount_minor=12_345))
    score.as_of.CopyFrom(timestamp("2026-11-01T00:00:00Z"))
    score.horizon.FromTimedelta(dt.timedelta(days=365))
    row = flatten(score)
    assert row["customer_id"] == "c-1"
    assert row["risk_band"] == "low"
    assert (row["clv_currency_code"], row["clv_amount_minor"]) == ("USD", 12_345)
    assert row["as_of"] == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert row["horizon"] == dt.timedelta(days=365)
    # Unset message fields are missing, not zeros.
    assert row["score_time"] is None
    assert row["value_at_risk_amount_minor"] is None


def test_optional_scalars_and_repeated_enums():
    features = profile_pb2.CustomerFeatures(
        customer_id="c-2",
        last_nps=9,
        consents_granted=[profile_pb2.CONSENT_CHANNEL_EMAIL, profile_pb2.CONSENT_CHANNEL_SMS],
    )
    row = flatten(features)
    assert row["last_nps"] == 9
    assert row["last_csat"] is None
    assert row["consents_granted"] == "email;sms"


def test_a_frame_types_datetimes_and_keeps_columns_when_empty():
    rows = [
        profile_pb2.CustomerFeatures(customer_id="a", last_purchase_time=timestamp("2026-10-01")),
        profile_pb2.CustomerFeatures(customer_id="b"),
    ]
    frame = to_frame(rows)
    assert isinstance(frame["last_purchase_time"].dtype, pd.DatetimeTZDtype)
    assert pd.isna(frame["last_purchase_time"].iloc[1])
    empty = to_frame([], empty_columns(segmentation_pb2.SegmentAssignment))
    assert len(empty) == 0
    assert {"customer_id", "segment_id", "rfm_recency", "assign_time"} <= set(empty.columns)


def test_a_stored_forecast_is_one_row_per_period_with_its_bounds():
    stored = forecast_pb2.SeriesForecast(id="fc-1", granularity=forecast_pb2.GRANULARITY_WEEK, history_length=90)
    stored.series_id.level = forecast_pb2.SERIES_LEVEL_STORE
    stored.series_id.key = "s-1"
    stored.selection.method = forecast_pb2.FORECAST_METHOD_ETS
    for week in range(2):
        point = stored.points.add(value=10.0 + week)
        point.start_time.CopyFrom(timestamp(pd.Timestamp("2026-11-23") + pd.Timedelta(weeks=week)))
        point.intervals.add(level=80, lower=8, upper=12)
        point.intervals.add(level=97.5, lower=5, upper=15)
    rows = forecast_rows(stored)
    assert [row["step"] for row in rows] == [1, 2]
    assert rows[1]["value"] == 11.0
    assert (rows[0]["lower_80"], rows[0]["upper_97.5"]) == (8, 15)
    assert (rows[0]["series_level"], rows[0]["series_key"], rows[0]["method"]) == ("store", "s-1", "ets")
    assert rows[0]["granularity"] == "week"
