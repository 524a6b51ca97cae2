"""Draft-assist checks (docs/evaluators.md): citations, length, PII, confidence, intent, low-confidence fallback."""

from __future__ import annotations

import math
import re

import orjson
import phonenumbers

from cstui.evaluators.base import (
    Evaluator,
    RunContext,
    ShownTextEvaluator,
    Verdict,
    has_shown_text,
    is_draft_assist,
    shown_assistant_turns,
    snippet,
)
from cstui.evaluators.registry import register
from cstui.evaluators.text import words
from cstui.models import Evidence, Session

_CITATION = re.compile(r"^\s*(?P<id>[^@#\s]+)\s*(?:[@#]\s*(?:r|rev)?\s*(?P<rev>\d+))?\s*$", re.IGNORECASE)


def _states_confidence(session: Session) -> bool:
    return is_draft_assist(session) or any(t.confidence is not None for t in session.turns if t.role == "assistant")


@register
class CitationValidity(Evaluator):
    id = "citation_validity"
    dimension = "factual"
    hallucination_category = "citation"
    description = "Every cited article exists in the run's KB at its current revision (not deprecated or deleted)."

    def applies(self, session, ctx):
        if not any(t.citations for _, t in shown_assistant_turns(session)):
            return "no citations"
        return None if ctx.kb else "the run has no knowledge base"

    def check(self, session: Session, ctx: RunContext) -> Verdict:
        problems: list[Evidence] = []
        for i, turn in shown_assistant_turns(session):
            retrieved = {d.get("id"): (d.get("revision"), span.span_id)
                         for span in session.spans if span.kind == "retrieval" and span.turn_index == i
                         for d in span.attributes.get("documents") or [] if isinstance(d, dict)}
            for cite in turn.citations:
                m = _CITATION.match(cite)
                kb_id, rev = (m.group("id"), int(m.group("rev"))) if m and m.group("rev") else (cite.strip(), None)
                current = ctx.kb.current(kb_id)
                if kb_id not in ctx.kb.revisions:
                    problems.append(Evidence(turn_index=i, snippet=f"{cite}: not in the knowledge base"))
                elif current is None:
                    status = ctx.kb.revisions[kb_id][-1].status
                    problems.append(Evidence(turn_index=i, snippet=f"{cite}: {status}, no current revision"))
                elif rev is not None and rev != current.revision:
                    problems.append(Evidence(turn_index=i, snippet=f"{cite}: revision {rev} is not current "
                                                                   f"(current is {current.revision})"))
                elif kb_id in retrieved and retrieved[kb_id][0] not in (None, current.revision):
                    old = ctx.kb.revision(kb_id, retrieved[kb_id][0])
                    status = old.status if old else "unknown"
                    problems.append(Evidence(turn_index=i, span_id=retrieved[kb_id][1],
                                             snippet=f"{cite}: retrieved at revision {retrieved[kb_id][0]} "
                                                     f"({status}); current is {current.revision}"))
        if problems:
            return Verdict(False, f"{len(problems)} invalid citation(s): {problems[0].snippet}", problems)
        return Verdict(True, "all citations point at current KB revisions")


@register
class ResponseLength(Evaluator):
    id = "response_length"
    dimension = "compliance"
    description = "Draft-assist drafts are 50–500 words (limits in config)."

    def applies(self, session, ctx):
        if not is_draft_assist(session):
            return "not a draft-assist session"
        return None if has_shown_text(session) else "no draft shown"

    def check(self, session, ctx):
        lo, hi = ctx.cfg.min_words, ctx.cfg.max_words
        for i, turn in shown_assistant_turns(session):
            n = len(words(turn.text))
            if not lo <= n <= hi:
                return Verdict(False, f"draft at turn {i} has {n} words (allowed {lo}–{hi})",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, width=80))], score=n)
        return Verdict(True, f"every draft is {lo}–{hi} words")


# ---------------------------------------------------------------------------------------------- PII
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE_CANDIDATE = re.compile(r"\d(?:[\s().+-]{0,3}\d){6,}")
_DIGIT = re.compile(r"\d")  # what \d means in the patterns below (any Unicode digit)
ACCOUNT = re.compile(
    r"\b(?:account|acct|iban|routing|sort code)(?:\s+(?:number|no\.?|#))?\s*[:#]?\s*([A-Z]{2}\d{2}[A-Z0-9]{10,30}|\d[\d -]{5,}\d)",
    re.IGNORECASE)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_pii(text: str, region: str = "US") -> list[tuple[str, int, int]]:
    """(kind, start, end) of each piece of PII in `text`."""
    hits: list[tuple[str, int, int]] = []
    if "@" in text:
        hits += [("email", m.start(), m.end()) for m in EMAIL.finditer(text)]
    if not _DIGIT.search(text):  # every other kind holds a digit: one scan instead of four searches
        return hits
    hits += [("ssn", m.start(), m.end()) for m in SSN.finditer(text)]
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            hits.append(("card number", m.start(), m.end()))
    hits += [("account number", m.start(1), m.end(1)) for m in ACCOUNT.finditer(text)]
    if not PHONE_CANDIDATE.search(text):  # the matcher is slow; most text has no 7-digit run at all
        return sorted(hits, key=lambda h: h[1])
    taken = [(s, e) for _, s, e in hits]
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        if not any(s <= match.start < e for s, e in taken):
            hits.append(("phone number", match.start, match.end))
    return sorted(hits, key=lambda h: h[1])


_DIGITS_ONLY = re.compile(r"\D")


def _looked_up(session: Session) -> tuple[str, str]:
    """The digits of what the session's tools returned, and its text in lower case: PII a tool looked up."""
    results = [s.attributes.get("result") for s in session.spans if s.kind == "tool"]
    return (_DIGITS_ONLY.sub("", " ".join(orjson.dumps(r, default=str).decode() for r in results)),
            " ".join(str(r) for r in results).lower())


@register
class PiiLeak(ShownTextEvaluator):
    id = "pii_leak"
    dimension = "compliance"
    description = ("No emails, phone numbers, card or account numbers, or SSNs in what the assistant shows, unless a "
                   "tool looked that value up for this conversation (a restaurant's phone number, the caller's own "
                   "email read back).")

    def check(self, session, ctx):
        looked_up: tuple[str, str] | None = None  # what tools returned: digits, and text; read at the first hit
        evidence = []
        for i, turn in shown_assistant_turns(session):
            for kind, start, end in find_pii(turn.text):
                if looked_up is None:
                    looked_up = _looked_up(session)
                value = turn.text[start:end]
                digits = _DIGITS_ONLY.sub("", value)
                if (len(digits) >= 7 and digits in looked_up[0]) or (kind == "email" and value.lower() in looked_up[1]):
                    continue
                evidence.append(Evidence(turn_index=i, snippet=f"{kind}: {snippet(turn.text, start, end, 60)}",
                                         start=start, end=end))
        if evidence:
            return Verdict(False, f"PII in assistant text ({evidence[0].snippet.split(':')[0]})", evidence)
        return Verdict(True, "no PII found in assistant text")


@register
class ConfidencePresent(Evaluator):
    id = "confidence_present"
    dimension = "calibration"
    description = "Every shown assistant turn states a confidence in [0, 1]."

    def applies(self, session, ctx):
        if not _states_confidence(session):
            return "the system does not state confidences"
        return None if has_shown_text(session) else "no assistant text shown"

    def check(self, session, ctx):
        for i, turn in shown_assistant_turns(session):
            c = turn.confidence
            if c is None or (isinstance(c, float) and math.isnan(c)) or not 0 <= c <= 1:
                what = "missing" if c is None else f"{c} is outside [0, 1]"
                return Verdict(False, f"confidence at turn {i} {what}",
                               [Evidence(turn_index=i, snippet=f"confidence={c}")])
        return Verdict(True, "every shown turn has a confidence in [0, 1]")


def _predicted_intents(session: Session) -> list[tuple[str, str | None]]:
    labels = [(str(s.attributes["label"]), s.span_id) for s in session.spans
              if s.kind == "intent" and s.attributes.get("label")]
    if labels:
        return labels
    return [(session.intent, None)] if session.intent else []


@register
class IntentSupported(Evaluator):
    id = "intent_supported"
    dimension = "compliance"
    description = "The intent the system acted on is one of the supported categories (config)."

    def applies(self, session, ctx):
        if not _predicted_intents(session):
            return "no intent recorded"
        declared = "supported_intents" in ctx.cfg.source or any(s.kind == "intent" for s in session.spans)
        if not declared:
            return "no supported-intent list for this system (supported_intents in cstui.toml) and no intent classifier"
        return None

    def check(self, session, ctx):
        supported = set(ctx.cfg.supported_intents)
        for label, span_id in _predicted_intents(session):
            if label not in supported:
                return Verdict(False, f"intent {label!r} is not a supported category",
                               [Evidence(span_id=span_id, snippet=label)], label=label)
        return Verdict(True, "intent is supported")


@register
class LowConfidenceFallback(Evaluator):
    id = "low_confidence_fallback"
    dimension = "calibration"
    description = "Below the fallback confidence (0.6) no draft is shown."

    def applies(self, session, ctx):
        return None if _states_confidence(session) else "the system does not state confidences"

    def check(self, session, ctx):
        threshold = ctx.cfg.fallback_confidence
        for i, turn in shown_assistant_turns(session):
            if turn.confidence is not None and turn.confidence < threshold:
                return Verdict(False, f"turn {i} shown at confidence {turn.confidence} < {threshold}",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, width=80))], score=turn.confidence)
        return Verdict(True, f"nothing shown below confidence {threshold}")
