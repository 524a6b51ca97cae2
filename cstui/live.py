"""Live drift: consecutive windows (an hour or a day) of a rolling run compared as sessions arrive.

An evaluator drifts when its failure rate in the newest window exceeds the previous window's by at least
`drift.MIN_DELTA` with a two-sided two-proportion p below `drift.ALPHA`, and both windows hold at least
MIN_SESSIONS verdicts (a handful of sessions early in an hour is noise). A session belongs to the window of its
start time (the earliest span), or of its arrival when it has none. Each alert is printed once, recorded as a
drift event of the run (the dashboard's banner and Drift tab show it; `cstui drift note` annotates it), and can
run a configured command. The draft-assist day rules (cstui.online) are checked too, at most once a minute.

Gate rules are checked per window as well: each pass-rate rule of the gate file (cstui/gates.toml unless another
is given; rules split `per` stratum and calibration rules are for whole runs) over the sessions of the newest
window, once it holds MIN_SESSIONS sessions the rule applies to, decided as `cstui gate` decides it (the rule's
`use`: point estimate or Wilson bound); a broken rule prints one `ALERT gate …` line.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstui.drift import ALPHA, MIN_DELTA, two_sided_p

if TYPE_CHECKING:
    from cstui.gates import GateRule
    from cstui.store import Store

Row = tuple[str, str | None, str, bool | None, dict[str, Any]]  # Store.verdict_rows

MIN_SESSIONS = 30
WINDOW = "window "  # how a live drift event's scope and baseline start ("window 2026-12-07 11:00")
WINDOW_CHARS = {"hour": 13, "day": 10}  # how much of an ISO timestamp names its window


@dataclass
class Alerts:
    window: str = "hour"
    command: list[str] | None = None  # run with the alert line as its last argument (no shell)
    min_sessions: int = MIN_SESSIONS
    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # window → evaluator → [failed, n]
    fired: set[tuple[str, str]] = field(default_factory=set)
    seeded: set[str] = field(default_factory=set)  # runs whose earlier verdicts were counted
    online_checked: float = 0.0
    online_seen: set[str] = field(default_factory=set)
    rules: list[GateRule] = field(default_factory=list)  # the window gate rules (`window_rules`)
    gates: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # window → rule → [passed, n] sessions

    def window_of(self, started_at: str | None) -> str:
        stamp = started_at or datetime.now(UTC).isoformat()
        return stamp[:WINDOW_CHARS[self.window]].replace("T", " ") + (":00" if self.window == "hour" else "")

    def observe(self, rows: Iterable[Row]) -> None:
        sessions: dict[str, tuple[str, dict[str, Any], dict[str, bool | None]]] = {}
        for session_id, started_at, evaluator, passed, strata in rows:
            window = self.window_of(started_at)
            sessions.setdefault(session_id, (window, strata, {}))[2][evaluator] = passed
            if passed is None:
                continue
            tally = self.counts.setdefault(window, {}).setdefault(evaluator, [0, 0])
            tally[0] += not passed
            tally[1] += 1
        for window, strata, verdicts in sessions.values():  # a session passes a rule when every evaluator of it
            for rule in self.rules:                        # that applies passed (cstui.gates, metric pass_rate)
                if any(strata.get(k) not in values for k, values in rule.filters.items()):
                    continue
                applied = [verdicts[e] for e in rule.evaluators if verdicts.get(e) is not None]
                if applied:
                    tally = self.gates.setdefault(window, {}).setdefault(rule.name, [0, 0])
                    tally[0] += all(applied)
                    tally[1] += 1

    def drifts(self) -> list[dict[str, object]]:
        """Drift events of the newest window against the one before it (not yet fired)."""
        if len(self.counts) < 2:
            return []
        previous, current = sorted(self.counts)[-2:]
        events = []
        for evaluator in sorted(self.counts[current].keys() & self.counts[previous].keys()):
            (k1, n1), (k2, n2) = self.counts[previous][evaluator], self.counts[current][evaluator]
            if min(n1, n2) < self.min_sessions or (current, evaluator) in self.fired:
                continue
            before, after = 1 - k1 / n1, 1 - k2 / n2  # pass rates, as run-to-run drift records them
            p = two_sided_p(n1 - k1, n1, n2 - k2, n2)
            if before - after >= MIN_DELTA and p < ALPHA:
                self.fired.add((current, evaluator))
                events.append({"metric": f"pass_rate:{evaluator}", "scope": f"{WINDOW}{current}", "previous": before,
                               "current": after, "delta": after - before, "n_previous": n1, "n_current": n2,
                               "p_value": p, "window": current, "previous_window": previous})
        return events

    def check(self, store: Store, run: str, new_ids: list[str]) -> list[str]:
        """Count the new sessions' verdicts, record and return one line per new alert."""
        if run not in self.seeded:  # a restarted receiver, or a run that existed: count what it already holds
            self.seeded.add(run)
            self.observe(store.verdict_rows(run))
        else:
            self.observe(store.verdict_rows(run, new_ids))
        lines = []
        events = self.drifts()
        if events:
            store.record_drift(run, f"{WINDOW}{events[0]['previous_window']}", events)
            for e in events:
                lines.append(f"ALERT drift in run {run}: {str(e['metric']).split(':', 1)[1]} pass rate "
                             f"{100 * float(e['previous']):.1f}% → {100 * float(e['current']):.1f}% "  # type: ignore[arg-type]
                             f"({e['n_previous']} → {e['n_current']} verdicts, p={float(e['p_value']):.3g}) in "  # type: ignore[arg-type]
                             f"{e['window']} vs {e['previous_window']}")
        lines += self._window_gates(run)
        lines += self._online(store, run)
        for line in lines:
            self._run_command(line)
        return lines

    def _window_gates(self, run: str) -> list[str]:
        """Rules the newest window breaks, once it holds enough sessions for them (each said once)."""
        from cstui.gates import BOUND_NAMES, rate_entry

        if not self.gates:
            return []
        window = max(self.gates)
        lines = []
        for rule in self.rules:
            k, n = self.gates[window].get(rule.name, (0, 0))
            if n < self.min_sessions or (window, f"gate:{rule.name}") in self.fired:
                continue
            entry = rate_entry(rule, k, n)  # decided as `cstui gate` decides it
            if entry["passed"] is False:
                self.fired.add((window, f"gate:{rule.name}"))
                kind = "blocking" if rule.blocking else "advisory"
                basis = (f" ({BOUND_NAMES[rule.use]} {100 * entry['compared_value']:.1f}%)" if rule.use in BOUND_NAMES
                         else "")
                lines.append(f"ALERT gate in run {run}: {rule.name} ({kind}) at {100 * entry['observed']:.1f}%{basis}, needs "
                             f"{rule.comparison} {100 * rule.threshold:g}%, in window {window} ({k} of {n} sessions "
                             "pass)")
        return lines

    def _online(self, store: Store, run: str) -> list[str]:
        """The draft-assist day rules over the run's drafts, when it has any."""
        from cstui.online import online_metrics

        if time.monotonic() - self.online_checked < 60:
            return []
        self.online_checked = time.monotonic()
        metrics = online_metrics(store.drafts_frame(run))
        lines = []
        for alert in (metrics or {}).get("alerts", []):
            key = f"{alert['rule']}:{alert['first_day']}"
            if key not in self.online_seen:
                self.online_seen.add(key)
                lines.append(f"ALERT draft assist in run {run}: {alert['message']}")
        return lines

    def _run_command(self, line: str) -> None:
        if not self.command:
            return
        # an alert command that fails must not stop the receiver; the line was printed
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run([*self.command, line], timeout=30, check=False, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def window_rules(path: Any = None) -> list[GateRule]:
    """The gate file's rules that a window of sessions can be held to: pass rates, not split per stratum."""
    from cstui.gates import load_gates

    return [r for r in load_gates(path).rules if r.metric == "pass_rate" and r.per is None and r.evaluators]
