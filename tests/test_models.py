import json

import pytest
from pydantic import ValidationError

from cstui.demo import sample_file
from cstui.models import KBArticle, Session, first_escalation_turn

MINIMAL = {"session_id": "S-1", "turns": [{"role": "customer", "text": "hi"}]}


def test_minimal_session_only_needs_id_and_turns():
    s = Session.model_validate(MINIMAL)
    assert s.session_id == "S-1" and s.turns[0].role == "customer"
    assert s.spans == [] and s.outcome.correct is None


def test_unknown_keys_are_kept_at_every_level():
    data = {**MINIMAL, "custom": {"a": 1},
            "turns": [{"role": "assistant", "text": "x", "model_note": "kept"}],
            "spans": [{"span_id": "a", "kind": "tool", "vendor_field": 7}],
            "outcome": {"correct": True, "csat_team": "blue"}}
    s = Session.model_validate(data)
    dumped = s.model_dump(by_alias=True)
    assert dumped["custom"] == {"a": 1}
    assert dumped["turns"][0]["model_note"] == "kept"
    assert dumped["spans"][0]["vendor_field"] == 7
    assert dumped["outcome"]["csat_team"] == "blue"


@pytest.mark.parametrize("bad", [
    {"turns": [{"role": "customer", "text": "hi"}]},                     # no id
    {"session_id": "S-1", "turns": []},                                  # no turns
    {"session_id": "S-1", "turns": [{"role": "robot", "text": "x"}]},    # unknown role
    {"session_id": "S-1", "turns": [{"role": "customer"}], "tier": 7},   # tier out of range
    {"session_id": "S-1", "turns": [{"role": "customer"}], "spans": [{"span_id": "x", "kind": "magic"}]},
    {**MINIMAL, "schema": "cstui.session/v9"},
    {"session_id": "  ", "turns": [{"role": "customer"}]},
])
def test_invalid_sessions_are_rejected(bad):
    with pytest.raises(ValidationError):
        Session.model_validate(bad)


def test_out_of_range_confidence_is_accepted_for_evaluators_to_judge():
    s = Session.model_validate({"session_id": "S", "turns": [{"role": "assistant", "text": "x", "confidence": 1.7}]})
    assert s.last_assistant_confidence() == 1.7


def test_every_demo_session_and_kb_line_validates():
    for name in ("baseline.jsonl", "candidate.jsonl"):
        for line in sample_file(name).read_text().splitlines():
            Session.model_validate(json.loads(line))
    for line in sample_file("kb.jsonl").read_text().splitlines():
        KBArticle.model_validate(json.loads(line))


def test_escalation_detected_from_span_tool_or_outcome():
    base = {"session_id": "S", "turns": [{"role": "customer", "text": "a"}, {"role": "assistant", "text": "b"},
                                         {"role": "customer", "text": "c"}]}
    tools = ("transfer", "escalat")
    assert first_escalation_turn(Session.model_validate(base), tools) is None
    span = {**base, "spans": [{"span_id": "e", "kind": "escalation", "turn_index": 1}]}
    assert first_escalation_turn(Session.model_validate(span), tools) == 1
    tool = {**base, "spans": [{"span_id": "t", "kind": "tool", "name": "transfer_to_human_agents",
                               "status": "ok", "turn_index": 1}]}
    assert first_escalation_turn(Session.model_validate(tool), tools) == 1
    failed = {**base, "spans": [{"span_id": "t", "kind": "tool", "name": "transfer_to_human_agents",
                                 "status": "error", "turn_index": 1}]}
    assert first_escalation_turn(Session.model_validate(failed), tools) is None
    flagged = {**base, "outcome": {"escalated": True}}
    assert first_escalation_turn(Session.model_validate(flagged), tools) == 2
