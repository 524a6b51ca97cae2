"""`cstui eval`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    PLUGIN,
    RUN,
    UsageError,
    clear_line,
    judge_settings,
    open_store,
    print_counts,
    progress_bar,
)
from cstui.vocab import ENGINES, JUDGE_STRATEGIES


def add_parser(sub: Any) -> None:
    p = sub.add_parser("eval", parents=[DB, PLUGIN, RUN], help="run evaluators over a run",
                       description="Run evaluators over every session of a run and store the verdicts as a new "
                       "version (history is kept; the newest is current). Default: all deterministic evaluators. "
                       "LLM judges (policy_fabrication, resolution_accuracy, draft_rubric, session_quality) run "
                       "when named, through litellm; identical reruns are answered from the cache.")
    p.add_argument("--evaluators", metavar="A,B", help="comma-separated evaluator ids (default: all deterministic, "
                   "plug-ins included); `cstui evaluators` lists them")
    p.add_argument("--processes", type=int, metavar="N",
                   help="worker processes (default: one per core for runs of 4,000+ sessions, else 1)")
    p.add_argument("--judge-model", metavar="M", help="litellm model for LLM judges, e.g. openai/gpt-4.1-mini, "
                   "ollama/llama3.1 (default: judge_model in cstui.toml, else $CSTUI_JUDGE_MODEL)")
    p.add_argument("--judge-api-base", metavar="URL", help="judge endpoint, e.g. http://127.0.0.1:11434 for a "
                   "local server (default: judge_api_base in cstui.toml, else $CSTUI_JUDGE_API_BASE)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel judge calls (default 8)")
    p.add_argument("--strategy", default="direct", choices=JUDGE_STRATEGIES,
                   help="session_quality strategy: one pass, judge-critique-revise, or two advocates and a judge")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per judge call (default 60)")
    p.add_argument("--policies", metavar="POLICIES.toml",
                   help="per-intent policy assertions ([[policy]] tables) to check as evaluators assert.<intent>.<name>")
    p.add_argument("--no-drift", action="store_true",
                   help="do not compare with the previous run of the same system afterwards")
    scale = p.add_argument_group("scale (docs/scale.md)")
    scale.add_argument("--engine", default="local", choices=ENGINES,
                       help="where deterministic evaluators run: this machine's process pool (default) or a Ray "
                       "cluster (pip install 'cstui[ray]'); the verdicts are the same")
    scale.add_argument("--address", metavar="ADDR", help="Ray cluster to join, e.g. ray://head:10001 or auto "
                       "(default: start a local Ray instance)")
    scale.add_argument("--num-cpus", type=int, metavar="N", help="Ray workers (default: every CPU the cluster has)")
    scale.add_argument("--sessions", metavar="DIR", help="read the run's sessions from a Parquet dataset written by "
                       "`cstui export --what sessions --format parquet --partitions N` instead of the database")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from cstui import evaluation
    from cstui.config import load_config
    from cstui.evaluators import registry
    from cstui.judge import JudgeError
    from cstui.textsafe import inert

    cfg = load_config()
    try:
        from cstui.evaluators.judges import register_assertions

        assertion_ids = register_assertions(cfg.assertion)
        if args.policies:
            from cstui.evaluators.policies import load_policies

            cfg.policy = [*cfg.policy, *load_policies(Path(args.policies))]
        policy_ids = registry.register_policies(cfg.policy)
    except ValueError as exc:
        raise UsageError(str(exc) if args.policies else f"cstui.toml: {exc}") from None
    names = [n.strip() for n in args.evaluators.split(",") if n.strip()] if args.evaluators else None
    if names and "assertions" in names:  # shorthand for every [[assertion]] in the config
        names = [n for n in names if n != "assertions"] + assertion_ids
    if names and "policies" in names:  # shorthand for every declared per-intent policy
        names = [n for n in names if n != "policies"] + policy_ids
    elif names is None and policy_ids:
        names = [*evaluation.resolve(None), *policy_ids]
    try:
        ids = evaluation.resolve(names)
        judges = evaluation.split(ids)[1]
    except evaluation.EvaluationError as exc:
        raise UsageError(str(exc)) from None
    label = f"eval {inert(args.run, keep_newlines=False)}"
    with open_store(args, write=True) as store:
        store.run(args.run)
        settings = judge_settings(args, cfg) if judges else None
        bars = {"evaluators": progress_bar(label), "judges": progress_bar(label + " (judges)")}

        def progress(stage: str, done: int, total: int, note: str) -> None:
            if bars[stage]:
                bars[stage](done, total)
                if note:
                    sys.stderr.write(f"  {note}")

        from cstui.evaluation.local import SessionsError
        from cstui.evaluation.ray_engine import RayEngineError

        if args.engine == "ray" and args.processes:
            raise UsageError("--processes is for the local engine; the Ray engine takes --num-cpus")
        if args.engine != "ray" and (args.address or args.num_cpus):
            raise UsageError("--address and --num-cpus need --engine ray")
        try:
            result = evaluation.run(store, args.run, ids, cfg=cfg, judge=settings, strategy=args.strategy,
                                    processes=args.processes, progress=progress, engine=args.engine,
                                    address=args.address, num_cpus=args.num_cpus,
                                    sessions_dir=Path(args.sessions) if args.sessions else None)
        except JudgeError as exc:
            clear_line()
            raise UsageError(f"{exc} (nothing was stored; answers already received stay cached)") from None
        except (RayEngineError, SessionsError) as exc:
            clear_line()
            raise UsageError(f"{exc} (nothing was stored)") from None
        clear_line()
        print_counts(ids, result.counts)
        print(f"{result.n_results:,} results for {result.n_sessions:,} sessions in {result.seconds:.2f}s "
              f"(batch {result.batch}); previous verdicts kept as history")
        if result.judges is not None:
            assert settings is not None
            j = result.judges
            cost = f"${j.cost_usd:.4f}" if j.cost_usd else "cost unknown for this model"
            print(f"judges ({', '.join(judges)}) with {settings.model}, strategy {j.strategy}: {j.calls:,} calls, "
                  f"{j.cache_hits:,} cached, {j.prompt_tokens:,}+{j.completion_tokens:,} tokens, {cost}")
    if not args.no_drift:
        from cstui.drift import detect_drift

        with open_store(args, write=True) as store:
            previous, events = detect_drift(store, args.run)
        if previous:
            print(f"drift vs {inert(previous, keep_newlines=False)}: {len(events)} event(s) recorded"
                  + (" (`cstui drift --run …` lists them)" if events else ""))
    return EXIT_OK
