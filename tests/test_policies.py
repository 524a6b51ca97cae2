"""Per-intent policy assertions: each kind fires where it must and not where it must not."""

from __future__ import annotations

import json

import pytest
from sessionkit import A, C, session, tool

from cstui.demo import sample_file
from cstui.evaluators.base import RunContext
from cstui.evaluators.policies import PolicyAssertionCheck, load_policies, validate


def check(spec, s):
    spec = {"intent": "refund_request", "name": "p", **spec}
    return PolicyAssertionCheck(spec).evaluate(s, RunContext())


REFUND = {"kind": "tool_before_claim", "claim": "refund[^\\n]{0,60}?(has been|was) (issued|processed)", "tool": "refund"}


def test_tool_before_claim():
    claim = A("Your refund of $49.00 has been processed.")
    assert check(REFUND, session(C("refund please"), claim, intent="refund_request")).passed is False
    ok = session(C("refund please"), claim, intent="refund_request", spans=[tool("issue_refund", 1)])
    assert check(REFUND, ok).passed is True
    failed_call = session(C("refund please"), claim, intent="refund_request", spans=[tool("issue_refund", 1, "error")])
    assert check(REFUND, failed_call).passed is False
    no_claim = session(C("refund please"), A("I can't process refunds; the billing team will."), intent="refund_request")
    assert check(REFUND, no_claim).passed is None
    other_intent = session(C("hi"), claim, intent="order_status")
    assert check(REFUND, other_intent).passed is None


def test_must_and_must_not_mention():
    must = {"kind": "must_mention", "pattern": "authenticator app"}
    assert check(must, session(C("2fa?"), A("Use an authenticator app."), intent="refund_request")).passed is True
    assert check(must, session(C("2fa?"), A("We text you a code."), intent="refund_request")).passed is False
    never = {"kind": "must_not_mention", "pattern": "you('| a)re entitled to"}
    bad = check(never, session(C("dispute"), A("Good news: you're entitled to a full refund."), intent="refund_request"))
    assert bad.passed is False and bad.evidence[0].turn_index == 1
    assert check(never, session(C("dispute"), A("The billing team decides."), intent="refund_request")).passed is True


def test_escalate_when_and_not_unless():
    legal = {"kind": "escalate_when", "trigger": "lawyer|legal action"}
    s = session(C("My lawyer will hear about this"), A("Sorry to hear that."), intent="refund_request")
    assert check(legal, s).passed is False
    escalated = session(C("My lawyer will hear about this"), A("Connecting you to a specialist."),
                        intent="refund_request", spans=[{"span_id": "e", "kind": "escalation", "turn_index": 1}])
    assert check(legal, escalated).passed is True
    assert check(legal, session(C("hello"), A("hi"), intent="refund_request")).passed is None
    unless = {"kind": "not_unless", "pattern": "card ending", "unless": "account.authenticated"}
    said = A("Your card ending 4242 was charged.")
    assert check(unless, session(C("?"), said, intent="refund_request", account={"authenticated": False})).passed is False
    assert check(unless, session(C("?"), said, intent="refund_request", account={"authenticated": True})).passed is True
    span_rule = {"kind": "not_unless", "pattern": "card ending", "unless": "span:guardrail.verified"}
    verified = session(C("?"), said, intent="refund_request",
                       spans=[{"span_id": "g", "kind": "guardrail", "turn_index": 1, "attributes": {"verified": True}}])
    assert check(span_rule, verified).passed is True


@pytest.mark.parametrize("spec,reason", [
    ({"kind": "nope", "name": "a", "intent": "x"}, "kind must be one of"),
    ({"kind": "must_mention", "name": "Bad Name", "intent": "x", "pattern": "a"}, "name must be"),
    ({"kind": "must_mention", "name": "a", "intent": "x"}, "needs pattern"),
    ({"kind": "must_mention", "name": "a", "intent": "x", "pattern": "("}, "not a valid regular expression"),
    ({"kind": "not_unless", "name": "a", "intent": "x", "pattern": "a", "unless": "whatever"}, "unless must be"),
])
def test_bad_policies_are_rejected(spec, reason):
    with pytest.raises(ValueError, match=None) as info:
        validate([spec])
    assert reason in str(info.value)


def test_demo_policies_feed_a_gate(demo_db, cli, tmp_path, monkeypatch):
    from cstui.evaluators import registry

    registry.all_evaluators()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # keep other tests' registry clean
    policies = sample_file("policies.toml")
    assert len(load_policies(policies)) == 5
    for run in ("baseline", "candidate"):
        assert cli("eval", "--run", run, "--policies", policies, "--evaluators", "policies", "--db", demo_db,
                   "--no-drift").code == 0
    gates = tmp_path / "gates.toml"
    gates.write_text('[[rule]]\nname = "refund_claims"\nevaluators = ["assert.refund_request.refund_claim_needs_refund_tool"]'
                     '\nmin = 1.0\n')
    base = json.loads(cli("gate", "--run", "baseline", "--config", gates, "--db", demo_db, "--json").out)
    cand = json.loads(cli("gate", "--run", "candidate", "--config", gates, "--db", demo_db, "--json").out)
    assert base["passed"] is True
    assert cand["passed"] is False
    assert set(cand["rules"][0]["failing_sessions"]) == {"S-000099", "S-000118", "S-000128", "G-003"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[[policy]]\nkind = "must_mention"\nname = "x"\nintent = "a"\n')
    r = cli("eval", "--run", "baseline", "--policies", bad, "--evaluators", "policies", "--db", demo_db)
    assert r.code == 2 and "needs pattern" in r.err and str(bad) in r.err
