"""Budget rows shared by the bench scripts; `run_all.py` collects them into one table.

Each script still prints its own report; `record` also appends a JSON line to $CSTUI_BENCH_JSON when set.
"""

from __future__ import annotations

import json
import os


def record(name: str, value: float | str, unit: str, budget: str, ok: bool | None, note: str = "") -> None:
    path = os.environ.get("CSTUI_BENCH_JSON")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "value": value, "unit": unit, "budget": budget, "ok": ok,
                                 "note": note}) + "\n")
