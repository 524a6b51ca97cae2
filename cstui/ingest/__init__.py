"""Import files into a run: detect the format, convert to native sessions, validate, write atomically.

All files of one `import_files` call share one transaction: a bad record anywhere rolls everything
back, so a run is never half-imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from cstui.config import Config
from cstui.drafts import draft_record
from cstui.ground_truth import resolved_ground_truth
from cstui.ingest import langfuse, maia, openai_chat, openinference, otlp, tau2
from cstui.ingest.records import BadInput, iter_records
from cstui.models import KB_SCHEMA, SESSION_SCHEMA, KBArticle, Session, first_escalation_turn
from cstui.store import RunWriter, SessionRow, Store, StoreError

COUNTS = ("sessions", "turns", "tool_calls", "tool_errors", "customer_tool_calls", "escalations", "orphan_spans", "synthetic_spans",
          "warnings", "messages", "replayed", "empty", "omitted_parts", "dropped", "cut_turns")


class LossyImport(BadInput):
    """`--strict`: the import would have lost something; nothing was written."""


@dataclass
class FileSummary:
    """What one file brought in, so a reviewer can check it against the source before trusting any metric."""

    path: str
    format: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    warnings: list[str] = field(default_factory=list)  # the first few, as `file:line: session: reason`

    MAX_WARNINGS = 5

    def add(self, doc: dict[str, Any], row: SessionRow, warnings: list[str], where: str,
            ledger: dict[str, int] | None = None, cut_turns: int = 0) -> None:
        c = self.counts
        c["sessions"] += 1
        for key, value in (ledger or {}).items():
            c[key] += value
        c["cut_turns"] += cut_turns
        c["turns"] += row.n_turns
        c["escalations"] += int(row.escalated)
        for span in doc.get("spans") or []:
            if isinstance(span, dict) and span.get("kind") == "customer_tool":
                c["customer_tool_calls"] += 1
            if not isinstance(span, dict) or span.get("kind") != "tool":
                continue
            attrs = span.get("attributes") if isinstance(span.get("attributes"), dict) else {}
            c["tool_calls"] += 1
            c["tool_errors"] += span.get("status") == "error"
            c["orphan_spans"] += attrs.get("orphan") is True
            c["synthetic_spans"] += attrs.get("synthetic") is True
        c["warnings"] += len(warnings)
        room = self.MAX_WARNINGS - len(self.warnings)
        self.warnings.extend(f"{where}: {row.session_id}: {w}" for w in warnings[:max(room, 0)])


@dataclass
class ImportReport:
    run: str
    files: list[FileSummary] = field(default_factory=list)
    n_sessions: int = 0
    n_spans: int = 0
    n_kb: int = 0
    seconds: float = 0.0
    imported_ids: list[str] = field(default_factory=list)  # sessions from memory (`import_spans`), in order

    def lost(self) -> int:
        """What the import dropped or cut (what `--strict` refuses)."""
        return sum(f.counts.get("dropped", 0) + f.counts.get("cut_turns", 0) for f in self.files)

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(COUNTS, 0)
        for f in self.files:
            if f.format != "kb":
                for k, v in f.counts.items():
                    out[k] += v
        return out


def detect_format(record: Any) -> str:
    if isinstance(record, dict):
        schema = record.get("schema")
        if schema == SESSION_SCHEMA or (schema is None and "turns" in record and "session_id" in record):
            return "native"
        if schema == KB_SCHEMA:
            return "kb"
        if "trace" in record and "observations" in record:
            return "langfuse"
        if maia.looks_like(record):
            return "maia"
        if tau2.looks_like(record):
            return "tau2"
        if otlp.looks_like(record):
            return "otlp"
        if openinference.is_ai_sdk(record):
            return "ai-sdk"
        if any(k in record for k in ("context", "span_kind")) or any(
            str(k).startswith(("openinference.", "gen_ai.", "llm.")) for k in (record.get("attributes") or record)
        ):
            return "openinference"
    if openai_chat.looks_like(record):
        return "openai"
    return "unknown"


def _validation_reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "record"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc}: {err['msg']}{more}"


def session_row(data: dict[str, Any], cfg: Config) -> SessionRow:
    """Validate a native document and pull out the columns the store indexes."""
    spans_raw = data.get("spans")
    if isinstance(spans_raw, list):
        for i, sp in enumerate(spans_raw):
            if isinstance(sp, dict) and sp.get("span_id") is None:
                sp["span_id"] = f"span-{i}"
    session = Session.model_validate(data)
    _check_span_refs(session)
    tier = session.tier or cfg.tier_for(session.intent)
    esc_turn = first_escalation_turn(session, tuple(cfg.escalation_tools))
    escalated = bool(session.outcome.escalated) or esc_turn is not None
    doc = orjson.dumps({k: v for k, v in data.items() if k != "spans"})
    draft = draft_record(session)
    spans = [
        (sp.span_id, sp.parent_id, sp.kind, sp.name, sp.turn_index, sp.status, orjson.dumps(raw))
        for sp, raw in zip(session.spans, spans_raw or [], strict=True)
    ]
    return SessionRow(
        session_id=session.session_id, tier=tier, intent=session.intent, channel=session.channel,
        segment=session.segment, category=session.category,
        started_at=session.started_at.isoformat() if session.started_at else None,
        n_turns=len(session.turns), confidence=session.last_assistant_confidence(),
        correct=session.outcome.correct,
        resolved=resolved_ground_truth(session.outcome, escalated, tier),
        escalated=escalated, escalation_turn=esc_turn, doc=doc, spans=spans,
        draft=draft.row() if draft else None,
    )


TRUNCATED = "… [cut by cstui at import: {n:,} more characters; max_turn_chars in cstui.toml]"


def limit_size(data: dict[str, Any], cfg: Config) -> list[str]:
    """Cut turn texts longer than `max_turn_chars` (the turn keeps `truncated_chars`, how many were cut): one huge
    record must not make every evaluator and screen hold it. Returns the warnings (`check_size` then refuses a
    session still larger than `max_session_bytes`)."""
    warnings = []
    turns = data.get("turns")
    limit = max(1, cfg.max_turn_chars)
    if isinstance(turns, list):
        for i, turn in enumerate(turns):
            text = turn.get("text") if isinstance(turn, dict) else None
            if isinstance(text, str) and len(text) > limit:
                turn["text"] = text[:limit] + TRUNCATED.format(n=len(text) - limit)
                turn["truncated_chars"] = len(text) - limit
                warnings.append(f"turn {i}: text of {len(text):,} characters cut to {limit:,} (max_turn_chars)")
    return warnings


def check_size(row: SessionRow, cfg: Config) -> None:
    size = len(row.doc) + sum(len(span[-1]) for span in row.spans)
    if size > cfg.max_session_bytes:
        raise ValueError(f"session record of {size:,} bytes is larger than max_session_bytes "
                         f"({cfg.max_session_bytes:,}); raise it in cstui.toml to import it")


def _check_span_refs(session: Session) -> None:
    ids = set()
    for span in session.spans:
        if span.span_id in ids:
            raise ValueError(f"spans: duplicate span_id {span.span_id!r}")
        ids.add(span.span_id)
    n = len(session.turns)
    parents = {s.span_id: s.parent_id for s in session.spans}
    for span in session.spans:
        if span.turn_index is not None and not 0 <= span.turn_index < n:
            raise ValueError(f"spans: span {span.span_id!r} turn_index {span.turn_index} is outside 0..{n - 1}")
        if span.parent_id is not None and span.parent_id not in ids:
            raise ValueError(f"spans: span {span.span_id!r} has unknown parent {span.parent_id!r}")
    for start in parents:  # walk up from each span; a revisit means a cycle
        seen, node = set(), start
        while node is not None:
            if node in seen:
                raise ValueError(f"spans: parent cycle through span {start!r}")
            seen.add(node)
            node = parents.get(node)


def kb_row(data: dict[str, Any]) -> tuple[Any, ...]:
    art = KBArticle.model_validate(data)
    return (art.id, art.revision, art.status, art.title, art.body,
            art.updated_at.isoformat() if art.updated_at else None, orjson.dumps(data))


def iter_native_sessions(path: Path, fmt: str, cfg: Config) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield (line, source format, native document) from a file of the given (or detected) format."""
    records = iter_records(path)
    for lineno, record in records:
        kind = fmt if fmt != "auto" else detect_format(record)
        if kind == "native":
            if not isinstance(record, dict):
                raise BadInput(path, lineno, "expected a JSON object")
            yield lineno, kind, record
        elif kind == "openai":
            if not openai_chat.looks_like(record):
                raise BadInput(path, lineno, "not an OpenAI chat record (no 'messages' or 'traj' list)")
            try:
                yield lineno, kind, openai_chat.to_native(record, f"{path.stem}-{lineno}", cfg)
            except openai_chat.ConvertError as exc:
                raise BadInput(path, lineno, str(exc)) from None
        elif kind == "tau2":
            if not tau2.looks_like(record):
                raise BadInput(path, lineno, "not τ²-bench results ({info, tasks, simulations})")
            try:
                for session in tau2.to_native_sessions(record, cfg):
                    yield lineno, kind, session
            except (tau2.ConvertError, AttributeError, TypeError) as exc:
                raise BadInput(path, lineno, f"tau2: {exc}") from None
        elif kind == "kb":
            raise BadInput(path, lineno, "this is a knowledge-base file; pass it with --kb")
        elif kind == "maia":
            if not maia.looks_like(record):
                raise BadInput(path, lineno, "not a MAIA-DQE dialogue ({id, turns: [{floor, text_mt, text_src}]})")
            yield lineno, kind, maia.to_native(record)
        elif kind in ("openinference", "ai-sdk"):  # spans of one session may be anywhere in the file: read it all
            batch = [(lineno, record), *records]
            for line, rec in batch:
                if not openinference.looks_like(rec):
                    raise BadInput(path, line, "not an OpenInference / OTel GenAI / AI SDK span")
            try:
                for line, session in openinference.to_native_sessions(batch, path.stem, cfg, source_format=kind):
                    yield line, kind, session
            except openinference.ConvertError as exc:
                raise BadInput(path, batch[0][0], str(exc)) from None
            except RecursionError:
                raise BadInput(path, batch[0][0], "nested too deeply") from None
            return
        elif kind == "otlp":  # one OTLP document per line; a session's spans may span documents
            spans: list[tuple[int, dict[str, Any]]] = []
            for line, rec in [(lineno, record), *records]:
                if not otlp.looks_like(rec):
                    raise BadInput(path, line, "not an OTLP/JSON document ({\"resourceSpans\": [...]})")
                try:
                    spans.extend((line, span) for span in otlp.to_span_records(rec))
                except (otlp.ConvertError, AttributeError, TypeError) as exc:
                    raise BadInput(path, line, f"otlp: {exc}") from None
            if not spans:
                raise BadInput(path, lineno, "no spans in the OTLP documents")
            try:
                for line, session in openinference.to_native_sessions(spans, path.stem, cfg, source_format="otlp"):
                    yield line, kind, session
            except RecursionError:
                raise BadInput(path, spans[0][0], "nested too deeply") from None
            return
        elif kind == "langfuse":
            batch = [(lineno, record), *records]
            for line, rec in batch:
                if not langfuse.looks_like(rec):
                    raise BadInput(path, line, "not a Langfuse trace export ({trace, observations})")
            try:
                for line, session in langfuse.to_native_sessions(batch, path.stem):
                    yield line, kind, session
            except (langfuse.ConvertError, KeyError, TypeError) as exc:
                raise BadInput(path, batch[0][0], f"langfuse: {exc}") from None
            except RecursionError:
                raise BadInput(path, batch[0][0], "nested too deeply") from None
            return
        else:
            raise BadInput(path, lineno, "unrecognised record (not native, OpenAI chat, τ²-bench, Langfuse, OpenInference, "
                                         "OTLP or MAIA-DQE)")
        if fmt == "auto":
            fmt = kind  # one format per file: later records are held to the first one's


def import_files(
    store: Store, paths: list[Path], run: str, *, kb: Path | None = None, fmt: str = "auto",
    mode: str = "create", cfg: Config | None = None, progress: Callable[[str, int], None] | None = None,
    system: str | None = None, strict: bool = False,
) -> ImportReport:
    """Import `paths` (and `kb`) into `run` in one transaction. `strict`: refuse (LossyImport, nothing written)
    when any message or part was dropped or any turn cut."""
    cfg = cfg or Config()
    report = ImportReport(run=run)
    started = time.perf_counter()
    with store.importing(run, mode=mode, source_format=fmt, source_path=", ".join(map(str, paths)),
                         system=system) as writer:
        if kb is not None:
            rows = []
            current: dict[str, int] = {}
            for lineno, record in iter_records(kb):
                if not isinstance(record, dict) or record.get("schema", KB_SCHEMA) != KB_SCHEMA:
                    raise BadInput(kb, lineno, f"not a {KB_SCHEMA} record")
                try:
                    row = kb_row(record)
                except ValidationError as exc:
                    raise BadInput(kb, lineno, _validation_reason(exc)) from None
                if row[2] == "current":
                    if row[0] in current:
                        raise BadInput(kb, lineno, f"second current revision of {row[0]} (first on line {current[row[0]]})")
                    current[row[0]] = lineno
                rows.append(row)
            report.n_kb = writer.add_kb(rows)
            report.files.append(FileSummary(str(kb), "kb", {"articles": report.n_kb}))
        for path in paths:
            summary = FileSummary(str(path), fmt)
            n = _add_sessions(writer, summary, path, iter_native_sessions(path, fmt, cfg), cfg, progress)
            if n == 0:
                raise BadInput(path, None, "no sessions in file")
            report.files.append(summary)
        if strict and report.lost():
            first = next(w for f in report.files for w in f.warnings) if any(f.warnings for f in report.files) else ""
            raise LossyImport(Path(report.files[-1].path), None,
                              f"--strict: the import would lose {report.lost():,} message(s), part(s) or turn text(s); "
                              f"nothing was written. First: {first}")
        report.n_sessions, report.n_spans = writer.n_sessions, writer.n_spans
        detected = sorted({f.format for f in report.files if f.format != "kb"})
        writer.record_import(",".join(detected), report.totals())
        fresh = writer.parts is not None
    _store_imported_scores(store, run)
    if fresh:  # the drafts too, while their pages are in the page cache (an append's first report builds them)
        store.drafts_frame(run)
    report.seconds = time.perf_counter() - started
    return report


def _add_sessions(writer: RunWriter, summary: FileSummary, path: Path,
                  documents: Iterable[tuple[int, str, dict[str, Any]]], cfg: Config,
                  progress: Callable[[str, int], None] | None = None) -> int:
    """Validate and write each (line, source format, native document); the one path every import takes."""
    n = 0
    for lineno, kind, data in documents:
        summary.format = kind
        warnings = (data.pop("_warnings", None) or []) if kind != "native" else []
        ledger = data.pop("_accounting", None) if kind != "native" else None
        try:
            cuts = limit_size(data, cfg)
            warnings = [*warnings, *cuts]
            row = session_row(data, cfg)
            check_size(row, cfg)
            writer.add(row)
        except ValidationError as exc:
            raise BadInput(path, lineno, _validation_reason(exc)) from None
        except (ValueError, StoreError) as exc:
            raise BadInput(path, lineno, str(exc)) from None
        except (orjson.JSONEncodeError, RecursionError):
            raise BadInput(path, lineno, "nested too deeply (more than 250 levels)") from None
        summary.add(data, row, warnings, f"{path}:{lineno}", ledger, len(cuts))
        n += 1
        if progress and n % 1000 == 0:
            progress(str(path), n)
    return n


def import_spans(store: Store, records: list[tuple[int, dict[str, Any]]], run: str, *, cfg: Config,
                 staged: list[int], source: str = "otlp-receiver") -> ImportReport:
    """Sessions assembled from received OTLP span records (`otlp.to_span_records`), imported into `run` (created
    when missing) in one transaction that also deletes their staged rows (`staged`: row ids). The same reader as
    `cstui import --format otlp`."""
    report = ImportReport(run=run)
    started = time.perf_counter()
    exists = store.has_run(run)
    docs = list(openinference.to_native_sessions(records, source, cfg, source_format="otlp"))
    taken = set(store.sid_map(run, [str(doc.get("session_id")) for _, doc in docs])) if exists else set()
    for _, doc in docs:  # spans of a session that arrive after it was closed continue it as "<id>~2"
        sid, n = str(doc.get("session_id")), 1
        while sid in taken:
            n += 1
            sid = f"{doc.get('session_id')}~{n}"
            if sid not in taken and store.sid_map(run, [sid]):
                taken.add(sid)
        if n > 1:
            doc.setdefault("_warnings", []).append(f"{doc.get('session_id')}: spans arrived after the session was "
                                                   f"closed; imported as {sid}")
            doc["session_id"] = sid
        taken.add(sid)
    with store.importing(run, mode="append" if exists else "create", source_format="otlp",
                         source_path=source) as writer:
        summary = FileSummary(source, "otlp")
        _add_sessions(writer, summary, Path(source), ((line, "otlp", doc) for line, doc in docs), cfg)
        writer.drop_staged(staged)
        report.imported_ids = [str(doc["session_id"]) for _, doc in docs]
        report.files.append(summary)
        report.n_sessions, report.n_spans = writer.n_sessions, writer.n_spans
        writer.record_import("otlp", report.totals())
    report.seconds = time.perf_counter() - started
    return report


def _store_imported_scores(store: Store, run: str) -> None:
    """Scores that came with the traces (e.g. Langfuse evals) become evaluator results `langfuse:<name>`."""
    from cstui.evaluators.base import Verdict
    from cstui.store import verdict_row

    rows = []
    for sid, doc in store.docs_with_imported_scores(run):
        for score in orjson.loads(doc).get("imported_scores") or []:
            value = score.get("value")
            passed = bool(value) if score.get("dataType") == "BOOLEAN" and value is not None else None
            rows.append(verdict_row(sid, f"langfuse:{score.get('name')}", str(score.get("source") or "imported"), Verdict(
                passed, str(score.get("comment") or ""), score=value if isinstance(value, int | float) else None,
                label=score["stringValue"] if isinstance(score.get("stringValue"), str) else None)))
    if rows:
        with store.results_writer(run, batch="imported", source="langfuse") as write:
            write(rows)
