"""`cstui` command line. Imports stay inside the command functions: `--help` and headless commands must
not pay for textual, polars or litellm unless they use them.

Exit codes: 0 ok, 1 a gate failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input the user can fix; printed as one line, exit 2."""


# ---------------------------------------------------------------------------------------------- helpers
def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db).expanduser()
    from cstui.store import default_db_path

    return default_db_path()


def _open_store(args: argparse.Namespace, *, must_exist: bool = True):
    from cstui.store import Store

    path = _db_path(args)
    if must_exist and not path.exists():
        raise UsageError(f"{path}: no such database (build one with `cstui demo --no-tui` or `cstui import`)")
    return Store(path)


def _print_json(value: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def _progress_printer(label: str):
    """A throttled one-line progress display on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(where: str, n: int) -> None:
        sys.stderr.write(f"\r{label} {Path(where).name}: {n:,}…")
        sys.stderr.flush()

    return show


# ---------------------------------------------------------------------------------------------- commands
def cmd_tui(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not path.exists() and not sys.stdout.isatty():
        sys.stderr.write(
            f"cstui: no database at {path}.\n"
            "  Build the demo with `cstui demo`, or import data with `cstui import FILE --run NAME`.\n"
        )
        return EXIT_BAD_INPUT
    from cstui.app import run_app  # with no database, the TUI offers to build the demo

    return run_app(path, run=args.run, session=args.session, queue=args.queue)


def cmd_demo(args: argparse.Namespace) -> int:
    from cstui.demo import build_demo, demo_db_path

    path = Path(args.db).expanduser() if args.db else demo_db_path()
    summary = build_demo(path)
    for line in summary:
        print(line)
    if args.no_tui:
        return EXIT_OK
    from cstui.app import run_app

    return run_app(path, run=None, session=None)


def cmd_runs(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        runs = store.runs()
    if args.json:
        _print_json([{"name": r["name"], "n_sessions": r["n_sessions"], "created_at": r["created_at"],
                      "source_format": r["source_format"], "system": r["system"], **r["import_stats"]} for r in runs])
        return EXIT_OK
    if not runs:
        print("no runs yet: `cstui import FILE --run NAME` or `cstui demo`")
        return EXIT_OK
    from cstui.textsafe import inert

    width = max(len(inert(r["name"])) for r in runs)
    print(f"{'run':<{width}}  {'sessions':>8}  created")
    for r in runs:
        print(f"{inert(r['name']):<{width}}  {r['n_sessions']:>8,}  {r['created_at']}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.ingest import import_files
    from cstui.textsafe import inert

    paths = [Path(p) for p in args.paths]
    for p in [*paths, *([Path(args.kb)] if args.kb else [])]:
        if not p.is_file():
            raise UsageError(f"{p}: no such file")
    if args.replace and args.append:
        raise UsageError("--replace and --append exclude each other")
    run = args.run or paths[0].stem
    mode = "replace" if args.replace else "append" if args.append else "create"
    db_path = _db_path(args)
    existed = db_path.exists()
    store = _open_store(args, must_exist=False)
    try:
        report = import_files(
            store, paths, run, kb=Path(args.kb) if args.kb else None, fmt=args.format, mode=mode,
            cfg=load_config(), progress=_progress_printer("importing"), system=args.system,
        )
    except BaseException:
        store.close()
        if not existed:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db_path) + suffix).unlink(missing_ok=True)
        raise
    store.close()
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    for f in report.files:
        if f.format == "kb":
            print(f"{f.path}: {f.counts['articles']:,} articles (kb)")
            continue
        c = f.counts
        print(f"{f.path} ({f.format}): {_n(c['sessions'], 'session')}, {_n(c['turns'], 'turn')}, "
              f"{_n(c['tool_calls'], 'tool call')} ({_n(c['tool_errors'], 'error')}), "
              f"{_n(c['escalations'], 'escalation')}, {c['orphan_spans']:,} orphan and {c['synthetic_spans']:,} "
              f"synthetic tool spans, {_n(c['warnings'], 'warning')}")
        for warning in f.warnings:
            print(f"  warning: {inert(warning)}")
        if c["warnings"] > len(f.warnings):
            print(f"  … and {c['warnings'] - len(f.warnings):,} more warnings")
    rate = report.n_sessions / report.seconds if report.seconds else 0
    print(f"run {run!r}: {report.n_sessions:,} sessions, {report.n_spans:,} spans, {report.n_kb} KB revisions "
          f"imported in {report.seconds:.2f}s ({rate:,.0f} sessions/s) into {db_path}")
    return EXIT_OK


def _progress_bar(label: str):
    """A progress bar with ETA on stderr when it is a terminal; nothing otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        return None
    import time

    started = time.monotonic()

    def show(done: int, total: int) -> None:
        frac = done / total if total else 1.0
        elapsed = time.monotonic() - started
        eta = elapsed / frac - elapsed if frac else 0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{label} [{bar:<30}] {done:,}/{total:,} {elapsed:5.1f}s eta {eta:4.1f}s")
        sys.stderr.flush()

    return show


def cmd_eval(args: argparse.Namespace) -> int:
    from cstui import evaluation
    from cstui.config import load_config
    from cstui.evaluators import registry
    from cstui.judge import JudgeError
    from cstui.textsafe import inert

    cfg = load_config()
    try:
        assertion_ids = registry.register_assertions(cfg.assertion)
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
    with _open_store(args) as store:
        store.run(args.run)
        settings = _judge_settings(args, cfg) if judges else None
        bars = {"evaluators": _progress_bar(label), "judges": _progress_bar(label + " (judges)")}

        def progress(stage: str, done: int, total: int, note: str) -> None:
            if bars[stage]:
                bars[stage](done, total)
                if note:
                    sys.stderr.write(f"  {note}")

        try:
            result = evaluation.run(store, args.run, ids, cfg=cfg, judge=settings, strategy=args.strategy,
                                    processes=args.processes, progress=progress)
        except JudgeError as exc:
            _clear_line()
            raise UsageError(f"{exc} (nothing was stored; answers already received stay cached)") from None
        _clear_line()
        _print_counts(ids, result.counts)
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

        with _open_store(args) as store:
            previous, events = detect_drift(store, args.run)
        if previous:
            print(f"drift vs {inert(previous, keep_newlines=False)}: {len(events)} event(s) recorded"
                  + (" (`cstui drift --run …` lists them)" if events else ""))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Precision/recall of evaluators against labelled sessions (files) or a run's reviewer labels."""
    import tempfile

    from cstui import evaluation, validation
    from cstui.config import load_config
    from cstui.ingest import import_files

    if bool(args.sessions) == bool(args.run):
        raise UsageError("give --sessions FILE... --labels FILE... or --run NAME")
    if args.sessions and not args.labels:
        raise UsageError("--sessions needs --labels FILE")
    wanted = [n.strip() for n in args.evaluators.split(",") if n.strip()] if args.evaluators else None
    cfg = load_config()
    if args.run:
        with _open_store(args) as store:
            store.run(args.run)
            labels, verdicts = validation.run_truth(store, args.run)
            if not labels:
                raise UsageError(f"run {args.run!r} has no reviewer labels on evaluators yet (`l` in the TUI, or "
                                 "`cstui label`)")
        source = f"reviewer labels of run {args.run}"
    else:
        for p in [*args.sessions, *args.labels]:
            if not Path(p).is_file():
                raise UsageError(f"{p}: no such file")
        labels = validation.load_labels([Path(p) for p in args.labels])
        from cstui.evaluators import registry

        known = {ev.id for ev in registry.all_evaluators()}
        labelled = sorted({label.evaluator for label in labels})
        for name in labelled:
            if name not in known and not wanted:
                print(f"note: no evaluator {name!r} is installed; its labels are skipped", file=sys.stderr)
        try:
            ids = evaluation.resolve(wanted or [n for n in labelled if n in known])
        except evaluation.EvaluationError as exc:
            raise UsageError(str(exc)) from None
        if evaluation.split(ids)[1]:
            raise UsageError(f"{', '.join(evaluation.split(ids)[1])}: validate runs deterministic evaluators only; "
                             "judge a run with `cstui eval`, then `cstui validate --run`")
        wanted = ids
        with tempfile.TemporaryDirectory(prefix="cstui-validate-") as tmp:
            from cstui.store import Store

            with Store(Path(tmp) / "validate.db") as store:
                import_files(store, [Path(p) for p in args.sessions], "validation", cfg=cfg)
                bar = _progress_bar("validate")
                evaluation.run(store, "validation", ids, cfg=cfg,
                               progress=(lambda _stage, done, total, _note: bar(done, total)) if bar else None)
                _clear_line()
                verdicts = validation.verdicts_of(store, "validation")
        source = ", ".join(args.labels)
    results = validation.measure(labels, verdicts, wanted)
    if args.save_summary:
        _save_validity_summary(Path(args.save_summary), results, source)
    failed_floor = [name for name, v in results.items()
                    if (args.min_precision is not None and (v.precision()[0] or 0.0) < args.min_precision
                        and v.tp + v.fp > 0)
                    or (args.min_recall is not None and v.expected_failures and (v.recall()[0] or 0.0) < args.min_recall)]
    if args.json:
        _print_json({"source": source, "evaluators": {k: v.to_json() for k, v in results.items()},
                     "below_floor": failed_floor})
        return EXIT_GATE_FAILED if failed_floor else EXIT_OK
    from cstui.textsafe import inert

    print(f"validated against {inert(source, keep_newlines=False)} ({sum(v.n for v in results.values())} labelled "
          "verdicts; positive = the evaluator fails the session)")
    for line in validation.table(results):
        print(line)
    for name, v in results.items():
        if v.unjudged:
            print(f"note: {name}: {v.unjudged} labelled session(s) were not in the sessions given")
    if args.disagreements:
        for name, v in results.items():
            for d in v.disagreements:
                print(f"{name} {d.kind} {inert(d.session_id, keep_newlines=False)}: evaluator {d.verdict} — "
                      f"{inert(d.rationale, keep_newlines=False)[:160]} | label: {inert(d.reason, keep_newlines=False)}")
    else:
        n = sum(len(v.disagreements) for v in results.values())
        if n:
            print(f"{n} disagreement(s); --disagreements lists them")
    if failed_floor:
        print(f"below the floor (--min-precision {args.min_precision}, --min-recall {args.min_recall}): "
              + ", ".join(failed_floor))
        return EXIT_GATE_FAILED
    return EXIT_OK


def _save_validity_summary(path: Path, results: dict[str, Any], source: str) -> None:
    """The figures reports show beside verdicts when a run has no reviewer labels (cstui/validated.json)."""
    from cstui import validation
    from cstui.evaluators import registry

    known = {ev.id: ev.version for ev in registry.all_evaluators()}
    doc = {"labels": source, "evaluators": {
        name: validation.summary(v, version=known.get(name), source=validation.SHIPPED_SOURCE)
        for name, v in results.items()}}
    import json

    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}", file=sys.stderr)


def _clear_line() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _print_counts(ids: list[str], counts: dict[str, dict[str, int]]) -> None:
    width = max([26, *(len(i) for i in ids)])
    show_errors = any(counts[i].get("errors") for i in ids)
    print(f"{'evaluator':<{width}} {'applies':>8} {'failed':>7} {'pass rate':>9}" + ("  errors" if show_errors else ""))
    for name in ids:
        c = counts[name]
        n = c["passed"] + c["failed"]
        pass_rate = f"{100 * c['passed'] / n:8.1f}%" if n else f"{'—':>9}"
        errors = f"  {c.get('errors', 0):>6,}" if show_errors else ""
        print(f"{name:<{width}} {n:>8,} {c['failed']:>7,} {pass_rate}{errors}")


def _judge_settings(args: argparse.Namespace, cfg: Any):
    from cstui.judge import JudgeError, JudgeSettings

    try:
        return JudgeSettings.resolve(args.judge_model, args.judge_api_base, cfg=cfg, concurrency=args.concurrency,
                                     timeout=args.timeout)
    except JudgeError as exc:
        raise UsageError(str(exc)) from None


def cmd_review(args: argparse.Namespace) -> int:
    from cstui.textsafe import inert

    with _open_store(args) as store:
        if args.sample is None:
            queues = store.review_queues(args.run)
            if args.json:
                _print_json(queues)
                return EXIT_OK
            if not queues:
                print("no review queues yet: cstui review --run NAME --sample 20 --stratify tier --seed 1")
            for q in queues:
                print(f"{inert(q['name'])}  run {inert(q['run'])}  {q['reviewed']}/{q['size']} reviewed  seed {q['seed']}"
                      f"  stratified by {q['stratify'] or '—'}  created {q['created_at']}")
            return EXIT_OK
        if not args.run:
            raise UsageError("cstui review --sample needs --run")
        if args.sample < 1:
            raise UsageError("--sample must be at least 1")
        from cstui.review import build_queue

        seed = args.seed if args.seed is not None else 1
        try:
            name = build_queue(store, args.run, args.sample, seed, args.stratify, args.name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        items = store.review_items(name)
    if args.json:
        _print_json({"queue": name, "items": items})
        return EXIT_OK
    strata: dict[str, int] = {}
    for item in items:
        strata[item["stratum"] or "all"] = strata.get(item["stratum"] or "all", 0) + 1
    print(f"review queue {inert(name)}: {len(items)} sessions of run {inert(args.run)} (seed {seed}); "
          + ", ".join(f"{k}: {v}" for k, v in sorted(strata.items())))
    print(f"open it with: cstui --run {inert(args.run)} --queue {inert(name)}")
    return EXIT_OK


def cmd_evaluators(args: argparse.Namespace) -> int:
    """The registry, with plug-ins: what each evaluator checks and where it comes from."""
    from cstui.evaluators import registry
    from cstui.textsafe import inert

    rows = [{"id": ev.id, "kind": ev.kind, "dimension": ev.dimension, "version": ev.version,
             "hallucination_category": ev.hallucination_category, "source": ev.source,
             "description": ev.description} for ev in registry.all_evaluators()]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        origin = "" if r["source"] == "cstui" else f" [plug-in {inert(r['source'], keep_newlines=False)}]"
        print(f"{r['id']:<{width}}  {r['kind']:<13} {r['dimension']:<11} v{r['version']}{origin}")
        if r["description"]:
            print(f"{'':<{width}}  {inert(r['description'], keep_newlines=False)}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from cstui.models import KBArticle, Session

    target = KBArticle if args.kb else Session
    schema = target.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cstui.kb/v1" if args.kb else "cstui.session/v1"
    _print_json(schema)
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from cstui.config import config_paths, load_config

    cfg = load_config()
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "source"}
    if args.json:
        _print_json({"values": values, "source": {k: cfg.source.get(k, "default") for k in values},
                     "searched": [str(p) for p in config_paths()]})
        return EXIT_OK
    print("config files searched (first found wins): " + ", ".join(str(p) for p in config_paths()))
    for key, value in values.items():
        shown = value if not isinstance(value, dict | list) or len(str(value)) < 100 else f"{str(value)[:97]}..."
        print(f"{key:<26} {shown}   [{cfg.source.get(key, 'default')}]")
    return EXIT_OK


def cmd_golden(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.textsafe import inert

    reviewer = load_config().reviewer
    with _open_store(args) as store:
        if args.action == "add":
            if args.from_run:
                if not (args.evaluator and args.confirmed):
                    raise UsageError("--from-run needs --evaluator E --confirmed (failures a reviewer confirmed)")
                store.run(args.from_run)
                latest: dict[str, str] = {}
                for lab in store.labels(args.from_run):
                    if lab["evaluator"] == args.evaluator and lab["verdict"]:
                        latest[lab["session_id"]] = lab["verdict"]
                confirmed = sorted(sid for sid, verdict in latest.items() if verdict == "fail")
                have = {(c["source_run"], c["session_id"]) for c in store.golden_cases()}
                added = [store.add_golden(args.from_run, sid, args.reason or f"confirmed {args.evaluator} failure",
                                          evaluator=args.evaluator, reviewer=reviewer)
                         for sid in confirmed if (args.from_run, sid) not in have]
                print(f"added {len(added)} confirmed {args.evaluator} failure(s) from run "
                      f"{inert(args.from_run)} to the regression set ({len(confirmed) - len(added)} already there)")
                return EXIT_OK
            if not args.session or not args.reason:
                raise UsageError("usage: cstui golden add SESSION --reason TEXT [--run NAME]")
            run = args.run or store.run_of_session(args.session)
            case = store.add_golden(run, args.session, args.reason, evaluator=args.evaluator, reviewer=reviewer)
            print(f"regression case #{case}: {inert(args.session)} from run {inert(run)}")
            return EXIT_OK
        cases = store.golden_cases()
    if args.action == "list":
        if args.json:
            _print_json([{k: v for k, v in c.items() if k != "doc"} for c in cases])
            return EXIT_OK
        for c in cases:
            print(f"#{c['id']} {inert(c['session_id'])} from {inert(c['source_run'])}"
                  f"{' [' + c['evaluator'] + ']' if c['evaluator'] else ''}: {inert(c['reason'], keep_newlines=False)}"
                  f" — {inert(c['added_by'])} {c['added_at']}")
        if not cases:
            print("the regression set is empty: cstui golden add SESSION --reason TEXT")
        return EXIT_OK
    if not args.out:
        raise UsageError("cstui golden export needs --out FILE")
    import orjson

    out = Path(args.out)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as fh:
        for c in cases:
            doc = orjson.loads(c["doc"])
            doc["golden"] = {"case": c["id"], "reason": c["reason"], "source_run": c["source_run"],
                             "evaluator": c["evaluator"], "added_by": c["added_by"], "added_at": c["added_at"]}
            fh.write(orjson.dumps(doc) + b"\n")
    tmp.replace(out)
    print(f"wrote {len(cases)} regression case(s) to {out} (native format, re-importable)", file=sys.stderr)
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from cstui.sampling import parse_target, sample_run
    from cstui.textsafe import inert

    by = [b.strip() for b in args.by.split(",") if b.strip()] if args.by else []
    try:
        target = parse_target(args.target) if args.target else None
        with _open_store(args) as store:
            store.run(args.run)
            result = sample_run(store, args.run, args.into, args.size, seed=args.seed, by=by, target=target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"run {inert(args.into)}: {result['n']} sessions sampled from {inert(args.run)} (seed {args.seed})")
    for key, row in result["composition"].items():
        goal = f" target {100 * row['target']:.0f}%" if row.get("target") is not None else ""
        print(f"  {key:<30} {row['n']:>5}  {100 * row['share']:5.1f}%{goal}")
    return EXIT_OK


def cmd_auth(args: argparse.Namespace) -> int:
    import getpass

    from cstui.judge import KEYRING_SERVICE, PROVIDER_ENV, keyring_key

    provider = args.provider
    try:
        import keyring
        import keyring.errors
    except ImportError:  # pragma: no cover - keyring is a dependency
        raise UsageError("the keyring package is not installed") from None
    env = PROVIDER_ENV.get(provider, f"{provider.upper()}_API_KEY")
    if args.action == "status":
        stored = keyring_key(provider) is not None
        in_env = bool(env and os.environ.get(env))
        print(f"{provider}: keyring {'set' if stored else 'not set'}; {env or 'no env var'} "
              f"{'set' if in_env else 'not set'}")
        return EXIT_OK
    try:
        if args.action == "delete":
            keyring.delete_password(KEYRING_SERVICE, provider)
            print(f"{provider}: key removed from the OS keyring")
            return EXIT_OK
        key = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass(f"{provider} API key: ")
        if not key:
            raise UsageError("no key given")
        keyring.set_password(KEYRING_SERVICE, provider, key)
    except keyring.errors.KeyringError as exc:
        raise UsageError(f"the OS keyring is not available ({type(exc).__name__}); use the {env or 'provider'} "
                         "environment variable instead") from None
    print(f"{provider}: key stored in the OS keyring (service '{KEYRING_SERVICE}')")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from cstui.export import export

    with _open_store(args) as store:
        store.run(args.run)
        n = export(store, args.run, what=args.what, fmt=args.format, out=Path(args.out))
    print(f"wrote {n:,} {args.what} rows to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from cstui.metrics import build_report
    from cstui.report_text import render_report

    with _open_store(args) as store:
        store.run(args.run)
        report = build_report(store, args.run, by=args.by)
    if args.json:
        _print_json(report)
    else:
        render_report(report, by=args.by)
    return EXIT_OK


def cmd_gate(args: argparse.Namespace) -> int:
    import time

    from cstui.gates import junit_xml, run_gate

    started = time.perf_counter()
    with _open_store(args) as store:
        store.run(args.run)
        if args.baseline:
            store.run(args.baseline)
        result = run_gate(store, args.run, baseline=args.baseline,
                          config_path=Path(args.config) if args.config else None, strict=args.strict)
    if args.junit:
        out = Path(args.junit)
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(junit_xml(result, time.perf_counter() - started), encoding="utf-8")
        tmp.replace(out)
    if args.json:
        _print_json(result)
    else:
        from cstui.report_text import render_gate

        render_gate(result)
    return EXIT_OK if result["passed"] else EXIT_GATE_FAILED


def cmd_drift(args: argparse.Namespace) -> int:
    from cstui.textsafe import inert

    with _open_store(args) as store:
        if args.action == "note":
            if args.id is None or not args.text:
                raise UsageError("usage: cstui drift note ID TEXT")
            store.note_drift(args.id, " ".join(args.text))
            print(f"drift event {args.id}: note recorded")
            return EXIT_OK
        if args.action == "detect":
            if not args.run:
                raise UsageError("cstui drift detect needs --run")
            from cstui.drift import detect_drift

            store.run(args.run)
            previous, _ = detect_drift(store, args.run)
            if previous is None:
                print(f"run {inert(args.run, keep_newlines=False)}: no earlier run of the same system to compare with")
        if args.run:
            store.run(args.run)
        events = store.drift_events(args.run)
    if args.json:
        _print_json(events)
        return EXIT_OK
    if not events:
        print("no drift events recorded")
        return EXIT_OK
    for e in events:
        value = (f"{e['previous']:.3f} → {e['current']:.3f}" if e["metric"] == "ece"
                 else f"{100 * e['previous']:.1f}% → {100 * e['current']:.1f}% ({100 * e['delta']:+.1f} pts, "
                 f"p={e['p_value']:.2g})")
        note = f"  note by {inert(e['noted_by'])}: {inert(e['note'], keep_newlines=False)}" if e["note"] else "  (no note yet)"
        print(f"#{e['id']} {inert(e['run'])} vs {inert(e['previous_run'])}: {e['metric']} [{e['scope']}] {value}"
              f"  detected {e['detected_at']}\n{note}")
    return EXIT_OK


def cmd_label(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.textsafe import inert

    if args.verdict and not args.evaluator:
        raise UsageError("--verdict needs --evaluator (use --correct for the session's overall correctness)")
    if not any((args.verdict, args.correct, args.tier, args.intent, args.reason, args.note)):
        raise UsageError("nothing to record: give --evaluator E --verdict pass|fail, --correct, --tier, --intent "
                         "or --note")
    if args.evaluator:
        from cstui.evaluators import registry

        known = {ev.id for ev in registry.all_evaluators()}
        if args.evaluator not in known:
            raise UsageError(f"unknown evaluator {args.evaluator!r} (known: {', '.join(sorted(known))})")
    with _open_store(args) as store:
        run = args.run or store.run_of_session(args.session)
        store.run(run)
        label = {"session_id": args.session, "evaluator": args.evaluator, "verdict": args.verdict,
                 "correct": None if args.correct is None else args.correct == "true", "tier": args.tier,
                 "intent": args.intent, "reason": args.reason, "note": args.note, "source": "cli"}
        label_id = store.add_label(run, label, reviewer=load_config().reviewer)
        history = store.labels(run, args.session)
    what = f"{args.evaluator} = {args.verdict}" if args.verdict else "session label"
    print(f"label #{label_id} on {inert(args.session)} in run {inert(run)}: {what} "
          f"({len(history)} label(s) in its history)")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        n, broken = store.verify_audit()
        head = store.audit_head()
    if broken:
        print(f"audit log BROKEN: {broken}")
        return EXIT_GATE_FAILED
    print(f"audit log intact: {n} records verified; labels, drift notes and regression cases match it")
    print(f"head {head} (keep it elsewhere to detect a truncated log later)")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- parser
def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's default formatter imports shutil (and zlib with it) just to read the terminal width."""
    try:
        width = os.get_terminal_size().columns
    except OSError:
        width = 80
    return argparse.HelpFormatter(prog, width=max(40, min(width, 120)) - 2)


def build_parser() -> argparse.ArgumentParser:
    db_parent = argparse.ArgumentParser(add_help=False)
    db_parent.add_argument(
        "--db", metavar="PATH", help="SQLite database (default: $CSTUI_DB, else the platform data dir)"
    )
    plugin_parent = argparse.ArgumentParser(add_help=False)
    plugin_parent.add_argument(
        "--plugin", action="append", default=[], metavar="PATH_OR_MODULE",
        help="load evaluators from a Python file or module (repeatable; also `plugins = [...]` in cstui.toml and "
             "the `cstui.evaluators` entry-point group; docs/evaluators.md)")
    parser = argparse.ArgumentParser(
        prog="cstui", formatter_class=_formatter,
        description="Offline workbench for evaluating customer-service LLM systems. "
        "Without a command, opens the review TUI.",
        parents=[db_parent, plugin_parent],
        epilog="Exit codes: 0 ok, 1 a gate failed, 2 bad usage or bad input. "
        "Start with `cstui demo` to explore the demo data.",
    )
    parser.add_argument("--run", metavar="NAME", help="open this run's dashboard")
    parser.add_argument("--session", metavar="ID", help="open this session (with --run)")
    parser.add_argument("--queue", metavar="NAME", help="step through this review queue (see `cstui review`)")
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("demo", parents=[db_parent], help="build the demo database from sample_data/ and open it",
                       description="Build the demo database (runs 'baseline' and 'candidate' with their KB) "
                       "and open the TUI on it. Default DB: demo.db in the platform data dir.")
    p.add_argument("--no-tui", action="store_true", help="only build the database and print what it loaded")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("runs", parents=[db_parent], help="list runs", description="List the runs in the database.")
    p.add_argument("--json", action="store_true", help="print [{name, n_sessions, created_at}] as JSON")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser(
        "import", parents=[db_parent], help="import sessions into a run",
        description="Import session files into a run, atomically: a malformed record anywhere rejects "
        "everything with `file:line: reason` (exit 2) and leaves the database unchanged. Formats (detected): "
        "native cstui.session/v1 JSONL; OpenAI chat messages and tau-bench results; Langfuse trace exports; "
        "OpenInference / OTel GenAI spans (Phoenix); OTLP/JSON (resourceSpans). Prints per file: sessions, turns, "
        "tool calls and errors, escalations, orphan and synthetic spans, and the first warnings. Contract: "
        "docs/formats.md.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="session files")
    p.add_argument("--run", metavar="NAME", help="run name (default: the first file's name)")
    p.add_argument("--kb", metavar="KB.jsonl", help="knowledge base (cstui.kb/v1 JSONL) attached to the run")
    p.add_argument("--format", default="auto", choices=["auto", "native", "openai", "langfuse", "openinference", "otlp"],
                   help="input format (default: detected from the first record)")
    p.add_argument("--system", metavar="NAME",
                   help="the system this run belongs to; drift compares consecutive runs of one system")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--replace", action="store_true", help="replace an existing run of that name")
    group.add_argument("--append", action="store_true", help="add to an existing run of that name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("eval", parents=[db_parent, plugin_parent], help="run evaluators over a run",
                       description="Run evaluators over every session of a run and store the verdicts as a new "
                       "version (history is kept; the newest is current). Default: all deterministic evaluators. "
                       "LLM judges (policy_fabrication, resolution_accuracy, draft_rubric, session_quality) run "
                       "when named, through litellm; identical reruns are answered from the cache.")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--evaluators", metavar="A,B", help="comma-separated evaluator ids (default: all deterministic, "
                   "plug-ins included); `cstui evaluators` lists them")
    p.add_argument("--processes", type=int, metavar="N",
                   help="worker processes (default: one per core for runs of 4,000+ sessions, else 1)")
    p.add_argument("--judge-model", metavar="M", help="litellm model for LLM judges, e.g. openai/gpt-4.1-mini, "
                   "ollama/llama3.1 (default: judge_model in cstui.toml, else $CSTUI_JUDGE_MODEL)")
    p.add_argument("--judge-api-base", metavar="URL", help="judge endpoint, e.g. http://127.0.0.1:11434 for a "
                   "local server (default: judge_api_base in cstui.toml, else $CSTUI_JUDGE_API_BASE)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel judge calls (default 8)")
    p.add_argument("--strategy", default="direct", choices=["direct", "reflection", "debate"],
                   help="session_quality strategy: one pass, judge-critique-revise, or two advocates and a judge")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per judge call (default 60)")
    p.add_argument("--policies", metavar="POLICIES.toml",
                   help="per-intent policy assertions ([[policy]] tables) to check as evaluators assert.<intent>.<name>")
    p.add_argument("--no-drift", action="store_true",
                   help="do not compare with the previous run of the same system afterwards")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "validate", parents=[db_parent, plugin_parent], help="measure evaluators' precision and recall against labels",
        description="How often each evaluator is right. Either import labelled sessions into a throwaway database, "
        "run the evaluators and compare with a labels file (JSON Lines: {session_id, evaluator, expected: pass|fail, "
        "reason}), or compare a run's current verdicts with its reviewers' labels (--run). A flag is a failing "
        "verdict: precision = share of flags the labels confirm, recall = share of labelled failures flagged; "
        "each with a Wilson 95% interval; F1 and Cohen's κ. Exit 1 when a --min-precision/--min-recall floor is "
        "not met.")
    p.add_argument("--sessions", nargs="+", metavar="FILE", help="session files in any importable format")
    p.add_argument("--labels", nargs="+", metavar="FILE", help="labels for those sessions (JSON Lines)")
    p.add_argument("--run", metavar="NAME", help="validate a run against its reviewers' labels instead")
    p.add_argument("--evaluators", metavar="A,B", help="only these evaluators (default: every labelled one)")
    p.add_argument("--min-precision", type=float, metavar="P", help="exit 1 if a flagging evaluator's precision < P")
    p.add_argument("--min-recall", type=float, metavar="R", help="exit 1 if an evaluator's recall < R")
    p.add_argument("--disagreements", action="store_true", help="list every session where evaluator and label differ")
    p.add_argument("--json", action="store_true", help="one JSON document with every figure and disagreement")
    p.add_argument("--save-summary", metavar="FILE",
                   help="also write the per-evaluator precision/recall that reports show when a run has no "
                        "reviewer labels (how cstui/validated.json is made: `make validated`)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export", parents=[db_parent], help="export a run's sessions or results",
                       description="Export a run. sessions: native cstui.session/v1 documents, whatever "
                       "format they were imported from. results: one row per session x evaluator.")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--what", required=True, choices=["sessions", "results", "labels", "evidence"],
                   help="evidence: one row per interaction x assertion (timestamp, system version, evaluator and "
                   "version, verdict, rationale, evidence, latest human label and who/when), then drift events")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "csv", "parquet"])
    p.add_argument("--out", required=True, metavar="FILE")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("evaluators", parents=[plugin_parent], help="list the evaluators, built-in and plug-in",
                       description="Every evaluator cstui can run: id, kind (deterministic or judge), dimension, "
                       "version, where it comes from, and what it checks. Plug-ins: --plugin, `plugins` in "
                       "cstui.toml, or the `cstui.evaluators` entry-point group (docs/evaluators.md).")
    p.add_argument("--json", action="store_true", help="one JSON array")
    p.set_defaults(func=cmd_evaluators)

    p = sub.add_parser("report", parents=[db_parent, plugin_parent], help="metrics for a run, per stratum",
                       description="Counts, resolution rates with Wilson 95%% intervals, escalation, "
                       "per stratum. Human-readable by default; --json for the full document.")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--by", default="tier", choices=["tier", "intent", "channel", "category", "segment"],
                   help="stratum for the breakdown table (default: tier)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "gate", parents=[db_parent, plugin_parent], help="check a run against deploy gates (exit 1 when a blocking rule fails)",
        description="Check a run against threshold rules (default: the shipped gates.toml, the brief's table). "
        "Only rules whose on_fail says 'block' fail the gate; others are advisories. With --baseline, a rule also "
        "fails when its pass rate dropped more than 5 points and the drop is significant; the sessions that "
        "flipped from pass to fail are listed. Exit 0 pass, 1 fail, 2 bad input or gate file.",
    )
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--baseline", metavar="NAME", help="compare with this run (sessions matched by session_id)")
    p.add_argument("--config", metavar="GATES.toml", help="gate file (default: the one shipped with cstui)")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report (one testcase per rule)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--strict", action="store_true", help="a rule with no data (e.g. a judge that never ran) fails")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser(
        "drift", parents=[db_parent], help="drift events between consecutive runs of one system",
        description="List drift events (metrics that moved significantly between consecutive runs of the same "
        "system; recorded after each `cstui eval`), re-detect them for a run, or note what was done about one.",
    )
    p.add_argument("action", nargs="?", default="list", choices=["list", "detect", "note"])
    p.add_argument("id", nargs="?", type=int, help="event id (for note)")
    p.add_argument("text", nargs="*", help="the remediation note (for note)")
    p.add_argument("--run", metavar="NAME", help="only this run's events")
    p.add_argument("--json", action="store_true", help="print the events as JSON")
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser(
        "label", parents=[db_parent], help="relabel a session (scripted review; append-only, audited)",
        description="Record a reviewer's verdict on one evaluator for a session, or the session's overall "
        "correctness, tier or intent. Labels are append-only with an audit record; metrics and gates use the newest. "
        "Reviewer: `reviewer` in cstui.toml, else the OS user.",
    )
    p.add_argument("session", metavar="SESSION", help="session id")
    p.add_argument("--run", metavar="NAME", help="the session's run (needed when the id is in several runs)")
    p.add_argument("--evaluator", metavar="E", help="evaluator id the verdict is about")
    p.add_argument("--verdict", choices=["pass", "fail"], help="the human verdict for --evaluator")
    p.add_argument("--correct", choices=["true", "false"], help="the session's overall correctness")
    p.add_argument("--tier", type=int, choices=[1, 2, 3], help="override the session's tier")
    p.add_argument("--intent", metavar="INTENT", help="override the session's intent")
    p.add_argument("--reason", metavar="REASON", help="failure reason (e.g. judge_right, false_alarm, policy)")
    p.add_argument("--note", metavar="TEXT", help="free-text note")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("schema", help="print the JSON Schema of the native session format (or --kb)",
                       description="JSON Schema (draft 2020-12) generated from the pydantic models.")
    p.add_argument("--kb", action="store_true", help="the knowledge-base record schema instead")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("config", help="show the effective configuration and where each value came from")
    p.add_argument("action", choices=["show"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser(
        "golden", parents=[db_parent], help="the append-only golden / regression set",
        description="Add sessions from any run to the regression set (append-only, audited), list it, or export it "
        "in the native format with each case's reason. `--from-run R --evaluator E --confirmed` adds every failure "
        "of E a reviewer confirmed. Gate a run on it with a gates.toml rule `metric = \"golden\"`.",
    )
    p.add_argument("action", choices=["add", "list", "export"])
    p.add_argument("session", nargs="?", metavar="SESSION")
    p.add_argument("--run", metavar="NAME", help="the session's run (when its id is in several runs)")
    p.add_argument("--reason", metavar="TEXT")
    p.add_argument("--evaluator", metavar="E", help="the evaluator the case is about")
    p.add_argument("--from-run", metavar="NAME", help="add the confirmed failures of --evaluator from this run")
    p.add_argument("--confirmed", action="store_true", help="only failures a reviewer labelled fail")
    p.add_argument("--out", metavar="FILE", help="export target (JSONL)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_golden)

    p = sub.add_parser(
        "sample", parents=[db_parent], help="stratified sample of a run into a new run (an eval slice)",
        description="Draw a reproducible stratified sample of a run's sessions into a new run. Proportional to "
        "traffic per stratum of --by, or to --target shares of one field (e.g. category:routine=0.6,edge=0.2,"
        "adversarial=0.1,safety=0.1). `cstui report` then shows the slice's composition against its target.",
    )
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--size", required=True, type=int, metavar="N")
    p.add_argument("--into", required=True, metavar="NAME", help="the new run")
    p.add_argument("--by", metavar="A,B", help="strata: tier, intent, channel, category, segment (combined)")
    p.add_argument("--target", metavar="FIELD:V=SHARE,...", help="target mix of one field instead of traffic")
    p.add_argument("--seed", type=int, default=1, metavar="S")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "review", parents=[db_parent], help="build or list review queues (unbiased samples for judge agreement)",
        description="Build a review queue: a random sample of a run's sessions, stratified and reproducible from "
        "its seed, that the TUI steps through one session at a time. Labels given in a queue are reported apart "
        "from triage labels (which are selection-biased) in `report --json` alignment. Without --sample, lists "
        "the queues with their progress.",
    )
    p.add_argument("--run", metavar="NAME")
    p.add_argument("--sample", type=int, metavar="N", help="number of sessions to draw")
    p.add_argument("--stratify", choices=["tier", "intent", "channel", "category", "segment"],
                   help="draw from each stratum in proportion to its size")
    p.add_argument("--seed", type=int, metavar="S", help="random seed (default 1); the same seed gives the same queue")
    p.add_argument("--name", metavar="QUEUE", help="queue name (default RUN-review-SEED)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser(
        "auth", help="store a judge provider's API key in the OS keyring",
        description="Keys live in the OS keyring (or the provider's environment variable, e.g. OPENAI_API_KEY); "
        "never in the database, logs or exports. `set` reads the key from a prompt (or stdin when piped).",
    )
    p.add_argument("action", choices=["set", "delete", "status"])
    p.add_argument("provider", metavar="PROVIDER", help="litellm provider prefix: openai, anthropic, azure, …")
    p.set_defaults(func=cmd_auth)

    p = sub.add_parser("audit", parents=[db_parent], help="verify the tamper-evident label audit log")
    p.add_argument("action", choices=["verify"])
    p.set_defaults(func=cmd_audit)
    return parser


def _load_plugins(args: argparse.Namespace) -> None:
    """Plug-in evaluators for the commands that run or report evaluators (those with --plugin)."""
    if getattr(args, "func", None) not in (cmd_tui, cmd_eval, cmd_validate, cmd_report, cmd_gate, cmd_evaluators):
        return
    from cstui.config import load_config

    cfg = load_config()
    if args.plugin or cfg.plugins:
        from cstui import plugins

        plugins.load_configured(cfg, args.plugin)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cstui.config import ConfigError
    from cstui.gates import GateConfigError
    from cstui.ingest.records import BadInput  # light: no pydantic
    from cstui.plugins import PluginError
    from cstui.store import StoreError

    try:
        _load_plugins(args)
        code = args.func(args)
    except PluginError as exc:
        sys.stderr.write(f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except BadInput as exc:
        sys.stderr.write(("\r\033[K" if sys.stderr.isatty() else "") + f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except (UsageError, StoreError, ConfigError, GateConfigError) as exc:
        sys.stderr.write(f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("\ncstui: interrupted; nothing half-written was kept\n")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
