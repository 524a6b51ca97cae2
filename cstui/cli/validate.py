"""`cstui validate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_GATE_FAILED,
    EXIT_OK,
    JSON,
    PLUGIN,
    UsageError,
    clear_line,
    open_store,
    print_json,
    progress_bar,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "validate", parents=[DB, PLUGIN, JSON], help="measure evaluators' precision and recall against labels",
        description="How often each evaluator is right. Either import labelled sessions into a throwaway database, "
        "run the evaluators and compare with a labels file (JSON Lines: {session_id, evaluator, expected: pass|fail, "
        "reason}), or compare a run's current verdicts with its reviewers' labels (--run). A flag is a failing "
        "verdict: precision = share of flags the labels confirm, recall = share of labelled failures flagged; "
        "each with a Wilson 95% interval; F1 and Cohen's κ. Exit 1 when a --min-precision/--min-recall floor is "
        "not met.")
    p.add_argument("--sessions", nargs="+", metavar="FILE", help="session files in any importable format")
    p.add_argument("--labels", nargs="+", metavar="FILE",
                   help="labels for those sessions (JSON Lines); sessions that carry their annotators' labels "
                        "(MAIA-DQE) need none: theirs are read")
    p.add_argument("--run", metavar="NAME", help="validate a run against its reviewers' labels instead")
    p.add_argument("--evaluators", metavar="A,B", help="only these evaluators (default: every labelled one)")
    p.add_argument("--min-precision", type=float, metavar="P", help="exit 1 if a flagging evaluator's precision < P")
    p.add_argument("--min-recall", type=float, metavar="R", help="exit 1 if an evaluator's recall < R")
    p.add_argument("--by", choices=["corpus"], help="corpus: figures per corpus and part (development, held-out) as "
                   "the labels name them, then every held-out part pooled — the figures that count")
    p.add_argument("--disagreements", action="store_true", help="list every session where evaluator and label differ")
    p.add_argument("--save-summary", metavar="FILE",
                   help="also write the per-evaluator precision/recall that reports show when a run has no "
                        "reviewer labels (how cstui/validated.json is made: `make validated`)")
    p.set_defaults(func=cmd_validate)


def _save_validity_summary(path: Path, results: dict[str, Any], source: str,
                           parts: dict[tuple[str, str], dict[str, Any]] | None = None,
                           rankings: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
    """The figures reports show beside verdicts (cstui/validated.json): the held-out ones when the labels name
    parts (with each corpus's held-out and development figures beside them), else those of every label."""
    from cstui import validation
    from cstui.evaluators import registry

    known = {ev.id: ev.version for ev in registry.all_evaluators()}
    shown = parts.get(("all", "held-out"), {}) if parts else results
    doc: dict[str, Any] = {"labels": source, "part": "held-out" if parts else "all", "evaluators": {}}
    for name, v in shown.items():
        entry = validation.summary(v, version=known.get(name), source=validation.SHIPPED_SOURCE)
        if parts:
            entry["by_corpus"] = {f"{corpus}/{part}": validation.summary(group[name], source=validation.SHIPPED_SOURCE)
                                  for (corpus, part), group in parts.items() if name in group and corpus != "all"}
            for (corpus, part), ranked in (rankings or {}).items():
                if name in ranked and corpus != "all" and f"{corpus}/{part}" in entry["by_corpus"]:
                    entry["by_corpus"][f"{corpus}/{part}"]["ranking"] = ranked[name].to_json()
        pooled = (rankings or {}).get(("all", "held-out")) or (rankings or {}).get(("all", "all")) or {}
        if name in pooled:
            entry["ranking"] = pooled[name].to_json()
        doc["evaluators"][name] = entry
    import json

    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    """Precision/recall of evaluators against labelled sessions (files) or a run's reviewer labels."""
    import tempfile

    from cstui import evaluation, validation
    from cstui.config import load_config
    from cstui.ingest import import_files

    if bool(args.sessions) == bool(args.run):
        raise UsageError("give --sessions FILE... --labels FILE... or --run NAME")

    wanted = [n.strip() for n in args.evaluators.split(",") if n.strip()] if args.evaluators else None
    cfg = load_config()
    scores: dict[tuple[str, str], float] = {}
    baselines: dict[str, dict[str, float]] = {}
    if args.run:
        with open_store(args) as store:
            store.run(args.run)
            labels, verdicts = validation.run_truth(store, args.run)
            outcomes = validation.outcome_check(store, args.run, sorted({label.evaluator for label in labels}))
            if not labels:
                raise UsageError(f"run {args.run!r} has no reviewer labels on evaluators yet (`l` in the TUI, or "
                                 "`cstui label`)")
        source = f"reviewer labels of run {args.run}"
    else:
        for p in [*args.sessions, *(args.labels or [])]:
            if not Path(p).is_file():
                raise UsageError(f"{p}: no such file")
        labels = validation.load_labels([Path(p) for p in args.labels]) if args.labels else []
        from cstui.evaluators import registry

        known = {ev.id for ev in registry.all_evaluators()}
        graded = {ev.id for ev in registry.all_evaluators() if ev.graded}
        with tempfile.TemporaryDirectory(prefix="cstui-validate-") as tmp:
            from cstui.store import Store

            with Store(Path(tmp) / "validate.db") as store:
                import_files(store, [Path(p) for p in args.sessions], "validation", cfg=cfg)
                docs = [store.session_doc("validation", sid) for sid in store.session_ids("validation")]
                given = {(label.session_id, label.evaluator) for label in labels}  # the sessions' own annotations
                labels += [a for a in validation.annotated_labels(docs) if (a.session_id, a.evaluator) not in given]
                baselines = validation.baseline_scores(docs)
                del docs
                if not labels:
                    raise UsageError("--sessions needs --labels FILE (these sessions carry no annotators' labels)")
                labelled = sorted({label.evaluator for label in labels})
                for name in labelled:
                    if name not in known and not wanted:
                        print(f"note: no evaluator {name!r} is installed; its labels are skipped", file=sys.stderr)
                try:
                    ids = evaluation.resolve(wanted or [n for n in labelled if n in known])
                except evaluation.EvaluationError as exc:
                    raise UsageError(str(exc)) from None
                if evaluation.split(ids)[1]:
                    raise UsageError(f"{', '.join(evaluation.split(ids)[1])}: validate runs deterministic evaluators "
                                     "only; judge a run with `cstui eval`, then `cstui validate --run`")
                wanted = ids
                bar = progress_bar("validate")
                evaluation.run(store, "validation", ids, cfg=cfg,
                               progress=(lambda _stage, done, total, _note: bar(done, total)) if bar else None)
                clear_line()
                verdicts = validation.verdicts_of(store, "validation")
                scores = validation.scores_of(store, "validation", graded)
                outcomes = validation.outcome_check(store, "validation", ids)
        source = ", ".join([*(args.labels or []), *(["the sessions' annotators"] if any(
            label.source.startswith(("annotators", "outcome")) for label in labels) else [])])
    own = [label for label in labels if not validation.is_outcome(label)]
    results = validation.measure(own or labels, verdicts, wanted)
    parts = validation.by_part(labels, verdicts, wanted) if args.by == "corpus" else None
    rankings = validation.rank(labels, scores, baselines, wanted) if scores else {}
    ranked_parts = {key: validation.rank(group, scores, baselines, wanted)
                    for key, group in validation.part_groups(labels).items()} if parts is not None and scores else {}
    if args.save_summary:
        _save_validity_summary(Path(args.save_summary), results, source, parts, ranked_parts or {("all", "all"):
                                                                                              rankings})
    failed_floor = [name for name, v in results.items()
                    if (args.min_precision is not None and (v.precision()[0] or 0.0) < args.min_precision
                        and v.tp + v.fp > 0)
                    or (args.min_recall is not None and v.expected_failures and (v.recall()[0] or 0.0) < args.min_recall)]
    if parts is not None:  # the floors hold on held-out figures: those are the ones that count
        held = parts.get(("all", "held-out"), {})
        failed_floor = [name for name, v in held.items()
                        if (args.min_precision is not None and v.tp + v.fp >= 10
                            and (v.precision()[0] or 0.0) < args.min_precision)
                        or (args.min_recall is not None and v.expected_failures
                            and (v.recall()[0] or 0.0) < args.min_recall)]
    if args.json:
        doc = {"source": source, "evaluators": {k: v.to_json() for k, v in results.items()},
               "ranking": {k: r.to_json() for k, r in rankings.items()},
               "outcomes": outcomes, "below_floor": failed_floor}
        if parts is not None:
            doc["by_corpus"] = [{"corpus": c, "part": p, "evaluators": {k: v.to_json() for k, v in group.items()},
                                 "ranking": {k: r.to_json() for k, r in ranked_parts.get((c, p), {}).items()}}
                                for (c, p), group in parts.items()]
        print_json(doc)
        return EXIT_GATE_FAILED if failed_floor else EXIT_OK
    from cstui.textsafe import inert

    print(f"validated against {inert(source, keep_newlines=False)} ({sum(v.n for v in results.values())} labelled "
          "verdicts; positive = the evaluator fails the session)")
    if parts is None:
        for line in validation.table(results):
            print(line)
    else:
        for (corpus, part), group in parts.items():
            print(f"\n{corpus} · {part}" + ("   (the figures that count: never tuned against)"
                                              if (corpus, part) == ("all", "held-out") else ""))
            for line in validation.table(group):
                print(line)
            outcome_of = sorted({label.evaluator for label in labels if validation.is_outcome(label)
                                 and (label.corpus, label.part) == (corpus, part)})
            if outcome_of:
                print(f"  ({', '.join(outcome_of)} here: against the sessions' outcome — "
                      + "; ".join(sorted({label.source for label in labels if validation.is_outcome(label)}))
                      + " — not against its own definition)")
    shown = {key: r for key, r in ranked_parts.items() if r} if ranked_parts else (
        {("all", ""): rankings} if rankings else {})
    if shown:
        print("\nranking: scored evaluators' ROC AUC against the labels (95% bootstrap interval), beside baselines")
        for (corpus, part), group in shown.items():
            if part:
                print(f"{corpus} · {part}")
            for line in validation.ranking_table(group):
                print(line)
    if outcomes:
        print("\nagainst the sessions' recorded outcomes (resolution ground truth measures evaluators, never feeds them):")
        for line in validation.outcome_table(outcomes):
            print(line)
    for name, v in results.items():
        if v.unjudged:
            print(f"note: {name}: {v.unjudged} labelled session(s) were not in the sessions given")
    against_outcome = validation.measure([label for label in labels if validation.is_outcome(label)], verdicts,
                                         wanted) if own and len(own) < len(labels) else {}
    if args.disagreements:
        for suffix, group in (("", results), (" (against the outcome)", against_outcome)):
            for name, v in group.items():
                for d in v.disagreements:
                    print(f"{name}{suffix} {d.kind} {inert(d.session_id, keep_newlines=False)}: evaluator {d.verdict} — "
                          f"{inert(d.rationale, keep_newlines=False)[:160]} | label: "
                          f"{inert(d.reason, keep_newlines=False)}")
    else:
        n = sum(len(v.disagreements) for v in results.values())
        if n:
            print(f"{n} disagreement(s); --disagreements lists them")
    if failed_floor:
        print(f"below the floor (--min-precision {args.min_precision}, --min-recall {args.min_recall}): "
              + ", ".join(failed_floor))
        return EXIT_GATE_FAILED
    return EXIT_OK
