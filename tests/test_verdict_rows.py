"""A verdict reaches the store in one shape whoever made it: a built-in check, a plug-in that returns dict evidence
and an integer score, an evaluator that raised, an LLM judge with its transcript."""

from __future__ import annotations

import orjson

from cstui.config import Config
from cstui.demo import sample_file
from cstui.evaluators import registry
from cstui.evaluators.base import Evaluator, RunContext, Verdict
from cstui.models import Evidence, Session
from cstui.store import VerdictRow, verdict_row


def test_every_built_in_evaluator_gives_rows_of_the_stored_types_on_the_demo() -> None:
    ctx = RunContext(cfg=Config())
    sessions = [Session.model_validate_json(line) for line in sample_file("candidate.jsonl").read_text().splitlines()]
    seen = set()
    for ev in registry.all_evaluators("deterministic"):
        for sid, session in enumerate(sessions):
            verdict = ev.evaluate(session, ctx)
            row = verdict_row(sid, ev.id, ev.version, verdict)
            assert isinstance(row, VerdictRow) and row.evaluator == ev.id and row.sid == sid
            assert row.passed in (0, 1, None) and (row.score is None or type(row.score) is float)
            evidence = [Evidence.model_validate(e) for e in orjson.loads(row.evidence)]
            assert evidence == verdict.evidence  # nothing lost on the way to the store
            seen.add(row.passed)
    assert seen == {0, 1, None}  # failing, passing and not-applicable verdicts all made


class DictEvidence(Evaluator):
    id = "dict_evidence"
    dimension = "compliance"

    def check(self, session, ctx):
        return Verdict(False, "flagged", [{"turn_index": "0", "snippet": "hi"}], score=2)


class Broken(Evaluator):
    id = "broken"
    dimension = "compliance"

    def check(self, session, ctx):
        raise ValueError("boom")


def test_a_plugins_dict_evidence_integer_score_and_exception_are_stored_as_verdicts() -> None:
    session = Session.model_validate({"session_id": "s", "turns": [{"role": "customer", "text": "hi"}]})
    ctx = RunContext(cfg=Config())
    row = verdict_row(7, "dict_evidence", "1", DictEvidence().evaluate(session, ctx))
    assert row.passed == 0 and row.score == 2.0 and type(row.score) is float
    assert row.evidence == '[{"turn_index":0,"snippet":"hi"}]'  # read as Evidence: the index is a number
    broken = verdict_row(7, "broken", "1", Broken().evaluate(session, ctx))
    assert broken.passed is None and broken.label == "error" and "ValueError: boom" in broken.rationale


def test_a_judges_transcript_travels_as_the_rows_detail() -> None:
    row = verdict_row(3, "policy_claims", "2", Verdict(True, "ok", detail={"model": "m", "steps": [{"step": "reason"}]}))
    assert orjson.loads(row.detail) == {"model": "m", "steps": [{"step": "reason"}]}
    assert verdict_row(3, "x", "1", Verdict(True, "ok")).detail is None
