"""DashboardScreen: one run at a glance — the gate, per-tier panels, calibration, escalation, drafts.

Metrics are computed in a thread worker (100k sessions take about a second) so the screen paints at
once; Enter on a gate rule, a tier panel or a hallucination category opens the failures it stands for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, LoadingIndicator, Static, TabbedContent

from cstui.live import WINDOW
from cstui.report_text import gate_rule_cells, pct
from cstui.screens import data
from cstui.screens.dashboard_tabs import DashboardTabs, interval
from cstui.screens.data import ReportLoaded
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import FailureFilter
from cstui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from cstui.report_models import GateResult, Report

# Dashboard tabs: number keys 1-7 switch to them, in this order.
TABS = (("tab-calibration", "Calibration"), ("tab-evaluators", "Evaluators"), ("tab-escalation", "Escalation"),
        ("tab-hallucination", "Hallucination"), ("tab-drafts", "Draft assist"), ("tab-drift", "Drift"),
        ("tab-judges", "Judges"))

TIER_NAMES = {"tier_1": "Tier 1 · routine", "tier_2": "Tier 2 · action-taking", "tier_3": "Tier 3 · complex / emotional"}


class TierPanel(Static, can_focus=True):
    """A tier's headline numbers; each opens the sessions behind it (enter: failing; u, e: the figures)."""
    KEYS_IN_HELP = True  # its keys are listed in the help of the screen it is on

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open('failing')", "Failures in tier"),
        Binding("U", "open('unresolved')", "Unresolved", key_display="U"),
        Binding("E", "open('escalated')", "Escalated", key_display="E"),
        Binding("D", "open('contained_unresolved')", "Contained, unresolved", key_display="D"),
    ]
    DEFAULT_CSS = """
    TierPanel { width: 1fr; height: auto; min-height: 9; border: round $primary; padding: 0 1; }
    TierPanel:focus { border: heavy $accent; }
    TierPanel.bad { border: round $error; }
    TierPanel.bad:focus { border: heavy $error; }
    """

    def __init__(self, tier: int) -> None:
        super().__init__(id=f"tier-{tier}")
        self.tier = tier
        self.border_title = TIER_NAMES[f"tier_{tier}"]
        self.border_subtitle = "U / E / D: list those sessions"

    def show(self, report: Report) -> None:
        key = f"tier_{self.tier}"
        block = report.tiers.get(key)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"n = {block.n if block else 0:,}\n", style="bold")
        if block and block.n:
            res, esc = block.resolution_rate, block.escalation_rate
            text.append(f"resolution  {pct(res.value)}{interval(res)} (U)\n")
            text.append(f"escalation  {pct(esc.value)}{interval(esc)} (E)\n")
            contained, gap = block.containment, block.contained_unresolved
            if contained is not None and gap is not None:
                text.append(f"contained   {pct(contained.value)}{interval(contained)}\n")
                text.append(f"contained, unresolved  {pct(gap.value)} (D)\n",
                            style="bold yellow" if (gap.value or 0) >= 0.1 else "")
            unhappy = (report.dissatisfaction or {}).get("tiers", {}).get(key)
            if unhappy and unhappy.get("n"):  # estimated from frustration's calibrated chance (docs/metrics.md)
                text.append(f"dissatisfied~ {pct(unhappy['value'])} [{pct(unhappy['ci_low'])}–"
                            f"{pct(unhappy['ci_high'])}]\n", style="yellow" if unhappy["value"] >= 0.2 else "")
            halluc = [(ev, b.by_tier.get(key)) for ev, b in report.evaluators.items()]
            failed = [(ev, t) for ev, t in halluc if t and t.n]
            worst = sorted(failed, key=lambda et: (et[1].pass_rate, et[0]))[:3]
            cal = report.calibration.by_tier.get(key)
            if cal is not None and cal.ece is not None and cal.overconfidence is not None:
                gap = cal.overconfidence
                text.append(f"ECE {cal.ece:.3f}", style="red" if cal.ece >= 0.05 else "green")
                if abs(gap) >= 0.05:
                    text.append(f"  {'overconfident' if gap > 0 else 'underconfident'} {abs(gap):.2f}",
                                style="bold red" if gap > 0 else "yellow")
                text.append("\n")
            text.append("worst evaluators\n", style="dim")
            for ev, t in worst:
                style = "red" if t.pass_rate < 1 else "green"
                text.append(f" {inert(ev)[:20]:<20} {pct(t.pass_rate):>6} ({t.n})\n", style=style)
            if any(t.pass_rate < 1 for _, t in worst):
                self.add_class("bad")
        self.update(text)

    class Opened(Message):
        """A figure of the panel chosen: `what` is "failing" or an outcome of cstui.triage.OUTCOMES."""

        def __init__(self, tier: int, what: str) -> None:
            super().__init__()
            self.tier, self.what = tier, what

    def action_open(self, what: str) -> None:
        self.post_message(self.Opened(self.tier, what))


class DashboardScreen(data.FollowsStore, Screen[None]):
    HELP = ("Gate rules first: enter on one lists the sessions that broke it (a rule with no data says what to run). "
            "On a tier panel (tab to it) enter lists its failing sessions, U / E / D its unresolved, escalated and "
            "contained-but-unresolved ones — the sessions behind each figure. 1-7 switch tabs; enter on a calibration "
            "or escalation bin, a hallucination category or an evaluator lists exactly the sessions it counts.")
    BINDINGS: ClassVar[list[BindingType]] = [
        *data.FIRST_KEYS,
        Binding("escape", "app.back", "Runs"),
        Binding("f", "failures", "All failures"),
        Binding("c", "compare", "Compare with baseline"),
        Binding("ctrl+r", "reload", "Reload"),
        *(Binding(str(i + 1), f"tab('{tab}')", title, show=False) for i, (tab, title) in enumerate(TABS)),
    ]
    DEFAULT_CSS = """
    DashboardScreen #banner { height: auto; max-height: 3; padding: 0 1; text-style: bold; }
    DashboardScreen #banner.pass { background: $success 40%; }
    DashboardScreen #banner.fail { background: $error 60%; }
    DashboardScreen #gate { height: auto; max-height: 16; }
    DashboardScreen #tiers { height: auto; }
    DashboardScreen TabbedContent { height: auto; min-height: 20; }
    DashboardScreen .plots { height: 18; }
    DashboardScreen .plots > * { width: 1fr; }
    DashboardScreen #hallucination, DashboardScreen #drift, DashboardScreen #evaluators,
    DashboardScreen #calibration-bins, DashboardScreen #escalation-bins { height: auto; max-height: 20; }
    DashboardScreen .note { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, store: Store, run: str, baseline: str | None = None, *, remembered: bool = True) -> None:
        """`remembered`: without a `baseline`, compare with the one remembered for the run (read by the worker)."""
        super().__init__()
        self.store = store
        self.run = run
        self.baseline = baseline if baseline != run else None
        self.remembered = remembered and self.baseline is None
        self.report: Report | None = None
        self.gate: GateResult | None = None
        self.seen: tuple[Any, ...] | None = None  # the store's change marker the shown metrics were computed at
        self.loading = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"run {inert(self.run, keep_newlines=False)} — computing metrics…"), id="banner")
        yield LoadingIndicator(id="loading")
        yield VerticalScroll(id="body")
        yield Footer()

    def _body(self) -> list[Any]:
        """The panels, mounted once the metrics exist: the first frame stays as light as a bare app's."""
        return [RowTable(id="gate", cursor_type="row", zebra_stripes=True),
                Horizontal(*(TierPanel(tier) for tier in (1, 2, 3)), id="tiers"), DashboardTabs()]

    def on_mount(self) -> None:
        title = f"dashboard · {self.run}" + (f" vs {self.baseline}" if self.baseline else "")
        self.sub_title = inert(title, keep_newlines=False)
        self.call_after_refresh(self.load)  # paint first, then start the metrics worker
        self.set_interval(data.LIVE_POLL, self.poll)  # a run `cstui serve` or `cstui watch` is filling grows on screen

    # ------------------------------------------------------------------ data
    def load(self) -> None:
        run, baseline, remembered = self.run, self.baseline, self.remembered
        self.loading = True

        def fetch(store: Store) -> ReportLoaded:
            from cstui.gates import run_gate
            from cstui.metrics import build_report

            marker = store.change_marker()
            base = store.baseline_of(run) if remembered else baseline
            report = build_report(store, run)
            gate = run_gate(store, run, baseline=base)
            return ReportLoaded(report, gate, store.drift_events(run), marker, base)

        data.load(self, "metrics", fetch, path=self.store.path)

    @on(ReportLoaded)
    async def _report_loaded(self, message: ReportLoaded) -> None:
        self.seen, self.loading = message.marker, False
        if self.remembered:
            self.remembered, self.baseline = False, message.baseline
            self.sub_title = inert(f"dashboard · {self.run}" + (f" vs {self.baseline}" if self.baseline else ""),
                                   keep_newlines=False)
        await self.show(message.report, message.gate, message.drift)

    def action_reload(self) -> None:
        self.load()

    async def show(self, report: Report, gate: GateResult, drift: list[dict[str, Any]]) -> None:
        """Fill the panels; on a reload (a relabel, a rerun) cursors and focus stay where the reviewer left them."""
        first = self.report is None
        self.report, self.gate = report, gate
        self.query_one("#loading").display = False
        body = self.query_one("#body", VerticalScroll)
        if not body.children:
            await body.mount_all(self._body())
        cursors = {t.id: t.cursor_row for t in self.query(DataTable) if t.row_count}
        self._show_banner(gate, drift)
        self._show_gate(gate)
        for panel in self.query(TierPanel):
            panel.show(report)
        await self.query_one(DashboardTabs).show(report, drift)
        for table in self.query(DataTable):
            if table.id in cursors and table.row_count:
                table.move_cursor(row=min(cursors[table.id], table.row_count - 1), animate=False)
        if first:
            self.query_one("#gate", DataTable).focus()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _show_banner(self, gate: GateResult, drift: list[dict[str, Any]]) -> None:
        banner = self.query_one("#banner", Static)
        run = inert(self.run, keep_newlines=False)
        n = self.report.n_sessions if self.report else 0
        if gate.passed:
            extra = f" · {len(gate.advisories)} advisory" if gate.advisories else ""
            text = Text(f"✔ gate PASSED  run {run} · {n:,} sessions{extra}")
            banner.set_classes("pass")
        else:
            text = Text(f"✘ gate FAILED  run {run} · {n:,} sessions · {len(gate.failed)} blocking rule(s) broken")
            banner.set_classes("fail")
        if gate.no_data:
            text.append(f" · {len(gate.no_data)} without data")
        alerts = [e for e in drift if str(e["scope"]).startswith(WINDOW) and not e["note"]]
        if alerts:  # live drift (cstui.live) nobody has annotated yet
            e = min(alerts, key=lambda a: a["delta"])  # the largest fall; the Drift tab lists them all
            text.append(f" · ⚠ {len(alerts)} drift alert{'s' * (len(alerts) > 1)}: "
                        f"{inert(str(e['metric']).removeprefix('pass_rate:'), keep_newlines=False)} "
                        f"{pct(e['previous'])} → {pct(e['current'])} ({inert(str(e['scope']), keep_newlines=False)})")
            banner.set_classes("fail")
        banner.update(text)

    def _show_gate(self, gate: GateResult) -> None:
        table = self.query_one("#gate", DataTable)
        table.clear(columns=True)
        table.add_columns("", "rule", "measures", "observed", "threshold", "n", "95% CI", "on fail", "note")
        for r in gate.rules:
            mark, observed, threshold, ci = gate_rule_cells(r, gate.failed, bounds=(" (LB)", " (UB)"))
            note = ""
            if r.flipped:
                note = f"{len(r.flipped)} flipped vs {inert(gate.baseline or '')}"
            elif r.warnings:
                note = "small n"
            elif r.status == "no_data":
                note = "no results"
            table.add_row(mark, Text(inert(r.name)), Text(inert(r.title or ""), style="dim"), observed,
                          threshold, str(r.n), ci,
                          Text(inert(r.on_fail)), Text(note, style="yellow"), key=r.name)

    # ------------------------------------------------------------------ navigation
    @on(TierPanel.Opened)
    def _tier_opened(self, message: TierPanel.Opened) -> None:
        title = TIER_NAMES[f"tier_{message.tier}"]
        if message.what == "failing":
            self.open_failures(FailureFilter(tiers=(message.tier,), title=title))
        else:
            from cstui.triage import OUTCOMES

            self.open_failures(FailureFilter(tiers=(message.tier,), figure=message.what, include_passing=True,
                                             title=f"{title}: {OUTCOMES[message.what]}"))

    def open_failures(self, failure_filter: FailureFilter) -> None:
        from cstui.screens.failures import FailuresScreen

        self.app.push_screen(FailuresScreen(self.store, self.run, failure_filter))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if event.data_table.id == "gate" and self.gate:
            from cstui.triage import rule_failure_filter

            rule = next(r for r in self.gate.rules if r.name == key)
            if rule.status == "no_data":  # an empty list would say nothing: say what would give it data
                self.notify(f"{rule.name}: {rule.message}", severity="warning", timeout=15)
                return
            self.open_failures(rule_failure_filter(rule))
        elif event.data_table.id == "calibration-bins" and key:
            tier, lo, hi = key.split(":")
            self.open_failures(FailureFilter(tiers=(int(tier),), figure=f"calibration:{lo}", include_passing=True,
                                             title=f"tier {tier} · stated confidence {float(lo):.1f}–{float(hi):.1f}"))
        elif event.data_table.id == "escalation-bins" and key:
            self.open_failures(FailureFilter(figure=f"confidence:{key}", include_passing=True,
                                             title=f"stated confidence {float(key):.1f}–{float(key) + 0.1:.1f}"))
        elif event.data_table.id == "evaluators" and key:
            self.open_failures(FailureFilter(evaluators=(key,), title=f"evaluator {key}"))
        elif event.data_table.id == "hallucination" and key:
            self.open_failures(FailureFilter(hallucination_category=key, title=f"hallucination: {key}"))

    def action_failures(self) -> None:
        self.open_failures(FailureFilter())

    def action_compare(self) -> None:
        if not self.baseline:
            self.notify("Pick a baseline on the runs screen first (b on a run).", severity="warning")
            return
        from cstui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(self.store, self.run, self.baseline))
