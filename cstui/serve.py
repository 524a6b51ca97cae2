"""`cstui serve --otlp`: receive OpenTelemetry traces over OTLP/HTTP, assemble sessions, evaluate them as they close.

Three parts, so nothing a client waits for depends on evaluation:
- the HTTP handlers (stdlib `ThreadingHTTPServer`) check a request (size, token, encoding), decode it with the
  official protobuf definitions (or read OTLP/JSON) into span records, and hand them to
- the stager (a thread), which commits the spans of every request waiting into `otlp_staging` in one transaction
  (a group commit) and only then lets their handlers answer 200: a killed receiver loses nothing it acknowledged;
- the assembler (a process of its own: importing and evaluating are Python-heavy and would hold the receiver's
  GIL), which reads what is staged, closes a session when its root span has arrived (a trace carrying no session
  id is one session) or `idle` seconds after its last span (a `session.id` may span several traces), imports it
  with the reader `cstui import --format otlp` uses in the transaction that deletes its staged rows, and
  evaluates the new sessions with every deterministic evaluator, then with the LLM judges asked for (`--judges`;
  a judge endpoint that fails leaves those sessions to `cstui eval`, said once a minute, and never stops the
  receiver). Drift between consecutive windows is checked as they fill. It exits when the receiver does; a lock
  file beside the database keeps a second receiver off it.

Memory is bounded by open traces (a few numbers each), not by traffic: span bodies wait in the database.
"""

from __future__ import annotations

import gzip
import hmac
import ipaddress
import multiprocessing
import os
import signal
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Empty, Queue
from typing import TYPE_CHECKING, Any

import orjson

from cstui.config import Config
from cstui.store import Store

if TYPE_CHECKING:
    from cstui.judge import JudgeSettings

TRACES_PATH = "/v1/traces"
PROTOBUF, JSON = "application/x-protobuf", "application/json"


class ServeError(Exception):
    """A receiver that must not start (an address without a token, a port in use)."""


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 4318
    token: str | None = None
    run: str | None = None
    daily: str | None = None
    idle: float = 30.0  # seconds without a new span before a session keyed by session.id closes
    max_body: int = 16 << 20  # bytes, after decompression
    max_spans_per_trace: int = 10_000
    max_batch_sessions: int = 500  # sessions imported per transaction (short: the stager waits on its lock)
    evaluate: bool = True
    judges: tuple[str, ...] = ()  # LLM judges run on each batch of new sessions, after the deterministic evaluators
    judge: JudgeSettings | None = None  # their model and endpoint (`cstui.judge.JudgeSettings`)
    tick: float = 0.25


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(options: Options) -> None:
    """Anything but loopback needs a token: traces carry customers' words."""
    if not is_loopback(options.host) and not options.token:
        raise ServeError(f"refusing to listen on {options.host}: a non-loopback address needs --token (or "
                         "CSTUI_SERVE_TOKEN); traces carry customer conversations")


class Shared:
    """Counters the assembler process writes and the receiver prints."""

    def __init__(self, ctx: Any) -> None:
        self._sessions, self._verdicts, self._open = ctx.Value("q", 0), ctx.Value("q", 0), ctx.Value("q", 0)

    sessions = property(lambda self: self._sessions.value, lambda self, v: setattr(self._sessions, "value", v))
    verdicts = property(lambda self: self._verdicts.value, lambda self, v: setattr(self._verdicts, "value", v))
    open_traces = property(lambda self: self._open.value, lambda self, v: setattr(self._open, "value", v))


@dataclass
class Stats:
    shared: Shared
    spans: int = 0
    rejected_spans: int = 0
    refused_requests: int = 0
    last: tuple[float, int, int] = field(default_factory=lambda: (time.monotonic(), 0, 0))  # at the last line

    sessions = property(lambda self: self.shared.sessions)
    verdicts = property(lambda self: self.shared.verdicts)
    open_traces = property(lambda self: self.shared.open_traces)

    def line(self) -> str:
        """Totals, with the rates since the previous line (what is arriving now, not an average since start)."""
        now, spans, sessions = time.monotonic(), self.spans, self.sessions
        then, spans_then, sessions_then = self.last
        self.last = (now, spans, sessions)
        elapsed = max(now - then, 1e-9)
        extra = (f" · {self.rejected_spans:,} spans rejected" if self.rejected_spans else "") + (
            f" · {self.refused_requests:,} requests refused" if self.refused_requests else "")
        return (f"received {spans:,} spans ({(spans - spans_then) / elapsed:,.0f}/s) · {sessions:,} sessions imported "
                f"({(sessions - sessions_then) / elapsed:,.1f}/s) · {self.open_traces:,} open traces · "
                f"{self.verdicts:,} verdicts{extra}")


@dataclass
class TraceState:
    session_key: str | None
    root_seen: bool
    last: float  # wall-clock time of its newest span (time.time(): survives a restart)
    spans: int


def closable(traces: dict[str, TraceState], now: float, idle: float, limit: int) -> list[list[str]]:
    """Sessions (lists of trace ids) ready to import, at most `limit`: a trace without a session id once its root
    arrived; any session `idle` seconds after its newest span."""
    sessions: dict[str, list[str]] = {}
    for trace_id, state in traces.items():
        sessions.setdefault(f"s:{state.session_key}" if state.session_key else f"t:{trace_id}", []).append(trace_id)
    ready = []
    for key, members in sessions.items():
        last = max(traces[t].last for t in members)
        if now - last >= idle or (key.startswith("t:") and traces[members[0]].root_seen):
            ready.append(members)
            if len(ready) >= limit:
                break
    return ready


class TraceCounts:
    """Spans staged per recent trace, for the per-trace limit; entries older than `keep` seconds are forgotten, so
    memory follows the traces still arriving, not all traffic."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self.counts: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def get(self, trace_id: str) -> int:
        return self.counts.get(trace_id, (0, 0.0))[0]

    def set(self, trace_id: str, n: int, at: float) -> None:
        self.counts[trace_id] = (n, at)
        self.counts.move_to_end(trace_id)
        while self.counts and next(iter(self.counts.values()))[1] < at - self.keep:
            self.counts.popitem(last=False)


Row = tuple[str, str | None, int, bytes, bytes | None]  # trace_id, session_key, is_root, record, resource


class Stager(threading.Thread):
    """Group commit: every request waiting is written in one transaction, then all of them are answered."""

    def __init__(self, store: Store, options: Options, stats: Stats) -> None:
        super().__init__(name="cstui-stager", daemon=True)
        self.store, self.options, self.stats = store, options, stats
        self.counts = TraceCounts(keep=options.idle + 300)
        self.queue: Queue[tuple[list[Row], Future[int]] | None] = Queue()

    def submit(self, spans: list[Row]) -> Future[int]:
        """Stage a request's rows; the future gives how many were rejected (over the per-trace limit)."""
        future: Future[int] = Future()
        self.queue.put((spans, future))
        return future

    def stop(self) -> None:
        self.queue.put(None)

    def run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            try:
                while len(batch) < 256:
                    more = self.queue.get_nowait()
                    if more is None:
                        self.queue.put(None)
                        break
                    batch.append(more)
            except Empty:
                pass
            self._commit(batch)

    def _commit(self, batch: list[tuple[list[Row], Future[int]]]) -> None:
        now = time.time()
        rows, rejected, counts = [], [], {}
        for spans, _ in batch:
            n_rejected = 0
            for trace_id, key, is_root, record, resource in spans:
                seen = counts.get(trace_id, self.counts.get(trace_id))
                if seen >= self.options.max_spans_per_trace:
                    n_rejected += 1
                    continue
                counts[trace_id] = seen + 1
                rows.append((trace_id, key, is_root, now, record, resource))
            rejected.append(n_rejected)
        try:
            self.store.stage_spans(rows)
        except Exception as exc:  # noqa: BLE001 — every waiting client hears of it (503) and retries
            for _, future in batch:
                future.set_exception(exc)
            return
        for trace_id, n in counts.items():
            self.counts.set(trace_id, n, now)
        self.stats.spans += len(rows)
        self.stats.rejected_spans += sum(rejected)
        for (_, future), n in zip(batch, rejected, strict=True):
            future.set_result(n)


class Assembler:
    """Closes sessions from what is staged, imports them (deleting their staged rows in the same transaction),
    evaluates them, checks live drift. Runs in a process of its own (`assemble`)."""

    def __init__(self, store: Store, options: Options, shared: Any, cfg: Config,
                 say: Callable[[str], Any], alerts: Any | None = None) -> None:
        self.store, self.options, self.shared, self.cfg, self.say = store, options, shared, cfg, say
        self.alerts = alerts
        self.refused: set[str] = set()
        self.judge_failures, self.judge_said = 0, -1e9  # sessions the judges could not reach, and when it was said

    def step(self, *, flush: bool = False) -> bool:
        """Import what is ready (everything staged, with `flush`); True when something was."""
        from cstui.watch import run_name

        traces = {t: TraceState(k, root, last, n) for t, k, root, last, n in self.store.staged_traces()
                  if t not in self.refused}
        self.shared.open_traces = len(traces)
        ready = closable(traces, time.time() + (1e9 if flush else 0), self.options.idle,
                         self.options.max_batch_sessions)
        if not ready:
            return False
        rows = self.store.staged_records([t for members in ready for t in members])
        run = run_name(self.options.run, self.options.daily)
        try:
            new = self._import(run, rows)
        except Exception:  # noqa: BLE001 — one bad session must not stop the receiver: find it
            new = self._import_one_by_one(run, ready)
        self.shared.open_traces = max(0, len(traces) - sum(len(m) for m in ready))
        if new and self.options.evaluate:
            self._evaluate(run, new)
        if new and self.alerts is not None:
            for line in self.alerts.check(self.store, run, new):
                self.say(line)
        return True

    def _import(self, run: str, rows: list[tuple[int, bytes, bytes | None]]) -> list[str]:
        from cstui.ingest import import_spans

        if not rows:
            return []
        records = [(row_id, record_of(record, resource)) for row_id, record, resource in rows]
        report = import_spans(self.store, records, run, cfg=self.cfg, staged=[row_id for row_id, _, _ in rows])
        self.shared.sessions += report.n_sessions
        return report.imported_ids

    def _import_one_by_one(self, run: str, ready: list[list[str]]) -> list[str]:
        """A batch failed: import its sessions one at a time; one that still fails stays staged (tried again at the
        next start) and is reported once."""
        new: list[str] = []
        for members in ready:
            try:
                new += self._import(run, self.store.staged_records(members))
            except Exception as exc:  # noqa: BLE001
                self.refused.update(members)
                self.say(f"refused a session (trace {members[0]}): {exc} — its spans stay staged")
        return new

    def _evaluate(self, run: str, session_ids: list[str]) -> None:
        from cstui import evaluation

        try:
            summary = evaluation.run(self.store, run, evaluation.resolve(None), session_ids=session_ids,
                                     cfg=self.cfg, processes=1)
        except Exception as exc:  # noqa: BLE001 — the sessions are stored; `cstui eval` can finish the job
            self.say(f"evaluation of {len(session_ids):,} new sessions failed: {exc}")
            return
        self.shared.verdicts += summary.n_results
        if self.options.judges:
            self._judge(run, session_ids)

    def _judge(self, run: str, session_ids: list[str]) -> None:
        """The LLM judges asked for, over the new sessions: their own evaluation, so a judge endpoint that is down
        costs only the judges' verdicts (those sessions are judged by `cstui eval` later), said once a minute."""
        from cstui import evaluation
        from cstui.judge import JudgeError

        try:
            judged = evaluation.run(self.store, run, list(self.options.judges), session_ids=session_ids, cfg=self.cfg,
                                    judge=self.options.judge)
        except JudgeError as exc:
            self.judge_failures += len(session_ids)
            if time.monotonic() - self.judge_said > 60:
                self.judge_said = time.monotonic()
                self.say(f"judges skipped on {self.judge_failures:,} sessions so far ({exc}); "
                         f"`cstui eval --run {run} --evaluators {','.join(self.options.judges)}` judges them later")
            return
        self.shared.verdicts += judged.n_results


def assemble(db: str, options: Options, cfg: Config, shared: Any, stop: Any, alerts: Any | None) -> None:
    """The assembler process: step until told to stop (or until the receiver is gone), then import everything
    still staged. Ctrl-C reaches the whole process group; the receiver decides when this one stops."""
    from cstui.textsafe import inert

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def say(line: str) -> None:
        print(inert(line, keep_newlines=False), flush=True)

    with _exclusive(Path(db)), Store(db) as store:
        assembler = Assembler(store, options, shared, cfg, say, alerts)
        while not stop.is_set():
            if os.getppid() != parent:
                return  # the receiver was killed: what it acknowledged stays staged for the next one
            if not assembler.step():
                stop.wait(options.tick)
        while assembler.step(flush=True):
            pass


class _exclusive:
    """One assembler per database: a lock on `<db>.serve.lock` (released by the system if the process dies)."""

    def __init__(self, db: Path, wait: float = 30.0) -> None:
        self.path, self.wait = db.with_name(db.name + ".serve.lock"), wait

    def __enter__(self) -> None:
        import fcntl

        self.file = self.path.open("a")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.file.close()
                    raise ServeError(f"another `cstui serve` is using {self.path.with_suffix('')}") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def staged_rows(body: bytes, content_type: str) -> list[Row]:
    """What a request stages, per span. A protobuf span is kept as its own Span message (re-encoding it is cheap;
    converting it is not, and waits for the assembler); a JSON span as its record."""
    from cstui.ingest import openinference, otlp

    rows: list[Row] = []
    if content_type == PROTOBUF:
        blobs: dict[int, tuple[bytes, Any]] = {}
        for span, resource in otlp.protobuf_spans(body):
            if id(resource) not in blobs:
                blobs[id(resource)] = (orjson.dumps(resource), openinference.session_attribute(resource))
            blob, resource_key = blobs[id(resource)]
            key = openinference.session_attribute({kv.key: otlp.protobuf_value(kv.value) for kv in span.attributes
                                                   if kv.key in openinference.SESSION_ATTRIBUTES}) or resource_key
            trace_id = span.trace_id.hex() if any(span.trace_id) else f"span-{span.span_id.hex()}"
            rows.append((trace_id, None if key is None else str(key), int(not any(span.parent_span_id)),
                         span.SerializeToString(), blob))
        return rows
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise otlp.ConvertError(f"not JSON ({exc})") from None
    if not otlp.looks_like(document):
        raise otlp.ConvertError('not an OTLP/JSON document ({"resourceSpans": [...]})')
    for record in otlp.to_span_records(document):
        trace_id = record["context"]["trace_id"] or f"span-{record['context']['span_id']}"
        key = openinference.session_attribute(record["attributes"])
        rows.append((trace_id, None if key is None else str(key), int(record["parent_id"] is None),
                     orjson.dumps(record), None))
    return rows


def record_of(record: bytes, resource: bytes | None) -> dict[str, Any]:
    """A staged span as the record the OpenInference reader takes."""
    if resource is None:
        return orjson.loads(record)
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from cstui.ingest import otlp

    return otlp.protobuf_record(Span.FromString(record), orjson.loads(resource))


def _inflate(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise OverflowError
    if not inflater.eof:
        raise EOFError("truncated gzip body")
    return out


class Receiver:
    """The running receiver: an HTTP server and a stager here, an assembler process, over one database file."""

    def __init__(self, db: Path, options: Options, cfg: Config, alerts: Any | None = None) -> None:
        """Alerts and refusals are printed by the assembler process; `alerts` is the live drift and gate check."""
        check_binding(options)
        with _exclusive(db):  # another receiver on this file (or one just killed, still finishing) is waited out
            pass
        self.options = options
        ctx = multiprocessing.get_context("spawn")
        self.stats = Stats(Shared(ctx))
        self.stage_store = Store(db)
        self.stager = Stager(self.stage_store, options, self.stats)
        self.stopping = ctx.Event()
        self.assembler = ctx.Process(target=assemble, name="cstui-assembler", daemon=True,
                                     args=(str(db), options, cfg, self.stats.shared, self.stopping, alerts))
        try:
            self.server = ThreadingHTTPServer((options.host, options.port), _handler(self))
        except OSError as exc:
            self.stage_store.close()
            raise ServeError(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def start(self) -> None:
        self.stager.start()
        self.assembler.start()
        threading.Thread(target=self.server.serve_forever, name="cstui-http", daemon=True).start()

    def stop(self) -> None:
        """Stop accepting, answer what was received, let the assembler import every staged session, close."""
        self.server.shutdown()
        self.server.server_close()
        self.stager.stop()
        self.stager.join()
        self.stopping.set()
        self.assembler.join()
        self.stage_store.close()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    options, stats = receiver.options, receiver.stats

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cstui-otlp"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the stdlib's name
            return  # one line per request would drown the progress line

        def _reply(self, code: int, body: bytes = b"", content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refuse(self, code: int, why: str) -> None:
            stats.refused_requests += 1
            self.close_connection = True
            self._reply(code, why.encode() + b"\n")

        def do_GET(self) -> None:  # noqa: N802 — the stdlib's name
            self._reply(200 if self.path == "/" else 404, b"cstui OTLP/HTTP receiver: POST /v1/traces\n")

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] != TRACES_PATH:
                return self._refuse(404, f"only {TRACES_PATH} is served")
            if options.token and not hmac.compare_digest(
                    self.headers.get("Authorization", "").encode(), f"Bearer {options.token}".encode()):
                return self._refuse(401, "a bearer token is required")
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._refuse(411, "Content-Length is required")
            if length < 0 or length > options.max_body:
                return self._refuse(413, f"body over {options.max_body:,} bytes")
            body = self.rfile.read(length)
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type not in (PROTOBUF, JSON):
                return self._refuse(415, f"Content-Type must be {PROTOBUF} or {JSON}")
            encoding = self.headers.get("Content-Encoding", "").strip().lower()
            if encoding == "gzip":
                try:
                    body = _inflate(body, options.max_body)
                except OverflowError:
                    return self._refuse(413, f"body over {options.max_body:,} bytes once decompressed")
                except (zlib.error, gzip.BadGzipFile, EOFError):
                    return self._refuse(400, "Content-Encoding gzip, but the body is not gzip")
            elif encoding not in ("", "identity"):
                return self._refuse(415, f"Content-Encoding {encoding!r} is not supported (gzip is)")
            try:
                rows = staged_rows(body, content_type)
            except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
                return self._refuse(400, f"bad OTLP request: {exc}"[:300])
            try:
                rejected = receiver.stager.submit(rows).result(timeout=60) if rows else 0
            except Exception as exc:  # noqa: BLE001 — nothing acknowledged; the exporter retries on 503
                return self._refuse(503, f"could not store the spans: {exc}"[:300])
            self._reply(200, *_success(content_type, rejected, options.max_spans_per_trace))
            return None

    return Handler


def _success(content_type: str, rejected: int, limit: int) -> tuple[bytes, str]:
    """The ExportTraceServiceResponse, with a partial success when spans over the per-trace limit were dropped."""
    message = f"spans over the limit of {limit:,} per trace were rejected" if rejected else ""
    if content_type == JSON:
        body = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}} if rejected else {}
        return orjson.dumps(body), JSON
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response.SerializeToString(), PROTOBUF


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
