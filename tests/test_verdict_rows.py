"""The process pool stores a deterministic verdict without building its result model; the row must be the one the
model would have given, on real sessions and on what a plug-in may return (dict evidence, integer scores)."""

from __future__ import annotations

from cstui.config import Config
from cstui.demo import sample_file
from cstui.evaluators import registry
from cstui.evaluators.base import Evaluator, RunContext, Verdict
from cstui.models import Session
from cstui.store import result_row
from cstui.store.results import verdict_row


def same(fast: tuple, slow: tuple) -> bool:
    """Equal values of equal types (3 == 3.0 in Python, but a row is compared as what it stores)."""
    return fast == slow and [type(v) for v in fast] == [type(v) for v in slow]


def test_rows_without_the_model_equal_rows_from_it_on_the_demo() -> None:
    ctx = RunContext(cfg=Config())
    sessions = [Session.model_validate_json(line) for line in sample_file("candidate.jsonl").read_text().splitlines()]
    compared = set()
    for ev in registry.all_evaluators("deterministic"):
        for sid, session in enumerate(sessions):
            fast = verdict_row(sid, ev.id, ev.version, ev.outcome(session, ctx))
            assert same(fast, result_row(sid, ev.evaluate(session, ctx)))
            compared.add(fast[3])
    assert compared == {0, 1, None}  # failing, passing and not-applicable verdicts all compared


class DictEvidence(Evaluator):
    id = "dict_evidence"
    dimension = "compliance"

    def check(self, session, ctx):
        return Verdict(False, "flagged", [{"turn_index": 0, "snippet": "hi"}], score=2)


class Broken(Evaluator):
    id = "broken"
    dimension = "compliance"

    def check(self, session, ctx):
        raise ValueError("boom")


def test_a_plugins_dict_evidence_and_integer_score_are_stored_as_the_model_would() -> None:
    session = Session.model_validate({"session_id": "s", "turns": [{"role": "customer", "text": "hi"}]})
    ctx = RunContext(cfg=Config())
    for ev in (DictEvidence(), Broken()):
        fast = verdict_row(7, ev.id, ev.version, ev.outcome(session, ctx))
        assert same(fast, result_row(7, ev.evaluate(session, ctx)))
    row = verdict_row(7, "dict_evidence", "1", DictEvidence().outcome(session, ctx))
    assert row[3] == 0 and row[4] == 2.0 and isinstance(row[4], float)
    assert row[7] == '[{"turn_index":0,"snippet":"hi"}]'
    broken = verdict_row(7, "broken", "1", Broken().outcome(session, ctx))
    assert broken[3] is None and broken[5] == "error" and "ValueError: boom" in broken[6]
