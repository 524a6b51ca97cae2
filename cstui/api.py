"""The public API for writing evaluators (docs/evaluators.md, "Writing an evaluator").

    from cstui.api import Evidence, Verdict, evaluator

    @evaluator(id="mentions_competitor", dimension="compliance", version="1")
    def mentions_competitor(session, ctx):
        ...
        return Verdict(passed=True, rationale="no competitor named")   # or None: not applicable

Built-in evaluators use the same `Verdict`, `Evidence`, `Session` and `RunContext`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from cstui.evaluators.base import DIMENSIONS, Evaluator, NotApplicable, RunContext, Verdict
from cstui.models import Evidence, Session, Span, Turn

__all__ = ["Evidence", "NotApplicable", "RunContext", "Session", "Span", "Turn", "Verdict", "evaluator"]

Check = Callable[[Session, RunContext], "Verdict | None"]


class FunctionEvaluator(Evaluator):
    """An evaluator made from a function: returns a Verdict, or None when the session is not its business."""

    def __init__(self, fn: Check, *, id: str, dimension: str, version: str, description: str,
                 hallucination_category: str | None, source: str) -> None:
        self.fn = fn
        self.id = id
        self.dimension = dimension  # type: ignore[assignment]
        self.version = version
        self.description = description
        self.hallucination_category = hallucination_category
        self.source = source

    def check(self, session: Session, ctx: RunContext) -> Verdict:
        verdict = self.fn(session, ctx)
        if verdict is None:
            raise NotApplicable("the evaluator returned None")
        if not isinstance(verdict, Verdict):
            raise TypeError(f"{self.id} returned {type(verdict).__name__}, not a cstui.api.Verdict or None")
        return verdict


def evaluator(*, id: str, dimension: str, version: str = "1", description: str | None = None,
              hallucination_category: str | None = None) -> Callable[[Check], Check]:
    """Register `fn(session, ctx) -> Verdict | None` as an evaluator with a stable id.

    `dimension`: one of resolution, factual, calibration, adversarial, compliance, efficiency, safety.
    `description` defaults to the function's docstring; `hallucination_category` (e.g. "policy") makes its
    failures count in the report's hallucination table."""
    if not isinstance(id, str) or not id or any(c.isspace() for c in id):
        raise ValueError(f"evaluator id must be a non-empty word, not {id!r}")
    if dimension not in DIMENSIONS:
        raise ValueError(f"evaluator {id!r}: dimension must be one of {', '.join(DIMENSIONS)}, not {dimension!r}")

    def decorate(fn: Check) -> Check:
        from cstui.evaluators import registry

        module = inspect.getmodule(fn)
        source = getattr(module, "__cstui_plugin__", None) or getattr(module, "__name__", None) or "plugin"
        registry.add(FunctionEvaluator(fn, id=id, dimension=dimension, version=str(version),
                                       description=description or inspect.getdoc(fn) or "",
                                       hallucination_category=hallucination_category, source=source))
        return fn

    return decorate


