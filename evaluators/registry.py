"""The evaluator registry: ids are stable (docs/evaluators.md); reports, gates, exports and labels use them."""

from __future__ import annotations

from importlib import import_module

from cstui.evaluators.base import Evaluator

# One module per evaluator family; importing a module registers its evaluators.
FAMILIES = ("draft_checks", "fabrication", "conversation", "escalation", "judges")

# LLM-judge ids (docs/evaluators.md): known to gates and reports even where no judge has run yet.
JUDGE_IDS = ("policy_fabrication", "resolution_accuracy", "draft_rubric", "session_quality")

_REGISTRY: dict[str, Evaluator] = {}
_loaded = False


def register(cls: type[Evaluator]) -> type[Evaluator]:
    if cls.id in _REGISTRY:
        raise ValueError(f"evaluator id {cls.id!r} registered twice")
    _REGISTRY[cls.id] = cls()
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for family in FAMILIES:
            import_module(f"cstui.evaluators.{family}")


def all_evaluators(kind: str | None = None) -> list[Evaluator]:
    _load()
    return [ev for ev in _REGISTRY.values() if kind is None or ev.kind == kind]


def hallucination_categories() -> dict[str, str]:
    """Evaluator id → the hallucination category it detects (docs/evaluators.md, "Hallucination taxonomy")."""
    return {ev.id: ev.hallucination_category for ev in all_evaluators() if getattr(ev, "hallucination_category", None)}


def get(evaluator_id: str) -> Evaluator:
    _load()
    try:
        return _REGISTRY[evaluator_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown evaluator {evaluator_id!r} (known: {known})") from None


def register_assertions(raw: list[dict]) -> list[str]:
    """Register the natural-language policy assertions of a config as judge evaluators `assert:<id>`."""
    _load()
    from cstui.evaluators.judges import assertions_from_config

    for stale in [k for k in _REGISTRY if k.startswith("assert:")]:  # the config is the only source
        del _REGISTRY[stale]
    ids = []
    for assertion in assertions_from_config(raw):
        _REGISTRY[assertion.id] = assertion
        ids.append(assertion.id)
    return ids


def register_policies(policies: list[dict]) -> list[str]:
    """Register declared per-intent policies as deterministic evaluators `assert.<intent>.<name>`."""
    _load()
    from cstui.evaluators.policies import PolicyAssertionCheck, validate

    validate(policies)
    for stale in [k for k in _REGISTRY if k.startswith("assert.")]:
        del _REGISTRY[stale]
    ids = []
    for spec in policies:
        check = PolicyAssertionCheck(spec)
        _REGISTRY[check.id] = check
        ids.append(check.id)
    return ids
