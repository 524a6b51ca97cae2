"""OTLP/JSON trace exports (what the OpenTelemetry Collector's file exporter writes) → span records.

One document per line: `{"resourceSpans": [{"resource": {...}, "scopeSpans": [{"scope": {...}, "spans": [...]}]}]}`
with typed attribute values (`{"key": …, "value": {"stringValue" | "intValue" | "arrayValue" …}}`). OTLP/JSON
writes trace and span ids in hex; protobuf's generic JSON mapping writes the same bytes in base64: both
are read. The records are handed to the OpenInference / OTel GenAI reader, so the mapping is the same.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_HEX = re.compile(r"[0-9a-fA-F]+")
_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR", "ERROR")


class ConvertError(ValueError):
    pass


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("resourceSpans"), list)


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a plain value (int64s arrive as strings in JSON)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            raise ConvertError(f"intValue {value['intValue']!r} is not an integer") from None
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return key_values((value["kvlistValue"] or {}).get("values") or [])
    if "bytesValue" in value:
        return value["bytesValue"]
    return None  # an empty AnyValue


def key_values(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise ConvertError("attributes must be a list of {key, value}")
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ConvertError("attribute without a string key")
        out[item["key"]] = any_value(item.get("value"))
    return out


def span_id(value: Any, n_bytes: int) -> str | None:
    """Hex as OTLP/JSON writes ids, or base64 as protobuf's JSON mapping does; lower-case hex either way."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConvertError(f"id {value!r} is not a string")
    if len(value) == 2 * n_bytes and _HEX.fullmatch(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConvertError(f"id {value!r} is neither {2 * n_bytes} hex digits nor base64") from None
    if len(raw) != n_bytes:
        raise ConvertError(f"id {value!r} decodes to {len(raw)} bytes, expected {n_bytes}")
    return raw.hex() if any(raw) else None


def _time(nanos: Any) -> str | None:
    if nanos in (None, "", 0, "0"):
        return None
    try:
        ns = int(nanos)
    except (TypeError, ValueError):
        raise ConvertError(f"time {nanos!r} is not a count of nanoseconds") from None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()


def to_span_records(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The spans of one OTLP document as OpenInference-style records (resource attributes under the span's)."""
    records = []
    for resource_spans in document["resourceSpans"]:
        if not isinstance(resource_spans, dict):
            raise ConvertError("resourceSpans entries must be objects")
        resource = key_values(((resource_spans.get("resource") or {}).get("attributes")) or [])
        for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []:
            for span in (scope_spans or {}).get("spans") or []:
                if not isinstance(span, dict):
                    raise ConvertError("spans entries must be objects")
                sid = span_id(span.get("spanId"), 8)
                if sid is None:
                    raise ConvertError(f"span {span.get('name')!r} has no spanId")
                status = span.get("status") if isinstance(span.get("status"), dict) else {}
                records.append({
                    "name": span.get("name"),
                    "context": {"span_id": sid, "trace_id": span_id(span.get("traceId"), 16)},
                    "parent_id": span_id(span.get("parentSpanId"), 8),
                    "start_time": _time(span.get("startTimeUnixNano")),
                    "end_time": _time(span.get("endTimeUnixNano")),
                    "status_code": "ERROR" if status.get("code") in _ERROR_CODES else "OK",
                    "status_message": status.get("message"),
                    "attributes": {**resource, **key_values(span.get("attributes") or [])},
                })
    return records


# ---------------------------------------------------------------------------------------------- OTLP/protobuf
def protobuf_value(value: Any) -> Any:
    """An AnyValue as the plain value `any_value` gives for its JSON form."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind in ("bool_value", "int_value", "double_value"):
        return getattr(value, kind)
    if kind == "array_value":
        return [protobuf_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: protobuf_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def protobuf_spans(body: bytes) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(Span message, its resource's attributes) for each span of an OTLP/HTTP protobuf body
    (`ExportTraceServiceRequest`, decoded by the official `opentelemetry-proto` definitions); ids are checked here,
    so a span that passes can always be made a record later."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    try:
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, RecursionError) as exc:
        raise ConvertError(f"not an OTLP ExportTraceServiceRequest ({exc})") from None
    for rs in request.resource_spans:
        resource = {kv.key: protobuf_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for span in ss.spans:
                if len(span.span_id) != 8 or not any(span.span_id):
                    raise ConvertError(f"span {span.name!r} has no 8-byte spanId")
                if span.trace_id and len(span.trace_id) != 16:
                    raise ConvertError(f"span {span.name!r}: traceId is not 16 bytes")
                if span.parent_span_id and len(span.parent_span_id) != 8:
                    raise ConvertError(f"span {span.name!r}: parentSpanId is not 8 bytes")
                yield span, resource


def protobuf_record(span: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """One Span message as the record `to_span_records` makes of the same span in JSON (resource attributes under
    the span's)."""
    attributes = dict(resource)
    for kv in span.attributes:
        attributes[kv.key] = protobuf_value(kv.value)
    return {
        "name": span.name,
        "context": {"span_id": span.span_id.hex(), "trace_id": span.trace_id.hex() if any(span.trace_id) else None},
        "parent_id": span.parent_span_id.hex() if any(span.parent_span_id) else None,
        "start_time": _time(span.start_time_unix_nano),
        "end_time": _time(span.end_time_unix_nano),
        "status_code": "ERROR" if span.status.code == 2 else "OK",
        "status_message": span.status.message or None,
        "attributes": attributes,
    }


def protobuf_span_records(body: bytes) -> list[dict[str, Any]]:
    """The spans of a protobuf body as records — tests hold them equal to what `to_span_records` makes of the same
    request in JSON, so the receiver and `cstui import` share one reader from there on."""
    return [protobuf_record(span, resource) for span, resource in protobuf_spans(body)]
