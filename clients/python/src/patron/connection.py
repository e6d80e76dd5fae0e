"""Where the gateway is and which token to present, resolved the way the
``patron`` command does it (services/cli/src/connection.rs): each setting
from the first place that has it — the argument, the environment
(``PATRON_ADDR``, ``PATRON_TOKEN``), the config file (``config`` argument,
``PATRON_CONFIG``, default ``$XDG_CONFIG_HOME/patron/config`` or
``~/.config/patron/config``, ``key = value`` lines for ``addr`` and
``token``), then the default: ``http://127.0.0.1:50051`` and the
development key ``patron up`` writes to ``data/dev-api-key``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import grpc

DEFAULT_ADDRESS = "http://127.0.0.1:50051"
DEFAULT_TOKEN_FILE = Path("data") / "dev-api-key"
CONFIG_KEYS = ("addr", "token")


@dataclass(frozen=True)
class Settings:
    address: str
    token: str | None


def default_config_path() -> Path | None:
    base = os.environ.get("XDG_CONFIG_HOME") or (
        str(Path(os.environ["HOME"]) / ".config") if os.environ.get("HOME") else None
    )
    return Path(base) / "patron" / "config" if base else None


def read_config(path: Path) -> dict[str, str]:
    """``key = value`` lines; blank lines and ``#`` comments are skipped,
    surrounding double quotes dropped, unknown keys refused."""
    config: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise ValueError(f"{path}:{number}: expected `key = value`")
        key = key.strip()
        if key not in CONFIG_KEYS:
            raise ValueError(f"{path}:{number}: unknown setting {key!r} (known: addr, token)")
        config[key] = value.strip().strip('"')
    return config


def load_config(explicit: str | os.PathLike | None) -> dict[str, str]:
    """The named file must exist; the default one may be absent."""
    named = explicit or os.environ.get("PATRON_CONFIG")
    if named:
        return read_config(Path(named))
    path = default_config_path()
    if path is None or not path.exists():
        return {}
    return read_config(path)


def resolve(
    address: str | None = None,
    token: str | None = None,
    token_file: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
) -> Settings:
    configured = load_config(config)
    resolved_address = address or os.environ.get("PATRON_ADDR") or configured.get("addr") or DEFAULT_ADDRESS
    resolved_token = token or os.environ.get("PATRON_TOKEN") or configured.get("token") or _read_token(token_file)
    return Settings(resolved_address, resolved_token)


def _read_token(token_file: str | os.PathLike | None) -> str | None:
    """The token file's contents; a missing file means no token."""
    path = Path(token_file) if token_file is not None else DEFAULT_TOKEN_FILE
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def open_channel(address: str, options: list[tuple[str, object]] | None = None) -> grpc.Channel:
    """A channel to ``http://host:port`` (plaintext) or ``https://host:port``
    (TLS with the system roots); a bare ``host:port`` is plaintext, as in grpcurl."""
    options = options or []
    if address.startswith("https://"):
        return grpc.secure_channel(address.removeprefix("https://"), grpc.ssl_channel_credentials(), options)
    return grpc.insecure_channel(address.removeprefix("http://"), options)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, details: grpc.ClientCallDetails, metadata: list[tuple[str, str]]):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = details.wait_for_ready
        self.compression = details.compression


class BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call. Call credentials
    would do the same but gRPC refuses them on plaintext channels, which is
    how ``patron up`` serves locally."""

    def __init__(self, token: str):
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [item for item in (details.metadata or []) if item[0] != "authorization"]
        return _CallDetails(details, [*metadata, self._header])

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_token(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_token(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_token(client_call_details), request_iterator)
