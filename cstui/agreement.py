"""Judge–human agreement: Cohen's κ, accuracy and the confusion matrix per judge evaluator, overall and
per tier. A judge is only trusted once it agrees with reviewers (docs/evaluators.md, "LLM judges").

Labels given while triaging failures are selection-biased (reviewers mostly see what the judge
flagged), so κ is reported separately for review-queue labels (a random, stratified sample) and for
triage labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

KAPPA_TRUST = 0.6


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    """κ for (judge, human) binary verdicts; None without data or when chance agreement is total."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    judge_yes = sum(a for a, _ in pairs) / n
    human_yes = sum(b for _, b in pairs) / n
    expected = judge_yes * human_yes + (1 - judge_yes) * (1 - human_yes)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement_block(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    n = len(pairs)
    matrix = {"judge_pass_human_pass": 0, "judge_pass_human_fail": 0, "judge_fail_human_pass": 0,
              "judge_fail_human_fail": 0}
    for judge, human in pairs:
        matrix[f"judge_{'pass' if judge else 'fail'}_human_{'pass' if human else 'fail'}"] += 1
    kappa = cohen_kappa(pairs)
    return {"n": n, "kappa": kappa, "accuracy": (sum(a == b for a, b in pairs) / n) if n else None,
            "confusion": matrix, "trusted": None if kappa is None else kappa >= KAPPA_TRUST}


def alignment(results: pl.DataFrame, sessions: pl.DataFrame, labels: list[dict[str, Any]],
              judge_ids: set[str]) -> dict[str, Any]:
    """alignment.<evaluator>.{queue, triage, all}.{n, kappa, accuracy, confusion, by_tier}."""
    import polars as pl

    from cstui.store.labels import newest_first

    def key(label: dict[str, Any]) -> tuple[str, str, str]:  # (source group, session, evaluator)
        return ("queue" if label["source"] == "queue" else "triage", label["session_id"], label["evaluator"])

    latest = {k: group[0]["verdict"]
              for k, group in newest_first((lab for lab in labels if lab["evaluator"] in judge_ids), key).items()}
    if not latest:
        return {}
    machine = (results.filter(pl.col("evaluator").cast(pl.Utf8).is_in(list(judge_ids))
                              & pl.col("machine_passed").is_not_null())
               .join(sessions.select("sid", "session_id", "tier"), on="sid")
               .select(pl.col("evaluator").cast(pl.Utf8), "session_id", "tier", "machine_passed"))
    judged = {(evaluator, session_id): (tier, passed) for evaluator, session_id, tier, passed in machine.iter_rows()}
    out: dict[str, Any] = {}
    for evaluator in sorted(judge_ids):
        entry: dict[str, Any] = {}
        for group in ("queue", "triage", "all"):
            pairs: dict[str, list[tuple[bool, bool]]] = {}
            for (g, session_id, ev), verdict in latest.items():
                if ev != evaluator or (group != "all" and g != group) or (evaluator, session_id) not in judged:
                    continue
                tier, judge_pass = judged[(evaluator, session_id)]
                pair = (bool(judge_pass), verdict == "pass")
                pairs.setdefault("overall", []).append(pair)
                pairs.setdefault(f"tier_{tier}", []).append(pair)
            if pairs:
                block = agreement_block(pairs["overall"])
                block["by_tier"] = {k: agreement_block(v) for k, v in sorted(pairs.items()) if k != "overall"}
                entry[group] = block
        if entry:
            entry["note"] = ("queue: random stratified sample (unbiased); triage: labels given while reviewing "
                             "failures (selection-biased)")
            flagged = [g for g in ("queue", "triage") if g in entry and entry[g]["trusted"] is False]
            entry["below_threshold"] = flagged
            out[evaluator] = entry
    return out
