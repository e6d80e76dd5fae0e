"""Following long-running jobs (training, scoring) to their end."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from patron.common.v1 import common_pb2

TERMINAL_STATES = frozenset(
    {common_pb2.JOB_STATE_SUCCEEDED, common_pb2.JOB_STATE_FAILED, common_pb2.JOB_STATE_CANCELLED}
)

ProgressCallback = Callable[[common_pb2.Job], None]


class JobFailed(RuntimeError):
    """A job ended FAILED or CANCELLED; ``job.error`` says why."""

    def __init__(self, job: common_pb2.Job):
        state = common_pb2.JobState.Name(job.state)
        super().__init__(f"job {job.id} ended {state}: {job.error or 'no reason given'}")
        self.job = job


def follow(updates: Iterable, on_progress: ProgressCallback | None = None, check: bool = True) -> common_pb2.Job:
    """Reads a WatchJob stream (messages carrying ``.job``) to its terminal
    state and returns the final job; with ``check``, a job that did not
    succeed raises :class:`JobFailed`."""
    last = None
    for update in updates:
        last = update.job
        if on_progress is not None:
            on_progress(last)
        if last.state in TERMINAL_STATES:
            break
    if last is None or last.state not in TERMINAL_STATES:
        state = "no state" if last is None else common_pb2.JobState.Name(last.state)
        raise RuntimeError(f"the job stream ended before the job did ({state})")
    if check and last.state != common_pb2.JOB_STATE_SUCCEEDED:
        raise JobFailed(last)
    return last


def print_progress(stream=None) -> ProgressCallback:
    """A progress callback printing ``[ 42%] message`` each time the message
    changes (one line per step, readable in a notebook or a log)."""
    out = stream or sys.stderr
    last_message: list[str] = [""]

    def report(job: common_pb2.Job) -> None:
        if job.message and job.message != last_message[0]:
            percent = round(min(max(job.progress, 0.0), 1.0) * 100)
            print(f"[{percent:>3}%] {job.message}", file=out, flush=True)
            last_message[0] = job.message

    return report
