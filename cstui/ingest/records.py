"""Read JSON records from a file while remembering the line each one starts on.

Accepts JSON Lines, a JSON array, or a single JSON document. Errors are `BadInput(path, line, reason)`
so the CLI can print `path:line: reason` and exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

MAX_LINE_BYTES = 64 * 1024 * 1024


class BadInput(Exception):
    def __init__(self, path: Path | str, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


def _decode(path: Path, lineno: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(path, lineno, f"invalid UTF-8 at byte {exc.start}") from None


def sniff(path: Path) -> str:
    """'jsonl' when the first non-blank line is a complete JSON value, else 'json'."""
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            stripped = raw.strip()
            if stripped[:1] == b"[":
                # a one-line array is still an array document; a multi-line one certainly is
                return "json"
            try:
                orjson.loads(stripped)
            except orjson.JSONDecodeError:
                return "json"
            return "jsonl"
    return "empty"


def iter_records(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value) for each record in the file."""
    kind = sniff(path)
    if kind == "empty":
        raise BadInput(path, None, "file is empty")
    if kind == "jsonl":
        yield from _iter_jsonl(path)
    else:
        yield from _iter_json_document(path)


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise BadInput(path, lineno, f"line longer than {MAX_LINE_BYTES} bytes")
            if not raw.strip():
                continue
            if b"\x00" in raw:
                raise BadInput(path, lineno, "NUL byte in line")
            text = _decode(path, lineno, raw)
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise BadInput(path, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
            yield lineno, value


def _iter_json_document(path: Path) -> Iterator[tuple[int, Any]]:
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise BadInput(path, raw[: raw.index(b"\x00")].count(b"\n") + 1, "NUL byte in file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(path, raw[: exc.start].count(b"\n") + 1, f"invalid UTF-8 at byte {exc.start}") from None
    text = text.removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BadInput(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise BadInput(path, 1, "JSON nested too deeply") from None
        if _skip_ws(text, end) != len(text):
            raise BadInput(path, text.count("\n", 0, end) + 1, "extra data after the JSON document")
        yield text.count("\n", 0, pos) + 1, value
        return
    pos = _skip_ws(text, pos + 1)
    line = text.count("\n", 0, pos) + 1
    last = pos
    if text.startswith("]", pos):
        return
    while True:
        line += text.count("\n", last, pos)
        last = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BadInput(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise BadInput(path, line, "JSON nested too deeply") from None
        yield line, value
        pos = _skip_ws(text, end)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
            continue
        if text.startswith("]", pos):
            if _skip_ws(text, pos + 1) != len(text):
                raise BadInput(path, text.count("\n", 0, pos) + 1, "extra data after the JSON array")
            return
        raise BadInput(path, text.count("\n", 0, pos) + 1, "expected ',' or ']' in JSON array")


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    return pos


def embedded_json(value: Any) -> Any:
    """A string that holds a JSON object or array (as trace exporters store message lists), parsed; else unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{":
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return value
    return value
