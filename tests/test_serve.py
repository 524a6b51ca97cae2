"""`cstui serve --otlp`, run as a user runs it: a real process on a free loopback port, fed by the OpenTelemetry
SDK's own OTLP/HTTP exporter (or by hand-made requests where the test must know exactly what was acknowledged),
read back from the real SQLite file."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cstui.serve import record_of
from cstui.store import Store
from cstui.tools.otlp_send import emit, send

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def sessions(name: str) -> list[dict]:
    return [json.loads(line) for line in (SAMPLE / name).read_text().splitlines() if line.strip()]


class Receiver:
    """`cstui serve --otlp` in its own process; `port` from the line it prints."""

    def __init__(self, db: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "cstui", "serve", "--otlp", "--listen", "127.0.0.1:0",
                                      "--db", str(db), "--progress", "0.5", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        first = self.proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first + self.proc.stderr.read()
        self.port = int(first.split("127.0.0.1:")[1].split("/")[0])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def post(self, body: bytes, content_type: str = "application/x-protobuf", **headers: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": content_type, **headers})
        response = conn.getresponse()
        out = response.status, response.read()
        conn.close()
        return out

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        time.sleep(0.1)
        return "\n".join(self.lines)


def wait_for(predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out")


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def spans_of(docs: list[dict]) -> list:
    """The SDK's finished spans for these sessions (a tracer writing into memory)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for doc in docs:
        emit(tracer, doc)
    return list(exporter.get_finished_spans())


def test_two_thousand_sessions_from_the_sdk_exporter_are_stored_and_evaluated(tmp_path):
    base = sessions("baseline.jsonl") + [{**d, "session_id": "C" + d["session_id"]} for d in sessions("candidate.jsonl")]
    docs = [{**doc, "session_id": f"{doc['session_id']}-{k}"} for k in range(4) for doc in base][:2000]
    db = tmp_path / "live.db"
    receiver = Receiver(db, "--run", "live", "--idle", "1")
    try:
        n_spans = send(docs, receiver.url)
        wait_for(lambda: count(db, "SELECT count(*) FROM sessions WHERE run = 'live'") == 2000)
        wait_for(lambda: count(db, "SELECT count(DISTINCT v.sid) FROM verdicts v") == 2000)
    finally:
        out = receiver.stop()
    assert f"received {n_spans:,} spans" in out and "2,000 sessions imported" in out
    with Store(db, mode="read") as store:
        assert store.n_staged() == 0
        one = store.session("live", "S-000001-0")
        original = next(d for d in docs if d["session_id"] == "S-000001-0")
        assert [t.text for t in one.turns] == [t["text"] for t in original["turns"]]
        assert {s.kind for s in one.spans} >= {"tool", "retrieval", "llm"}
        assert one.started_at is not None
        verdicts = {(e, p) for _, _, e, p, _ in store.verdict_rows("live", ["CS-000091-1"])}
        assert ("authorization_fabrication", True) in verdicts or ("policy_grounding", False) in verdicts
        assert store.run("live")["source_format"] == "otlp"


def test_a_killed_receiver_loses_no_span_it_acknowledged(tmp_path):
    docs = [{**doc, "session_id": f"{doc['session_id']}-{k}"} for k in range(2) for doc in sessions("candidate.jsonl")]
    spans = spans_of(docs)
    by_trace: dict[int, list] = {}
    for span in spans:
        by_trace.setdefault(span.context.trace_id, []).append(span)
    traces = list(by_trace.values())
    bodies = [(encode_spans([s for t in traces[i:i + 10] for s in t]).SerializeToString(),
               {f"{s.context.span_id:016x}" for t in traces[i:i + 10] for s in t}) for i in range(0, len(traces), 10)]
    db = tmp_path / "kill.db"
    receiver = Receiver(db, "--run", "live", "--idle", "0.3")
    acked: set[str] = set()

    def stream() -> None:
        for body, ids in bodies:
            try:
                status, _ = receiver.post(body)
            except OSError:
                return  # killed
            if status == 200:
                acked.update(ids)
            time.sleep(0.02)

    sender = threading.Thread(target=stream)
    sender.start()
    wait_for(lambda: count(db, "SELECT count(*) FROM sessions") > 0)  # importing and receiving at once
    receiver.proc.send_signal(signal.SIGKILL)
    receiver.proc.wait()
    sender.join()
    assert len(acked) > 100
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    staged = {record_of(r, res)["context"]["span_id"]
              for r, res in conn.execute("SELECT record, resource FROM otlp_staging")}
    stored = {s for (s,) in conn.execute("SELECT span_id FROM spans")}
    conn.close()
    assert stored and len(acked) < sum(len(ids) for _, ids in bodies)  # killed mid-stream, after imports began
    assert acked <= staged | stored, f"{len(acked - staged - stored)} acknowledged spans lost"
    assert not staged & stored
    # started again on the same file, it finishes what the killed one acknowledged
    again = Receiver(db, "--run", "live", "--idle", "0.3")
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM otlp_staging") == 0)
    finally:
        again.stop()
    conn = sqlite3.connect(db)
    assert acked <= {s for (s,) in conn.execute("SELECT span_id FROM spans")}
    conn.close()


def test_a_non_loopback_address_without_a_token_is_refused_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cstui", "serve", "--otlp", "--listen", "0.0.0.0:0", "--run", "x",
                        "--db", str(tmp_path / "x.db")], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "CSTUI_SERVE_TOKEN": ""})
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "needs --token" in r.stderr
    assert not (tmp_path / "x.db").exists()


def test_token_size_type_and_encoding_are_checked_and_the_receiver_stays_up(tmp_path):
    doc = sessions("baseline.jsonl")[0]
    body = encode_spans(spans_of([doc])).SerializeToString()
    receiver = Receiver(tmp_path / "t.db", "--run", "live", "--token", "s3cret", "--max-body", "200000",
                        "--idle", "0.2")
    try:
        assert receiver.post(body)[0] == 401
        assert receiver.post(body, Authorization="Bearer wrong")[0] == 401
        auth = {"Authorization": "Bearer s3cret"}
        assert receiver.post(b"\x0a\xff\xff\xff", **auth)[0] == 400  # not an ExportTraceServiceRequest
        assert receiver.post(body, "text/plain", **auth)[0] == 415
        assert receiver.post(b"x" * 200_001, **auth)[0] == 413
        bomb = gzip.compress(b"\0" * 5_000_000)  # small on the wire, over the limit once inflated
        assert receiver.post(bomb, **{**auth, "Content-Encoding": "gzip"})[0] == 413
        assert receiver.post(b"not gzip", **{**auth, "Content-Encoding": "gzip"})[0] == 400
        assert receiver.post(b'{"resourceSpans": 3}', "application/json", **auth)[0] == 400
        status, answer = receiver.post(gzip.compress(body), **{**auth, "Content-Encoding": "gzip"})
        assert status == 200 and answer == b""  # an ExportTraceServiceResponse with nothing rejected
        wait_for(lambda: count(tmp_path / "t.db", "SELECT count(*) FROM sessions") == 1)
    finally:
        receiver.stop()


def test_otlp_json_bodies_and_the_per_trace_span_limit(tmp_path):
    from google.protobuf.json_format import MessageToDict

    docs = sessions("baseline.jsonl")[:3]
    request = encode_spans(spans_of(docs))
    body = json.dumps(MessageToDict(request)).encode()  # protobuf's JSON mapping: ids in base64
    receiver = Receiver(tmp_path / "j.db", "--run", "live", "--max-spans-per-trace", "3", "--idle", "0.2")
    try:
        status, answer = receiver.post(body, "application/json")
        assert status == 200
        rejected = int(json.loads(answer)["partialSuccess"]["rejectedSpans"])
        assert rejected == len(request.resource_spans[0].scope_spans[0].spans) - 3 * 3
        wait_for(lambda: count(tmp_path / "j.db", "SELECT count(*) FROM sessions") == 3)
    finally:
        out = receiver.stop()
    assert f"{rejected:,} spans rejected" in out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/x-protobuf", "application/json"]))
def test_random_bodies_never_break_the_receiver(hostile_receiver, body, content_type):
    status, _ = hostile_receiver.post(body, content_type)
    assert status in (200, 400)
    assert hostile_receiver.proc.poll() is None


@pytest.fixture(scope="module")
def hostile_receiver(tmp_path_factory):
    receiver = Receiver(tmp_path_factory.mktemp("fuzz") / "f.db", "--run", "live", "--idle", "0.2")
    yield receiver
    receiver.stop()


def in_hour(docs: list[dict], hour: str, prefix: str) -> list[dict]:
    """The sessions as if they started within `hour` (turn times dropped: they follow the start a second apart)."""
    return [{**d, "session_id": prefix + d["session_id"], "started_at": f"{hour}:{i % 60:02d}:00Z",
             "turns": [{k: v for k, v in t.items() if k != "at"} for t in d["turns"]]} for i, d in enumerate(docs)]


async def test_a_seeded_regression_in_the_stream_raises_a_drift_alert_the_dashboard_shows(tmp_path):
    from tuikit import settle

    from cstui.app import create_app

    clean = sessions("baseline.jsonl")[:100]
    candidate = sessions("candidate.jsonl")
    regressed = [d for d in candidate if d.get("demo_regression")]
    later = regressed + [d for d in candidate if not d.get("demo_regression")][:100 - len(regressed)]
    db = tmp_path / "drift.db"
    receiver = Receiver(db, "--run", "live", "--idle", "0.3")
    try:
        send(in_hour(clean, "2026-12-07T10", "a-"), receiver.url)
        wait_for(lambda: count(db, "SELECT count(DISTINCT sid) FROM verdicts") == 100)
        assert not any("ALERT" in line for line in receiver.lines)  # one window: nothing to compare with
        send(in_hour(later, "2026-12-07T11", "b-"), receiver.url)
        alert = wait_for(lambda: next((line for line in receiver.lines if line.startswith("ALERT drift")), None), 60)
    finally:
        receiver.stop()
    assert "2026-12-07 11:00 vs 2026-12-07 10:00" in alert
    gates = [line for line in receiver.lines if line.startswith("ALERT gate")]
    assert gates and all("window 2026-12-07 11:00" in line for line in gates), gates  # the clean hour broke none
    assert any("policy_claims.overall (blocking)" in line for line in gates), gates
    with Store(db, mode="read") as store:
        events = [e for e in store.drift_events("live") if e["scope"] == "window 2026-12-07 11:00"]
    assert events and all(e["current"] < e["previous"] for e in events)
    app = create_app(db, run="live")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        banner = str(app.screen.query_one("#banner").render())
    worst = min(events, key=lambda e: e["delta"])
    assert "drift alert" in banner and worst["metric"].removeprefix("pass_rate:") in banner
    assert "window 2026-12-07 11:00" in banner


def growing_run(tmp_path: Path, n: int) -> tuple[Path, Callable[[], None]]:
    """A database whose run "live" holds the demo candidate's first n sessions, evaluated, and a call that appends
    and evaluates the next n (what `cstui serve` does as sessions arrive)."""
    from cstui import evaluation
    from cstui.ingest import import_files

    lines = (SAMPLE / "candidate.jsonl").read_text().splitlines()
    db = tmp_path / "grow.db"

    def add(part: list[str], mode: str) -> None:
        path = tmp_path / f"part-{mode}.jsonl"
        path.write_text("\n".join(part) + "\n")
        with Store(db) as store:
            import_files(store, [path], "live", mode=mode)
            evaluation.run(store, "live", evaluation.resolve(None), processes=1)

    add(lines[:n], "create")
    return db, lambda: add(lines[n:2 * n], "append")


async def test_the_dashboard_follows_a_growing_run_without_losing_the_reviewers_place(tmp_path, monkeypatch):
    from textual.widgets import DataTable
    from tuikit import settle

    from cstui.app import create_app
    from cstui.screens import data

    monkeypatch.setattr(data, "LIVE_POLL", 0.2)
    db, add_more = growing_run(tmp_path, 60)
    app = create_app(db, run="live")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "60 sessions" in str(app.screen.query_one("#banner").render())
        gate = app.screen.query_one("#gate", DataTable)
        gate.move_cursor(row=3)
        add_more()  # what `cstui serve` does as sessions arrive
        await pilot.pause(1.0)
        await settle(pilot)
        assert "120 sessions" in str(app.screen.query_one("#banner").render())
        assert app.screen.query_one("#gate", DataTable).cursor_row == 3


async def test_the_failures_list_follows_a_growing_run_and_keeps_its_session_under_the_cursor(tmp_path, monkeypatch):
    """Sessions a receiver adds, and a label saved by another reviewer, reach an open failures list; the cursor stays
    on the session it was on. (Fails with the list's polling off: it read the run once.)"""
    from tuikit import settle

    from cstui.app import create_app
    from cstui.screens import data
    from cstui.widgets.failure_table import FailureTable

    monkeypatch.setattr(data, "LIVE_POLL", 0.2)
    db, add_more = growing_run(tmp_path, 120)
    app = create_app(db, run="live")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert type(app.screen).__name__ == "FailuresScreen"
        table = app.screen.query_one(FailureTable)
        before = list(table.shown_ids())
        assert len(before) >= 4
        table.cursor = 3
        here = table.current_session_id
        add_more()  # what `cstui serve` does as sessions arrive
        await pilot.pause(1.0)
        await settle(pilot)
        grown = list(table.shown_ids())
        assert len(grown) > len(before) and set(before) <= set(grown)
        assert table.current_session_id == here
        with Store(db) as store:  # another reviewer clears the first failing session's flags
            view = store.session_results("live", before[0])
            for r in view:
                if r["passed"] == 0:
                    store.add_label("live", {"session_id": before[0], "evaluator": r["evaluator"], "verdict": "pass"},
                                    reviewer="other")
        await pilot.pause(1.0)
        await settle(pilot)
        assert before[0] not in table.shown_ids() and table.current_session_id == here


def test_protobuf_bodies_read_as_their_json_mapping_does():
    """The receiver's protobuf reader against protobuf's own JSON mapping of the same request, read by the reader
    `cstui import --format otlp` uses."""
    from google.protobuf.json_format import MessageToDict

    from cstui.ingest import otlp

    request = encode_spans(spans_of(sessions("candidate.jsonl")[:40]))
    assert otlp.protobuf_span_records(request.SerializeToString()) == otlp.to_span_records(MessageToDict(request))


def test_a_window_is_held_to_a_gate_rule_as_cstui_gate_holds_a_run(tmp_path):
    """The receiver's per-window check decides with the gate's own rule: a rule that compares the Wilson lower bound
    breaks on 38 of 40 passing (point 95%, bound 83%), and a max rule breaks at its threshold, as `cstui gate` has it."""
    from cstui.gates import load_gates, rate_entry
    from cstui.live import Alerts, window_rules

    gates = tmp_path / "gates.toml"
    gates.write_text('[[rule]]\nname = "cautious"\nevaluators = ["pii_leak"]\nmin = 0.9\nuse = "wilson_lower"\n'
                     'on_fail = "block"\n\n[[rule]]\nname = "point"\nevaluators = ["pii_leak"]\nmin = 0.9\n'
                     'on_fail = "block"\n\n[[rule]]\nname = "at_most"\nevaluators = ["pii_leak"]\nmax = 0.95\n'
                     'on_fail = "warn"\n')
    alerts = Alerts(rules=window_rules(gates))
    alerts.observe([(f"s{i}", "2026-12-07T10:05:00", "pii_leak", i >= 2, {}) for i in range(40)])
    lines = alerts._window_gates("live")
    assert [line.split(": ")[1].split(" (")[0] for line in lines] == ["cautious", "at_most"], lines
    assert "(95% lower bound 83.5%)" in lines[0] and "at 95.0%" in lines[0] and "(38 of 40 sessions pass)" in lines[0]
    for rule in load_gates(gates).rules:  # the same decisions as the gate's
        assert (rate_entry(rule, 38, 40)["passed"] is False) == any(f": {rule.name} (" in line for line in lines)
    assert alerts._window_gates("live") == []  # each said once


def test_judges_named_on_the_command_line_judge_each_session_live_and_an_endpoint_that_fails_stops_nothing(
        tmp_path, monkeypatch):
    """`--judges` runs real litellm calls to a loopback server on every closed session; with the server gone the
    receiver keeps importing and evaluating, says once what was skipped, and `cstui eval` can judge those later."""
    from judge_server import JudgeServer

    def responder(request: dict) -> str:
        system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
        if system.startswith("You turn a written evaluation into JSON"):
            bad = "VERDICT: FAIL" in user
            return json.dumps({"fabricated": bad, "cited_claim": "credit your account" if bad else None,
                               "grounded_in_retrieval": not bad, "rationale": "scripted"})
        return f"Read it. VERDICT: {'FAIL' if '$100' in user else 'PASS'}"

    def judged(evaluator: str) -> int:
        return count(db, "SELECT count(DISTINCT v.sid) FROM verdicts v JOIN verdict_sets s ON s.id = v.vset"
                         f" WHERE s.evaluator = '{evaluator}'")

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")  # the receiver's environment, as a user's would be
    docs = sessions("candidate.jsonl")[:30]
    first, later = docs[:20], docs[20:]
    db = tmp_path / "judged.db"
    server = JudgeServer(responder).__enter__()
    try:
        receiver = Receiver(db, "--run", "live", "--idle", "1", "--judges", "policy_fabrication",
                            "--judge-model", "openai/gpt-4.1-mini", "--judge-api-base", server.base_url)
        try:
            send(first, receiver.url)
            wait_for(lambda: judged("policy_fabrication") == 20)
            assert server.requests  # real calls reached the loopback judge
            server.__exit__()  # the endpoint goes away
            send(later, receiver.url)
            wait_for(lambda: judged("pii_leak") == 30)  # every session still imported and evaluated
            wait_for(lambda: any("judges skipped on" in line for line in receiver.lines))
        finally:
            out = receiver.stop()
    finally:
        server.__exit__()
    assert receiver.proc.returncode == 0, out
    assert "judging each session with policy_fabrication (openai/gpt-4.1-mini)" in out
    skipped = [line for line in out.splitlines() if "judges skipped on" in line]
    assert len(skipped) == 1 and "cstui eval --run live --evaluators policy_fabrication" in skipped[0]
    assert judged("policy_fabrication") == 20  # the later sessions are left for `cstui eval`
    assert "sk-test-not-a-key" not in out
