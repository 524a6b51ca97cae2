"""`cstui serve --otlp` throughput: spans received over OTLP/HTTP and committed to the database, against the same
spans written by raw `sqlite3.executemany`, measured in one run.

    python bench/bench_serve.py [--sessions 20000] [--connections 2]

The client side is prepared before the clock starts: every session is made into spans by the OpenTelemetry SDK
and encoded into protobuf request bodies of 512 spans (the BatchSpanProcessor's default batch), so the figure is
the receiver's: HTTP, decoding with the official protobuf definitions, conversion, the group commit, and the
200 that says the spans are durable. The receiver runs as a separate process pinned to two cores (when the
machine has them) and evaluates sessions as they close, as it would in production; the second figure is the time
until every session is imported and evaluated. The raw side writes the same span records (one row each) into a
bare table in one transaction. Target: >= 20,000 spans/s received and stored (Phoenix 20.26.1, measured on this
kind of machine: 124–185 spans/s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from table import raw_write_seconds, record  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TARGET = 20_000


def bodies_for(n_sessions: int) -> tuple[list[bytes], int, list]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from cstui.tools.otlp_send import emit

    base = [json.loads(line) for name in ("baseline.jsonl", "candidate.jsonl")
            for line in (SAMPLE / name).read_text().splitlines() if line.strip()]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    for i in range(n_sessions):
        doc = base[i % len(base)]
        emit(tracer, {**doc, "session_id": f"{doc['session_id']}-{i}"})
    spans = list(exporter.get_finished_spans())
    bodies = [encode_spans(spans[i:i + 512]).SerializeToString() for i in range(0, len(spans), 512)]
    return bodies, len(spans), spans


def post_all(port: int, bodies: list[bytes], connections: int) -> float:
    """Send every body over `connections` keep-alive connections; seconds until the last 200."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(str(response.status))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"receiver answered {errors[:3]}")
    return time.perf_counter() - t0


def raw_seconds(db: Path, spans: list) -> float:
    """The same staged rows, by raw executemany into the same table (one transaction)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from cstui.serve import PROTOBUF, staged_rows

    rows = []
    for i in range(0, len(spans), 512):
        body = encode_spans(spans[i:i + 512]).SerializeToString()
        rows += [(t, k, r, 0.0, rec, res) for t, k, r, rec, res in staged_rows(body, PROTOBUF)]
    from cstui.store import MIGRATIONS

    return raw_write_seconds(db, MIGRATIONS[14], [(
        "INSERT INTO otlp_staging (trace_id, session_key, is_root, received, record, resource) VALUES (?,?,?,?,?,?)",
        rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--connections", type=int, default=2)
    args = ap.parse_args()
    print(f"preparing {args.sessions:,} sessions as OTLP/protobuf requests …", flush=True)
    bodies, n_spans, spans = bodies_for(args.sessions)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "serve.db"
        cores = sorted(os.sched_getaffinity(0))[:2] if hasattr(os, "sched_getaffinity") else []
        pin = ["taskset", "-c", ",".join(map(str, cores))] if cores and os.path.exists("/usr/bin/taskset") else []
        proc = subprocess.Popen([*pin, sys.executable, "-m", "cstui", "serve", "--otlp", "--listen", "127.0.0.1:0",
                                 "--run", "bench", "--idle", "2", "--db", str(db), "--progress", "0"],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        first = proc.stdout.readline()
        port = int(first.split("127.0.0.1:")[1].split("/")[0])
        t0 = time.perf_counter()
        received = post_all(port, bodies, args.connections)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        while conn.execute("SELECT count(*) FROM otlp_staging").fetchone()[0] or conn.execute(
                "SELECT count(*) FROM sessions").fetchone()[0] < args.sessions:
            time.sleep(0.2)
        n_evaluated = 0
        while n_evaluated < args.sessions:
            n_evaluated = conn.execute("SELECT count(DISTINCT sid) FROM verdicts").fetchone()[0]
            time.sleep(0.2)
        end_to_end = time.perf_counter() - t0
        conn.close()
        proc.terminate()
        proc.wait(timeout=120)
        raw = raw_seconds(Path(tmp) / "raw.db", spans)
    rate, raw_rate = n_spans / received, n_spans / raw
    print(f"serve: {args.sessions:,} sessions / {n_spans:,} spans in {len(bodies):,} requests, "
          f"{args.connections} connections, receiver on {len(cores) or 'all'} cores")
    print(f"  received and stored (200 = durable)  {received:7.2f} s  {rate:10,.0f} spans/s  "
          f"(target >= {TARGET:,}) {'OK' if rate >= TARGET else 'MISSED'}")
    print(f"  imported and evaluated, end to end   {end_to_end:7.2f} s  {args.sessions / end_to_end:10,.0f} sessions/s")
    print(f"  raw executemany of the same spans    {raw:7.2f} s  {raw_rate:10,.0f} spans/s")
    print(f"  ratio serve/raw                      {rate / raw_rate:7.2f}")
    record("OTLP/HTTP receive-and-store", round(rate), "spans/s", f">= {TARGET:,}", rate >= TARGET,
           f"{n_spans:,} spans; raw executemany {raw_rate:,.0f}/s; end to end {args.sessions / end_to_end:,.0f} sessions/s")


if __name__ == "__main__":
    main()
