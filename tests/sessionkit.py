"""Compact builders for sessions in evaluator tests."""

from __future__ import annotations

from typing import Any

from cstui.config import Config
from cstui.evaluators import registry
from cstui.evaluators.base import KBIndex, RunContext
from cstui.models import KBArticle, Session


def turn(role: str, text: str, **kw: Any) -> dict:
    return {"role": role, "text": text, **kw}


def C(text: str) -> dict:  # noqa: N802
    return turn("customer", text)


def A(text: str, **kw: Any) -> dict:  # noqa: N802
    return turn("assistant", text, **kw)


def tool(name: str, turn_index: int, status: str = "ok", span_id: str | None = None, **attrs: Any) -> dict:
    return {"span_id": span_id or f"{name}-{turn_index}-{status}-{len(attrs)}-{id(attrs)}", "kind": "tool",
            "name": name, "turn_index": turn_index, "status": status, "attributes": attrs}


def session(*turns: dict, spans: list | None = None, **kw: Any) -> Session:
    return Session.model_validate({"session_id": "T-1", "turns": list(turns), "spans": spans or [], **kw})


KB = KBIndex.build([KBArticle.model_validate(a) for a in [
    {"id": "KB-1", "revision": 1, "status": "deprecated", "body": "We send a 6-digit code by SMS text message to "
     "your phone each time you sign in to your account."},
    {"id": "KB-1", "revision": 2, "status": "current", "body": "Use an authenticator app: open Settings, scan "
     "the QR code and enter the code."},
    {"id": "KB-2", "revision": 1, "status": "current", "body": "Refunds within 30 days; paid back in 5-7 business "
     "days. Add-ons cost $5 per month."},
    {"id": "KB-9", "revision": 1, "status": "deleted", "body": "Loyalty points give a 10% discount."},
]])


def judge(evaluator_id: str, s: Session, kb: KBIndex = KB, cfg: Config | None = None):
    """Run one evaluator; returns its Verdict (passed None when not applicable)."""
    return registry.get(evaluator_id).evaluate(s, RunContext(kb=kb, cfg=cfg or Config()))
