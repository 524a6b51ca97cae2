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
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, LoadingIndicator, Static, TabbedContent, TabPane

from cstui.report_text import gate_rule_cells, pct
from cstui.screens import data
from cstui.screens.data import MarkerRead, ReportLoaded
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import FailureFilter
from cstui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from cstui.reports import GateResult, Report

# Dashboard tabs: number keys 1-7 switch to them, in this order.
TABS = (("tab-calibration", "Calibration"), ("tab-evaluators", "Evaluators"), ("tab-escalation", "Escalation"),
        ("tab-hallucination", "Hallucination"), ("tab-drafts", "Draft assist"), ("tab-drift", "Drift"),
        ("tab-judges", "Judges"))

TIER_NAMES = {"tier_1": "Tier 1 · routine", "tier_2": "Tier 2 · action-taking", "tier_3": "Tier 3 · complex / emotional"}


def interval(r: Any) -> str:
    """` [lo–hi]` of anything with a Wilson interval (a Rate, the escalation block)."""
    return "" if r.ci_low is None else f" [{pct(r.ci_low)}–{pct(r.ci_high)}]"


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


class DashboardTabs(Vertical):
    """Calibration, escalation, hallucination, draft-assist and drift views in tabs."""

    DEFAULT_CSS = "DashboardTabs { height: auto; }"

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("Calibration", id="tab-calibration"):
                yield Horizontal(classes="plots", id="reliability")
                yield Static(classes="note", id="calibration-note")
                yield RowTable(id="calibration-bins", cursor_type="row")
            with TabPane("Evaluators", id="tab-evaluators"):
                yield RowTable(id="evaluators", cursor_type="row")
                yield Static(classes="note", id="evaluators-note")
            with TabPane("Escalation", id="tab-escalation"):
                yield Static(classes="note", id="escalation-note")
                yield Horizontal(classes="plots", id="escalation")
                yield RowTable(id="escalation-bins", cursor_type="row")
            with TabPane("Hallucination", id="tab-hallucination"):
                yield RowTable(id="hallucination", cursor_type="row")
            with TabPane("Draft assist", id="tab-drafts"):
                yield Static(classes="note", id="drafts-note")
                yield Horizontal(classes="plots", id="drafts")
            with TabPane("Drift", id="tab-drift"):
                yield RowTable(id="drift", cursor_type="row")
            with TabPane("Judges", id="tab-judges"):
                yield RowTable(id="judges", cursor_type="row")
                yield Static(classes="note", id="judges-note")


LIVE_POLL = 3.0  # seconds between looks at whether the run changed


class DashboardScreen(Screen[None]):
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
        self.set_interval(LIVE_POLL, self.poll)  # a run `cstui serve` or `cstui watch` is filling grows on screen

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

    def poll(self) -> None:
        """Ask (off the UI thread) whether anything the metrics rest on changed: a live run's new sessions and
        verdicts, a drift alert, a relabel made elsewhere."""
        if self.seen is not None and not self.loading and self.is_current:
            data.load(self, "marker", lambda store: MarkerRead(store.change_marker()), path=self.store.path)

    @on(MarkerRead)
    def _marker_read(self, message: MarkerRead) -> None:
        if self.seen is not None and message.marker != self.seen and not self.loading:
            self.load()

    def on_screen_resume(self) -> None:
        """Back from a session or the failures list: recompute if a relabel or a rerun changed anything."""
        self.poll()

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
        await self._show_calibration(report)
        await self._show_escalation(report)
        self._show_evaluators(report)
        self._show_hallucination(report)
        await self._show_drafts(report)
        self._show_drift(drift)
        self._show_judges(report)
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
        alerts = [e for e in drift if str(e["scope"]).startswith("window ") and not e["note"]]
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

    async def _plot(self, container_id: str, plots: list[tuple[str, Any]]) -> None:
        from textual_plotext import PlotextPlot

        container = self.query_one(f"#{container_id}", Horizontal)
        await container.remove_children()
        widgets = []
        for title, draw in plots:
            widget = PlotextPlot()
            widget.plt.title(title)
            draw(widget.plt)
            widgets.append(widget)
        await container.mount_all(widgets)

    async def _show_calibration(self, report: Report) -> None:
        plots = []
        notes = []
        for key in ("tier_1", "tier_2", "tier_3"):
            cal = report.calibration.by_tier[key]
            bins = [b for b in cal.bins if b.n]
            ece = "—" if cal.ece is None else f"{cal.ece:.3f}"

            def draw(plt: Any, bins: list[Any] = bins) -> None:
                plt.plot([0, 1], [0, 1], color="gray", label="perfect")
                # a bin's weight shows: a solid point with its count for bins of 10+, a faint dot for smaller ones
                for group, marker, color, label in ((lambda n: n >= 10, "●", "red", "n ≥ 10"),
                                                    (lambda n: n < 10, "•", "gray", "n < 10")):
                    chosen = [b for b in bins if group(b.n)]
                    if chosen:
                        plt.scatter([b.confidence for b in chosen], [b.accuracy for b in chosen], color=color,
                                    marker=marker, label=label)
                for b in bins:
                    plt.text(f"{b.n}", b.confidence, min(0.95, b.accuracy + 0.06), color="red" if b.n >= 10 else "gray")
                plt.xlim(0, 1)
                plt.ylim(0, 1)
                plt.xlabel("stated confidence")
                plt.ylabel("accuracy")

            total = report.tiers[key].n if key in report.tiers else cal.n
            plots.append((f"{key.replace('_', ' ')} · ECE {ece} · n={cal.n} of {total}", draw))
            if cal.n:
                left_out = f" ({total - cal.n} left out)" if total > cal.n else ""
                notes.append(f"{key.replace('_', ' ')}: n={cal.n} of {total}{left_out}, mean confidence "
                             f"{cal.mean_confidence:.2f} vs "
                             f"accuracy {cal.accuracy:.2f}, Brier {cal.brier:.3f}")
        await self._plot("reliability", plots)
        self.query_one("#calibration-note", Static).update(Text("\n".join(notes) + (
            "\nEach point is a bin, labelled with its count (faint: fewer than 10 sessions, read with care). n counts "
            "only sessions with both a stated confidence and a known correctness; the others (often escalations, "
            "which state no confidence) are left out. Enter on a bin below lists exactly its sessions."
            if notes else "")))
        table = self.query_one("#calibration-bins", DataTable)
        table.clear(columns=True)
        table.add_columns("tier", "confidence", "n", "stated", "accuracy", "gap")
        for key in ("tier_1", "tier_2", "tier_3"):
            for b in report.calibration.by_tier[key].bins:
                if not b.n or b.confidence is None or b.accuracy is None:
                    continue
                gap = b.confidence - b.accuracy
                table.add_row(key.replace("_", " "), f"{b.lo:.1f}–{b.hi:.1f}", str(b.n),
                              f"{b.confidence:.2f}", f"{b.accuracy:.2f}",
                              Text(f"{gap:+.2f}", style="bold red" if gap >= 0.1 else "yellow" if gap <= -0.1 else ""),
                              key=f"{key[-1]}:{b.lo}:{b.hi}")

    async def _show_escalation(self, report: Report) -> None:
        esc = report.escalation
        by_conf = [b for b in esc.by_confidence.bins if b.n]
        hist = esc.time_to_escalation_turns.histogram

        def draw_conf(plt: Any) -> None:
            if by_conf:
                plt.bar([f"{b.lo:.1f}" for b in by_conf], [100 * (b.value or 0) for b in by_conf])
            plt.xlabel("confidence bin")
            plt.ylabel("% escalated")

        def draw_hist(plt: Any) -> None:
            if hist:
                plt.bar([str(h.turns) for h in hist], [h.n for h in hist])
            plt.xlabel("turns until handoff")
            plt.ylabel("sessions")

        rho = esc.by_confidence.spearman
        rho_text = "—" if rho is None else f"{rho:+.2f}"
        await self._plot("escalation", [(f"escalation rate vs confidence · Spearman ρ {rho_text}", draw_conf),
                                  ("time to escalation", draw_hist)])
        tte = esc.time_to_escalation_turns
        note = Text(f"escalation {pct(esc.rate)}{interval(esc)} · turns to escalation p50 {tte.p50} p90 {tte.p90} "
                    f"(n={tte.n})\n")
        if rho is None:
            note.append("ρ: too few sessions with a stated confidence to say whether escalation follows doubt")
        elif rho < 0:
            note.append(f"ρ = {rho_text}: escalates more as confidence falls — healthy (the more negative, the "
                        "better)", style="green")
        else:
            note.append(f"ρ = {rho_text}: does NOT escalate more when unsure — bad; a healthy system's ρ is "
                        "negative (unsure answers go to a human)", style="bold red")
        n_conf = esc.by_confidence.n
        note.append(f"\n{n_conf:,} of {report.n_sessions:,} sessions state a confidence; enter on a bin below lists "
                    "exactly its sessions", style="dim")
        self.query_one("#escalation-note", Static).update(note)
        table = self.query_one("#escalation-bins", DataTable)
        table.clear(columns=True)
        table.add_columns("confidence", "n", "escalated", "rate", "95% CI")
        for b in esc.by_confidence.bins:
            if b.n:
                table.add_row(f"{b.lo:.1f}–{b.hi:.1f}", str(b.n), str(b.escalated), pct(b.value),
                              f"{pct(b.ci_low)}–{pct(b.ci_high)}", key=f"{b.lo}")

    def _show_evaluators(self, report: Report) -> None:
        from cstui.validation import trust_text

        table = self.query_one("#evaluators", DataTable)
        table.clear(columns=True)
        table.add_columns("evaluator", "n", "failed", "pass rate", "95% CI", "precision of its flags", "95% CI",
                          "recall", "labelled")

        def ci(bounds: list[float] | None) -> str:
            return "" if not bounds else f"{bounds[0]:.2f}–{bounds[1]:.2f}"

        for name, ev in sorted(report.evaluators.items(), key=lambda kv: (kv[1].pass_rate or 2, kv[0])):
            v = ev.validated or {}
            failed = ev.n - ev.k
            table.add_row(Text(inert(name), style="red" if failed else ""), str(ev.n), str(failed),
                          pct(ev.pass_rate), f"{pct(ev.ci_low)}–{pct(ev.ci_high)}" if ev.n else "",
                          Text(*trust_text(v or None)), ci(v.get("precision_ci")),
                          "—" if v.get("recall") is None else f"{v['recall']:.2f}", str(v.get("n", 0)), key=name)
        self.query_one("#evaluators-note", Static).update(Text(
            "Precision: the share of an evaluator's failures a reviewer confirmed — measured on this run's labels once "
            "a reviewer has labelled any of its sessions (relabels count at once), else on the validation set shipped "
            "with cstui. Red means more than one flag in ten is wrong: read those verdicts before acting on them. "
            "Enter lists an evaluator's failures."))

    def _show_hallucination(self, report: Report) -> None:
        table = self.query_one("#hallucination", DataTable)
        table.clear(columns=True)
        table.add_columns("category", "n", "failed", "rate", "95% CI", "evaluators")
        for name, h in sorted(report.hallucination_by_category.items(), key=lambda kv: (-kv[1].rate, kv[0])):
            table.add_row(Text(name, style="red" if h.failed else ""), str(h.n), str(h.failed),
                          pct(h.rate), f"{pct(h.ci_low)}–{pct(h.ci_high)}", ", ".join(h.evaluators),
                          key=name)

    async def _show_drafts(self, report: Report) -> None:
        note = self.query_one("#drafts-note", Static)
        online = report.draft_assist
        if not online:
            note.update(Text("This run has no draft-assist sessions (turns with a `draft` decision)."))
            return
        t = online["totals"]
        text = Text(f"{t['n_drafts']:,} drafts · accept {pct(t['accept_rate'])} · reject {pct(t['reject_rate'])} · "
                    f"edit distance {t['edit_distance'] or 0:.3f} · latency p95 {(t['latency_p95_ms'] or 0) / 1000:.1f} s"
                    f" · cost/draft ${t['cost_per_draft'] or 0:.4f} · escalation {pct(t['escalation_rate'])}\n")
        for alert in online["alerts"]:
            text.append(f"ALERT {alert['rule']}: {inert(alert['message'])}\n", style="bold red")
        if not online["alerts"]:
            text.append("no active alerts\n", style="green")
        note.update(text)
        days = [d for d in online["days"] if d["n_drafts"]]

        def draw_accept(plt: Any) -> None:
            plt.plot(list(range(len(days))), [100 * d["accept_rate"] for d in days], label="accept %")
            plt.plot(list(range(len(days))), [100 * d["reject_rate"] for d in days], label="reject %")
            plt.hline(65, "red")
            plt.xlabel(f"day ({days[0]['date']} → {days[-1]['date']})" if days else "day")

        def draw_latency(plt: Any) -> None:
            plt.plot(list(range(len(days))), [(d["latency_p95_ms"] or 0) / 1000 for d in days], label="p95 s")
            plt.hline(6, "red")
            plt.xlabel("day")

        await self._plot("drafts", [("accept / reject rate per day", draw_accept), ("latency p95 per day (s)", draw_latency)])

    def _show_drift(self, drift: list[dict[str, Any]]) -> None:
        table = self.query_one("#drift", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "vs run", "metric", "scope", "before", "after", "note")
        for e in drift:
            fmt = (lambda v: f"{v:.3f}") if e["metric"] == "ece" else pct
            table.add_row(str(e["id"]), Text(inert(e["previous_run"])), Text(inert(e["metric"])),
                          Text(inert(str(e["scope"]), keep_newlines=False)),
                          fmt(e["previous"]), fmt(e["current"]),
                          Text(inert(e["note"] or "—", keep_newlines=False)))

    def _show_judges(self, report: Report) -> None:
        table = self.query_one("#judges", DataTable)
        table.clear(columns=True)
        table.add_columns("judge", "verdicts", "errors", "calls", "cached", "cost", "κ queue", "κ triage", "trust")
        alignment = report.alignment
        names = sorted(set(report.judges) | set(alignment))
        for name in names:
            cost = report.judges[name].to_json() if name in report.judges else {}
            align = alignment.get(name, {})

            def kappa(group: str, align: dict[str, Any] = align) -> Text:
                block = align.get(group)
                if not block or block["kappa"] is None:
                    return Text("—", style="dim")
                return Text(f"{block['kappa']:.2f} (n={block['n']})", style="red" if block["kappa"] < 0.6 else "green")

            flagged = align.get("below_threshold", [])
            trust = Text("κ < 0.6: " + ", ".join(flagged), style="bold red") if flagged else (
                Text("ok", style="green") if align else Text("no human labels yet", style="dim"))
            table.add_row(Text(inert(name)), str(cost.get("n", 0)), str(cost.get("errors", 0)), str(cost.get("calls", 0)),
                          str(cost.get("cached_calls", 0)), f"${cost.get('cost_usd', 0.0):.4f}", kappa("queue"),
                          kappa("triage"), trust)
        note = ("Agreement from review-queue labels (random, stratified: `cstui review`) is unbiased; labels given "
                "while triaging failures are selection-biased and shown apart.")
        if not names:
            note = "No LLM judge has run on this run: `cstui eval --evaluators policy_fabrication --judge-model M`. " + note
        self.query_one("#judges-note", Static).update(Text(note))

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
