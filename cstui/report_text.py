"""Human-readable `cstui report` and `cstui gate` output: rich tables on `SafeConsole`, where every text segment
is cleaned before rich styles it, and a pipe gets whole lines (no table cut to 80 columns)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from cstui.textsafe import clean_output, control, inert

if TYPE_CHECKING:
    from cstui.report_models import GateResult, Report, RuleResult, SessionBlock

SMALL_N = 30
PIPE_WIDTH = 10_000  # not a terminal: as wide as the content, so a CI log or `| cat` never cuts a name or interval


class _Raw:
    """The stream under cstui's SafeStream, for rich's own colours (its text is cleaned by SafeConsole)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        control(self._stream, text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class SafeConsole(Console):
    """A rich Console for cstui's text output: every text segment goes through `clean_output` before rich adds its
    own styles (so no string from a file reaches the terminal as a control sequence), and when stdout is not a
    terminal the width is the content's, not 80 columns."""

    def __init__(self, **kwargs: Any) -> None:
        stream = kwargs.pop("file", None) or sys.stdout
        terminal = bool(getattr(stream, "isatty", lambda: False)())
        kwargs.setdefault("width", None if terminal else PIPE_WIDTH)
        super().__init__(file=_Raw(stream), **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(segment if segment.control else Segment(clean_output(segment.text),
                                                                              segment.style)
                                      for segment in buffer)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def rate_cell(value: float | None, ci_low: float | None, ci_high: float | None, n: int) -> Text:
    if value is None:
        return Text("—", style="dim")
    text = Text(f"{pct(value)} ")
    text.append(f"[{pct(ci_low)}–{pct(ci_high)}]", style="dim")
    if n < SMALL_N:
        text.append(" small n", style="yellow")
    return text


def _rate(r: Any) -> Text:
    """A Rate (or anything with value/ci_low/ci_high/n) as a cell."""
    return Text("—", style="dim") if r is None else rate_cell(r.value, r.ci_low, r.ci_high, r.n)


def _strata_table(title: str, rows: dict[str, SessionBlock]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("stratum")
    table.add_column("n", justify="right")
    table.add_column("resolution (95% CI)")
    table.add_column("escalation (95% CI)")
    table.add_column("correct (95% CI)")
    for name, block in rows.items():
        table.add_row(Text(inert(name, keep_newlines=False)), str(block.n), _rate(block.resolution_rate),
                      _rate(block.escalation_rate), _rate(block.correct_rate))
    return table


def render_report(report: Report, by: str = "tier", console: Console | None = None) -> None:
    console = console or SafeConsole()
    console.print(Text(f"run {inert(report.run, keep_newlines=False)}: {report.n_sessions:,} sessions",
                       style="bold"))
    console.print(_strata_table("By tier", {"overall": report.overall, **report.tiers}))
    if by != "tier":
        console.print(_strata_table(f"By {by}", dict(report.strata[by])))
    _render_containment(report, by, console)
    _render_dissatisfaction(report, console)
    if report.evaluators:
        from cstui.validation import trust_text

        table = Table(title="Evaluators (pass rate over applicable sessions)", title_justify="left")
        table.add_column("evaluator")
        table.add_column("n", justify="right")
        table.add_column("pass (95% CI)")
        for tier in ("tier_1", "tier_2", "tier_3"):
            table.add_column(tier.replace("_", " "))
        table.add_column("precision")
        for name, ev in sorted(report.evaluators.items(), key=lambda kv: (kv[1].pass_rate or 2, kv[0])):
            cells = [rate_cell(ev.pass_rate, ev.ci_low, ev.ci_high, ev.n)]
            for tier in ("tier_1", "tier_2", "tier_3"):
                t = ev.by_tier.get(tier)
                cells.append(Text(f"{pct(t.pass_rate)} (n={t.n})") if t else Text("—", style="dim"))
            cells.append(Text(*trust_text(ev.validated, short=True)))
            style = "red" if ev.pass_rate is not None and ev.pass_rate < 0.95 else ""
            table.add_row(Text(inert(name), style=style), str(ev.n), *cells)
        console.print(table)
        console.print(Text("precision: the share of an evaluator's failures a reviewer confirmed, measured on this "
                           "run's labels (run) or, until there are any, on the validation set shipped with cstui (set; "
                           "* = an older evaluator version); red below 0.90", style="dim"))
    cal = report.calibration
    table = Table(title="Calibration (confidence vs correctness)", title_justify="left")
    table.add_column("scope")
    table.add_column("n", justify="right")
    table.add_column("ECE", justify="right")
    table.add_column("Brier", justify="right")
    table.add_column("mean conf → accuracy in the fullest bins")
    for name, block in {"overall": cal.overall, **cal.by_tier}.items():
        if not block.n or block.ece is None:
            table.add_row(name, "0", "—", "—", "")
            continue
        top = sorted((b for b in block.bins if b.n), key=lambda b: -b.n)[:3]
        detail = Text(", ".join(f"{b.confidence or 0:.2f}→{b.accuracy or 0:.2f} (n={b.n})" for b in top))
        gap = block.overconfidence
        if gap is not None and abs(gap) >= 0.05:
            detail.append(f"  {'overconfident' if gap > 0 else 'underconfident'} by {abs(gap):.2f}",
                          style="bold red" if gap > 0 else "yellow")
        ece_style = "red" if block.ece >= 0.05 else "green"
        table.add_row(name.replace("_", " "), str(block.n), Text(f"{block.ece:.3f}", style=ece_style),
                      f"{block.brier or 0:.3f}", detail)
    console.print(table)
    _render_escalation(report, console)
    if report.hallucination_by_category:
        table = Table(title="Hallucination by category (sessions with a failed claim)", title_justify="left")
        table.add_column("category")
        table.add_column("n", justify="right")
        table.add_column("failed", justify="right")
        table.add_column("rate (95% CI)")
        for name, h in sorted(report.hallucination_by_category.items(), key=lambda kv: -kv[1].rate):
            table.add_row(name, str(h.n), str(h.failed), rate_cell(h.rate, h.ci_low, h.ci_high, h.n))
        console.print(table)
    if report.draft_assist:
        _render_drafts(report.draft_assist, console)
    if report.judges or report.alignment:
        _render_judges(report, console)
    for w in report.warnings:
        console.print(Text(f"sample size ({inert(w.rule)}): {inert(w.message)}", style="yellow"), soft_wrap=True)


def _render_containment(report: Report, by: str, console: Console) -> None:
    """Containment beside what it hides: sessions that ended without a handoff and without resolution."""
    table = Table(title="Containment vs resolution (contained-unresolved: ended without a handoff and without "
                        "resolution, over sessions with a known resolution)", title_justify="left")
    table.add_column("stratum")
    table.add_column("n", justify="right")
    table.add_column("contained (95% CI)")
    table.add_column("contained, unresolved (95% CI)")
    table.add_column("resolved (95% CI)")
    rows = {"overall": report.overall, **report.tiers, **(dict(report.strata[by]) if by != "tier" else {})}
    for name, block in rows.items():
        table.add_row(Text(inert(name, keep_newlines=False)), str(block.n), _rate(block.containment),
                      _rate(block.contained_unresolved), _rate(block.resolution_rate))
    console.print(table)
    gap = report.overall.contained_unresolved
    if gap is not None and gap.value:
        console.print(Text(f"Deflection gap: {pct(gap.value)} of sessions ({gap.k:,} of {gap.n:,}) were contained "
                           f"without being resolved — containment {pct(report.overall.containment.value)} is not "
                           "resolution.", style="bold yellow" if gap.value >= 0.1 else ""), soft_wrap=True)


def _render_dissatisfaction(report: Report, console: Console) -> None:
    """Estimated dissatisfied customers per tier, and the validation figure the estimate rests on."""
    d = report.dissatisfaction
    if not d:
        return
    table = Table(title="Estimated dissatisfaction", title_justify="left")
    table.add_column("stratum")
    table.add_column("n", justify="right")
    table.add_column("dissatisfied (95% CI)")
    for name, block in {"overall": d["overall"], **d["tiers"]}.items():
        table.add_row(name, f"{block['n']:,}",
                      rate_cell(block["value"], block["ci_low"], block["ci_high"], block["n"]))
    console.print(table)
    console.print(Text(f"the mean of {inert(str(d['evaluator']))}'s calibrated chance that the customer was "
                       "frustrated: an estimate read off the conversations, not a survey (docs/metrics.md)",
                       style="dim"), soft_wrap=True)
    rests = d.get("rests_on") or {}
    real = rests.get("real_customers") or {}
    if real.get("auc") is not None:
        base = ", ".join(f"{k} {v:.2f}" for k, v in (real.get("baselines") or {}).items() if v is not None)
        console.print(Text(f"rests on: ranks real customers' frustration/anger at AUC {real['auc']:.2f} "
                           f"[{real['auc_ci'][0]:.2f}–{real['auc_ci'][1]:.2f}] on held-out chats (n={real['n']}; "
                           f"baselines {base})" + (" — an older evaluator version" if rests.get("stale") else ""),
                           style="dim"), soft_wrap=True)
    else:
        console.print(Text("rests on: no held-out validation figure for this evaluator", style="yellow"))


def _render_escalation(report: Report, console: Console) -> None:
    esc = report.escalation
    tte = esc.time_to_escalation_turns
    console.print(Text(f"Escalation rate {pct(esc.rate)} [{pct(esc.ci_low)}–{pct(esc.ci_high)}]; turns to "
                       f"escalation p50 {_num(tte.p50)}, p90 {_num(tte.p90)} (n={tte.n})", style="bold"))
    if tte.histogram:
        peak = max(h.n for h in tte.histogram)
        for h in tte.histogram:
            console.print(f"  turn {h.turns:>3}  {'█' * max(1, round(30 * h.n / peak)):<30} {h.n}")
    by_conf = esc.by_confidence
    rho = by_conf.spearman
    trend = "" if rho is None else (" (escalates more as confidence falls: good)" if rho < 0
                                    else " (does NOT escalate more as confidence falls)")
    table = Table(title=f"Escalation rate by confidence; Spearman ρ = {_num(rho, 3)}{trend}", title_justify="left")
    table.add_column("confidence")
    table.add_column("n", justify="right")
    table.add_column("escalated (95% CI)")
    for b in by_conf.bins:
        if b.n:
            table.add_row(f"{b.lo:.1f}–{b.hi:.1f}", str(b.n), _rate(b))
    console.print(table)


def _render_drafts(online: dict[str, Any], console: Console) -> None:
    t = online["totals"]
    console.print(Text(
        f"Draft assist: {t['n_drafts']:,} drafts; accept {pct(t['accept_rate'])}, reject {pct(t['reject_rate'])}, "
        f"edit distance {_num(t['edit_distance'], 3)}, latency p95 {_num(t['latency_p95_ms'], 0)} ms, "
        f"cost/draft ${_num(t['cost_per_draft'], 4)}, escalation {pct(t['escalation_rate'])}", style="bold"))
    if online["alerts"]:
        for a in online["alerts"]:
            console.print(Text(f"  ALERT {a['rule']}: {inert(a['message'])}", style="red"), soft_wrap=True)
    else:
        console.print(Text(f"  no alerts over {len(online['days'])} day(s) (days with < {online['min_drafts_per_day']} "
                           "drafts are not alerted on)", style="green"))


def _render_judges(report: Report, console: Console) -> None:
    table = Table(title="LLM judges: cost and agreement with reviewers (κ < 0.6 is not trusted)", title_justify="left")
    for col in ("judge", "verdicts", "errors", "calls", "cost", "κ queue (n)", "κ triage (n)"):
        table.add_column(col)
    alignment = report.alignment
    for name in sorted(set(report.judges) | set(alignment)):
        judge = report.judges.get(name)
        cells = []
        for group in ("queue", "triage"):
            block = alignment.get(name, {}).get(group)
            if not block or block["kappa"] is None:
                cells.append(Text("—", style="dim"))
            else:
                cells.append(Text(f"{block['kappa']:.2f} ({block['n']})", style="red" if block["kappa"] < 0.6 else "green"))
        table.add_row(Text(inert(name)), str(judge.n if judge else 0), str(judge.errors if judge else 0),
                      str(judge.calls if judge else 0), f"${judge.cost_usd if judge else 0.0:.4f}", *cells)
    console.print(table)
    if alignment:
        console.print(Text("κ from review-queue labels is measured on a random sample; triage labels are "
                           "selection-biased (reviewers label what was flagged).", style="dim"), soft_wrap=True)


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def gate_rule_cells(rule: RuleResult, failed: list[str], bounds: tuple[str, str] = (" (lower bound)", " (upper bound)")
                    ) -> tuple[Text, str, str, str]:
    """(status mark, observed, threshold, interval) of one gate rule, for the terminal and the dashboard."""
    if rule.status == "no_data":
        mark = Text("N/A", style="dim")
    elif rule.status == "pass":
        mark = Text("PASS", style="bold green")
    elif rule.name in failed:
        mark = Text("FAIL", style="bold red")
    else:
        mark = Text("WARN", style="bold yellow")
    if rule.metric == "ece":
        observed = "—" if rule.observed is None else f"{rule.observed:.3f}"
        return mark, observed, f"< {rule.threshold:.2f}", ""
    op = "<" if rule.comparison == "<" else "≥"
    bound = {"wilson_lower": bounds[0], "wilson_upper": bounds[1]}.get(rule.use, "")
    threshold = f"{op} {pct(rule.threshold)}{bound}"
    ci = "" if rule.ci_low is None else f"{pct(rule.ci_low)}–{pct(rule.ci_high)}"
    return mark, pct(rule.observed), threshold, ci


def render_gate(result: GateResult, console: Console | None = None, open_command: str | None = None) -> None:
    """Summary of a gate: every rule with observed value, threshold, n and interval. In a terminal, a table; in
    a CI log (not a terminal), one unwrapped line per rule, so a rule name is never cut. `open_command` is the
    command that opens the failures in the TUI, printed last."""
    console = console or SafeConsole()
    run = inert(result.run, keep_newlines=False)
    title = f"gate for run {run}" + (f" vs baseline {inert(result.baseline, keep_newlines=False)}"
                                     if result.baseline else "")
    if not console.is_terminal:
        console.print(Text(title, style="bold"), soft_wrap=True)
        for r in result.rules:
            mark, observed, threshold, ci = gate_rule_cells(r, result.failed)
            console.print(Text(f"{mark.plain:<5} {inert(r.name, keep_newlines=False)}  observed {observed}  "
                               f"threshold {threshold}  n {r.n}" + (f"  95% CI {ci}" if ci else "")
                               + f"  ({inert(r.title or '', keep_newlines=False)})"),
                          soft_wrap=True)
        _gate_details(result, console, open_command)
        return
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("", no_wrap=True, min_width=4)
    table.add_column("rule", overflow="fold")
    table.add_column("observed", justify="right", no_wrap=True, min_width=6)
    table.add_column("threshold", justify="right", no_wrap=True, min_width=8)
    table.add_column("n", justify="right", no_wrap=True, min_width=4)
    table.add_column("95% CI", no_wrap=True, min_width=13)
    for r in result.rules:
        mark, observed, threshold, ci = gate_rule_cells(r, result.failed)
        table.add_row(mark, Text(inert(r.name)), observed, threshold, str(r.n), ci)
    console.print(table)
    _gate_details(result, console, open_command)


def _gate_details(result: GateResult, console: Console, open_command: str | None) -> None:
    for r in result.rules:
        if r.status == "fail" or r.status == "no_data" or r.warnings:
            prefix = ("FAIL" if r.name in result.failed else "WARN" if r.status == "fail"
                      else "NO DATA" if r.status == "no_data" else "note")
            console.print(Text(f"{prefix} {inert(r.name)}: {inert(r.message, keep_newlines=False)}"), soft_wrap=True)
            for w in r.warnings:
                console.print(Text(f"    sample size: {inert(w)}", style="yellow"), soft_wrap=True)
            if r.flipped:
                shown = ", ".join(inert(s) for s in r.flipped[:20])
                more = len(r.flipped) - 20
                console.print(Text(f"    flipped pass→fail: {shown}" + (f" (+{more} more)" if more > 0 else ""),
                                   style="red"), soft_wrap=True)
            elif r.status == "fail" and r.failing_sessions:
                shown = ", ".join(inert(s) for s in r.failing_sessions[:20])
                more = len(r.failing_sessions) - 20
                console.print(Text(f"    failing: {shown}" + (f" (+{more} more)" if more > 0 else "")), soft_wrap=True)
    if result.passed:
        verdict = Text("gate PASSED", style="bold green")
        if result.advisories:
            verdict.append(f" with {len(result.advisories)} advisory failure(s)", style="yellow")
    else:
        verdict = Text(f"gate FAILED: {', '.join(result.failed)}", style="bold red")
    if result.no_data:
        verdict.append(f"; {len(result.no_data)} rule(s) without data"
                       + ("" if result.strict else " (not counted; --strict counts them)"), style="dim")
    console.print(verdict, soft_wrap=True)
    if open_command and not result.passed:
        console.print(Text(f"open the failures: {open_command}"), soft_wrap=True)
