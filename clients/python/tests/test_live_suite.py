"""The Python client against a real running suite (`patron up --demo`):
exports, training, the registry, scoring, segments and forecasts, all through
the gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pandas as pd
import pytest

import patron
from patron.common.v1 import common_pb2
from patron.forecast.v1 import forecast_pb2

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "churn_retrain.py"


@pytest.fixture(scope="session")
def client(suite):
    with patron.Client(address=suite.address, token=suite.token, timeout=120) as client:
        yield client


def demo_orders(suite) -> pd.DataFrame:
    orders = pd.read_csv(suite.demo_dir / "orders.csv", dtype={"customer_id": str, "order_id": str})
    orders["placed_at"] = pd.to_datetime(orders["placed_at"], utc=True)
    return orders


def run_example(suite, *args: str) -> tuple[dict, str]:
    environment = {**os.environ, "PATRON_ADDR": suite.address, "PATRON_TOKEN": suite.token}
    environment.pop("PATRON_CONFIG", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--json", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


def model_row(models: pd.DataFrame, model_id: str) -> pd.Series:
    rows = models[models["id"] == model_id]
    assert len(rows) == 1, f"{model_id} not listed once in {list(models['id'])}"
    return rows.iloc[0]


# --- Exports of the imported demo data -------------------------------------


def test_customer_features_have_one_row_per_buyer_of_the_demo_data(suite, client):
    orders = demo_orders(suite)
    completed = orders[orders["status"] == "completed"]
    features = client.export_customer_features(batch_size=250)

    assert set(features["customer_id"]) == set(completed["customer_id"])
    assert features["customer_id"].is_unique
    expected_orders = completed.groupby("customer_id")["order_id"].nunique()
    assert (features.set_index("customer_id")["orders"] == expected_orders.loc[features["customer_id"]]).all()
    assert (features["time_unit"] == "days").all()
    assert isinstance(features["last_purchase_time"].dtype, pd.DatetimeTZDtype)


def test_feature_cutoff_and_time_unit_are_applied(suite, client):
    cutoff = pd.Timestamp("2026-01-01", tz="UTC")
    orders = demo_orders(suite)
    before = orders[(orders["status"] == "completed") & (orders["placed_at"] < cutoff)]
    in_days = client.export_customer_features(as_of="2026-01-01")
    in_weeks = client.export_customer_features(as_of="2026-01-01", time_unit_name="weeks")

    assert set(in_days["customer_id"]) == set(before["customer_id"])
    assert (in_days["last_purchase_time"] < cutoff).all()
    assert (in_weeks["time_unit"] == "weeks").all()
    joined = in_days.merge(in_weeks, on="customer_id", suffixes=("_days", "_weeks"))
    assert len(joined) == len(in_days)
    assert ((joined["age_days"] - 7 * joined["age_weeks"]).abs() < 1e-6).all()


# --- Churn: train, evaluate, compare, promote, score -----------------------


@pytest.fixture(scope="session")
def first_churn_run(suite):
    return run_example(suite)


def test_the_first_churn_model_is_promoted_and_tagged(client, first_churn_run):
    summary, output = first_churn_run
    assert summary["activated"] is True
    assert summary["baseline"] is None, "nothing was active before the first run"
    assert "top-decile lift" in output and "decile" in output

    models = client.list_models("churn")
    row = model_row(models, summary["candidate"])
    assert row["status"] == "active"
    assert "champion" in row["tags"].split(";")
    assert pd.notna(row["activate_time"])
    assert 0.5 < row["metrics"]["roc_auc"] <= 1.0
    assert list(client.list_models("churn", status="active")["id"]) == [summary["candidate"]]


def test_a_retrained_churn_model_is_promoted_only_when_better(suite, client, first_churn_run):
    first, _ = first_churn_run
    second, output = run_example(suite, "--metric", "roc_auc")
    assert second["baseline"] == first["candidate"]
    assert "Compared with the active version" in output

    models = client.list_models("churn")
    active = list(client.list_models("churn", status="active")["id"])
    if second["activated"]:
        assert second["candidate_value"] > second["baseline_value"]
        assert active == [second["candidate"]]
        assert model_row(models, first["candidate"])["status"] == "retired"
        assert list(client.list_models("churn", tag="champion")["id"]) == [second["candidate"]]
    else:
        assert second["candidate_value"] <= second["baseline_value"]
        assert active == [first["candidate"]]
        assert model_row(models, second["candidate"])["status"] == "candidate"
        assert list(client.list_models("churn", tag="champion")["id"]) == [first["candidate"]]

    # Activating the other version and rolling back returns to this one.
    (current,) = active
    other = first["candidate"] if second["activated"] else second["candidate"]
    assert client.activate("churn", other).previous_model_id == current
    rolled_back = client.rollback("churn")
    assert (rolled_back.model.id, rolled_back.previous_model_id) == (current, other)
    assert list(client.list_models("churn", status="active")["id"]) == [current]
    assert client.get_model("churn", current).detail.label_window_days == 90


def test_scores_of_every_customer_read_into_a_dataframe(client, first_churn_run):
    active = client.list_models("churn", status="active")["id"].iloc[0]
    final = client.score_all()
    assert final.model_id == active
    assert final.job.state == common_pb2.JOB_STATE_SUCCEEDED
    assert final.scored_count > 0

    scores = client.export_churn_scores(page_size=100)
    assert len(scores) == final.scored_count
    assert scores["customer_id"].is_unique
    assert scores["customer_id"].is_monotonic_increasing
    assert (scores["model_id"] == active).all()
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["probability_alive"].between(0, 1).all()
    assert set(scores["risk_band"]) <= {"low", "medium", "high"}
    assert (scores["clv_currency_code"] == "USD").all()
    assert (scores["value_at_risk_amount_minor"] <= scores["clv_amount_minor"]).all()
    assert scores["horizon"].eq(pd.Timedelta(days=365)).all()

    high = client.export_churn_scores(risk_band="high")
    assert len(high) == (scores["risk_band"] == "high").sum()


# --- Segments and forecasts --------------------------------------------------


def test_segment_members_match_the_assign_all_run(client):
    job = client.train("segmentation", k=4, seed=1)
    assert job.metrics["k"] == 4
    client.activate("segmentation", job.model_version_id)
    final = client.assign_all()
    assert final.model_id == job.model_version_id

    members = client.export_segment_members(page_size=200)
    assert len(members) == final.customers_assigned
    assert members["customer_id"].is_unique
    assert members["segment_id"].value_counts().to_dict() == dict(final.segment_sizes)
    assert (members["segment_name"] != "").all()


def test_stored_forecasts_read_into_a_dataframe_one_row_per_period(client):
    horizon = 8
    series_set = forecast_pb2.SeriesSet(
        measure=forecast_pb2.MEASURE_REVENUE,
        granularity=forecast_pb2.GRANULARITY_WEEK,
        levels=[forecast_pb2.SERIES_LEVEL_TOTAL, forecast_pb2.SERIES_LEVEL_CHANNEL],
    )
    started = client.forecast.BatchForecast(
        forecast_pb2.BatchForecastRequest(request_id=str(uuid.uuid4()), series_set=series_set, horizon=horizon)
    ).job
    job = client.watch_job("forecast", started.id)
    stored = int(job.metrics["series_done"])
    assert stored >= 2

    frame = client.export_forecasts(job_id=job.id)
    assert len(frame) == stored * horizon
    assert set(frame["series_level"]) == {"total", "channel"}
    for _, series in frame.groupby("forecast_id"):
        assert list(series["step"]) == list(range(1, horizon + 1))
        assert (series["period_start"].diff().dropna() == pd.Timedelta(weeks=1)).all()
    assert (frame["lower_95"] <= frame["lower_80"]).all()
    assert ((frame["lower_80"] <= frame["value"]) & (frame["value"] <= frame["upper_80"])).all()
    assert (frame["upper_80"] <= frame["upper_95"]).all()


# --- Errors ------------------------------------------------------------------


def test_a_wrong_token_is_refused(suite):
    with patron.Client(address=suite.address, token="pak_not-a-key") as stranger:
        with pytest.raises(grpc.RpcError) as raised:
            stranger.list_models("churn")
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_invalid_arguments_name_the_field(client):
    with pytest.raises(grpc.RpcError) as raised:
        client.export_churn_scores(page_size=-1)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_size" in raised.value.details()
