"""Python values to the protobuf values requests need."""

from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
from google.protobuf.timestamp_pb2 import Timestamp

from patron.common.v1 import common_pb2


def timestamp(value: str | dt.datetime | dt.date | pd.Timestamp) -> Timestamp:
    """A Timestamp from a datetime, a date (midnight UTC) or an ISO string;
    naive values are taken as UTC."""
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    message = Timestamp()
    message.FromDatetime(moment.to_pydatetime())
    return message


def time_unit(name: str) -> int:
    """``"days"`` or ``"weeks"`` as the TimeUnit enum."""
    units = {"days": common_pb2.TIME_UNIT_DAYS, "weeks": common_pb2.TIME_UNIT_WEEKS}
    try:
        return units[name]
    except KeyError:
        raise ValueError(f"time_unit must be 'days' or 'weeks', not {name!r}") from None


def enum_value(enum_type, prefix: str, label: str) -> int:
    """``enum_value(churn_pb2.RiskBand, "RISK_BAND_", "high")`` -> RISK_BAND_HIGH."""
    try:
        return enum_type.Value(prefix + label.upper())
    except ValueError:
        names = [name.removeprefix(prefix).lower() for name in enum_type.keys() if not name.endswith("UNSPECIFIED")]
        raise ValueError(f"{label!r} is not one of {names}") from None


def request_id(purpose: str) -> str:
    """A fresh idempotency key: retries of one call reuse it, new calls get a new one."""
    return f"{purpose}-{uuid.uuid4()}"
