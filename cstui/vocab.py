"""The closed vocabularies the CLI offers as choices, owned here so the modules that act on them and the
argument parser read one list (this module imports nothing, so `cstui --help` stays light)."""

from __future__ import annotations

STRATA = ("tier", "intent", "channel", "category", "segment")  # session fields reports and gates stratify by
IMPORT_FORMATS = ("auto", "native", "openai", "tau2", "langfuse", "openinference", "ai-sdk", "otlp", "maia")  # docs/formats.md
EXPORT_WHAT = ("sessions", "results", "labels", "evidence")
EXPORT_FORMATS = ("jsonl", "csv", "parquet")
JUDGE_STRATEGIES = ("direct", "reflection", "debate")
ENGINES = ("local", "ray")  # where deterministic evaluators run (docs/scale.md)
