"""Evaluator validity per corpus: precision and recall of each deterministic evaluator on the labelled real
conversations shipped in tests/data/validation (τ-bench airline, Schema-Guided Dialogue), as `cstui validate`
measures them. Floors: precision ≥ 0.90 wherever an evaluator has ≥ 10 labelled failures in a corpus.

    python bench/bench_validity.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from table import record  # noqa: E402

V = Path(__file__).resolve().parent.parent / "tests" / "data" / "validation"
CORPORA = {
    "τ-bench airline": ([V / "taubench" / "gpt-4o-airline-even-tasks.json", V / "taubench" / "late-escalations.json"],
                        [V / "taubench" / "labels-hand.jsonl", V / "taubench" / "labels-derived.jsonl"]),
    "SGD (seeded fabrications, unmet requests)": ([V / "sgd" / "sessions.jsonl"],
                                                  [V / "sgd" / "labels-derived.jsonl", V / "sgd" / "labels-hand.jsonl"]),
}
PRECISION_FLOOR = 0.9
MIN_FAILURES = 10


def fmt(rate: dict) -> str:
    return "—" if rate["value"] is None else f"{rate['value']:.2f} [{rate['ci_low']:.2f}–{rate['ci_high']:.2f}]"


def main() -> int:
    cstui = Path(sys.executable).with_name("cstui")
    ok = True
    for corpus, (sessions, labels) in CORPORA.items():
        out = subprocess.run([str(cstui), "validate", "--sessions", *map(str, sessions), "--labels",
                              *map(str, labels), "--json"], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{corpus}: cstui validate failed: {out.stderr.strip()}")
            return 1
        doc = json.loads(out.stdout)
        print(f"\n{corpus}: {sum(v['n'] for v in doc['evaluators'].values())} labelled verdicts")
        for name, v in doc["evaluators"].items():
            p, r = v["precision"], v["recall"]
            print(f"  {name:<27} n {v['n']:>4}  failures {v['expected_failures']:>3}  flagged {v['flagged']:>3}  "
                  f"precision {fmt(p):<17}  recall {fmt(r)}")
            floor = v["expected_failures"] >= MIN_FAILURES
            passed = None if not floor or p["value"] is None else p["value"] >= PRECISION_FLOOR
            ok = ok and passed is not False
            record(f"validity {corpus}: {name}", "—" if p["value"] is None else p["value"], "precision",
                   f"≥ {PRECISION_FLOOR}" if floor else f"(< {MIN_FAILURES} labelled failures)", passed,
                   f"recall {fmt(r)}, n {v['n']}, {v['expected_failures']} failures, {v['flagged']} flagged")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
