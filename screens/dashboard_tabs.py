"""The dashboard's tabs, one widget each: every tab composes its own tables and plots and fills them from a
report (`show`), so the dashboard screen only hands the report over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from cstui.report_text import pct
from cstui.textsafe import inert
from cstui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from cstui.report_models import Report


def interval(r: Any) -> str:
    """` [lo–hi]` of anything with a Wilson interval (a Rate, the escalation block)."""
    return "" if r.ci_low is None else f" [{pct(r.ci_low)}–{pct(r.ci_high)}]"


class DashboardTab(Vertical):
    """One tab's content; `show` fills it from the run's report and drift events."""

    DEFAULT_CSS = "DashboardTab { height: auto; }"

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def plot(self, container_id: str, plots: list[tuple[str, Any]]) -> None:
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


class CalibrationTab(DashboardTab):
    """Reliability plots per tier and the confidence bins behind them."""

    def compose(self) -> ComposeResult:
        yield Horizontal(classes="plots", id="reliability")
        yield Static(classes="note", id="calibration-note")
        yield RowTable(id="calibration-bins", cursor_type="row")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
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
        await self.plot("reliability", plots)
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


class EvaluatorsTab(DashboardTab):
    """Each evaluator's pass rate beside how far its flags can be trusted."""

    def compose(self) -> ComposeResult:
        yield RowTable(id="evaluators", cursor_type="row")
        yield Static(classes="note", id="evaluators-note")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
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


class EscalationTab(DashboardTab):
    """Escalation against stated confidence, and turns until the handoff."""

    def compose(self) -> ComposeResult:
        yield Static(classes="note", id="escalation-note")
        yield Horizontal(classes="plots", id="escalation")
        yield RowTable(id="escalation-bins", cursor_type="row")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
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
        await self.plot("escalation", [(f"escalation rate vs confidence · Spearman ρ {rho_text}", draw_conf),
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


class HallucinationTab(DashboardTab):
    """Failures by hallucination category."""

    def compose(self) -> ComposeResult:
        yield RowTable(id="hallucination", cursor_type="row")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
        table = self.query_one("#hallucination", DataTable)
        table.clear(columns=True)
        table.add_columns("category", "n", "failed", "rate", "95% CI", "evaluators")
        for name, h in sorted(report.hallucination_by_category.items(), key=lambda kv: (-kv[1].rate, kv[0])):
            table.add_row(Text(name, style="red" if h.failed else ""), str(h.n), str(h.failed),
                          pct(h.rate), f"{pct(h.ci_low)}–{pct(h.ci_high)}", ", ".join(h.evaluators),
                          key=name)


class DraftsTab(DashboardTab):
    """Draft-assist online metrics per day and their alerts."""

    def compose(self) -> ComposeResult:
        yield Static(classes="note", id="drafts-note")
        yield Horizontal(classes="plots", id="drafts")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
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

        await self.plot("drafts", [("accept / reject rate per day", draw_accept), ("latency p95 per day (s)", draw_latency)])


class DriftTab(DashboardTab):
    """Drift events: between runs, and between windows of a live run."""

    def compose(self) -> ComposeResult:
        yield RowTable(id="drift", cursor_type="row")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
        table = self.query_one("#drift", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "vs run", "metric", "scope", "before", "after", "note")
        for e in drift:
            fmt = (lambda v: f"{v:.3f}") if e["metric"] == "ece" else pct
            table.add_row(str(e["id"]), Text(inert(e["previous_run"])), Text(inert(e["metric"])),
                          Text(inert(str(e["scope"]), keep_newlines=False)),
                          fmt(e["previous"]), fmt(e["current"]),
                          Text(inert(e["note"] or "—", keep_newlines=False)))


class JudgesTab(DashboardTab):
    """LLM judges: verdicts, errors, cost, and agreement with reviewers."""

    def compose(self) -> ComposeResult:
        yield RowTable(id="judges", cursor_type="row")
        yield Static(classes="note", id="judges-note")

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
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


class DashboardTabs(Vertical):
    """Calibration, evaluators, escalation, hallucination, draft-assist, drift and judges, one tab each."""

    DEFAULT_CSS = "DashboardTabs { height: auto; }"
    TABS: tuple[tuple[str, str, type[DashboardTab]], ...] = (
        ("Calibration", "tab-calibration", CalibrationTab), ("Evaluators", "tab-evaluators", EvaluatorsTab),
        ("Escalation", "tab-escalation", EscalationTab), ("Hallucination", "tab-hallucination", HallucinationTab),
        ("Draft assist", "tab-drafts", DraftsTab), ("Drift", "tab-drift", DriftTab), ("Judges", "tab-judges", JudgesTab))

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            for title, pane_id, tab in self.TABS:
                with TabPane(title, id=pane_id):
                    yield tab()

    async def show(self, report: Report, drift: list[dict[str, Any]]) -> None:
        for tab in self.query(DashboardTab):
            await tab.show(report, drift)
