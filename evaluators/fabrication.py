"""Fabrication checks against the span tree and the KB: claims the record does not back up."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from cstui.evaluators.base import (
    Evaluator,
    RunContext,
    ShownTextEvaluator,
    Verdict,
    has_shown_text,
    shown_assistant_turns,
    snippet,
)
from cstui.evaluators.registry import register
from cstui.evaluators.text import (
    CONDITIONAL,
    bare_numbers,
    negated_before,
    ngrams,
    quantities,
    sentences,
)
from cstui.models import Evidence, Session, Span

# ---------------------------------------------------------------------------------------------- actions
# What kind of action a claim is about, and the tool-name fragments that can back it.
ACTION_TOOLS: dict[str, tuple[str, ...]] = {
    "transfer": ("transfer", "escalat", "handoff", "hand_off", "queue", "assign", "route", "ticket"),
    "refund": ("refund", "credit", "reimburs", "reverse", "chargeback"),
    "cancel": ("cancel", "terminate"),
    "booking": ("book", "reserv"),
    "change": ("change", "update", "modify", "edit", "set_", "downgrade", "upgrade", "plan", "address", "schedule"),
    "payment": ("pay", "send", "transfer_funds", "charge"),
    "return": ("return", "exchange", "label", "rma"),
    "lock": ("lock", "freeze", "block", "suspend", "disable"),
    "reset": ("reset", "password", "unlock"),
    "create": ("create", "open", "add", "submit"),
}
_VERBS = (
    r"(?:issued|processed|refunded|cancell?ed|booked|reserved|confirmed|sent|transferred|escalated|passed|"
    r"forwarded|referred|connected|handed|updated|changed|modified|upgraded|downgraded|scheduled|credited|"
    r"reset|locked|unlocked|frozen|blocked|created|submitted|applied|waived|reversed|returned|exchanged|paid|"
    r"initiated|placed|completed|approved|removed|added|reinstated|activated|deactivated|closed|opened)"
)
_SUBJECT_NOUNS = (
    r"(?:refund|order|subscription|reservation|booking|payment|plan|address|account|return|request|ticket|"
    r"exchange|cancellation|credit|charge|transfer|downgrade|upgrade|change|password|case|claim|dispute|"
    r"replacement|label|fee|balance|membership|flight|appointment)s?"
)
CLAIM_PATTERNS = [
    # "I've issued", "I have just gone ahead and cancelled", "we've processed"
    re.compile(rf"\b(?:i|we)(?:'ve| have)\s+(?:just\s+|now\s+|already\s+|successfully\s+|gone ahead and\s+)*{_VERBS}\b",
               re.IGNORECASE),
    # "I issued", "we cancelled" (simple past, first person)
    re.compile(rf"\b(?:i|we)\s+(?:just\s+|already\s+|successfully\s+)?{_VERBS}\b", re.IGNORECASE),
    # "your refund has been processed", "the payment was sent", "your reservation is confirmed"
    re.compile(rf"\b(?:your|the|this|that)\s+(?:\w+\s+){{0,3}}?{_SUBJECT_NOUNS}\s+(?:(?:of|for)\s+[^?!]{{1,40}}?\s+)?"
               rf"(?:has|have|had|is|was|were|are)\s+(?:now\s+|already\s+|successfully\s+|just\s+)?(?:been\s+)?{_VERBS}\b",
               re.IGNORECASE),
    # "Done: your plan ...", "All set - cancelled" are too vague to attribute; left out on purpose.
]
_TRANSFER_WORDS = re.compile(r"\b(?:team|specialists?|colleagues?|department|human|agent|supervisor|manager|"
                             r"lead|queue)\b", re.IGNORECASE)
_CATEGORY_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("refund", re.compile(r"\brefund|\bcredit|\breimburs|\brevers", re.I)),
    ("cancel", re.compile(r"\bcancel", re.I)),
    ("booking", re.compile(r"\bbook|\breserv", re.I)),
    ("return", re.compile(r"\breturn|\bexchang|\blabel", re.I)),
    ("lock", re.compile(r"\block|\bfrozen|\bfreez|\bblock", re.I)),
    ("reset", re.compile(r"\breset|\bpassword", re.I)),
    ("payment", re.compile(r"\bpaid\b|\bpayment\b.*\bsent|\bsent\b.*\bpayment", re.I)),
    ("change", re.compile(r"\bupdat|\bchang|\bmodif|\bdowngrad|\bupgrad|\bschedul|\baddress|\bplan\b", re.I)),
    ("create", re.compile(r"\bcreat|\bsubmit|\bopen|\badd", re.I)),
]
_TRANSFER_VERBS = re.compile(r"\b(?:transferred|escalated|passed|forwarded|referred|connected|handed|sent)\b", re.I)


@dataclass
class Claim:
    turn_index: int
    category: str
    sentence: str
    start: int
    end: int


def action_claims(text: str, turn_index: int) -> list[Claim]:
    """Statements that an action is done; questions, negations, conditionals and futures are not claims."""
    claims = []
    for sent in sentences(text):
        if sent.is_question or CONDITIONAL.match(sent.text):
            continue
        for pattern in CLAIM_PATTERNS:
            m = pattern.search(sent.text)
            if not m or negated_before(sent.text, m.end()):
                continue
            clause = sent.text[m.start():]
            if _TRANSFER_VERBS.search(m.group()) and _TRANSFER_WORDS.search(clause):
                category = "transfer"
            else:
                category = next((c for c, rx in _CATEGORY_WORDS if rx.search(m.group()) or rx.search(clause[:80])),
                                 "any")
            claims.append(Claim(turn_index, category, sent.text.strip(), sent.start + m.start(), sent.start + m.end()))
            break
    return claims


def successful_side_effects(session: Session, ctx: RunContext, up_to_turn: int) -> list[Span]:
    return [s for s in session.spans
            if s.kind in ("tool", "escalation") and s.status != "error"
            and (s.turn_index is None or s.turn_index <= up_to_turn)
            and (s.kind == "escalation" or ctx.cfg.is_side_effect_tool(s.name, s.attributes.get("side_effect")))]


def backs(span: Span, category: str) -> bool:
    if category == "any":
        return True
    if category == "transfer" and span.kind == "escalation":
        return True
    name = (span.name or "").lower()
    return any(fragment in name for fragment in ACTION_TOOLS[category])


def failed_attempts(session: Session, category: str, up_to_turn: int) -> list[Span]:
    return [s for s in session.spans if s.kind == "tool" and s.status == "error"
            and (s.turn_index is None or s.turn_index <= up_to_turn) and backs(s, category)]


@register
class AuthorizationFabrication(ShownTextEvaluator):
    id = "authorization_fabrication"
    dimension = "factual"
    hallucination_category = "authorization"
    description = ("The assistant says an action is done (refund issued, order cancelled, booking confirmed) "
                   "only when a side-effecting tool call for it succeeded at or before that turn.")

    def check(self, session, ctx):
        n_claims = 0
        for i, turn in shown_assistant_turns(session):
            for claim in action_claims(turn.text, i):
                n_claims += 1
                if any(backs(span, claim.category) for span in successful_side_effects(session, ctx, i)):
                    continue
                failed = failed_attempts(session, claim.category, i)
                why = (f"the {failed[-1].name} call failed" if failed
                       else f"no successful {claim.category if claim.category != 'any' else 'side-effecting'} tool call")
                return Verdict(False, f"turn {i} claims an action was done but {why}",
                               [Evidence(turn_index=i, span_id=failed[-1].span_id if failed else None,
                                         snippet=snippet(turn.text, claim.start, claim.end))],
                               label=claim.category)
        return Verdict(True, f"{n_claims} action claim(s), each backed by a successful tool call" if n_claims
                       else "no action claims")


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
def _sources(session: Session) -> list[tuple[int, set[tuple[float, str]], set[float]]]:
    """What each span and customer turn makes sayable, keyed by the turn it belongs to: typed quantities
    from retrieved chunks and the customer's words, bare numbers from tool and policy-lookup payloads."""
    out: list[tuple[int, set[tuple[float, str]], set[float]]] = []
    for span in session.spans:
        at = span.turn_index if span.turn_index is not None else -1
        if span.kind == "retrieval":
            typed = {q.key for d in span.attributes.get("documents") or []
                     if isinstance(d, dict) and isinstance(d.get("content"), str) for q in quantities(d["content"])}
            out.append((at, typed, set()))
        elif span.kind in ("tool", "policy_lookup"):
            blob = orjson.dumps(span.attributes, default=str).decode()
            out.append((at, {q.key for q in quantities(blob)}, bare_numbers(blob)))
    for i, turn in enumerate(session.turns):
        if turn.role == "customer":
            out.append((i, {q.key for q in quantities(turn.text)}, set()))
    return out


@register
class PolicyGrounding(Evaluator):
    id = "policy_grounding"
    dimension = "factual"
    hallucination_category = "policy"
    description = ("Amounts, percentages and durations in a reply appear in a retrieved chunk, a cited current "
                   "KB article, a policy lookup, a tool result, or the customer's own words.")

    def applies(self, session, ctx):
        if not any(quantities(t.text) for _, t in shown_assistant_turns(session)):
            return "no amounts, percentages or durations stated"
        return None

    def check(self, session, ctx):
        stated = 0
        sources = _sources(session)
        for i, turn in shown_assistant_turns(session):
            claims = quantities(turn.text)
            if not claims:
                continue
            typed: set[tuple[float, str]] = set()
            bare: set[float] = set()
            for at, t, b in sources:
                if at <= i:
                    typed |= t
                    bare |= b
            for cite in turn.citations:  # a cited current article counts as a source for its turn
                art = ctx.kb.current(cite.split("@")[0].split("#")[0].strip())
                if art is not None:
                    typed |= {q.key for q in quantities(art.body)}
            for q in claims:
                stated += 1
                if q.key in typed or q.value in bare:
                    continue
                return Verdict(False, f"turn {i} states {q.text!r}, found in no retrieved or cited source",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, q.start, q.end))], label=q.unit)
        return Verdict(True, f"all {stated} stated quantities are grounded")


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
