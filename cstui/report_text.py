"""Human-readable `cstui report` output (rich tables; every data string passes through `inert`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cstui.textsafe import inert

SMALL_N = 30


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def rate_cell(r: dict[str, Any]) -> Text:
    if not r or r.get("value") is None:
        return Text("—", style="dim")
    text = Text(f"{pct(r['value'])} ")
    text.append(f"[{pct(r['ci_low'])}–{pct(r['ci_high'])}]", style="dim")
    if r["n"] < SMALL_N:
        text.append(" small n", style="yellow")
    return text


def _strata_table(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("stratum")
    table.add_column("n", justify="right")
    table.add_column("resolution (95% CI)")
    table.add_column("escalation (95% CI)")
    table.add_column("correct (95% CI)")
    for name, block in rows.items():
        table.add_row(Text(inert(name, keep_newlines=False)), str(block["n"]), rate_cell(block["resolution_rate"]),
                      rate_cell(block["escalation_rate"]), rate_cell(block["correct_rate"]))
    return table


def render_report(report: dict[str, Any], by: str = "tier", console: Console | None = None) -> None:
    console = console or Console()
    console.print(Text(f"run {inert(report['run'], keep_newlines=False)}: {report['n_sessions']:,} sessions",
                       style="bold"))
    console.print(_strata_table("By tier", {"overall": report["overall"], **report["tiers"]}))
    if by != "tier":
        console.print(_strata_table(f"By {by}", report["strata"][by]))
    if report["evaluators"]:
        table = Table(title="Evaluators (pass rate over applicable sessions)", title_justify="left")
        table.add_column("evaluator")
        table.add_column("n", justify="right")
        table.add_column("pass (95% CI)")
        for tier in ("tier_1", "tier_2", "tier_3"):
            table.add_column(tier.replace("_", " "))
        for name, ev in sorted(report["evaluators"].items(), key=lambda kv: (kv[1]["pass_rate"] or 2, kv[0])):
            cells = [rate_cell({"value": ev["pass_rate"], "ci_low": ev["ci_low"], "ci_high": ev["ci_high"],
                                "n": ev["n"]})]
            for tier in ("tier_1", "tier_2", "tier_3"):
                t = ev["by_tier"].get(tier)
                cells.append(Text(f"{pct(t['pass_rate'])} (n={t['n']})") if t else Text("—", style="dim"))
            style = "red" if ev["pass_rate"] is not None and ev["pass_rate"] < 0.95 else ""
            table.add_row(Text(inert(name), style=style), str(ev["n"]), *cells)
        console.print(table)
    cal = report["calibration"]
    table = Table(title="Calibration (confidence vs correctness)", title_justify="left")
    table.add_column("scope")
    table.add_column("n", justify="right")
    table.add_column("ECE", justify="right")
    table.add_column("Brier", justify="right")
    table.add_column("mean conf → accuracy in the fullest bins")
    for name, block in {"overall": cal["overall"], **cal["by_tier"]}.items():
        if not block["n"]:
            table.add_row(name, "0", "—", "—", "")
            continue
        top = sorted((b for b in block["bins"] if b["n"]), key=lambda b: -b["n"])[:3]
        detail = ", ".join(f"{b['confidence']:.2f}→{b['accuracy']:.2f} (n={b['n']})" for b in top)
        ece_style = "red" if block["ece"] >= 0.05 else "green"
        table.add_row(name.replace("_", " "), str(block["n"]), Text(f"{block['ece']:.3f}", style=ece_style),
                      f"{block['brier']:.3f}", detail)
    console.print(table)
    esc = report["escalation"]
    tte = esc["time_to_escalation_turns"]
    console.print(f"Escalation rate {pct(esc['rate'])}; turns to escalation p50 "
                  f"{tte['p50'] if tte['p50'] is not None else '—'}, p90 {tte['p90'] if tte['p90'] is not None else '—'}"
                  f" (n={tte['n']})")
