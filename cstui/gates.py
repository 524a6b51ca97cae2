"""Deploy gates: threshold rules from a TOML file, checked against a run (and optionally a baseline).

The shipped `gates.toml` is the threshold table of docs/metrics.md. Only rules whose `on_fail` contains "block"
fail the gate; the others are advisories. A rule with no data is never silently a pass: it is
reported as "no data", and `strict` makes it a failure.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstui.stats import TIERS, sample_size_warning, tier_key, wilson_interval
from cstui.tally import CalibrationTally, any_bit
from cstui.vocab import STRATA

if TYPE_CHECKING:
    import polars as pl

    from cstui.report_models import GateResult
    from cstui.store import Store
    from cstui.store.chunks import VerdictBit

FILTER_KEYS = STRATA
GATE_COLUMNS = {"session_id", "confidence", "correct", "resolved", "escalated", *STRATA}
METRICS = ("pass_rate", "ece", "resolution_rate", "contained_unresolved", "golden", "dissatisfaction")
RULE_KEYS = {"name", "title", "metric", "evaluators", "min", "max", "use", "on_fail", "per", *FILTER_KEYS}
EPS = 1e-12
ECE_MIN_N = 100  # below this, binning noise alone inflates ECE


class GateConfigError(Exception):
    """A gate file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class GateRule:
    name: str
    title: str
    metric: str
    evaluators: tuple[str, ...]
    filters: dict[str, tuple[Any, ...]]
    min: float | None
    max: float | None
    use: str
    on_fail: str
    per: str | None
    line: int | None = None

    @property
    def blocking(self) -> bool:
        return "block" in self.on_fail.lower()

    @property
    def threshold(self) -> float:
        return self.min if self.min is not None else self.max  # type: ignore[return-value]

    @property
    def comparison(self) -> str:
        return ">=" if self.min is not None else "<"


@dataclass
class GateConfig:
    rules: list[GateRule]
    max_drop: float = 0.05
    alpha: float = 0.05
    path: str = "gates.toml"


def default_gates_path() -> Path:
    return Path(str(resources.files("cstui").joinpath("gates.toml")))


# ---------------------------------------------------------------------------------------------- loading
def load_gates(path: Path | None = None) -> GateConfig:
    path = path or default_gates_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateConfigError(f"{path}: no such gate file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GateConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        where = f"{path}:{match.group(1)}" if match else str(path)
        raise GateConfigError(f"{where}: invalid TOML: {exc}") from None
    rule_lines = [i for i, line in enumerate(text.splitlines(), start=1) if re.match(r"\s*\[\[\s*rule\s*\]\]", line)]
    unknown_top = set(data) - {"rule", "baseline"}
    if unknown_top:
        raise GateConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown_top))} (expected [[rule]], [baseline])")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise GateConfigError(f"{path}: no [[rule]] tables")
    rules, names = [], set()
    for i, raw in enumerate(raw_rules):
        line = rule_lines[i] if i < len(rule_lines) else None
        where = f"{path}:{line}" if line else str(path)
        try:
            rule = _parse_rule(raw, line)
        except ValueError as exc:
            raise GateConfigError(f"{where}: {exc}") from None
        if rule.name in names:
            raise GateConfigError(f"{where}: duplicate rule name {rule.name!r}")
        names.add(rule.name)
        rules.append(rule)
    baseline = data.get("baseline", {})
    if not isinstance(baseline, dict):
        raise GateConfigError(f"{path}: [baseline] must be a table")
    extra = set(baseline) - {"max_drop", "alpha"}
    if extra:
        raise GateConfigError(f"{path}: [baseline]: unknown key(s) {', '.join(sorted(extra))}")
    max_drop, alpha = baseline.get("max_drop", 0.05), baseline.get("alpha", 0.05)
    for key, value in (("max_drop", max_drop), ("alpha", alpha)):
        if not _is_fraction(value) or value <= 0:
            raise GateConfigError(f"{path}: [baseline] {key} must be a number in (0, 1], got {value!r}")
    return GateConfig(rules=rules, max_drop=float(max_drop), alpha=float(alpha), path=str(path))


def _is_fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1 and math.isfinite(value)


def _parse_rule(raw: Any, line: int | None) -> GateRule:
    if not isinstance(raw, dict):
        raise ValueError("a [[rule]] must be a table")
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(RULE_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,80}", name):
        raise ValueError(f"rule name must be 1-80 letters, digits, '_', '.', '-'; got {name!r}")
    metric = raw.get("metric", "pass_rate")
    if metric not in METRICS:
        raise ValueError(f"rule {name!r}: metric must be one of {', '.join(METRICS)}; got {metric!r}")
    evaluators = raw.get("evaluators", [])
    if isinstance(evaluators, str):
        evaluators = [evaluators]
    if not isinstance(evaluators, list) or not all(isinstance(e, str) and e for e in evaluators):
        raise ValueError(f"rule {name!r}: evaluators must be a list of evaluator ids")
    if metric == "golden":
        pass  # every applicable verdict of each regression case must pass; evaluators optional
    elif metric == "pass_rate" and not evaluators:
        raise ValueError(f"rule {name!r}: a pass_rate rule needs evaluators = [...]")
    if metric == "dissatisfaction":
        if raw.get("min") is not None:
            raise ValueError(f"rule {name!r}: dissatisfaction is capped with max, not min")
        evaluators = evaluators or ["frustration"]
    elif metric not in ("pass_rate", "golden") and evaluators:
        raise ValueError(f"rule {name!r}: evaluators only apply to pass_rate rules")
    lo, hi = raw.get("min"), raw.get("max")
    if (lo is None) == (hi is None):
        raise ValueError(f"rule {name!r}: give exactly one of min (pass at or above) or max (pass below)")
    for key, value in (("min", lo), ("max", hi)):
        if value is not None and not _is_fraction(value):
            raise ValueError(f"rule {name!r}: {key} must be a number in [0, 1]; got {value!r}")
    use = raw.get("use", "point")
    if use not in ("point", "wilson_lower", "wilson_upper"):
        raise ValueError(f"rule {name!r}: use must be 'point', 'wilson_lower' or 'wilson_upper'; got {use!r}")
    if use != "point" and metric == "ece":
        raise ValueError(f"rule {name!r}: use = {use!r} needs a rate metric, not ece")
    if (use == "wilson_lower" and hi is not None) or (use == "wilson_upper" and lo is not None):
        raise ValueError(f"rule {name!r}: the cautious bound is wilson_lower for a min rule, wilson_upper for a max "
                         "rule")
    on_fail = raw.get("on_fail", "block")
    if not isinstance(on_fail, str) or not on_fail.strip():
        raise ValueError(f"rule {name!r}: on_fail must be text such as 'block' or 'tune'")
    per = raw.get("per")
    if per is not None and per not in FILTER_KEYS:
        raise ValueError(f"rule {name!r}: per must be one of {', '.join(FILTER_KEYS)}; got {per!r}")
    filters: dict[str, tuple[Any, ...]] = {}
    for key in FILTER_KEYS:
        if key not in raw:
            continue
        values = raw[key] if isinstance(raw[key], list) else [raw[key]]
        kind = int if key == "tier" else str
        if not values or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
            raise ValueError(f"rule {name!r}: {key} must be a {kind.__name__} or a list of them")
        if key == "tier" and not set(values) <= set(TIERS):
            raise ValueError(f"rule {name!r}: tier must be 1, 2 or 3")
        filters[key] = tuple(values)
    title = raw.get("title", name)
    if not isinstance(title, str):
        raise ValueError(f"rule {name!r}: title must be text")
    return GateRule(name=name, title=title, metric=metric, evaluators=tuple(evaluators), filters=filters,
                min=None if lo is None else float(lo), max=None if hi is None else float(hi), use=use,
                on_fail=on_fail.strip(), per=per, line=line)


# ---------------------------------------------------------------------------------------------- statistics
def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Pooled two-proportion z statistic for rate 1 minus rate 2; None when there is no variance."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return None if se == 0 else (k1 / n1 - k2 / n2) / se


def two_proportion_drop(k_base: int, n_base: int, k_cand: int, n_cand: int) -> tuple[float, float]:
    """(drop in pass rate, one-sided p-value that the candidate's rate is lower), pooled z-test."""
    z = two_proportion_z(k_base, n_base, k_cand, n_cand)
    drop = k_base / n_base - k_cand / n_cand
    return drop, 1.0 if z is None else 0.5 * math.erfc(z / math.sqrt(2))


# ---------------------------------------------------------------------------------------------- evaluation
@dataclass
class ScopeTally:
    """What one rule scope (a rule, or one stratum of a `per` rule) counted over a run."""

    n: int = 0
    k: int = 0
    failing: list[str] = field(default_factory=list)
    calibration: CalibrationTally = field(default_factory=CalibrationTally)
    passing_watched: list[str] = field(default_factory=list)  # baseline only: passing among the candidate's failing
    score_sum: float = 0.0  # dissatisfaction: the scores' sum and sum of squares (n counts the scored sessions)
    score_squares: float = 0.0


@dataclass
class GateData:
    """A run reduced to what the gate's rules need, in one bounded pass (`scan_gate`)."""

    run: str
    evaluators_seen: set[str]
    golden_ids: set[str]
    per_values: dict[str, set[Any]] = field(default_factory=dict)
    scopes: dict[tuple[str, Any], ScopeTally] = field(default_factory=dict)

    def scope(self, rule: GateRule, value: Any = None) -> ScopeTally:
        return self.scopes.setdefault((rule.name, value), ScopeTally())


class GateScan:
    """Fills a `GateData` chunk by chunk; `watch` (scope → session ids) makes a baseline scan remember which of the
    candidate's failing sessions passed here. Without `keep_ids` it only counts (a report needs the rules' sample
    sizes, not the ids of every failing session: ~30 MB of strings at 1M sessions)."""

    def __init__(self, cfg: GateConfig, data: GateData, bits: dict[str, VerdictBit],
                 watch: dict[tuple[str, Any], set[str]] | None = None, *, keep_ids: bool = True) -> None:
        self.cfg, self.data, self.bits, self.watch = cfg, data, bits, watch or {}
        self.keep_ids = keep_ids

    def add(self, chunk: pl.DataFrame) -> None:
        import polars as pl

        # what rules read: filters copy these columns only
        chunk = chunk.select([c for c in chunk.columns if c in GATE_COLUMNS or re.fullmatch(r"[af]\d+", c)])
        for rule in self.cfg.rules:
            if rule.metric == "golden":
                self._golden(rule, chunk)
                continue
            sub = chunk
            for key, values in rule.filters.items():
                sub = sub.filter(pl.col(key).is_in(list(values)))
            if not rule.per:
                self._count(rule, None, sub)
                continue
            seen = self.data.per_values.setdefault(rule.name, set())
            seen.update(v for v in chunk[rule.per].unique().to_list() if v is not None)
            for value in sub[rule.per].drop_nulls().unique().to_list():
                self._count(rule, value, sub.filter(pl.col(rule.per) == value))

    def _count(self, rule: GateRule, value: Any, sub: pl.DataFrame) -> None:
        import polars as pl

        scope = self.data.scope(rule, value)
        if rule.metric == "ece":
            valid = sub.filter(pl.col("confidence").is_not_null() & pl.col("correct").is_not_null()
                               & (pl.col("confidence") >= 0) & (pl.col("confidence") <= 1))
            for conf, correct, count in valid.group_by("confidence", "correct").len().iter_rows():
                scope.calibration.add(conf, correct, count)
        elif rule.metric == "resolution_rate":
            known = sub["resolved"].drop_nulls()
            scope.n += known.len()
            scope.k += int(known.sum())
        elif rule.metric == "contained_unresolved":
            known = sub.filter(pl.col("resolved").is_not_null())
            gap = known.filter(~pl.col("escalated") & ~pl.col("resolved"))
            scope.n += known.height
            scope.k += gap.height
            if self.keep_ids:
                scope.failing += gap["session_id"].to_list()
        else:
            self._verdicts(scope, (rule.name, value), sub, [self.bits[e] for e in rule.evaluators if e in self.bits])

    def _golden(self, rule: GateRule, chunk: pl.DataFrame) -> None:
        import polars as pl

        cases = chunk.filter(pl.col("session_id").is_in(list(self.data.golden_ids)))
        chosen = [self.bits[e] for e in rule.evaluators if e in self.bits] if rule.evaluators else list(
            self.bits.values())
        self._verdicts(self.data.scope(rule), (rule.name, None), cases, chosen)

    def _verdicts(self, scope: ScopeTally, key: tuple[str, Any], sub: pl.DataFrame, chosen: list[VerdictBit]) -> None:
        """A session counts when any chosen evaluator applies, and passes when every one that applies passed."""
        import polars as pl

        if not chosen or sub.is_empty():
            return
        judged = sub.select("session_id", applies=any_bit(chosen), failed=any_bit(chosen, failed=True)
                            ).filter(pl.col("applies"))
        failed = judged.filter(pl.col("failed"))
        scope.n += judged.height
        scope.k += judged.height - failed.height
        if self.keep_ids:
            scope.failing += failed["session_id"].to_list()
        if key in self.watch:
            watched = self.watch[key]
            scope.passing_watched += [s for s in judged.filter(~pl.col("failed"))["session_id"].to_list()
                                      if s in watched]


def scan_gate(store: Store, run: str, cfg: GateConfig,
              watch: dict[tuple[str, Any], set[str]] | None = None) -> GateData:
    """One pass over the run's chunks for every rule of the gate (memory: the counts, and failing session ids)."""
    bits = store.verdict_bits(run)
    data = GateData(run=run, evaluators_seen=set(bits), golden_ids=store.golden_session_ids())
    scan = GateScan(cfg, data, bits, watch)
    for chunk in store.run_chunks(run):
        scan.add(chunk)
        del chunk  # not held while the next one is read: one chunk in memory, not two
    for rule in cfg.rules:  # scores are summed in SQLite, not carried in the chunks
        if rule.metric != "dissatisfaction":
            continue
        filters = {k: list(v) for k, v in rule.filters.items()}
        for value, (n, total, squares) in store.score_moments(run, rule.evaluators[0], filters, rule.per).items():
            if rule.per and value is None:
                continue
            if rule.per:
                data.per_values.setdefault(rule.name, set()).add(value)
            data.scopes[(rule.name, value if rule.per else None)] = ScopeTally(n=n, score_sum=total,
                                                                              score_squares=squares)
    return data


BOUND_NAMES = {"wilson_lower": "95% lower bound", "wilson_upper": "95% upper bound"}  # what a rule's `use` compares


def rate_entry(rule: GateRule, k: int, n: int) -> dict[str, Any]:
    """A pass-rate rule's decision on k of n sessions: the value its `use` compares (point, or a Wilson bound)
    against its threshold. `cstui gate` and the receiver's per-window check (cstui.live) both decide with it."""
    lo, hi = wilson_interval(k, n)
    observed = k / n if n else None
    compared = lo if rule.use == "wilson_lower" else hi if rule.use == "wilson_upper" else observed
    passed = None if compared is None else (compared >= rule.threshold - EPS if rule.min is not None
                                            else compared < rule.threshold)
    warning = sample_size_warning(n, rule.threshold) if rule.min is not None else None
    return {"observed": observed, "compared_value": compared, "n": n, "k": k, "ci_low": lo, "ci_high": hi,
            "passed": passed, "warnings": [warning] if warning else []}


def _needs_judge(rule: GateRule, data: GateData, judges: frozenset[str] | None) -> bool:
    """Every evaluator the rule reads is an LLM judge, none has run, and no judge is configured (`judges` is the
    set of judge ids when none is; None when one is)."""
    return bool(judges is not None and rule.evaluators and set(rule.evaluators) <= judges
                and not set(rule.evaluators) & data.evaluators_seen)


def _no_data_reason(rule: GateRule, data: GateData, known: set[str] | None) -> str:
    missing = [e for e in rule.evaluators if e not in data.evaluators_seen]
    if rule.evaluators and len(missing) == len(rule.evaluators):
        names = ", ".join(missing)
        if known is not None and not set(missing) & known:
            return f"no results for {names}: no such evaluator is installed (add one, or drop the rule)"
        return (f"no results for {names} in run {data.run!r}: run `cstui eval --run {data.run} "
                f"--evaluators {','.join(missing)}` (LLM judges need --judge-model)")
    return "no sessions in scope" if rule.metric != "pass_rate" else "no applicable sessions in scope"


def evaluate_rule(rule: GateRule, data: GateData, cfg: GateConfig, baseline: GateData | None = None,
                  known: set[str] | None = None, judges: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Entries for one rule (a `per` rule yields one entry per stratum present in the run)."""
    if rule.per:
        keys = sorted(data.per_values.get(rule.name, set()))
        scopes: list[tuple[str, Any, dict[str, Any]]] = [
            (f"{rule.name}.{tier_key(k) if rule.per == 'tier' else k}", k, {rule.per: (k,)}) for k in keys]
    else:
        scopes = [(rule.name, None, {})]
    return [_evaluate_scope(rule, name, value, extra, data, cfg, baseline, known, judges)
            for name, value, extra in scopes]


def _evaluate_scope(rule: GateRule, name: str, value: Any, extra: dict[str, Any], data: GateData, cfg: GateConfig,
                    baseline: GateData | None, known: set[str] | None,
                    judges: frozenset[str] | None = None) -> dict[str, Any]:
    scope_filter = {k: list(v) for k, v in {**rule.filters, **extra}.items()}
    entry: dict[str, Any] = {
        "name": name, "rule": rule.name, "title": rule.title, "metric": rule.metric, "threshold": rule.threshold,
        "comparison": rule.comparison, "use": rule.use, "on_fail": rule.on_fail, "blocking": rule.blocking,
        "filter": {"evaluators": list(rule.evaluators), **scope_filter},
        "observed": None, "compared_value": None, "n": 0, "k": None, "ci_low": None, "ci_high": None,
        "passed": None, "warnings": [], "failing_sessions": [], "baseline": None, "flipped": [],
    }
    tally = data.scopes.get((rule.name, value), ScopeTally())
    if rule.metric == "ece":
        cal = tally.calibration.result()
        entry.update(n=cal["n"], observed=cal["ece"], compared_value=cal["ece"])
        if cal["n"]:
            entry["passed"] = cal["ece"] < rule.threshold
            if cal["n"] < ECE_MIN_N:
                entry["warnings"].append(f"n={cal['n']}: ECE from fewer than {ECE_MIN_N} sessions is inflated by "
                                         "binning noise; read it with the reliability bins")
    elif rule.metric == "golden":
        entry.update(rate_entry(rule, tally.k, tally.n))
        entry["failing_sessions"] = sorted(tally.failing)
        if entry["n"] == 0:
            entry["status"] = "no_data"
            entry["message"] = ("no regression case of the golden set is in this run"
                                if data.golden_ids else "the golden set is empty (cstui golden add)")
            return entry
    elif rule.metric in ("resolution_rate", "contained_unresolved"):
        entry.update(rate_entry(rule, tally.k, tally.n))
        entry["failing_sessions"] = tally.failing
    elif rule.metric == "dissatisfaction":
        from cstui.stats import mean_interval

        mean = mean_interval(tally.n, tally.score_sum, tally.score_squares)
        compared = mean["ci_high"] if rule.use == "wilson_upper" else mean["value"]
        entry.update(n=tally.n, observed=mean["value"], compared_value=compared, ci_low=mean["ci_low"],
                     ci_high=mean["ci_high"], passed=None if compared is None else compared < rule.threshold)
    else:
        entry.update(rate_entry(rule, tally.k, tally.n))
        entry["failing_sessions"] = tally.failing
        if baseline is not None:
            _compare_baseline(entry, baseline, baseline.scopes.get((rule.name, value), ScopeTally()), tally, cfg)
    if entry["n"] == 0:
        entry["status"] = "no_data"
        entry["message"] = _no_data_reason(rule, data, known)
        if _needs_judge(rule, data, judges):
            entry["needs_judge"] = True
            entry["message"] = (f"needs an LLM judge ({', '.join(rule.evaluators)}) and none is configured: N/A, and "
                                "not a failure under --strict, until judge_model is set in your cstui.toml (or "
                                "CSTUI_JUDGE_MODEL) and `cstui eval --judge-model M` has run")
    else:
        entry["status"] = "pass" if entry["passed"] else "fail"
        entry["message"] = _describe(entry)
    return entry


def _compare_baseline(entry: dict[str, Any], baseline: GateData, base: ScopeTally, tally: ScopeTally,
                      cfg: GateConfig) -> None:
    if base.n == 0 or tally.n == 0:
        entry["baseline"] = {"run": baseline.run, "n": base.n, "observed": None, "drop": None,
                             "p_value": None, "regressed": False}
        return
    drop, p_value = two_proportion_drop(base.k, base.n, entry["k"], entry["n"])
    regressed = drop > cfg.max_drop + EPS and p_value < cfg.alpha
    entry["flipped"] = sorted(base.passing_watched)
    entry["baseline"] = {"run": baseline.run, "n": base.n, "k": base.k, "observed": base.k / base.n, "drop": drop,
                         "p_value": p_value, "regressed": regressed}
    if regressed:
        entry["passed"] = False


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _describe(entry: dict[str, Any]) -> str:
    if entry["metric"] == "ece":
        value = f"ECE {entry['observed']:.3f} {'<' if entry['passed'] else '>='} {entry['threshold']:.2f} (n={entry['n']})"
    else:
        op = ">=" if entry["compared_value"] is not None and entry["compared_value"] >= entry["threshold"] - EPS else "<"
        basis = f"{BOUND_NAMES[entry['use']]} " if entry["use"] in BOUND_NAMES else ""
        value = (f"{basis}{_pct(entry['compared_value'])} {op} {_pct(entry['threshold'])} "
                 f"(n={entry['n']}, 95% CI {_pct(entry['ci_low'])}–{_pct(entry['ci_high'])})")
    base = entry.get("baseline")
    if base and base.get("observed") is not None:
        change = -100 * base["drop"]  # negative = worse, as everywhere; a change that rounds to 0 is no change
        shown = "±0.0" if round(change, 1) == 0 else f"{change:+.1f}"
        value += f"; baseline {base['run']} {_pct(base['observed'])} (n={base['n']}), change {shown} pts, p={base['p_value']:.3g}"
        if base["regressed"]:
            value += " — significant regression"
    return f"{entry['title']}: {value}"


def judge_configured() -> bool:
    """Is an LLM judge set up (judge_model in the user's config, or CSTUI_JUDGE_MODEL)?"""
    import os

    from cstui.config import load_config

    return bool(load_config().judge_model or os.environ.get("CSTUI_JUDGE_MODEL"))


def run_gate(store: Store, run: str, *, baseline: str | None = None, config_path: Path | None = None,
             strict: bool = False, judge: bool | None = None) -> GateResult:
    """`judge`: is an LLM judge configured (default: read the config)? Without one, rules that only an LLM judge
    can answer are N/A rather than failures of --strict."""
    from cstui.evaluators import registry

    known = {ev.id for ev in registry.all_evaluators()}
    judges = None if (judge if judge is not None else judge_configured()) else frozenset(
        ev.id for ev in registry.all_evaluators("judge"))
    cfg = load_gates(config_path)
    data = scan_gate(store, run, cfg)
    base = None
    if baseline:
        watch = {key: set(scope.failing) for key, scope in data.scopes.items() if scope.failing}
        base = scan_gate(store, baseline, cfg, watch)
    return decide_gate(cfg, data, base, strict=strict, known=known, judges=judges)


def decide_gate(cfg: GateConfig, data: GateData, baseline: GateData | None = None, *, strict: bool = False,
                  known: set[str] | None = None, judges: frozenset[str] | None = None) -> GateResult:
    from cstui.report_models import GateResult

    rules: list[dict[str, Any]] = []
    for rule in cfg.rules:
        rules.extend(evaluate_rule(rule, data, cfg, baseline, known, judges))
    for entry in rules:
        if entry["status"] == "no_data" and strict and not entry.get("needs_judge"):
            entry["passed"] = False
            entry["status"] = "fail"
        elif entry["status"] != "no_data":
            entry["status"] = "pass" if entry["passed"] else "fail"
    blocking_failures = [r for r in rules if r["status"] == "fail" and (r["blocking"] or strict and r["n"] == 0
                                                                         and not r.get("needs_judge"))]
    return GateResult.model_validate({
        "run": data.run, "baseline": baseline.run if baseline else None, "gate_file": cfg.path,
        "strict": strict, "passed": not blocking_failures,
        "n_rules": len(rules),
        "failed": [r["name"] for r in blocking_failures],
        "advisories": [r["name"] for r in rules if r["status"] == "fail" and r not in blocking_failures],
        "no_data": [r["name"] for r in rules if r["status"] == "no_data"],
        "rules": rules,
    })


# ---------------------------------------------------------------------------------------------- JUnit
def junit_xml(result: GateResult, seconds: float = 0.0) -> str:
    """One testcase per rule: blocking failures are <failure>, no data is <skipped>, advisories pass with a note."""
    import xml.etree.ElementTree as ET

    from cstui.store import now_iso
    from cstui.textsafe import inert

    def clean(text: str) -> str:
        return inert(text, keep_newlines=True)

    failed = set(result.failed)
    suites = ET.Element("testsuites", name="cstui gate")
    suite = ET.SubElement(
        suites, "testsuite", name=clean(f"cstui gate {result.run}"), tests=str(len(result.rules)),
        failures=str(len(failed)), errors="0", skipped=str(len(result.no_data)), time=f"{seconds:.3f}",
        timestamp=now_iso(),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("run", "baseline", "gate_file"):
        if getattr(result, key):
            ET.SubElement(props, "property", name=key, value=clean(str(getattr(result, key))))
    for entry in result.rules:
        case = ET.SubElement(suite, "testcase", classname=clean(f"cstui.gate.{result.run}"), name=entry.name,
                             time="0")
        detail = [entry.message, *entry.warnings]
        if entry.flipped:
            detail.append(f"flipped pass→fail vs {result.baseline}: {', '.join(entry.flipped)}")
        if entry.failing_sessions:
            shown = entry.failing_sessions[:50]
            more = len(entry.failing_sessions) - len(shown)
            detail.append("failing sessions: " + ", ".join(shown) + (f" (+{more} more)" if more else ""))
        body = clean("\n".join(detail))
        if entry.name in failed:
            node = ET.SubElement(case, "failure", message=clean(entry.message), type=entry.on_fail)
            node.text = body
        elif entry.status == "no_data":
            ET.SubElement(case, "skipped", message=clean(entry.message))
        elif entry.status == "fail":
            out = ET.SubElement(case, "system-out")
            out.text = clean(f"ADVISORY ({entry.on_fail}): ") + body
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

