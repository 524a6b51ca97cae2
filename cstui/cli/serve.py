"""`cstui serve --otlp`."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from cstui.cli.common import DB, EXIT_OK, UsageError, db_path, judge_settings, open_store


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve", parents=[DB], help="receive traces over OTLP/HTTP and evaluate sessions as they complete",
        description="Receive OpenTelemetry traces over OTLP/HTTP (POST /v1/traces; protobuf or JSON, gzip or not) "
        "and evaluate sessions as they complete. Point an exporter at it: "
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318. A request is answered 200 only once its spans are "
        "committed to the database, so a killed receiver loses nothing it acknowledged. A session closes when its "
        "root span arrives (a trace without a session id) or --idle seconds after its last span (spans sharing a "
        "session.id / gen_ai.conversation.id); it is then imported with the reader `cstui import --format otlp` "
        "uses and evaluated with every deterministic evaluator, then with the LLM judges named by --judges (their calls "
        "slow the importing of later sessions, which wait safely staged; a judge endpoint that fails leaves the "
        "judging to `cstui eval`). Prints throughput every --progress seconds. "
        "Ctrl-C stops after importing what is staged.",
    )
    p.add_argument("--otlp", action="store_true", required=True, help="serve OTLP/HTTP traces (the one protocol)")
    p.add_argument("--listen", default="127.0.0.1:4318", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:4318; port 0 picks a free one). Anything but "
                   "loopback needs --token")
    p.add_argument("--token", default=os.environ.get("CSTUI_SERVE_TOKEN"), metavar="TOKEN",
                   help="require 'Authorization: Bearer TOKEN' (default: $CSTUI_SERVE_TOKEN)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--run", metavar="NAME", help="the run sessions go to (created with the first session)")
    where.add_argument("--daily", metavar="PREFIX", help="one run per UTC day: PREFIX-YYYY-MM-DD")
    p.add_argument("--idle", type=float, default=30.0, metavar="S",
                   help="close a session this long after its last span (default 30 s)")
    p.add_argument("--max-body", type=int, default=16 << 20, metavar="BYTES",
                   help="largest request body, after decompression (default 16 MiB; larger → 413)")
    p.add_argument("--max-spans-per-trace", type=int, default=10_000, metavar="N",
                   help="spans kept per trace; more are rejected as an OTLP partial success (default 10,000)")
    p.add_argument("--no-eval", action="store_true", help="import only; evaluate later with `cstui eval`")
    p.add_argument("--judges", metavar="a,b",
                   help="LLM judges to run on each closed session too (e.g. policy_fabrication,resolution_accuracy; "
                   "`cstui evaluators` lists them). Off by default: judges cost calls")
    p.add_argument("--judge-model", metavar="M", help="litellm model for --judges (default: judge_model in cstui.toml, "
                   "else $CSTUI_JUDGE_MODEL)")
    p.add_argument("--judge-api-base", metavar="URL", help="judge endpoint, e.g. http://127.0.0.1:11434 (default: "
                   "judge_api_base in cstui.toml, else $CSTUI_JUDGE_API_BASE)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel judge calls (default 8)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per judge call (default 60)")
    p.add_argument("--window", choices=("hour", "day"), default="hour",
                   help="drift and gate rules compare consecutive windows of this length (default hour)")
    p.add_argument("--gates", metavar="GATES.toml",
                   help="gate rules each window is held to (default: cstui's gates.toml; pass-rate rules only)")
    p.add_argument("--alert-command", metavar="CMD",
                   help="run CMD (no shell; the alert line is its last argument) for each alert. Off by default")
    p.add_argument("--progress", type=float, default=5.0, metavar="S", help="print throughput this often (0: never)")
    p.set_defaults(func=cmd_serve)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:4318")
    return host.strip("[]") or "127.0.0.1", int(port)


def _judges(args: argparse.Namespace, cfg: Any) -> tuple[tuple[str, ...], Any]:
    """The --judges to run live (each checked to be an LLM judge) and their settings; none without --judges."""
    from cstui import evaluation

    if not args.judges:
        return (), None
    if args.no_eval:
        raise UsageError("--judges and --no-eval: choose one (judges run on the sessions the receiver evaluates)")
    names = [n.strip() for n in args.judges.split(",") if n.strip()]
    try:
        deterministic, judges = evaluation.split(evaluation.resolve(names))
    except evaluation.EvaluationError as exc:
        raise UsageError(str(exc)) from None
    if deterministic:
        raise UsageError(f"--judges {','.join(deterministic)}: not LLM judges (every deterministic evaluator runs "
                         "anyway; `cstui evaluators` lists the judges)")
    return tuple(judges), judge_settings(args, cfg)


def cmd_serve(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.live import Alerts, window_rules
    from cstui.serve import Options, Receiver, ServeError, check_binding
    from cstui.textsafe import inert

    host, port = _address(args.listen)
    cfg = load_config()
    judges, settings = _judges(args, cfg)
    options = Options(host=host, port=port, token=args.token or None, run=args.run, daily=args.daily, idle=args.idle,
                      max_body=args.max_body, max_spans_per_trace=args.max_spans_per_trace, evaluate=not args.no_eval,
                      judges=judges, judge=settings)
    try:
        check_binding(options)
    except ServeError as exc:
        raise UsageError(str(exc)) from None
    open_store(args, must_exist=False, write=True).close()  # create or upgrade the file, refuse a foreign one
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def say(line: str) -> None:
        print(inert(line, keep_newlines=False), flush=True)

    from cstui.gates import GateConfigError

    try:
        rules = window_rules(Path(args.gates) if args.gates else None)
    except GateConfigError as exc:
        raise UsageError(str(exc)) from None
    alerts = Alerts(window=args.window, command=args.alert_command.split() if args.alert_command else None,
                    rules=rules)
    try:
        receiver = Receiver(db_path(args), options, cfg, alerts=alerts)
    except ServeError as exc:
        raise UsageError(str(exc)) from None
    receiver.start()
    target = options.run or f"{options.daily}-<UTC day>"
    say(f"listening on http://{host}:{receiver.port}/v1/traces → run {target} (Ctrl-C stops)")
    if settings is not None:
        say(f"judging each session with {', '.join(judges)} ({settings.model})")
    stats, seen = receiver.stats, None
    while not stop.wait(args.progress if args.progress > 0 else 3600):
        totals = (stats.spans, stats.sessions, stats.verdicts, stats.open_traces, stats.refused_requests)
        if totals != seen:  # quiet while nothing arrives
            say(stats.line())
            seen = totals
    say("stopping: importing what is staged …")
    receiver.stop()
    say(receiver.stats.line())
    return EXIT_OK
