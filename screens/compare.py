"""CompareScreen: baseline vs candidate per gate rule and per tier, with the sessions that flipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cstui.report_text import gate_rule_cells, pct
from cstui.screens import data
from cstui.screens.data import CompareLoaded
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import FailureFilter
from cstui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from cstui.report_models import GateResult, Report


def _value(rate: Any) -> float | None:
    return None if rate is None else rate.value


class CompareScreen(Screen[None]):
    HELP = ("The candidate against its baseline, rule by rule (change in points, p-value, sessions that flipped from "
            "pass to fail) and tier by tier; enter on a rule lists its flipped sessions (b on one of them shows it "
            "beside its baseline). Runs of two different systems "
            "are flagged: such a comparison says little about a change.")
    BINDINGS: ClassVar[list[BindingType]] = [*data.FIRST_KEYS, Binding("escape", "app.back", "Back")]
    DEFAULT_CSS = """
    CompareScreen .title { padding: 0 1; text-style: bold; }
    CompareScreen #rules { height: auto; max-height: 18; }
    CompareScreen #tiers { height: auto; }
    """

    def __init__(self, store: Store, run: str, baseline: str) -> None:
        super().__init__()
        self.store = store
        self.run = run
        self.baseline = baseline
        self.gate: GateResult | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"{inert(self.run)} vs baseline {inert(self.baseline)} — enter on a rule lists the "
                          "sessions that flipped from pass to fail"), classes="title")
        yield Static(id="systems", classes="title")
        yield RowTable(id="rules", cursor_type="row", zebra_stripes=True)
        yield Static("per tier", classes="title")
        yield RowTable(id="tiers", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = inert(f"compare · {self.run} vs {self.baseline}", keep_newlines=False)
        self.load()

    def load(self) -> None:
        run, baseline = self.run, self.baseline

        def fetch(store: Store) -> CompareLoaded:
            from cstui.gates import run_gate
            from cstui.metrics import build_report

            systems = (store.run(run).get("system"), store.run(baseline).get("system"))
            return CompareLoaded(run_gate(store, run, baseline=baseline), build_report(store, run),
                                 build_report(store, baseline), systems)

        data.load(self, "compare", fetch, path=self.store.path)

    @on(CompareLoaded)
    def _compare_loaded(self, message: CompareLoaded) -> None:
        self.show(message.gate, message.baseline, message.candidate, message.systems)

    def show(self, gate: GateResult, base: Report, cand: Report,
             systems: tuple[str | None, str | None] = (None, None)) -> None:
        self.gate = gate
        warning = self.query_one("#systems", Static)
        if systems[0] and systems[1] and systems[0] != systems[1]:
            warning.update(Text(f"⚠ different systems: {inert(self.run)} is {inert(systems[0])}, {inert(self.baseline)} "
                                f"is {inert(systems[1])} — the changes below compare two systems, not a change to one",
                                style="bold yellow"))
        else:
            warning.display = False
        rules = self.query_one("#rules", DataTable)
        rules.add_columns("rule", "baseline", "candidate", "change", "p", "flipped", "verdict")
        for r in gate.rules:
            b = r.baseline
            p = "" if b is None or b.p_value is None else f"{b.p_value:.3g}"
            # the dashboard's words: FAIL (blocking), WARN (advisory), PASS, N/A — plus REGRESSED vs the baseline
            verdict = (Text("REGRESSED", style="bold red") if b is not None and b.regressed
                       else gate_rule_cells(r, gate.failed)[0])
            if r.metric == "ece":  # the baseline's ECE of the same tier, as the per-tier table below shows it
                tier = r.name.rsplit(".", 1)[-1]
                before = base.calibration.by_tier[tier].ece if tier in base.calibration.by_tier else None
                change = signed(None if before is None or r.observed is None else r.observed - before, "{:+.3f}")
                rules.add_row(Text(inert(r.name)), ece_text(before), ece_text(r.observed), change, p, "", verdict,
                              key=r.name)
                continue
            change = signed(None if b is None or b.drop is None else -100 * b.drop, "{:+.1f} pts")
            rules.add_row(Text(inert(r.name)), pct(b.observed if b else None), pct(r.observed), change, p,
                          str(len(r.flipped)) if r.flipped else "", verdict, key=r.name)
        tiers = self.query_one("#tiers", DataTable)
        tiers.add_columns("tier", "n", "resolution base → cand", "escalation base → cand",
                          "contained, unresolved base → cand", "ECE base → cand")
        for key in ("tier_1", "tier_2", "tier_3"):
            tb, tc = base.tiers[key], cand.tiers[key]
            eb, ec = base.calibration.by_tier[key].ece, cand.calibration.by_tier[key].ece
            tiers.add_row(key.replace("_", " "), f"{tb.n} / {tc.n}",
                          f"{pct(tb.resolution_rate.value)} → {pct(tc.resolution_rate.value)}",
                          f"{pct(tb.escalation_rate.value)} → {pct(tc.escalation_rate.value)}",
                          f"{pct(_value(tb.contained_unresolved))} → {pct(_value(tc.contained_unresolved))}",
                          f"{ece_text(eb)} → {ece_text(ec)}")
        rules.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "rules" or self.gate is None:
            return
        rule = self.gate.rule(str(event.row_key.value))
        if not rule.flipped:
            self.notify("No session flipped from pass to fail on this rule.")
            return
        from cstui.screens.failures import FailuresScreen

        self.app.push_screen(FailuresScreen(self.store, self.run, FailureFilter(
            session_ids=tuple(rule.flipped), title=f"flipped on {rule.name} vs {self.baseline}"),
            baseline=self.baseline))


def ece_text(ece: float | None) -> str:
    """An ECE, or — for a tier with no stated confidences (never 0.000, which would read as perfect)."""
    return "—" if ece is None else f"{ece:.3f}"


def signed(value: float | None, fmt: str) -> str:
    """A change with its sign, where a change that rounds to zero reads as zero (never "-0.0 pts")."""
    if value is None:
        return ""
    text = fmt.format(value)
    return fmt.format(0.0).replace("+", "±") if float(text.split()[0]) == 0 else text

