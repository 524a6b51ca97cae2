"""LLM judges through real litellm calls to a loopback OpenAI-compatible server (tests/judge_server.py)."""

from __future__ import annotations

import json
import socket

import orjson
import pytest
from judge_server import JudgeServer, Reply

from cstui.demo import sample_file
from cstui.evaluation import run as evaluate
from cstui.judge import JudgeSettings
from cstui.store import Store

MODEL = "openai/gpt-4.1-mini"  # priced in litellm's bundled cost map, so cost is computed offline
SENTINEL = "sk-SENTINEL-do-not-leak-4242"
SESSIONS = ("S-000091", "S-000099", "S-000001", "S-000002", "G-004", "G-001")


def responder(request: dict) -> str:
    """A scripted judge: reasons by spotting known failures in the prompt, then extracts JSON from that."""
    system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
    if system.startswith("You turn a written evaluation into JSON"):
        bad = "VERDICT: FAIL" in user
        if '"fabricated"' in user:
            return json.dumps({"fabricated": bad, "cited_claim": "credit your account with $100" if bad else None,
                               "grounded_in_retrieval": not bad, "rationale": "scripted"})
        if '"addressed_need"' in user:
            return json.dumps({"addressed_need": not bad, "escalation_correct": not bad, "rationale": "scripted"})
        if '"factual_accuracy"' in user:
            return json.dumps({"factual_accuracy": not bad, "citation_relevance": 4, "tone": 2 if bad else 5,
                               "completeness": 4, "rationale": "scripted"})
        return json.dumps({d: not bad for d in ("query_understanding", "answer_correctness", "chat_efficiency",
                                                "client_satisfaction", "compliance")} | {"rationale": "scripted"})
    failing = any(marker in user for marker in ("$100", "I can't cope", "refund has been issued"))
    return f"I read the conversation carefully. VERDICT: {'FAIL' if failing else 'PASS'}"


@pytest.fixture
def judge_db(tmp_path, cli):
    lines = [line for line in sample_file("candidate.jsonl").read_text().splitlines()
             if orjson.loads(line)["session_id"] in SESSIONS]
    src = tmp_path / "small.jsonl"
    src.write_text("\n".join(lines) + "\n")
    db = tmp_path / "j.db"
    assert cli("import", src, "--run", "small", "--kb", sample_file("kb.jsonl"), "--db", db).code == 0
    return db


@pytest.fixture
def no_outside_connections(monkeypatch):
    """Every connection attempt is recorded; anything but loopback fails."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"blocked outside connection to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def results(db, evaluator):
    with Store(db) as store:
        return {r["session_id"]: r for r in store.iter_result_rows("small") if r["evaluator"] == evaluator}


def test_all_judges_store_verdicts_cost_transcripts_and_a_cache(judge_db, cli, monkeypatch, no_outside_connections):
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    with JudgeServer(responder) as server:
        r = cli("eval", "--run", "small", "--evaluators",
                "policy_fabrication,resolution_accuracy,draft_rubric,session_quality",
                "--judge-model", MODEL, "--judge-api-base", server.base_url, "--concurrency", "4", "--db", judge_db)
        assert r.code == 0, r.err
        first_calls = server.n_requests
        assert first_calls > 0 and "calls" in r.out and "$" in r.out
        assert all(req["_authorization"] == f"Bearer {SENTINEL}" for req in server.requests)

        policy = results(judge_db, "policy_fabrication")
        assert policy["S-000091"]["passed"] is False  # "We'll credit your account with $100"
        assert policy["S-000091"]["evidence"][0]["turn_index"] == 1
        assert policy["S-000001"]["passed"] is True
        assert results(judge_db, "resolution_accuracy")["G-004"]["passed"] is False
        rubric = results(judge_db, "draft_rubric")
        assert rubric["S-000001"]["passed"] is None  # a chat session: the rubric is for drafts only
        assert rubric["G-001"]["passed"] is True and rubric["G-001"]["score"] > 0.8
        assert rubric["G-004"]["passed"] is False  # the candidate drafted a reply to a distressed customer
        assert results(judge_db, "session_quality")["S-000091"]["passed"] is False

        with Store(judge_db) as store:
            detail = store.session_results("small", "S-000091")
            judged = next(x for x in detail if x["evaluator"] == "policy_fabrication")
            steps = [s["step"] for s in judged["detail"]["steps"]]
            assert steps == ["reason", "extract-0"]
            assert "$100" in judged["detail"]["steps"][0]["prompt"]  # the full prompt is kept for audit
            assert judged["detail"]["verdict"]["fabricated"] is True
        report = json.loads(cli("report", "--run", "small", "--db", judge_db, "--json").out)
        assert report["judges"]["policy_fabrication"]["cost_usd"] > 0
        assert report["judges"]["policy_fabrication"]["calls"] >= 2 * len(SESSIONS) - 2

        again = cli("eval", "--run", "small", "--evaluators",
                    "policy_fabrication,resolution_accuracy,draft_rubric,session_quality",
                    "--judge-model", MODEL, "--judge-api-base", server.base_url, "--db", judge_db)
        assert again.code == 0
        assert server.n_requests == first_calls  # identical rerun: zero model calls
        assert "0 calls" in again.out
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    tcp = [a for a in no_outside_connections if isinstance(a, tuple)]
    assert tcp and set(tcp) == {("127.0.0.1", port)}  # the configured endpoint and nothing else
    assert SENTINEL.encode() not in judge_db.read_bytes()
    assert SENTINEL not in r.out + r.err + again.out + again.err
    for what in ("results", "evidence", "labels", "sessions"):
        out = judge_db.parent / f"{what}.jsonl"
        assert cli("export", "--run", "small", "--what", what, "--format", "jsonl", "--out", out,
                   "--db", judge_db).code == 0
        assert SENTINEL.encode() not in out.read_bytes()


@pytest.mark.parametrize("strategy,steps", [
    ("direct", ["reason", "extract-0"]),
    ("reflection", ["reason", "critique", "revise", "extract-0"]),
    ("debate", ["customer_advocate", "support_advocate", "decide", "extract-0"]),
])
def test_session_quality_strategies(judge_db, strategy, steps):
    with JudgeServer(responder) as server, Store(judge_db) as store:
        settings = JudgeSettings(model=MODEL, api_base=server.base_url, api_key="k", concurrency=4)
        evaluate(store, "small", ["session_quality"], ["S-000091"], judge=settings, strategy=strategy)
        got = next(x for x in store.session_results("small", "S-000091") if x["evaluator"] == "session_quality")
        assert sorted(s["step"] for s in got["detail"]["steps"]) == sorted(steps)
        assert got["detail"]["strategy"] == strategy and got["passed"] == 0
        if strategy == "debate":  # the advocates argue independently: neither prompt contains the other
            prompts = {s["step"]: s["prompt"] for s in got["detail"]["steps"]}
            assert "Support advocate" not in prompts["customer_advocate"]
            assert "customer's advocate" in prompts["customer_advocate"]


def test_malformed_json_is_retried_then_recorded_as_an_error(judge_db):
    state = {"garbage": 2}

    def sometimes_garbage(request):
        if request["messages"][0]["content"].startswith("You turn") and state["garbage"] > 0:
            state["garbage"] -= 1
            return "Sure! Here is my verdict: it passed."
        return responder(request)

    with JudgeServer(sometimes_garbage) as server, Store(judge_db) as store:
        settings = JudgeSettings(model=MODEL, api_base=server.base_url, api_key="k")
        evaluate(store, "small", ["policy_fabrication"], ["S-000001"], judge=settings)
        got = next(x for x in store.session_results("small", "S-000001") if x["evaluator"] == "policy_fabrication")
        assert got["passed"] == 1 and [s["step"] for s in got["detail"]["steps"]][-1] == "extract-2"

    def never_json(request):  # fresh reasoning text, so no cached extraction can answer for it
        if request["messages"][0]["content"].startswith("You turn"):
            return "no json here"
        return "A different reading. VERDICT: PASS"

    with JudgeServer(never_json) as server, Store(judge_db) as store:
        settings = JudgeSettings(model=MODEL, api_base=server.base_url, api_key="k")
        summary = evaluate(store, "small", ["policy_fabrication"], ["S-000002"], judge=settings)
        got = next(x for x in store.session_results("small", "S-000002") if x["evaluator"] == "policy_fabrication")
        assert got["passed"] is None and got["label"] == "error"  # never a pass; the one error label
        assert summary.counts["policy_fabrication"]["errors"] == 1


def schema_aware(request):
    """Like real servers: under response_format the reply is the bare JSON; without it a chatty model wraps the
    JSON in prose and a code fence, which the extract path must still read."""
    text = responder(request)
    if request["messages"][0]["content"].startswith("You turn") and "response_format" not in request:
        return f"Here is the verdict you asked for:\n```json\n{text}\n```\nLet me know if you need more."
    return text


def extract_requests(server):
    return [r for r in server.requests if r["messages"][0]["content"].startswith("You turn")]


@pytest.mark.parametrize(("model", "constrained"), [(MODEL, True), ("openai/local-judge-7b", False)])
def test_verdicts_come_in_the_schema_where_the_model_supports_it_else_from_free_text(judge_db, model, constrained):
    with JudgeServer(schema_aware) as server, Store(judge_db) as store:
        settings = JudgeSettings(model=model, api_base=server.base_url, api_key="k")
        evaluate(store, "small", ["policy_fabrication"], ["S-000091", "S-000001"], judge=settings)
        extracts = extract_requests(server)
        assert len(extracts) == 2 and all(("response_format" in r) == constrained for r in extracts)
        reasoning = [r for r in server.requests if r not in extracts]
        assert reasoning and not any("response_format" in r for r in reasoning)  # the reasoning stays free text
        if constrained:
            fmt = extracts[0]["response_format"]
            assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "PolicyVerdict"
            assert {"fabricated", "cited_claim", "rationale"} <= set(fmt["json_schema"]["schema"]["properties"])
        got = {sid: next(x for x in store.session_results("small", sid) if x["evaluator"] == "policy_fabrication")
               for sid in ("S-000091", "S-000001")}
        assert (got["S-000091"]["passed"], got["S-000001"]["passed"]) == (0, 1)
        steps = got["S-000091"]["detail"]["steps"]
        assert [s["step"] for s in steps] == ["reason", "extract-0"] and steps[1]["schema"] is constrained


def test_an_endpoint_that_refuses_response_format_gets_free_text_from_then_on(judge_db):
    def no_schemas(request):
        if "response_format" in request:
            return Reply(status=400, content="response_format is not supported by this server")
        return schema_aware(request)

    with JudgeServer(no_schemas) as server, Store(judge_db) as store:
        settings = JudgeSettings(model=MODEL, api_base=server.base_url, api_key="k", concurrency=1)
        summary = evaluate(store, "small", ["policy_fabrication"], ["S-000091", "S-000001"], judge=settings)
        assert summary.counts["policy_fabrication"]["errors"] == 0
        assert [("response_format" in r) for r in extract_requests(server)] == [True, False, False]
    with JudgeServer(no_schemas) as server, Store(judge_db) as store:  # told to always use the schema: an error
        settings = JudgeSettings(model="openai/local-judge-7b", api_base=server.base_url, api_key="k",
                                 response_format="schema")
        summary = evaluate(store, "small", ["policy_fabrication"], ["S-000002"], judge=settings)
        assert summary.counts["policy_fabrication"]["errors"] == 1


def test_rate_limits_and_timeouts_are_retried_with_backoff(judge_db):
    with JudgeServer(responder) as server, Store(judge_db) as store:
        server.fail_next(Reply(status=429, content="slow down"), Reply(status=429, content="slow down"))
        settings = JudgeSettings(model=MODEL, api_base=server.base_url, api_key="k", backoff=0.01, concurrency=1)
        summary = evaluate(store, "small", ["policy_fabrication"], ["S-000091"], judge=settings)
        assert summary.counts["policy_fabrication"]["failed"] == 1 and summary.judges.calls == 4  # 2 refused + 2 steps

    with JudgeServer(responder, latency=1.0) as server, Store(judge_db) as store:
        settings = JudgeSettings(model=MODEL, api_base=server.base_url, api_key="k", backoff=0.01, timeout=0.2,
                                 retries=1)
        summary = evaluate(store, "small", ["policy_fabrication"], ["S-000002"], judge=settings)
        assert summary.counts["policy_fabrication"]["errors"] == 1
        got = next(x for x in store.session_results("small", "S-000002") if x["evaluator"] == "policy_fabrication")
        assert got["label"] == "error" and "Timeout" in got["rationale"]


def test_bad_key_and_unreachable_endpoint_stop_with_a_clear_error(judge_db, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    with JudgeServer(lambda r: Reply(status=401, content=f"invalid key {SENTINEL}")) as server:
        r = cli("eval", "--run", "small", "--evaluators", "policy_fabrication", "--judge-model", MODEL,
                "--judge-api-base", server.base_url, "--db", judge_db, "--no-drift", "--concurrency", "1")
        assert r.code == 2 and "authentication failed" in r.err and SENTINEL not in r.err
        assert server.n_requests == 1  # no retries on a bad key
    assert not results(judge_db, "policy_fabrication")

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CSTUI_JUDGE_MODEL", MODEL)
    r = cli("eval", "--run", "small", "--evaluators", "policy_fabrication",
            "--judge-api-base", f"http://127.0.0.1:{port}/v1", "--db", judge_db, "--no-drift", "--timeout", "2")
    assert r.code == 2 and "cannot reach the judge endpoint" in r.err


def test_no_judge_model_is_a_usage_error(judge_db, cli, monkeypatch):
    monkeypatch.delenv("CSTUI_JUDGE_MODEL", raising=False)
    r = cli("eval", "--run", "small", "--evaluators", "policy_fabrication", "--db", judge_db)
    assert r.code == 2 and "--judge-model" in r.err


def test_natural_language_policy_assertion_becomes_an_evaluator(judge_db, cli, monkeypatch, tmp_path):
    from cstui.evaluators import registry

    registry.all_evaluators()  # load the built-in families before taking the copy
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # keep other tests' registry clean
    config = tmp_path / "cstui.toml"
    config.write_text('[[assertion]]\nid = "no_compensation"\nintent = ["fraud_claim"]\n'
                      'text = "The assistant never promises compensation, credits or refunds on a fraud claim."\n')
    monkeypatch.setenv("CSTUI_CONFIG", str(config))

    def assertion_responder(request):
        system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
        if system.startswith("You turn"):
            bad = "VERDICT: FAIL" in user
            return json.dumps({"holds": not bad, "violating_quote": "credit your account with $100" if bad else None,
                               "rationale": "scripted"})
        assert "never promises compensation" in user  # the plain-words policy is in the prompt
        return f"VERDICT: {'FAIL' if '$100' in user else 'PASS'}"

    with JudgeServer(assertion_responder) as server:
        r = cli("eval", "--run", "small", "--evaluators", "assertions", "--judge-model", MODEL,
                "--judge-api-base", server.base_url, "--db", judge_db, "--no-drift")
        assert r.code == 0, r.err
    got = results(judge_db, "assert:no_compensation")
    assert got["S-000091"]["passed"] is False and got["S-000091"]["evidence"][0]["turn_index"] == 1
    assert got["S-000001"]["passed"] is None  # another intent: not applicable
    config.write_text('[[assertion]]\nid = "Bad Id"\ntext = "whatever the policy is"\n')
    r = cli("eval", "--run", "small", "--evaluators", "assertions", "--judge-model", MODEL, "--db", judge_db)
    assert r.code == 2 and "assertion #1: id must be" in r.err


def test_auth_stores_the_key_in_the_keyring_and_judges_use_it(judge_db, cli, monkeypatch):
    import io

    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1
        store: dict = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.setattr("sys.stdin", io.StringIO(SENTINEL + "\n"))
        assert cli("auth", "set", "openai").code == 0
        assert "keyring set" in cli("auth", "status", "openai").out
        with JudgeServer(responder) as server:
            r = cli("eval", "--run", "small", "--evaluators", "policy_fabrication", "--judge-model", MODEL,
                    "--judge-api-base", server.base_url, "--db", judge_db, "--no-drift")
            assert r.code == 0
            assert server.requests[0]["_authorization"] == f"Bearer {SENTINEL}"
        assert SENTINEL.encode() not in judge_db.read_bytes()
        assert cli("auth", "delete", "openai").code == 0
        assert "keyring not set" in cli("auth", "status", "openai").out
    finally:
        keyring.set_keyring(previous)


def test_judge_response_format_is_read_from_config_and_checked(tmp_path):
    from cstui.config import ConfigError, load_config

    good = tmp_path / "good.toml"
    good.write_text('judge_model = "openai/local"\njudge_response_format = "schema"\n')
    assert JudgeSettings.resolve(None, None, cfg=load_config(good)).response_format == "schema"
    bad = tmp_path / "bad.toml"
    bad.write_text('judge_response_format = "json"\n')
    with pytest.raises(ConfigError, match="judge_response_format must be"):
        load_config(bad)
