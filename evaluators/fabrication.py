"""Fabrication checks against the span tree and the KB: claims the record does not back up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from cstui.evaluators.base import (
    Evaluator,
    NotApplicable,
    RunContext,
    ShownTextEvaluator,
    Verdict,
    has_shown_text,
    shown_assistant_turns,
    snippet,
)
from cstui.evaluators.claims import backing, calls_behind, claims_in, effects, parsed, payments
from cstui.evaluators.registry import register
from cstui.evaluators.text import (
    CONDITIONAL,
    bare_numbers,
    negated_before,
    ngrams,
    quantities,
    sentences,
)
from cstui.models import Evidence, Session


# ---------------------------------------------------------------------------------------------- actions
@register
class AuthorizationFabrication(ShownTextEvaluator):
    id = "authorization_fabrication"
    version = "4"
    dimension = "factual"
    hallucination_category = "authorization"
    description = ("The assistant says an action is done (refund issued, order cancelled, booking confirmed, “your "
                   "visit is scheduled”) only when a side-effecting call about that thing succeeded at or before that "
                   "turn — after the customer agreed, when it reports an agreed proposal — and changed something.")

    def check(self, session, ctx):
        n_claims = 0
        for claim in claims_in(session, ctx):
            n_claims += 1
            call, why = backing(session, ctx, claim)
            if call is not None:
                continue
            kind = "" if claim.category == "any" else f" ({claim.category})"
            failed = next((s for s in reversed(session.spans) if s.kind == "tool" and s.status == "error"
                           and (s.turn_index is None or s.turn_index <= claim.turn_index)), None)
            return Verdict(False, f"turn {claim.turn_index} says an action is done{kind}, but {why}: "
                                  f"“{snippet(claim.sentence, width=140)}”",
                           [Evidence(turn_index=claim.turn_index, snippet=claim.sentence, start=claim.start,
                                     end=claim.end, span_id=failed.span_id if failed and "failed" in why else None)],
                           label=claim.category)
        return Verdict(True, f"{n_claims} action claim(s), each backed by a successful call that did it" if n_claims
                       else "no action claims")


_MONEY_DIRECTION = [
    ("refund", re.compile(r"\brefund|\bcredited\b|\breturned\b|\bback to\b|\breimburs|\bsav(?:e|ed|ing)", re.I)),
    ("charge", re.compile(r"\bcharged\b|\bbilled\b|\bdebited\b|\bdeducted\b|\bpaid\b|\b(?:payment|fee|charge|cost) "
                          r"(?:of|for) [^.]{0,60}?(?:has been |have been |was |is )?(?:processed|made|completed|taken|"
                          r"collected|applied|charged)", re.I)),
]
_PER_UNIT = re.compile(r"\bper (?:passenger|person|traveler|guest|ticket|bag|item|night|seat)\b|\beach\b", re.I)
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})"
                   r"(?:st|nd|rd|th)?\b", re.I)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                        "dec"), start=1)}


def _dates(text: str) -> set[tuple[int, int]]:
    out = set()
    for m in _DATE.finditer(text):
        if m.group(1):
            out.add((int(m.group(2)), int(m.group(3))))
        else:
            out.add((_MONTHS[m.group(4).lower()[:3]], int(m.group(5))))
    return out


@register
class ActionDetailMismatch(ShownTextEvaluator):
    id = "action_detail_mismatch"
    dimension = "factual"
    hallucination_category = "authorization"
    description = ("A completed-action claim states the amount, date or item the call behind it recorded: “$600 was "
                   "charged” when the update charged $1,200, a refund called a charge, or a date the call did not use.")

    def applies(self, session, ctx):
        reason = super().applies(session, ctx)
        if reason:
            return reason
        if not effects(session, ctx):
            return "no successful side-effecting calls"
        return None

    def check(self, session, ctx):
        checked = 0
        earlier_turn, this_turn = -1, -1  # the claiming turn before this claim's turn
        for claim in claims_in(session, ctx):
            if claim.turn_index != this_turn:
                earlier_turn, this_turn = this_turn, claim.turn_index
            call, _ = backing(session, ctx, claim)
            if call is None:
                continue  # an unbacked claim is authorization_fabrication's finding
            window = calls_behind(session, ctx, claim, earlier_turn)
            problem = self._mismatch(claim, call, [p for e in window for p in e.new_payments if p])
            checked += 1
            if problem:
                return Verdict(False, f"turn {claim.turn_index}: {problem}",
                               [Evidence(turn_index=claim.turn_index, snippet=claim.sentence, start=claim.start,
                                         end=claim.end),
                                Evidence(span_id=call.span.span_id, turn_index=call.span.turn_index,
                                         snippet=call.span.name)], label=claim.category)
        if not checked:
            raise NotApplicable("no backed action claims to compare")
        return Verdict(True, f"{checked} backed claim(s) state what their call recorded")

    @staticmethod
    def _mismatch(claim, call, moved: list[float]) -> str | None:
        """What the claim misstates about the calls behind it (payments they recorded), or None."""
        text = claim.sentence
        direction = next((d for d, rx in _MONEY_DIRECTION if rx.search(text)), None)
        amounts = [q.value for q in quantities(text) if q.unit == "$"]
        if moved and direction:
            signed = [p for p in moved if (p < 0) == (direction == "refund")]
            if not signed:
                what = "a refund" if moved[0] < 0 else "a charge"
                return (f"says {'a refund' if direction == 'refund' else 'a charge'} but the call recorded "
                        f"{what} of ${abs(moved[0]):,.0f}")
            for amount in amounts:
                totals = {abs(p) for p in signed} | {abs(sum(signed))}
                per_unit = bool(_PER_UNIT.search(text))
                if not any(abs(amount - t) < 0.01 or (per_unit and any(abs(amount * k - t) < 0.01 for k in range(2, 10)))
                           for t in totals):
                    return (f"says ${amount:,.2f} but the calls behind it recorded "
                            f"${', $'.join(f'{abs(p):,.2f}' for p in signed)}")
        claimed_dates = _dates(text)
        if claimed_dates:
            blob = orjson.dumps([call.span.attributes.get("arguments"), call.span.attributes.get("result")],
                                default=str).decode()
            recorded = _dates(blob)
            if recorded and not claimed_dates & recorded:
                return f"says the action is for {sorted(claimed_dates)[0]} but {call.span.name} used other dates"
        return None


# ---------------------------------------------------------------------------------------------- history
HISTORY_CLAIM = re.compile(
    r"\b(?:(?:you|you've|you have)\s+(?:already\s+)?(?:contacted|called|emailed|messaged|chatted with|spoke(?:n)? to|"
    r"spoke with|wrote to|reached out to|told)\s+(?:us|me|our team)\s+(?:before|previously|last\s+\w+|yesterday|"
    r"earlier this (?:week|month)|on \w+day|\d+ days ago|a few days ago)"
    r"|(?:as|like)\s+(?:i|we)\s+(?:mentioned|discussed|said|told you|explained|agreed)\s+"
    r"(?:last time|previously|before|when you (?:called|contacted|wrote|emailed)|on your (?:last|previous) (?:call|chat|visit)"
    r"|last week|yesterday)"
    r"|your (?:previous|last|earlier|prior) (?:call|chat|ticket|conversation|contact|complaint|visit|email)"
    r"|last time you (?:called|contacted|wrote|emailed|chatted|spoke))",
    re.IGNORECASE)
HISTORY_TOOLS = ("history", "ticket", "interaction", "case", "previous", "prior", "contact")


@register
class HistoryFabrication(ShownTextEvaluator):
    id = "history_fabrication"
    dimension = "factual"
    hallucination_category = "history"
    description = "References to earlier contacts need a record of them (account history or a history lookup)."

    def check(self, session, ctx):
        account = session.account or {}
        on_record = bool(account.get("history") or account.get("prior_sessions") or account.get("previous_contacts"))
        for i, turn in shown_assistant_turns(session):
            m = HISTORY_CLAIM.search(turn.text)
            if not m or negated_before(turn.text, m.start()):
                continue
            looked_up = any(s.kind == "tool" and s.status != "error" and (s.turn_index or 0) <= i
                            and any(w in (s.name or "").lower() for w in HISTORY_TOOLS) for s in session.spans)
            customer_said = any(t.role == "customer" and re.search(r"\b(?:last time|before|previously|called|"
                                                                   r"contacted|again)\b", t.text, re.I)
                                for t in session.turns[:i])
            if not (on_record or looked_up or customer_said):
                return Verdict(False, f"turn {i} refers to a prior contact that is not on record",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, m.start(), m.end()))])
        return Verdict(True, "no unsupported references to prior contacts")


# ---------------------------------------------------------------------------------------------- availability
AVAILABILITY_CLAIM = re.compile(
    r"\b(?:(?:is|are|it's|they're)\s+(?:currently\s+|still\s+|now\s+)?(?:in stock|out of stock|back in stock|"
    r"available (?:at|in) (?:your|the|our) (?:local )?(?:store|branch|warehouse))"
    r"|we (?:have|'ve got) (?:\d+|some|plenty|a few|several)\s+(?:\w+\s+)?(?:left|in stock|available)"
    r"|(?:only\s+)?\d+\s+(?:left|remaining) in stock"
    r"|ships? from (?:your|a) (?:local )?store)",
    re.IGNORECASE)
INVENTORY_TOOLS = ("inventory", "stock", "availab", "catalog", "product", "store")


@register
class AvailabilityFabrication(ShownTextEvaluator):
    id = "availability_fabrication"
    dimension = "factual"
    hallucination_category = "availability"
    description = "Stock or store-availability statements need a successful inventory lookup at or before them."

    def check(self, session, ctx):
        for i, turn in shown_assistant_turns(session):
            for sent in sentences(turn.text):
                m = AVAILABILITY_CLAIM.search(sent.text)
                if not m or sent.is_question or CONDITIONAL.match(sent.text):
                    continue
                looked_up = any(s.kind == "tool" and s.status != "error" and (s.turn_index or 0) <= i
                                and any(w in (s.name or "").lower() for w in INVENTORY_TOOLS) for s in session.spans)
                if not looked_up:
                    return Verdict(False, f"turn {i} states availability without an inventory lookup",
                                   [Evidence(turn_index=i, snippet=snippet(turn.text, sent.start + m.start(),
                                                                           sent.start + m.end()))])
        return Verdict(True, "availability statements are backed by inventory lookups")


# ---------------------------------------------------------------------------------------------- policy
# Tools whose payload is the model's own words, not a source of facts (τ-bench's `think`).
_SCRATCH_TOOLS = re.compile(r"^(?:think|thought|reason(?:ing)?|scratch\w*|plan|reflect\w*|note_to_self)$", re.I)
# Tools that do arithmetic: their result is grounded only when every operand is.
_CALCULATORS = re.compile(r"calc|math|arithmetic|compute|evaluate", re.I)
_EXPRESSION_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
MAX_FACTOR = 9  # "$50 per passenger" x 3 passengers, a share of a total among up to 9
_MONEY_KEY = re.compile(r"price|amount|cost|fee|total|balance|refund|paid|charge|fare|payment|credit|value|sum|"
                        r"difference|saving", re.I)


def money_numbers(value: Any, money: bool = False) -> list[float]:
    """Numbers a payload gives as money: under a key like price/amount/balance (or inside such a key)."""
    value = parsed(value)
    out: list[float] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.extend(money_numbers(inner, money or bool(_MONEY_KEY.search(str(key)))))
    elif isinstance(value, list):
        for inner in value:
            out.extend(money_numbers(inner, money))
    elif money and isinstance(value, int | float) and not isinstance(value, bool):
        out.append(float(value))
    elif isinstance(value, str):
        out.extend(q.value for q in quantities(value) if q.unit == "$")
    return out


@dataclass
class _Source:
    at: int  # turn the source belongs to (-1: before the conversation, e.g. the policy)
    typed: set[tuple[float, str]]
    numbers: tuple[float, ...]  # bare numbers: a figure equal to one of them is grounded
    money: tuple[float, ...] = ()  # money figures, in payload order: sums and multiples of these are grounded
    record_total: float | None = None  # what a record says was paid in all (its payment list summed)


def _sources(session: Session, *, tools: bool = True) -> list[_Source]:
    """What each span, policy text and customer turn makes sayable, keyed by the turn it belongs to (without
    `tools`, only the cheap ones: policy, customer turns and retrieved chunks)."""
    out: list[_Source] = []
    def typed(text: str) -> tuple[set[tuple[float, str]], tuple[float, ...]]:
        qs = quantities(text)
        return {q.key for q in qs}, tuple(q.value for q in qs if q.unit == "$")

    for _, text in session.policy_texts():
        keys, money = typed(text)
        out.append(_Source(-1, keys, tuple(bare_numbers(text)), money))
    grounded: set[float] = {n for src in out for n in src.numbers}
    for i, turn in enumerate(session.turns):
        if turn.role == "customer":
            keys, money = typed(turn.text)
            out.append(_Source(i, keys, tuple(bare_numbers(turn.text)), money))
    grounded |= {n for src in out for n in src.numbers} | {v for src in out for v, _ in src.typed}
    for span in session.spans:
        at = span.turn_index if span.turn_index is not None else -1
        if span.kind == "retrieval":
            texts = [d["content"] for d in span.attributes.get("documents") or []
                     if isinstance(d, dict) and isinstance(d.get("content"), str)]
            out.append(_Source(at, {q.key for t in texts for q in quantities(t)},
                               tuple(n for t in texts for n in bare_numbers(t)),
                               tuple(q.value for t in texts for q in quantities(t) if q.unit == "$")))
        elif span.kind in ("tool", "policy_lookup") and tools:
            if _SCRATCH_TOOLS.match(span.name or ""):
                continue
            args = span.attributes.get("arguments")
            if _CALCULATORS.search(span.name or "") and isinstance(args, dict):
                expression = " ".join(str(v) for v in args.values())
                operands = [float(n) for n in _EXPRESSION_NUMBER.findall(expression)]
                if not all(n in grounded or (n == int(n) and n <= 10) for n in operands):
                    continue  # arithmetic on a figure nobody gave (an invented 1.5x multiplier)
            blob = orjson.dumps(span.attributes, default=str).decode()
            paid = payments(span.attributes.get("result"))
            result = parsed(span.attributes.get("result"))
            money = money_numbers(span.attributes.get("arguments")) + money_numbers(result)
            if _CALCULATORS.search(span.name or ""):
                money += [n for n in bare_numbers(str(result))]
            src = _Source(at, {q.key for q in quantities(blob)}, tuple(bare_numbers(blob)), tuple(money),
                          sum(paid) if paid else None)
            grounded |= set(src.numbers)
            out.append(src)
    return out


def _derivable(value: float, money: set[float], payloads: list[tuple[float, ...]],
               record_totals: list[float] = ()) -> bool:
    """Is a money figure arithmetic on grounded money figures — a ± b ± c, k·a ± b (k ≤ 9 passengers or
    shares), a total of a few items of one record — or the total of several records (the cost of all
    upcoming reservations)?"""
    def has(x: float) -> bool:
        return round(x, 2) in money

    pool = sorted(m for m in money if m)[:300]
    for k in range(1, MAX_FACTOR + 1):
        if k > 1 and (has(value / k) or has(value * k)):
            return True
        for a in pool:
            base = k * a
            if has(value - base) or has(base - value):
                return True
    for i, a in enumerate(pool):  # three signed terms
        for b in pool[i:]:
            if (has(value - a - b) or has(a + b - value) or has(value + a + b) or has(value - a + b)
                    or has(value + a - b)):
                return True
    for payload in payloads:  # a total of four items of one record (a round trip's flight prices)
        items = [x for x in payload if 0 < x < value][:60]
        seen = set(items)
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                rest = value - a - b
                if any(rest - c in seen for c in items):
                    return True
    reachable = {0.0}
    for total in dict.fromkeys(t for t in record_totals if 0 < t <= value):
        reachable |= {round(r + total, 2) for r in reachable if r + total <= value + 0.005}
        if round(value, 2) in reachable:
            return True
    return False


@register
class PolicyGrounding(Evaluator):
    id = "policy_grounding"
    version = "2"
    dimension = "factual"
    hallucination_category = "policy"
    description = ("Amounts, percentages and durations in a reply come from a source: the policy in a system or "
                   "developer message, a retrieved chunk, a cited current KB article, a tool's arguments or result, "
                   "the customer's own words — or are sums, differences, multiples or per-unit shares of those.")

    def applies(self, session, ctx):
        if not any(quantities(t.text) for _, t in shown_assistant_turns(session)):
            return "no amounts, percentages or durations stated"
        return None

    def check(self, session, ctx):
        # Grounding only grows with sources, so try the cheap ones first; tool payloads (serialised and scanned,
        # the costly part) are read only when something is left ungrounded.
        stated, failure = self._first_ungrounded(session, ctx, _sources(session, tools=False))
        if failure is not None:
            stated, failure = self._first_ungrounded(session, ctx, _sources(session))
        return failure or Verdict(True, f"all {stated} stated quantities are grounded")

    def _first_ungrounded(self, session: Session, ctx: RunContext, sources: list[_Source]) -> tuple[int, Verdict | None]:
        stated = 0
        for i, turn in shown_assistant_turns(session):
            claims = quantities(turn.text)
            if not claims:
                continue
            mine = [s for s in sources if s.at <= i]
            typed = {k for s in mine for k in s.typed}
            numbers = {n for s in mine for n in s.numbers} | {v for v, _ in typed}
            money = {n for s in mine for n in s.money}
            for cite in turn.citations:  # a cited current article counts as a source for its turn
                art = ctx.kb.current(cite.split("@")[0].split("#")[0].strip())
                if art is not None:
                    typed |= {q.key for q in quantities(art.body)}
            for q in claims:
                stated += 1
                if q.key in typed or (q.unit == "$" and (q.value in numbers or _derivable(
                        q.value, {round(m, 2) for m in money}, [s.money for s in mine if len(s.money) > 2],
                        [s.record_total for s in mine if s.record_total]))):
                    continue
                if q.unit != "$" and q.value in {n for s in mine if s.at >= 0 for n in s.numbers}:
                    continue  # "2 hours" where a tool said 2 (a duration field)
                return stated, Verdict(
                    False, f"turn {i} states {q.text!r}, which no policy text, document, tool result or customer "
                           f"turn gives (nor a sum, difference or multiple of what they give)",
                    [Evidence(turn_index=i, snippet=q.text, start=q.start, end=q.end)], label=q.unit)
        return stated, None


# ---------------------------------------------------------------------------------------------- deprecated
@register
class DeprecatedContent(Evaluator):
    id = "deprecated_content"
    dimension = "factual"
    hallucination_category = "policy"
    description = "A reply repeats wording found only in deprecated or deleted KB revisions (e.g. the old SMS 2FA steps)."
    min_shared = 3  # five-word sequences; a couple can be coincidence

    def applies(self, session, ctx):
        if not any(a.status != "current" for revs in ctx.kb.revisions.values() for a in revs):
            return "the run's KB has no deprecated revisions"
        return None if has_shown_text(session) else "no assistant text shown"

    def check(self, session, ctx):
        stale = ctx.kb.deprecated_only_ngrams()
        for i, turn in shown_assistant_turns(session):
            grams = ngrams(turn.text)
            hits = [stale[g] for g in grams if g in stale]
            for kb_id, rev in sorted(set(hits), key=hits.count, reverse=True):
                n_stale = hits.count((kb_id, rev))
                current = ctx.kb.current(kb_id)
                n_current = len(grams & ngrams(current.body)) if current else 0
                if n_stale >= self.min_shared and n_stale > n_current:
                    art = ctx.kb.revision(kb_id, rev)
                    return Verdict(False, f"turn {i} repeats {kb_id} revision {rev} ({art.status if art else '?'})"
                                          f" more than the current text", [Evidence(turn_index=i,
                                   snippet=snippet(turn.text, width=120))], score=n_stale)
        return Verdict(True, "no content from deprecated revisions")
