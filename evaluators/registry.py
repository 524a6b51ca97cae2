"""The evaluator registry: ids are stable (docs/evaluators.md); reports, gates, exports and labels use them.

Built-ins register on import of their family module; plug-ins register through `cstui.api.evaluator`, loaded
from `--plugin`, `plugins = [...]` in cstui.toml, or the `cstui.evaluators` entry-point group
(`cstui.plugins`).
"""

from __future__ import annotations

from importlib import import_module

from cstui.evaluators.base import EvaluatorBase

# One module per evaluator family; importing a module registers its evaluators.
FAMILIES = ("draft_checks", "fabrication", "conversation", "escalation", "silent", "judges")

_REGISTRY: dict[str, EvaluatorBase] = {}
_loaded = False


def register(cls: type[EvaluatorBase]) -> type[EvaluatorBase]:
    """Class decorator for built-ins."""
    add(cls())
    return cls


def add(evaluator: EvaluatorBase) -> EvaluatorBase:
    """Register an evaluator instance. The same plug-in loaded again (a worker process, a second `--plugin`)
    replaces its own entry; taking an id another source owns is an error."""
    current = _REGISTRY.get(evaluator.id)
    if current is not None and current.source != evaluator.source:
        owner = "a built-in evaluator" if current.source == "cstui" else f"plug-in {current.source}"
        raise ValueError(f"evaluator id {evaluator.id!r} is already taken by {owner}")
    if current is not None and evaluator.source == "cstui":
        raise ValueError(f"evaluator id {evaluator.id!r} registered twice")
    _REGISTRY[evaluator.id] = evaluator
    return evaluator


def remove_source(source: str) -> None:
    """Forget what a plug-in registered (it failed to load)."""
    for key in [k for k, ev in _REGISTRY.items() if ev.source == source]:
        del _REGISTRY[key]


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for family in FAMILIES:
            import_module(f"cstui.evaluators.{family}")
        from cstui.plugins import load_entry_points

        load_entry_points()


def all_evaluators(kind: str | None = None) -> list[EvaluatorBase]:
    _load()
    return [ev for ev in _REGISTRY.values() if kind is None or ev.kind == kind]


def hallucination_categories() -> dict[str, str]:
    """Evaluator id → the hallucination category it detects (docs/evaluators.md, "Hallucination taxonomy")."""
    return {ev.id: ev.hallucination_category for ev in all_evaluators() if getattr(ev, "hallucination_category", None)}


def get(evaluator_id: str) -> EvaluatorBase:
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
