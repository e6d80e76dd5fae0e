"""A real Patron suite for the live tests: `patron up --demo` from the
workspace's debug build, on free ports and a temporary data directory, in its
own process group, stopped (and the group cleaned up) at the end."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEMO_CUSTOMERS = 600
# Debug binaries on a shared machine: importing the demo data takes a while.
READY_TIMEOUT_SECS = float(os.environ.get("PYTEST_PATRON_READY_TIMEOUT", "300"))


@dataclass(frozen=True)
class RunningSuite:
    address: str
    token: str
    data_dir: Path

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"


def binaries_dir() -> Path:
    # Not a PATRON_ variable: the services refuse settings they do not know.
    return Path(os.environ.get("PYTEST_PATRON_BIN_DIR", REPO / "target" / "debug"))


def suite_environment() -> dict[str, str]:
    """The caller's environment less PATRON_ variables (a PATRON_TOKEN
    exported for the CLI would be an unknown setting to every service)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PATRON_")}


def free_port_base(span: int = 25) -> int:
    """A port whose range port..port+span is free now (`patron up` uses
    port, +10..+13 and +20..+24)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 60_000:
            continue
        if all(_is_free(base + offset) for offset in range(span)):
            return base
    raise RuntimeError("no free range of ports found")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _service_logs(data_dir: Path, last_lines: int = 15) -> str:
    logs = []
    for log in sorted((data_dir / "logs").glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-last_lines:]
        logs.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(logs)


def _wait_for_banner(process: subprocess.Popen, lines: queue.Queue, data_dir: Path) -> list[str]:
    printed: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_SECS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        printed.append(line)
        if line.startswith("Press Ctrl-C"):
            return printed
    raise RuntimeError(
        f"patron up did not come up (exit status {process.poll()}); it printed:\n"
        + "\n".join(printed)
        + "\nservice logs:\n"
        + _service_logs(data_dir)
    )


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to `patron up` (it stops its services), then SIGKILL to
    whatever is left of its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture(scope="session")
def suite():
    patron_bin = binaries_dir() / "patron"
    if not patron_bin.exists():
        pytest.fail(f"{patron_bin} is missing: run `cargo build --workspace --bins` first (make test does)")
    port = free_port_base()
    data_dir = Path(tempfile.mkdtemp(prefix=f"patron-pytest-{port}-"))
    process = subprocess.Popen(
        [
            str(patron_bin),
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--bin-dir",
            str(binaries_dir()),
            "--demo",
            "--demo-customers",
            str(DEMO_CUSTOMERS),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=suite_environment(),
        text=True,
        # Its own process group, so the services it starts are cleaned up with it.
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    # Keeps draining stdout so `patron up` never blocks on a full pipe.
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        _wait_for_banner(process, lines, data_dir)
        token = (data_dir / "dev-api-key").read_text().strip()
        yield RunningSuite(address=f"http://127.0.0.1:{port}", token=token, data_dir=data_dir)
    finally:
        _stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)
