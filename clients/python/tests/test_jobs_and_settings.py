"""Job following, comparisons and connection settings, without a server."""

import io

import pytest

import patron
from patron.common.v1 import common_pb2
from patron.connection import DEFAULT_ADDRESS, resolve
from patron.jobs import follow


class Update:
    def __init__(self, **fields):
        self.job = common_pb2.Job(**fields)


def test_follow_returns_the_terminal_job_and_reports_progress():
    out = io.StringIO()
    updates = [
        Update(id="j", state=common_pb2.JOB_STATE_RUNNING, progress=0.5, message="fitting"),
        Update(id="j", state=common_pb2.JOB_STATE_SUCCEEDED, progress=1.0, message="done", model_version_id="m-1"),
    ]
    job = follow(updates, patron.print_progress(out))
    assert job.model_version_id == "m-1"
    assert out.getvalue().splitlines() == ["[ 50%] fitting", "[100%] done"]


def test_a_failed_job_raises_with_its_reason_unless_unchecked():
    failed = [Update(id="j", state=common_pb2.JOB_STATE_FAILED, error="FAILED_PRECONDITION: too few customers")]
    with pytest.raises(patron.JobFailed, match="too few customers"):
        follow(failed)
    assert follow(failed, check=False).state == common_pb2.JOB_STATE_FAILED


def test_a_stream_that_ends_early_is_an_error():
    with pytest.raises(RuntimeError, match="before the job did"):
        follow([Update(id="j", state=common_pb2.JOB_STATE_RUNNING)])


def test_better_follows_each_metrics_direction():
    metrics = [
        common_pb2.MetricComparison(metric="roc_auc", baseline_value=0.7, candidate_value=0.72, higher_is_better=True),
        common_pb2.MetricComparison(metric="brier", baseline_value=0.2, candidate_value=0.21, higher_is_better=False),
        common_pb2.MetricComparison(metric="pr_auc", baseline_value=0.5, candidate_value=0.5, higher_is_better=True),
    ]
    table = patron.comparison_frame(metrics).set_index("metric")
    assert table.loc["roc_auc", "candidate_better"]
    assert not table.loc["brier", "candidate_better"]
    assert not table.loc["pr_auc", "candidate_better"], "a tie is not better"


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    for name in ("PATRON_ADDR", "PATRON_TOKEN", "PATRON_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_settings_come_from_arguments_then_environment_then_config_then_defaults(clean_environment, monkeypatch):
    home = clean_environment
    assert resolve() == resolve(address=None)
    assert resolve().address == DEFAULT_ADDRESS
    assert resolve().token is None

    (home / "data").mkdir()
    (home / "data" / "dev-api-key").write_text("pak_dev\n")
    assert resolve().token == "pak_dev"

    config = home / "xdg" / "patron" / "config"
    config.parent.mkdir(parents=True)
    config.write_text('# mine\naddr = "http://10.0.0.1:1"\ntoken = pak_config\n')
    assert (resolve().address, resolve().token) == ("http://10.0.0.1:1", "pak_config")

    monkeypatch.setenv("PATRON_ADDR", "http://env:2")
    monkeypatch.setenv("PATRON_TOKEN", "pak_env")
    assert (resolve().address, resolve().token) == ("http://env:2", "pak_env")
    assert (resolve("http://arg:3", "pak_arg").address, resolve("http://arg:3", "pak_arg").token) == (
        "http://arg:3",
        "pak_arg",
    )


def test_a_named_config_must_exist_and_hold_known_keys(clean_environment):
    with pytest.raises(FileNotFoundError):
        resolve(config=clean_environment / "absent")
    bad = clean_environment / "bad"
    bad.write_text("address = x\n")
    with pytest.raises(ValueError, match="unknown setting 'address'"):
        resolve(config=bad)
