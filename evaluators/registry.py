"""The evaluator registry: ids are stable (docs/evaluators.md); reports, gates, exports and labels use them.

Built-ins register on import of their family module; plug-ins register through `cstui.api.evaluator`, loaded
from `--plugin`, `plugins = [...]` in cstui.toml, or the `cstui.evaluators` entry-point group
(`cstui.plugins`).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from cstui.evaluators.base import EvaluatorBase

ENTRY_POINT_GROUP = "cstui.evaluators"


class PluginError(Exception):
    """A plug-in could not be loaded; the message names it."""

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
        load_entry_points()


def describe_error(exc: BaseException, path: Path | None = None) -> str:
    """One line: the error and the plug-in's own line that led to it (not a line inside cstui)."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if path is None or Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{type(exc).__name__}: {exc}" + (f" (line {line})" if line is not None else "")


def load_entry_points() -> None:
    """Import every package that declares evaluators under the `cstui.evaluators` entry-point group."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except BaseException as exc:  # noqa: BLE001
            raise PluginError(f"plugin {ep.name} (entry point {ep.value}): {describe_error(exc)}") from None


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


def replace_prefixed(prefix: str, evaluators: list[EvaluatorBase]) -> list[str]:
    """Register these in place of every evaluator whose id starts with `prefix` (a config is their only source)."""
    _load()
    for stale in [k for k in _REGISTRY if k.startswith(prefix)]:
        del _REGISTRY[stale]
    for evaluator in evaluators:
        _REGISTRY[evaluator.id] = evaluator
    return [e.id for e in evaluators]


def register_policies(policies: list[dict]) -> list[str]:
    """Register declared per-intent policies as deterministic evaluators `assert.<intent>.<name>`."""
    _load()
    from cstui.evaluators.policies import PolicyAssertionCheck, validate

    validate(policies)
    return replace_prefixed("assert.", [PolicyAssertionCheck(spec) for spec in policies])
