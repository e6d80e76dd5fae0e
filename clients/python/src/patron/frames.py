"""Protobuf messages as flat table rows, for pandas.

One rule for every message, so a column name always tells where a value came
from: nested fields are joined with ``_`` (``clv_amount_minor``,
``statistics_frequency``); enums become their lower-case name without the
type's prefix (``RISK_BAND_HIGH`` -> ``"high"``); Timestamps become UTC
datetimes and Durations timedeltas; unset optional fields and unset
Timestamps are missing values; repeated enums and strings are joined with
``;``; repeated messages stay a list of row dicts in one column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"


def enum_label(descriptor: EnumDescriptor, number: int) -> str:
    """``RISK_BAND_HIGH`` -> ``high``: the value name less the prefix all the
    type's values share, as the CLI and CSV exports spell them."""
    names = [value.name for value in descriptor.values]
    prefix = _common_prefix(names)
    value = descriptor.values_by_number.get(number)
    if value is None:
        return str(number)
    return value.name[len(prefix) :].lower()


def _common_prefix(names: list[str]) -> str:
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    length = 0
    while length < len(first) and length < len(last) and first[length] == last[length]:
        length += 1
    # Cut at a word boundary so "MEASURE_REVENUE"/"MEASURE_UNITS" keep "REVENUE".
    return first[: first.rfind("_", 0, length) + 1] if length else ""


def _is_repeated(field: FieldDescriptor) -> bool:
    # `is_repeated` is the newer spelling; `label` the older one.
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated() if callable(repeated) else repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_label(field.enum_type, value)
    return value


def _message_value(message: Message) -> Any:
    name = message.DESCRIPTOR.full_name
    if name == _TIMESTAMP:
        return message.ToDatetime(tzinfo=dt.UTC)
    if name == _DURATION:
        return message.ToTimedelta()
    return None


def flatten(message: Message, prefix: str = "") -> dict[str, Any]:
    """Every field of ``message`` (set or not), as one flat row."""
    row: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        column = f"{prefix}{field.name}"
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            row[column] = dict(value)
        elif _is_repeated(field):
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                row[column] = [flatten(item) for item in value]
            else:
                row[column] = ";".join(str(_scalar(field, item)) for item in value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name in (_TIMESTAMP, _DURATION):
                row[column] = _message_value(value) if message.HasField(field.name) else None
            elif message.HasField(field.name):
                row.update(flatten(value, f"{column}_"))
            else:
                # An unset message is missing, not a message of zeros.
                row.update(dict.fromkeys(flatten(value, f"{column}_"), None))
        elif field.has_presence and not message.HasField(field.name):
            # proto3 `optional` scalars: unset is missing, not zero.
            row[column] = None
        else:
            row[column] = _scalar(field, value)
    return row


def to_frame(messages: Iterable[Message], columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame with one flattened row per message. With no message, the
    columns are still those of ``columns`` (an empty export keeps its shape)."""
    rows = [flatten(message) for message in messages]
    frame = pd.DataFrame.from_records(rows, columns=columns if not rows else None)
    return _typed(frame)


def empty_columns(message_type: type[Message]) -> list[str]:
    return list(flatten(message_type()).keys())


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    # Columns of datetimes with gaps arrive as objects; give them their dtype.
    for column in frame.columns:
        sample = frame[column].dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, dt.datetime):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif isinstance(first, dt.timedelta):
            frame[column] = pd.to_timedelta(frame[column])
    return frame
